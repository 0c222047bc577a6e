import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';

/** A self-signed certificate for 127.0.0.1 / localhost, made by openssl for this run. */
export function selfSignedCert(): { key: string; cert: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'synchub-smtp-'));
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    return { key: readFileSync(path.join(dir, 'key.pem'), 'utf8'), cert: readFileSync(path.join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface ReceivedMail {
  envelope: { from: string; to: string[] };
  /** Whether the session was encrypted (STARTTLS or implicit TLS) when the mail came. */
  secure: boolean;
  user?: string;
  raw: string;
  parsed: ParsedMail;
}

export interface TestSmtp {
  port: number;
  received: ReceivedMail[];
  /** Mails the server answered with an error (see plan), by their Message-ID. */
  refused: { messageId?: string; code: number }[];
  /** Logins tried, with whether the session was encrypted then. */
  logins: { user: string; secure: boolean }[];
  /**
   * What the next DATA is answered: each entry once, in order; then 250. An Error with
   * responseCode is what smtp-server sends back (e.g. 451 to make the client try later).
   */
  plan: (number | 'accept')[];
  close(): Promise<void>;
}

/**
 * A real SMTP server (the smtp-server package) on a free loopback port. `tls`: starttls offers
 * the upgrade with the certificate; implicit speaks TLS from the first byte; none offers no TLS.
 */
export async function startSmtp(opts: { tls: 'starttls' | 'implicit' | 'none'; cert?: { key: string; cert: string }; users?: Record<string, string> }): Promise<TestSmtp> {
  const received: ReceivedMail[] = [];
  const refused: TestSmtp['refused'] = [];
  const logins: TestSmtp['logins'] = [];
  const plan: TestSmtp['plan'] = [];
  const options: SMTPServerOptions = {
    secure: opts.tls === 'implicit',
    ...(opts.cert ? { key: opts.cert.key, cert: opts.cert.cert } : {}),
    disabledCommands: opts.tls === 'none' ? ['STARTTLS'] : [],
    authOptional: !opts.users,
    // The test's server takes a login over plaintext too, so a client that sends one is caught.
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, session, cb) {
      logins.push({ user: auth.username ?? '', secure: Boolean(session.secure) });
      if (opts.users && opts.users[auth.username ?? ''] === auth.password) return cb(null, { user: auth.username });
      return cb(new Error('535 5.7.8 Authentication credentials invalid'));
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', async () => {
        const next = plan.shift() ?? 'accept';
        const raw = Buffer.concat(chunks).toString('utf8');
        if (next !== 'accept') {
          refused.push({ messageId: (await simpleParser(raw)).messageId, code: next });
          const err = Object.assign(new Error(`${next === 451 ? '4.3.0 Try again later for bob@example.com' : '5.7.1 Message refused for bob@example.com'}`), { responseCode: next });
          return cb(err);
        }
        received.push({
          envelope: { from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address) },
          secure: Boolean(session.secure), user: session.user as string | undefined, raw, parsed: await simpleParser(raw),
        });
        cb();
      });
    },
  };
  const server = new SMTPServer(options);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.server.address() as AddressInfo).port;
  return { port, received, refused, logins, plan, close: () => new Promise<void>((r) => server.close(() => r())) };
}
