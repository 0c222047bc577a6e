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

export function createLogger(opts: { level?: string; name?: string; destination?: pino.DestinationStream } = {}): Logger {
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
  return opts.destination ? pino(options, opts.destination) : pino(options);
}

export type { Logger };
