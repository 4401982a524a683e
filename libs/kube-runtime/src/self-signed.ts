// A self-signed serving certificate for the metrics port, generated at start as controller-runtime
// does when no certificate directory is given. Scrapers verify the bearer-token exchange, not the
// server: they use insecure_skip_verify (or a certificate given to the app later).
import { X509Certificate, generateKeyPair, randomBytes } from 'node:crypto';
import type forgeModule from 'node-forge';

/** A PEM certificate and key. */
export interface ServingCertificate {
  cert: string;
  key: string;
  notAfter: Date;
}

/** Generates an RSA-2048 key (natively, off the event loop) and a self-signed certificate for `dnsNames`, valid `days` days. */
export async function selfSignedCertificate(commonName: string, dnsNames: string[], days = 365): Promise<ServingCertificate> {
  const { default: forge } = await import('node-forge');
  const key = await new Promise<string>((resolve, reject) =>
    generateKeyPair('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } }, (error, _publicKey, privateKey) =>
      error ? reject(error) : resolve(privateKey),
    ),
  );
  const privateKey = forge.pki.privateKeyFromPem(key) as forgeModule.pki.rsa.PrivateKey;
  const certificate = forge.pki.createCertificate();
  certificate.publicKey = forge.pki.rsa.setPublicKey(privateKey.n, privateKey.e);
  // A positive serial: the high bit cleared.
  certificate.serialNumber = `0${randomBytes(16).toString('hex')}`;
  const now = Date.now();
  certificate.validity.notBefore = new Date(now - 60_000);
  certificate.validity.notAfter = new Date(now + days * 86_400_000);
  const subject = [{ name: 'commonName', value: commonName }];
  certificate.setSubject(subject);
  certificate.setIssuer(subject);
  certificate.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: [...dnsNames.map((value) => ({ type: 2, value })), { type: 7, ip: '127.0.0.1' }] },
  ]);
  certificate.sign(privateKey, forge.md.sha256.create());
  const cert = forge.pki.certificateToPem(certificate);
  return { cert, key, notAfter: new Date(new X509Certificate(cert).validTo) };
}
