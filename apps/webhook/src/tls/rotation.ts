// Pure rotation logic: from the stored Secret data, the wanted SANs, a policy and "now", decide
// whether to keep the certificates, refresh the CA bundle, issue a new serving certificate or rotate
// the CA, and build the Secret data for that decision. No I/O besides key generation, no clock.
import {
  chainVerifies,
  generateCa,
  generateServingCertificate,
  inspectCertificate,
  keyMatchesCertificate,
  normalizeSans,
  splitPemCertificates,
  type CertificateInfo,
  type KeyAndCertificate,
  type SubjectAltNames,
} from './certificates.js';

/** Keys of the certificate Secret. */
export const SECRET_KEYS = {
  caCert: 'ca.crt',
  caKey: 'ca.key',
  tlsCert: 'tls.crt',
  tlsKey: 'tls.key',
  caBundle: 'ca-bundle.crt',
  /** JSON `{ "<CA fingerprint>": "<ISO date>" }`: until when each previous CA stays in the bundle. */
  bundleRetention: 'ca-bundle-retention.json',
} as const;

/** Secret data decoded to UTF-8 strings (the Secret API carries base64). */
export type CertificateSecretData = Readonly<Record<string, string | undefined>>;

const DAY_MS = 24 * 60 * 60 * 1000;

/** Lifetimes and renewal lookahead of the CA and the serving certificate. */
export interface RotationPolicy {
  readonly caLifetimeMs: number;
  readonly caRenewBeforeMs: number;
  readonly leafLifetimeMs: number;
  readonly leafRenewBeforeMs: number;
  /** notBefore is moved back by this much so replicas or API servers with a slow clock accept a fresh cert. */
  readonly backdateMs: number;
  readonly keyBits: number;
  /** Prefix of the CA's common name; the issue time in seconds is appended so every CA is distinguishable. */
  readonly caCommonName: string;
}

/** Defaults (see README): CA 5 years renewed 1 year early, leaf 90 days renewed 30 days early. */
export const DEFAULT_ROTATION_POLICY: RotationPolicy = {
  caLifetimeMs: 5 * 365 * DAY_MS,
  caRenewBeforeMs: 365 * DAY_MS,
  leafLifetimeMs: 90 * DAY_MS,
  leafRenewBeforeMs: 30 * DAY_MS,
  backdateMs: 5 * 60 * 1000,
  keyBits: 2048,
  caCommonName: 'kaos-routing-webhook-ca',
};

/** What to do with the stored certificates. */
export type RotationAction = 'keep' | 'update-bundle' | 'issue-leaf' | 'rotate-ca';

/** A rotation decision with the reason logged for humans. */
export interface RotationDecision {
  readonly action: RotationAction;
  readonly reason: string;
}

/** A CA certificate to keep trusted until `until`, e.g. the issuer of the leaf this process serves. */
export interface RetainedCa {
  readonly certificatePem: string;
  readonly until: Date;
}

/** Everything the decision depends on. */
export interface RotationInput {
  readonly current: CertificateSecretData | undefined;
  readonly sans: SubjectAltNames;
  readonly now: Date;
  readonly policy: RotationPolicy;
  /** Forces a new leaf, or a new CA and leaf, even when the stored ones are valid. */
  readonly force?: 'leaf' | 'ca';
  /** CAs that must stay in the bundle even if the Secret lost them (it was deleted or corrupted). */
  readonly retain?: readonly RetainedCa[];
}

/** The certificate and key to serve, with the CA bundle clients must trust. */
export interface TlsMaterial {
  readonly cert: string;
  readonly key: string;
  readonly caCert: string | undefined;
  readonly caBundle: string | undefined;
  readonly notAfter: Date;
  readonly fingerprint: string;
  readonly caFingerprint: string | undefined;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
}

/** Generators used to build new Secret data; injectable so tests can count or fake them. */
export interface Issuer {
  generateCa: typeof generateCa;
  generateServingCertificate: typeof generateServingCertificate;
}

const defaultIssuer: Issuer = { generateCa, generateServingCertificate };

/** Problems with a policy (empty when usable); lifetimes must exceed their renewal lookahead. */
export function rotationPolicyProblems(policy: RotationPolicy): string[] {
  const problems: string[] = [];
  const positive: (keyof RotationPolicy)[] = ['caLifetimeMs', 'caRenewBeforeMs', 'leafLifetimeMs', 'leafRenewBeforeMs'];
  for (const key of positive) {
    const value = policy[key];
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) problems.push(`${key} must be a positive duration`);
  }
  if (!(policy.backdateMs >= 0)) problems.push('backdateMs must not be negative');
  if (policy.caRenewBeforeMs >= policy.caLifetimeMs) problems.push('the CA renewal lookahead must be shorter than the CA lifetime');
  if (policy.leafRenewBeforeMs >= policy.leafLifetimeMs) problems.push('the serving certificate renewal lookahead must be shorter than its lifetime');
  if (policy.leafLifetimeMs > policy.caLifetimeMs) problems.push('the serving certificate lifetime must not exceed the CA lifetime');
  if (!Number.isInteger(policy.keyBits) || policy.keyBits < 2048) problems.push('keyBits must be at least 2048');
  if (policy.caCommonName.trim() === '') problems.push('caCommonName must not be empty');
  return problems;
}

/** Decides between keep, update-bundle, issue-leaf and rotate-ca for the stored data. */
export function decideRotation(input: RotationInput): RotationDecision {
  const { policy, now } = input;
  const data = input.current ?? {};
  if (Object.values(SECRET_KEYS).every((key) => data[key] === undefined)) return rotateCa('no certificates are stored yet');
  if (input.force === 'ca') return rotateCa('a new CA was requested');

  const ca = parseCa(data);
  if ('problem' in ca) return rotateCa(ca.problem);
  const caDue = ca.info.notAfter.getTime() - caRenewWindow(policy);
  if (ca.info.notAfter.getTime() <= now.getTime()) return rotateCa(`the CA expired at ${iso(ca.info.notAfter)}`);
  // The window covers the leaf lookahead too: a leaf clamped to a CA inside it would be due at once.
  if (caDue <= now.getTime()) return rotateCa(`the CA expires at ${iso(ca.info.notAfter)}, inside the renewal window of ${days(caRenewWindow(policy))}`);

  if (input.force === 'leaf') return issueLeaf('a new serving certificate was requested');
  const leaf = parseLeaf(data, ca.pem);
  if ('problem' in leaf) return issueLeaf(leaf.problem);
  const wanted = normalizeSans(input.sans);
  const have = { dnsNames: [...leaf.info.dnsNames].sort(), ipAddresses: [...leaf.info.ipAddresses].sort() };
  if (have.dnsNames.join(',') !== wanted.dnsNames.join(',') || have.ipAddresses.join(',') !== wanted.ipAddresses.join(',')) {
    return issueLeaf(`the serving certificate is for [${describeSans(have)}] but [${describeSans(wanted)}] are wanted`);
  }
  if (leaf.info.notAfter.getTime() <= now.getTime()) return issueLeaf(`the serving certificate expired at ${iso(leaf.info.notAfter)}`);
  if (leaf.info.notAfter.getTime() - policy.leafRenewBeforeMs <= now.getTime()) {
    return issueLeaf(`the serving certificate expires at ${iso(leaf.info.notAfter)}, inside the renewal window of ${days(policy.leafRenewBeforeMs)}`);
  }

  const bundle = planBundle(data, ca, { carried: input.retain ?? [] }, now);
  if (bundle.text !== normalizedBundle(data[SECRET_KEYS.caBundle]) || bundle.retentionJson !== (data[SECRET_KEYS.bundleRetention] ?? '{}')) {
    return { action: 'update-bundle', reason: bundle.changes.length > 0 ? bundle.changes.join('; ') : 'the CA bundle is not in canonical form' };
  }
  return { action: 'keep', reason: `the serving certificate is valid until ${iso(leaf.info.notAfter)} and the CA until ${iso(ca.info.notAfter)}` };
}

/** Builds the Secret data for a decision (undefined for keep): new keys and certificates as needed, and the pruned bundle. */
export async function renderSecretData(
  input: RotationInput,
  decision: RotationDecision,
  issuer: Issuer = defaultIssuer,
): Promise<Record<string, string> | undefined> {
  if (decision.action === 'keep') return undefined;
  const { policy, now } = input;
  const data = input.current ?? {};
  const notBefore = new Date(now.getTime() - policy.backdateMs);
  let demoted: RetainedCa | undefined;

  let ca: KeyAndCertificate;
  if (decision.action === 'rotate-ca') {
    const previous = parseCa(data, { requireKey: false });
    if (!('problem' in previous)) {
      // Leaves issued by the previous CA keep being served by other replicas until they reload: the
      // previous CA stays trusted until the last of them expires (every leaf is clamped to the CA).
      const leaf = parseLeaf(data, previous.pem, { requireKey: false });
      demoted = { certificatePem: previous.pem, until: 'problem' in leaf ? previous.info.notAfter : leaf.info.notAfter };
    }
    ca = await issuer.generateCa({
      commonName: `${policy.caCommonName}@${Math.floor(now.getTime() / 1000)}`,
      notBefore,
      notAfter: new Date(now.getTime() + policy.caLifetimeMs),
      keyBits: policy.keyBits,
    });
  } else {
    const current = parseCa(data);
    if ('problem' in current) throw new Error(`cannot ${decision.action} without a valid CA: ${current.problem}`);
    ca = { certificatePem: current.pem, privateKeyPem: current.keyPem };
  }

  let leaf: KeyAndCertificate;
  if (decision.action === 'update-bundle') {
    const tlsCert = data[SECRET_KEYS.tlsCert];
    const tlsKey = data[SECRET_KEYS.tlsKey];
    if (tlsCert === undefined || tlsKey === undefined) throw new Error('cannot update the bundle without a serving certificate');
    leaf = { certificatePem: tlsCert, privateKeyPem: tlsKey };
  } else {
    leaf = await issuer.generateServingCertificate({
      sans: input.sans,
      notBefore,
      notAfter: new Date(now.getTime() + policy.leafLifetimeMs),
      ca,
      keyBits: policy.keyBits,
    });
  }

  const bundle = planBundle(data, { pem: ca.certificatePem, info: inspectCertificate(ca.certificatePem) }, { demoted, carried: input.retain ?? [] }, now);
  return {
    [SECRET_KEYS.caCert]: ca.certificatePem,
    [SECRET_KEYS.caKey]: ca.privateKeyPem,
    [SECRET_KEYS.tlsCert]: leaf.certificatePem,
    [SECRET_KEYS.tlsKey]: leaf.privateKeyPem,
    [SECRET_KEYS.caBundle]: bundle.text,
    [SECRET_KEYS.bundleRetention]: bundle.retentionJson,
  };
}

/** The material to serve from Secret data (or a mounted directory); throws when the pair is unusable. */
export function tlsMaterialFromSecretData(data: CertificateSecretData): TlsMaterial {
  const cert = data[SECRET_KEYS.tlsCert];
  const key = data[SECRET_KEYS.tlsKey];
  if (cert === undefined || key === undefined) throw new Error(`${SECRET_KEYS.tlsCert} and ${SECRET_KEYS.tlsKey} are both required`);
  const info = inspectCertificate(cert);
  if (!keyMatchesCertificate(cert, key)) throw new Error(`${SECRET_KEYS.tlsKey} does not match ${SECRET_KEYS.tlsCert}`);
  const caCert = data[SECRET_KEYS.caCert];
  const caBundle = data[SECRET_KEYS.caBundle] ?? caCert;
  return {
    cert,
    key,
    caCert,
    caBundle,
    notAfter: info.notAfter,
    fingerprint: info.fingerprint,
    caFingerprint: caCert === undefined ? undefined : inspectCertificate(caCert).fingerprint,
    dnsNames: info.dnsNames,
    ipAddresses: info.ipAddresses,
  };
}

/** The next moment the decision can change without outside help: leaf or CA renewal, or a bundle prune. */
export function nextRenewalAt(data: CertificateSecretData, policy: RotationPolicy, now: Date): Date | undefined {
  const ca = parseCa(data);
  if ('problem' in ca) return undefined;
  const leaf = parseLeaf(data, ca.pem);
  const moments = [ca.info.notAfter.getTime() - caRenewWindow(policy)];
  if (!('problem' in leaf)) moments.push(leaf.info.notAfter.getTime() - policy.leafRenewBeforeMs);
  for (const entry of planBundle(data, ca, { carried: [] }, now).entries) {
    if (entry.info.fingerprint !== ca.info.fingerprint) moments.push(entry.until.getTime());
  }
  return new Date(Math.min(...moments));
}

interface ParsedCa {
  pem: string;
  keyPem: string;
  info: CertificateInfo;
}

interface ParsedLeaf {
  info: CertificateInfo;
}

interface BundleEntry {
  pem: string;
  info: CertificateInfo;
  until: Date;
}

interface BundlePlan {
  text: string;
  retentionJson: string;
  entries: BundleEntry[];
  changes: string[];
}

function rotateCa(reason: string): RotationDecision {
  return { action: 'rotate-ca', reason };
}

function issueLeaf(reason: string): RotationDecision {
  return { action: 'issue-leaf', reason };
}

function caRenewWindow(policy: RotationPolicy): number {
  return Math.max(policy.caRenewBeforeMs, policy.leafRenewBeforeMs);
}

/** The PEM at `key` and what it says, or why it cannot be used. */
function readCertificate(data: CertificateSecretData, key: string): { pem: string; info: CertificateInfo } | { problem: string } {
  const pem = data[key];
  if (pem === undefined) return { problem: `${key} is missing` };
  try {
    return { pem, info: inspectCertificate(pem) };
  } catch (error) {
    return { problem: `${key} is unusable: ${(error as Error).message}` };
  }
}

function parseCa(data: CertificateSecretData, options: { requireKey: boolean } = { requireKey: true }): ParsedCa | { problem: string } {
  const certificate = readCertificate(data, SECRET_KEYS.caCert);
  if ('problem' in certificate) return certificate;
  const { pem, info } = certificate;
  const keyPem = data[SECRET_KEYS.caKey];
  if (!info.isCA) return { problem: `${SECRET_KEYS.caCert} is not a CA certificate` };
  if (!options.requireKey) return { pem, keyPem: keyPem ?? '', info };
  if (keyPem === undefined) return { problem: `${SECRET_KEYS.caKey} is missing` };
  if (!keyMatchesCertificate(pem, keyPem)) return { problem: `${SECRET_KEYS.caKey} does not match ${SECRET_KEYS.caCert}` };
  return { pem, keyPem, info };
}

function parseLeaf(data: CertificateSecretData, caPem: string, options: { requireKey: boolean } = { requireKey: true }): ParsedLeaf | { problem: string } {
  const certificate = readCertificate(data, SECRET_KEYS.tlsCert);
  if ('problem' in certificate) return certificate;
  const { pem, info } = certificate;
  const keyPem = data[SECRET_KEYS.tlsKey];
  if (info.isCA) return { problem: `${SECRET_KEYS.tlsCert} is a CA certificate, not a serving certificate` };
  if (!chainVerifies(pem, [caPem])) return { problem: `${SECRET_KEYS.tlsCert} was not issued by the current CA` };
  if (!options.requireKey) return { info };
  if (keyPem === undefined) return { problem: `${SECRET_KEYS.tlsKey} is missing` };
  if (!keyMatchesCertificate(pem, keyPem)) return { problem: `${SECRET_KEYS.tlsKey} does not match ${SECRET_KEYS.tlsCert}` };
  return { info };
}

// The bundle: the current CA first, then previous CAs still needed, latest retention first. A
// previous CA stays until its retention date (the last leaf it issued expires) or its own expiry.
// The first mention of a CA wins: the CA just demoted by a rotation (its date is the old leaf's
// expiry), then the stored bundle with its recorded dates, then CAs carried over by the caller,
// which only fill gaps (a deleted Secret) and never shorten a stored retention.
function planBundle(
  data: CertificateSecretData,
  current: { pem: string; info: CertificateInfo },
  extra: { demoted?: RetainedCa | undefined; carried: readonly RetainedCa[] },
  now: Date,
): BundlePlan {
  const changes: string[] = [];
  const retention = parseRetention(data[SECRET_KEYS.bundleRetention]);
  const candidates: { pem: string; until?: Date; source: 'demoted' | 'stored' | 'carried' }[] = [
    ...(extra.demoted === undefined ? [] : [{ pem: extra.demoted.certificatePem, until: extra.demoted.until, source: 'demoted' as const }]),
    ...splitPemCertificates(data[SECRET_KEYS.caBundle] ?? '').map((pem) => ({ pem, source: 'stored' as const })),
    ...extra.carried.map((r) => ({ pem: r.certificatePem, until: r.until, source: 'carried' as const })),
  ];
  const entries = new Map<string, BundleEntry>();
  entries.set(current.info.fingerprint, { pem: normalizePem(current.pem), info: current.info, until: current.info.notAfter });
  let sawCurrent = false;
  for (const candidate of candidates) {
    let info: CertificateInfo;
    try {
      info = inspectCertificate(candidate.pem);
    } catch (error) {
      changes.push(`dropped an unreadable certificate from the bundle (${(error as Error).message})`);
      continue;
    }
    if (info.fingerprint === current.info.fingerprint) {
      sawCurrent ||= candidate.source === 'stored';
      continue;
    }
    if (entries.has(info.fingerprint)) continue;
    const stored = retention.get(info.fingerprint);
    const until = new Date(Math.min(info.notAfter.getTime(), (candidate.until ?? stored ?? info.notAfter).getTime()));
    if (until.getTime() <= now.getTime()) {
      if (candidate.source === 'stored') changes.push(`pruned CA ${info.subjectCommonName ?? info.fingerprint}, trusted until ${iso(until)}`);
      continue;
    }
    if (candidate.source === 'carried') changes.push(`kept CA ${info.subjectCommonName ?? info.fingerprint} trusted until ${iso(until)}`);
    entries.set(info.fingerprint, { pem: normalizePem(candidate.pem), info, until });
  }
  if (!sawCurrent) changes.unshift(`added the current CA ${current.info.subjectCommonName ?? current.info.fingerprint} to the bundle`);
  const [first, ...previous] = [...entries.values()];
  previous.sort((a, b) => b.until.getTime() - a.until.getTime() || a.info.fingerprint.localeCompare(b.info.fingerprint));
  const ordered = [first!, ...previous];
  return {
    text: ordered.map((entry) => entry.pem).join(''),
    // Only dates earlier than the CA's own expiry carry information.
    retentionJson: JSON.stringify(
      Object.fromEntries(previous.filter((entry) => entry.until.getTime() < entry.info.notAfter.getTime()).map((entry) => [entry.info.fingerprint, iso(entry.until)])),
    ),
    entries: ordered,
    changes,
  };
}

function parseRetention(json: string | undefined): Map<string, Date> {
  const result = new Map<string, Date>();
  if (json === undefined) return result;
  try {
    const parsed: unknown = JSON.parse(json);
    if (parsed === null || typeof parsed !== 'object') return result;
    for (const [fingerprint, value] of Object.entries(parsed)) {
      const date = typeof value === 'string' ? new Date(value) : undefined;
      if (date !== undefined && !Number.isNaN(date.getTime())) result.set(fingerprint, date);
    }
  } catch {
    // Unreadable retention data only loses early pruning: CAs then stay until their own expiry.
  }
  return result;
}

function normalizePem(pem: string): string {
  return `${pem.trim()}\n`;
}

function normalizedBundle(text: string | undefined): string {
  return splitPemCertificates(text ?? '').join('');
}

function describeSans(sans: SubjectAltNames): string {
  return [...sans.dnsNames, ...sans.ipAddresses].join(', ');
}

function iso(date: Date): string {
  return date.toISOString();
}

function days(ms: number): string {
  return `${Math.round((ms / DAY_MS) * 10) / 10}d`;
}
