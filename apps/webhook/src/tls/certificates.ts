// Certificate generation and inspection for the webhook's self-managed TLS.
//
// Generation uses node-forge to build the X.509 structures, but the expensive RSA work is native:
// keys come from Node's `crypto.generateKeyPair` (libuv thread pool, the event loop keeps serving
// admission reviews) and signatures from `crypto.privateEncrypt`, because forge's pure-JS RSA
// signing costs 30-200 ms of blocked event loop per certificate.
// Inspection uses Node's `X509Certificate` (OpenSSL), not forge: forge cannot parse ECDSA
// certificates (cert-manager's usual choice in files mode), and OpenSSL is what will serve them.
// forge is imported on first generation only: a webhook serving mounted or already stored
// certificates never loads it (about 5 MB of RSS; ADR 0008).
import { X509Certificate, createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { promisify } from 'node:util';
import type forgeModule from 'node-forge';
import { randomSerialNumber, signCertificateNatively } from '@kaos/kube-runtime';

type Forge = typeof forgeModule;
let forgeLoading: Promise<Forge> | undefined;

// esbuild keeps a dynamically imported CommonJS package in the bundle but runs it only here.
function loadForge(): Promise<Forge> {
  forgeLoading ??= import('node-forge').then((module) => module.default);
  return forgeLoading;
}

/** Smallest RSA modulus accepted for generated keys (issue 4: RSA 2048 or ECDSA P-256 minimum). */
export const MIN_RSA_BITS = 2048;

/** The names a serving certificate is valid for. */
export interface SubjectAltNames {
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
}

/** A certificate and its private key, both PEM. */
export interface KeyAndCertificate {
  readonly certificatePem: string;
  readonly privateKeyPem: string;
}

/** Validity and naming of a new CA. */
export interface CaOptions {
  readonly commonName: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly keyBits?: number;
  /** Reuse this RSA key instead of generating one (tests use a key pool; production always rotates keys). */
  readonly privateKeyPem?: string;
}

/** Validity, names and issuer of a new serving certificate. */
export interface ServingCertificateOptions {
  readonly sans: SubjectAltNames;
  readonly notBefore: Date;
  /** Clamped to the CA's notAfter: a leaf must never outlive its issuer. */
  readonly notAfter: Date;
  readonly ca: KeyAndCertificate;
  readonly commonName?: string;
  readonly keyBits?: number;
  /** Reuse this RSA key instead of generating one. */
  readonly privateKeyPem?: string;
}

/** What the rotation logic and readiness need to know about a certificate. */
export interface CertificateInfo {
  readonly subjectCommonName: string | undefined;
  readonly issuerCommonName: string | undefined;
  readonly serialNumber: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  readonly isCA: boolean;
  /** SHA-256 of the DER, colon-separated upper-case hex (as `openssl x509 -fingerprint -sha256`). */
  readonly fingerprint: string;
  readonly publicKeyAlgorithm: string | undefined;
  readonly keyBits: number | undefined;
  readonly namedCurve: string | undefined;
}

/** A PEM that is not a usable certificate or key. */
export class CertificateError extends Error {
  override readonly name = 'CertificateError';
}

const generateKeyPairAsync = promisify(generateKeyPair);
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;
const DNS_NAME = /^(\*\.)?([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/;
const SAN_ENTRY = /(DNS|IP Address|[A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/g;

/** The SANs the API server dials: `{svc}.{ns}.svc` and its fully qualified form, plus extras for local runs. */
export function webhookSubjectAltNames(options: {
  service: string;
  namespace: string;
  extraDnsNames?: readonly string[];
  extraIpAddresses?: readonly string[];
}): SubjectAltNames {
  const { service, namespace } = options;
  return normalizeSans({
    dnsNames: [`${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`, ...(options.extraDnsNames ?? [])],
    ipAddresses: [...(options.extraIpAddresses ?? [])],
  });
}

/** Canonical SANs (lower-case DNS, compressed IPv6, sorted, deduplicated) so comparisons ignore spelling; throws on an invalid name. */
export function normalizeSans(sans: SubjectAltNames): SubjectAltNames {
  const dnsNames = sans.dnsNames.map((name) => {
    const lower = name.trim().toLowerCase();
    if (lower.length > 253 || !DNS_NAME.test(lower)) throw new CertificateError(`"${name}" is not a valid DNS name`);
    return lower;
  });
  const ipAddresses = sans.ipAddresses.map(canonicalIp);
  if (dnsNames.length + ipAddresses.length === 0) throw new CertificateError('a serving certificate needs at least one DNS name or IP address');
  return { dnsNames: [...new Set(dnsNames)].sort(), ipAddresses: [...new Set(ipAddresses)].sort() };
}

/** True when both name sets are the same after normalisation. */
export function sameSans(a: SubjectAltNames, b: SubjectAltNames): boolean {
  const x = normalizeSans(a);
  const y = normalizeSans(b);
  return x.dnsNames.join(',') === y.dnsNames.join(',') && x.ipAddresses.join(',') === y.ipAddresses.join(',');
}

/**
 * A subject with one common name encoded as UTF8String. forge defaults to PrintableString, which
 * cannot hold characters such as '@' or '_'; Go's crypto/x509 (the API server) then refuses the
 * whole certificate ("invalid PrintableString"), while OpenSSL-based clients accept it.
 */
function distinguishedName(forge: Forge, commonName: string): forgeModule.pki.CertificateField[] {
  return [{ name: 'commonName', value: commonName, valueTagClass: forge.asn1.Type.UTF8 as unknown as forgeModule.asn1.Class }];
}

/** Generates a self-signed CA (basicConstraints CA:true, keyCertSign) with a fresh RSA key. */
export async function generateCa(options: CaOptions): Promise<KeyAndCertificate> {
  const forge = await loadForge();
  const keys = await rsaKeyPair(forge, options);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.forgePublicKey;
  cert.serialNumber = randomSerialNumber();
  cert.validity.notBefore = options.notBefore;
  cert.validity.notAfter = options.notAfter;
  const subject = distinguishedName(forge, options.commonName);
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  signCertificateNatively(forge, cert, keys.privateKey);
  return { certificatePem: toPem(forge, cert), privateKeyPem: keys.privateKeyPem };
}

/** Generates a serving (serverAuth) certificate for the given SANs, signed by the CA. */
export async function generateServingCertificate(options: ServingCertificateOptions): Promise<KeyAndCertificate> {
  const sans = normalizeSans(options.sans);
  const forge = await loadForge();
  const caCert = forge.pki.certificateFromPem(options.ca.certificatePem);
  const caKey = parsePrivateKey(options.ca.privateKeyPem);
  const keys = await rsaKeyPair(forge, options);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.forgePublicKey;
  cert.serialNumber = randomSerialNumber();
  cert.validity.notBefore = options.notBefore;
  cert.validity.notAfter = new Date(Math.min(options.notAfter.getTime(), caCert.validity.notAfter.getTime()));
  cert.setSubject(distinguishedName(forge, options.commonName ?? sans.dnsNames[0] ?? sans.ipAddresses[0] ?? 'webhook'));
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [...sans.dnsNames.map((value) => ({ type: 2, value })), ...sans.ipAddresses.map((ip) => ({ type: 7, ip }))],
    },
    { name: 'subjectKeyIdentifier' },
    // Lets verifiers pick the right CA when the bundle holds the old and the new one during rotation.
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  signCertificateNatively(forge, cert, caKey);
  return { certificatePem: toPem(forge, cert), privateKeyPem: keys.privateKeyPem };
}

/** Parses the first certificate of a PEM; throws CertificateError when it is not one. */
export function inspectCertificate(pem: string): CertificateInfo {
  const x509 = parseCertificate(pem);
  const sans = parseSubjectAltName(x509.subjectAltName);
  const details = x509.publicKey.asymmetricKeyDetails;
  return {
    subjectCommonName: commonName(x509.subject),
    issuerCommonName: commonName(x509.issuer),
    serialNumber: x509.serialNumber.toLowerCase(),
    notBefore: x509.validFromDate,
    notAfter: x509.validToDate,
    dnsNames: sans.dnsNames,
    ipAddresses: sans.ipAddresses,
    isCA: x509.ca,
    fingerprint: x509.fingerprint256,
    publicKeyAlgorithm: x509.publicKey.asymmetricKeyType,
    keyBits: details?.modulusLength,
    namedCurve: details?.namedCurve,
  };
}

/** Splits a PEM bundle into its certificate blocks (text between blocks is ignored, as Go and OpenSSL do). */
export function splitPemCertificates(text: string): string[] {
  return (text.match(PEM_CERTIFICATE) ?? []).map((block) => `${block.replace(/\r\n/g, '\n').trim()}\n`);
}

/** True when one of the CA certificates issued and signed the leaf (validity times are not checked). */
export function chainVerifies(leafPem: string, caPems: readonly string[]): boolean {
  const leaf = tryParseCertificate(leafPem);
  if (leaf === undefined) return false;
  return caPems.some((caPem) => {
    const ca = tryParseCertificate(caPem);
    return ca !== undefined && ca.ca && leaf.checkIssued(ca) && leaf.verify(ca.publicKey);
  });
}

/** True when the private key belongs to the certificate; false for unparseable input. */
export function keyMatchesCertificate(certificatePem: string, privateKeyPem: string): boolean {
  const cert = tryParseCertificate(certificatePem);
  if (cert === undefined) return false;
  try {
    return cert.checkPrivateKey(createPrivateKey(privateKeyPem));
  } catch {
    return false; // an unparseable key is simply not the certificate's key
  }
}

interface RsaKeyPair {
  privateKey: KeyObject;
  privateKeyPem: string;
  forgePublicKey: forgeModule.pki.rsa.PublicKey;
}

async function rsaKeyPair(forge: Forge, options: { keyBits?: number | undefined; privateKeyPem?: string | undefined }): Promise<RsaKeyPair> {
  const bits = options.keyBits ?? MIN_RSA_BITS;
  if (!Number.isInteger(bits) || bits < MIN_RSA_BITS) throw new CertificateError(`RSA keys must have at least ${MIN_RSA_BITS} bits, got ${bits}`);
  if (options.privateKeyPem !== undefined) {
    const privateKey = parsePrivateKey(options.privateKeyPem);
    const modulus = privateKey.asymmetricKeyDetails?.modulusLength ?? 0;
    if (privateKey.asymmetricKeyType !== 'rsa' || modulus < MIN_RSA_BITS) {
      throw new CertificateError(`a reused key must be RSA with at least ${MIN_RSA_BITS} bits`);
    }
    const publicKeyPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
    return { privateKey, privateKeyPem: options.privateKeyPem, forgePublicKey: forge.pki.publicKeyFromPem(publicKeyPem) as forgeModule.pki.rsa.PublicKey };
  }
  const { publicKey, privateKey } = await generateKeyPairAsync('rsa', {
    modulusLength: bits,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return {
    privateKey: createPrivateKey(privateKey),
    privateKeyPem: privateKey,
    forgePublicKey: forge.pki.publicKeyFromPem(publicKey) as forgeModule.pki.rsa.PublicKey,
  };
}

// forge writes CRLF line ends; LF everywhere makes stored PEMs compare equal byte for byte.
function toPem(forge: Forge, cert: forgeModule.pki.Certificate): string {
  return forge.pki.certificateToPem(cert).replace(/\r\n/g, '\n');
}

function parsePrivateKey(pem: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (error) {
    throw new CertificateError(`not a valid private key: ${(error as Error).message}`);
  }
}

function parseCertificate(pem: string): X509Certificate {
  const first = splitPemCertificates(pem)[0];
  if (first === undefined) throw new CertificateError('no PEM certificate block found');
  try {
    return new X509Certificate(first);
  } catch (error) {
    throw new CertificateError(`not a valid certificate: ${(error as Error).message}`);
  }
}

function tryParseCertificate(pem: string): X509Certificate | undefined {
  try {
    return parseCertificate(pem);
  } catch {
    return undefined; // callers only ask "does it verify"; garbage does not
  }
}

function commonName(distinguishedName: string): string | undefined {
  return /^CN=(.*)$/m.exec(distinguishedName)?.[1];
}

// Node prints SANs as `DNS:a, IP Address:0:0:0:0:0:0:0:1`, JSON-quoting values with special characters.
function parseSubjectAltName(text: string | undefined): { dnsNames: string[]; ipAddresses: string[] } {
  const dnsNames: string[] = [];
  const ipAddresses: string[] = [];
  for (const match of (text ?? '').matchAll(SAN_ENTRY)) {
    const [, kind, raw = ''] = match;
    const value = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
    if (kind === 'DNS') dnsNames.push(value.toLowerCase());
    if (kind === 'IP Address') ipAddresses.push(canonicalIp(value));
  }
  return { dnsNames, ipAddresses };
}

// The WHATWG URL parser gives the RFC 5952 form of an IPv6 address: one spelling per address.
function canonicalIp(ip: string): string {
  const trimmed = ip.trim();
  const version = isIP(trimmed);
  if (version === 4) return trimmed;
  if (version === 6) return new URL(`http://[${trimmed}]/`).hostname.slice(1, -1);
  throw new CertificateError(`"${ip}" is not a valid IP address`);
}
