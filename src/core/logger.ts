import { createRequire } from 'node:module';
import { pino, type Logger } from 'pino';
import { scrubDeep, scrubText } from './redact.js';

/**
 * Paths pino replaces with [redacted]: credentials, auth headers and the
 * canonical model's sensitive fields, at the depths our log calls use them.
 */
const SECRET_KEYS = ['accessToken', 'clientSecret', 'webhookSecret', 'apiKey', 'secretKey', 'privateKey', 'password', 'refreshToken',
  'consumerSecret', 'consumerKey', 'apiV3Key', 'notificationToken', 'webhookKey', 'webhookToken', 'adminToken', 'keys', 'token', 'access_token'];
const HEADER_KEYS = ['authorization', 'Authorization', 'x-shopify-access-token', 'X-Shopify-Access-Token', 'cookie', '"x-synchub-token"'];
const PERSONAL_KEYS = ['email', 'phone', 'firstName', 'lastName', 'first_name', 'last_name', 'address1', 'address2', 'shippingAddress', 'billingAddress', 'payerEmail'];

function redactPaths(): string[] {
  const paths: string[] = [];
  for (const k of [...SECRET_KEYS, ...PERSONAL_KEYS]) paths.push(k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`);
  for (const h of HEADER_KEYS) paths.push(`headers.${h}`, `*.headers.${h}`, `config.headers.${h}`, `*.config.headers.${h}`);
  return paths;
}

/**
 * Every string of a log line, message included, loses its email- and phone-shaped text
 * (src/core/redact.ts): an error text a remote system wrote may echo a record. Errors are
 * logged as their type, message and stack.
 */
function scrubLogFields(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    out[k] = v instanceof Error ? { type: v.name, message: scrubText(v.message), stack: v.stack && scrubText(v.stack) } : scrubDeep(v);
  }
  return out;
}

/** `json`: one JSON object a line, for machines. `pretty`: short coloured lines, for people at a terminal. */
export type LogFormat = 'json' | 'pretty';
const LOG_FORMATS: readonly LogFormat[] = ['json', 'pretty'];

/**
 * The log format a command should use: `--log-format json|pretty` if given, else SYNCHUB_LOG_FORMAT,
 * else pretty when stdout is a terminal and JSON when it is piped or redirected.
 * Throws on an unknown value, naming where it came from.
 */
export function resolveLogFormat(argv: string[], env: NodeJS.ProcessEnv = process.env, isTTY = Boolean(process.stdout.isTTY)): LogFormat {
  let given: string | undefined;
  let from = '--log-format';
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--log-format') given = argv[i + 1] ?? '';
    else if (argv[i].startsWith('--log-format=')) given = argv[i].slice('--log-format='.length);
  }
  if (given === undefined && env.SYNCHUB_LOG_FORMAT) {
    given = env.SYNCHUB_LOG_FORMAT;
    from = 'SYNCHUB_LOG_FORMAT';
  }
  if (given === undefined) return isTTY ? 'pretty' : 'json';
  if (!(LOG_FORMATS as readonly string[]).includes(given)) throw new Error(`${from} must be one of ${LOG_FORMATS.join(', ')}, not "${given}"`);
  return given as LogFormat;
}

/** pino-pretty, loaded only by a process that prints for people; synchronous, so no line is lost at exit. */
function prettyStream(colorize: boolean): pino.DestinationStream {
  const pretty = createRequire(import.meta.url)('pino-pretty') as (o: object) => pino.DestinationStream;
  return pretty({ colorize, sync: true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname,name', singleLine: true });
}

export function createLogger(opts: { level?: string; name?: string; destination?: pino.DestinationStream; format?: LogFormat } = {}): Logger {
  const options = {
    name: opts.name ?? 'synchub',
    level: opts.level ?? process.env.LOG_LEVEL ?? 'info',
    redact: { paths: redactPaths(), censor: '[redacted]' },
    formatters: { log: scrubLogFields },
    hooks: {
      logMethod(this: Logger, args: unknown[], method: (...a: unknown[]) => void) {
        method.apply(this, args.map((a) => (typeof a === 'string' ? scrubText(a) : a)));
      },
    },
  };
  const format = opts.format ?? (process.env.SYNCHUB_LOG_FORMAT === 'pretty' ? 'pretty' : 'json');
  // Redaction and scrubbing happen before a line is written, so the pretty form shows what JSON would.
  const destination = opts.destination ?? (format === 'pretty' ? prettyStream(Boolean(process.stdout.isTTY)) : undefined);
  return destination ? pino(options, destination) : pino(options);
}

export type { Logger };
