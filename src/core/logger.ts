import { pino, type Logger } from 'pino';

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

export function createLogger(opts: { level?: string; name?: string; destination?: pino.DestinationStream } = {}): Logger {
  const options = {
    name: opts.name ?? 'synchub',
    level: opts.level ?? process.env.LOG_LEVEL ?? 'info',
    redact: { paths: redactPaths(), censor: '[redacted]' },
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}

export type { Logger };
