// A self-signed serving certificate for the metrics port, generated at start as controller-runtime
// does when no certificate directory is given. Scrapers verify the bearer-token exchange, not the
// server: they use insecure_skip_verify (or a certificate given to the app later).
import { X509Certificate, constants, createPrivateKey, createPublicKey, generateKeyPair, privateEncrypt, randomBytes, type KeyObject } from 'node:crypto';
import type forgeModule from 'node-forge';

/** A PEM certificate and key. */
export interface ServingCertificate {
  cert: string;
  key: string;
  notAfter: Date;
}

// DER prefix of the PKCS#1 v1.5 DigestInfo for SHA-256 (RFC 8017 section 9.2, note 1).
const SHA256_DIGEST_INFO_PREFIX = Buffer.from('3031300d060960864801650304020105000420', 'hex');

/**
 * Signs `cert` with SHA-256/RSA by OpenSSL instead of forge's JavaScript RSA, which is slower and
 * leaves ~7 MB more resident in a small process (ADR 0023). forge's cert.sign only calls
 * key.sign(md) with the digest of the TBSCertificate, so a native RSASSA-PKCS1-v1_5 signer over
 * that digest yields exactly the signature forge would compute.
 */
export function signCertificateNatively(forge: typeof forgeModule, cert: forgeModule.pki.Certificate, key: KeyObject): void {
  const signer = {
    sign(md: forgeModule.md.MessageDigest): string {
      const digestInfo = Buffer.concat([SHA256_DIGEST_INFO_PREFIX, Buffer.from(md.digest().getBytes(), 'binary')]);
      return privateEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, digestInfo).toString('binary');
    },
  };
  cert.sign(signer as unknown as forgeModule.pki.rsa.PrivateKey, forge.md.sha256.create());
}

/**
 * A certificate serial: 16 random bytes with the top bit cleared (a positive INTEGER) and a
 * non-zero first byte (minimal DER: Go's x509 parser, as the API server and Prometheus use it,
 * rejects non-minimal serial encodings).
 */
export function randomSerialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) || 0x01;
  return bytes.toString('hex');
}

/** Generates an RSA-2048 key (natively, off the event loop) and a self-signed certificate for `dnsNames`, valid `days` days. */
export async function selfSignedCertificate(commonName: string, dnsNames: string[], days = 365): Promise<ServingCertificate> {
  const { default: forge } = await import('node-forge');
  const key = await new Promise<string>((resolve, reject) =>
    generateKeyPair('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } }, (error, _publicKey, privateKey) =>
      error ? reject(error) : resolve(privateKey),
    ),
  );
  const privateKey = createPrivateKey(key);
  const certificate = forge.pki.createCertificate();
  certificate.publicKey = forge.pki.publicKeyFromPem(createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString());
  certificate.serialNumber = randomSerialNumber();
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
  signCertificateNatively(forge, certificate, privateKey);
  const cert = forge.pki.certificateToPem(certificate);
  return { cert, key, notAfter: new Date(new X509Certificate(cert).validTo) };
}
