import { createPrivateKey, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The self-made certificate-mode material in test/fixtures/alipay (see its README: none of it is Alipay's). */
export const ALIPAY_FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/alipay');
export const alipayFixture = (name: string) => readFileSync(path.join(ALIPAY_FIXTURES, name), 'utf8');

export const alipayCertMaterial = () => ({
  appPrivatePem: alipayFixture('app.key'),
  alipayPrivateKey: createPrivateKey(alipayFixture('alipay.key')),
  appCertificate: alipayFixture('appCertPublicKey.crt'),
  alipayCertificate: alipayFixture('alipayCertPublicKey_RSA2.crt'),
  alipayRootCertificate: alipayFixture('alipayRootCert.crt'),
});

/** A gateway answer as Alipay writes it in certificate mode: the method's object, `alipay_cert_sn`, then `sign` over the object's exact text. */
export function signedGatewayAnswer(method: string, body: object, alipayPrivateKey: ReturnType<typeof createPrivateKey>, alipayCertSn?: string): string {
  const content = JSON.stringify(body);
  const signature = sign('sha256', Buffer.from(content, 'utf8'), alipayPrivateKey).toString('base64');
  return `{"${method.replace(/\./g, '_')}_response":${content},${alipayCertSn ? `"alipay_cert_sn":"${alipayCertSn}",` : ''}"sign":"${signature}"}`;
}
