import { beforeAll, describe, expect, it } from '@jest/globals';
import { chainVerifies, inspectCertificate, splitPemCertificates, type KeyAndCertificate } from './certificates.js';
import {
  DEFAULT_ROTATION_POLICY,
  SECRET_KEYS,
  decideRotation,
  nextRenewalAt,
  renderSecretData,
  rotationPolicyProblems,
  tlsMaterialFromSecretData,
  type CertificateSecretData,
  type RetainedCa,
  type RotationAction,
  type RotationInput,
  type RotationPolicy,
} from './rotation.js';
import { DAY, NOW, RENAMED_SANS, SANS, SHORT_POLICY, ca, days, keyPool, leaf, pooledIssuer, secretData } from './tls.test-helpers.js';

const YEAR = 365;
const CORRUPT = '-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n';

// Fixtures at NOW under the default policy (CA 5 y renewed 1 y early, leaf 90 d renewed 30 d early).
let caGood: KeyAndCertificate;
let caOther: KeyAndCertificate;
let caNearExpiry: KeyAndCertificate;
let caExpired: KeyAndCertificate;
let caOld: KeyAndCertificate;
let leafGood: KeyAndCertificate;
let leafNearExpiry: KeyAndCertificate;
let leafExpired: KeyAndCertificate;
let leafRenamed: KeyAndCertificate;
let leafOtherCa: KeyAndCertificate;
let leafOfNearExpiryCa: KeyAndCertificate;
let leafOfExpiredCa: KeyAndCertificate;

beforeAll(async () => {
  [caGood, caOther, caNearExpiry, caExpired, caOld] = await Promise.all([
    ca(days(-10), days(5 * YEAR - 10), 'good'),
    ca(days(-10), days(5 * YEAR - 10), 'other'),
    ca(days(-4 * YEAR - 165), days(200), 'near-expiry'),
    ca(days(-5 * YEAR), days(-1), 'expired'),
    ca(days(-5 * YEAR), days(40), 'old'),
  ]);
  [leafGood, leafNearExpiry, leafExpired, leafRenamed, leafOtherCa, leafOfNearExpiryCa, leafOfExpiredCa] = await Promise.all([
    leaf(caGood, days(-10), days(80)),
    leaf(caGood, days(-70), days(20)),
    leaf(caGood, days(-100), days(-1)),
    leaf(caGood, days(-10), days(80), RENAMED_SANS),
    leaf(caOther, days(-10), days(80)),
    leaf(caNearExpiry, days(-10), days(80)),
    leaf(caExpired, days(-100), days(-1)),
  ]);
});

function input(current: CertificateSecretData | undefined, extra: Partial<RotationInput> = {}): RotationInput {
  return { current, sans: SANS, now: NOW, policy: DEFAULT_ROTATION_POLICY, ...extra };
}

function good(overrides: Record<string, string | undefined> = {}): CertificateSecretData {
  return { ...secretData(caGood, leafGood), ...overrides };
}

describe('decideRotation', () => {
  it.each<[string, RotationAction, RegExp, () => CertificateSecretData | undefined, (() => Partial<RotationInput>)?]>([
    ['no Secret', 'rotate-ca', /no certificates are stored yet/, () => undefined],
    ['an empty Secret (pre-created by a chart)', 'rotate-ca', /no certificates are stored yet/, () => ({})],
    ['valid certificates (helm upgrade, same SANs)', 'keep', /valid until 2031-05-20.*CA until 2036/, () => good()],
    ['the same SANs spelled differently', 'keep', /valid until/, () => good(), () => ({ sans: { dnsNames: [...SANS.dnsNames].reverse().map((n) => n.toUpperCase()), ipAddresses: [] } })],
    ['a leaf 20 days before expiry', 'issue-leaf', /expires at 2031-03-21.*renewal window of 30d/, () => good(pair(leafNearExpiry))],
    ['an expired leaf', 'issue-leaf', /serving certificate expired at/, () => good(pair(leafExpired))],
    ['a leaf for the old service name (renamed on upgrade)', 'issue-leaf', /is for \[kaos-routing-webhook.*but \[kaos-webhook/, () => good(pair(leafRenamed))],
    ['a corrupt tls.crt', 'issue-leaf', /tls.crt is unusable/, () => good({ [SECRET_KEYS.tlsCert]: CORRUPT })],
    ['tls.crt that is not PEM', 'issue-leaf', /tls.crt is unusable: no PEM/, () => good({ [SECRET_KEYS.tlsCert]: 'garbage' })],
    ['a missing tls.key', 'issue-leaf', /tls.key is missing/, () => good({ [SECRET_KEYS.tlsKey]: undefined })],
    ['a tls.key of another certificate', 'issue-leaf', /tls.key does not match tls.crt/, () => good({ [SECRET_KEYS.tlsKey]: leafRenamed.privateKeyPem })],
    ['a leaf not chaining to the current CA', 'issue-leaf', /not issued by the current CA/, () => good(pair(leafOtherCa))],
    ['a CA certificate as tls.crt', 'issue-leaf', /tls.crt is a CA certificate/, () => good(pair(caGood))],
    ['a CA 200 days before expiry', 'rotate-ca', /CA expires at 2031-09-17.*renewal window of 365d/, () => secretData(caNearExpiry, leafOfNearExpiryCa)],
    ['an expired CA', 'rotate-ca', /the CA expired at/, () => secretData(caExpired, leafOfExpiredCa)],
    ['a corrupt ca.crt', 'rotate-ca', /ca.crt is unusable/, () => good({ [SECRET_KEYS.caCert]: CORRUPT })],
    ['a missing ca.key', 'rotate-ca', /ca.key is missing/, () => good({ [SECRET_KEYS.caKey]: undefined })],
    ['a ca.key of another CA', 'rotate-ca', /ca.key does not match ca.crt/, () => good({ [SECRET_KEYS.caKey]: caOther.privateKeyPem })],
    ['a leaf as ca.crt', 'rotate-ca', /ca.crt is not a CA certificate/, () => good({ [SECRET_KEYS.caCert]: leafGood.certificatePem, [SECRET_KEYS.caKey]: leafGood.privateKeyPem })],
    ['a bundle without the current CA', 'update-bundle', /added the current CA good/, () => good({ [SECRET_KEYS.caBundle]: caOther.certificatePem })],
    ['a missing bundle', 'update-bundle', /added the current CA/, () => good({ [SECRET_KEYS.caBundle]: undefined })],
    ['a bundle holding an expired CA', 'update-bundle', /pruned CA expired/, () => good({ [SECRET_KEYS.caBundle]: caGood.certificatePem + caExpired.certificatePem })],
    [
      'a previous CA whose last leaf has expired',
      'update-bundle',
      /pruned CA other, trusted until 2031-02-28/,
      () => good({ ...withPrevious(caOther, days(-1)) }),
    ],
    ['a previous CA still needed by its last leaf', 'keep', /valid until/, () => good({ ...withPrevious(caOther, days(10)) })],
    ['a previous CA without retention date, not expired', 'keep', /valid until/, () => good({ [SECRET_KEYS.caBundle]: caGood.certificatePem + caOther.certificatePem })],
    ['an unreadable block in the bundle', 'update-bundle', /dropped an unreadable certificate/, () => good({ [SECRET_KEYS.caBundle]: caGood.certificatePem + CORRUPT })],
    ['a carried CA missing from the bundle', 'update-bundle', /kept CA other trusted until 2031-03-11/, () => good(), () => ({ retain: [carried(caOther, days(10))] })],
    ['a forced leaf', 'issue-leaf', /new serving certificate was requested/, () => good(), () => ({ force: 'leaf' })],
    ['a forced CA', 'rotate-ca', /new CA was requested/, () => good(), () => ({ force: 'ca' })],
    ['a forced leaf with an expiring CA', 'rotate-ca', /CA expires/, () => secretData(caNearExpiry, leafOfNearExpiryCa), () => ({ force: 'leaf' })],
  ])('%s → %s', (_name, action, reason, data, extra) => {
    const decision = decideRotation(input(data(), extra?.()));
    expect(decision.action).toBe(action);
    expect(decision.reason).toMatch(reason);
  });

  it('uses the larger of the CA and leaf lookahead for the CA, so a clamped leaf is never born due', async () => {
    const policy: RotationPolicy = { ...DEFAULT_ROTATION_POLICY, caRenewBeforeMs: 10 * DAY, leafRenewBeforeMs: 50 * DAY };
    const decision = decideRotation(input(secretData(caOld, await leaf(caOld, days(-10), days(40))), { policy }));
    expect(decision).toMatchObject({ action: 'rotate-ca', reason: expect.stringMatching(/renewal window of 50d/) });
  });
});

describe('renderSecretData', () => {
  it('returns nothing to write for keep', async () => {
    const current = good();
    expect(await renderSecretData(input(current), decideRotation(input(current)))).toBeUndefined();
  });

  it('issues a first CA and leaf with the policy lifetimes and backdated notBefore', async () => {
    const data = await render(input(undefined));
    const caInfo = inspectCertificate(data[SECRET_KEYS.caCert]!);
    const leafInfo = inspectCertificate(data[SECRET_KEYS.tlsCert]!);
    expect(caInfo.subjectCommonName).toBe(`kaos-routing-webhook-ca@${NOW.getTime() / 1000}`);
    expect(caInfo.notBefore).toEqual(new Date(NOW.getTime() - 5 * 60 * 1000));
    expect(caInfo.notAfter).toEqual(days(5 * YEAR));
    expect(leafInfo.notAfter).toEqual(days(90));
    expect(leafInfo.dnsNames).toEqual(SANS.dnsNames);
    expect(chainVerifies(data[SECRET_KEYS.tlsCert]!, [data[SECRET_KEYS.caCert]!])).toBe(true);
    expect(splitPemCertificates(data[SECRET_KEYS.caBundle]!)).toHaveLength(1);
    expect(decideRotation(input(data)).action).toBe('keep');
  });

  it('issues a leaf for new SANs under the same CA and keeps the bundle', async () => {
    const current = good(pair(leafRenamed));
    const data = await render(input(current));
    expect(data[SECRET_KEYS.caCert]).toBe(caGood.certificatePem);
    expect(data[SECRET_KEYS.caKey]).toBe(caGood.privateKeyPem);
    expect(data[SECRET_KEYS.caBundle]).toBe(caGood.certificatePem);
    expect(inspectCertificate(data[SECRET_KEYS.tlsCert]!).dnsNames).toEqual(SANS.dnsNames);
    expect(decideRotation(input(data)).action).toBe('keep');
  });

  it('rotates the CA keeping the old one trusted until the old leaf expires, then prunes it', async () => {
    const current = good(pair(leafNearExpiry));
    const rotated = await render(input(current, { force: 'ca' }));
    const bundle = splitPemCertificates(rotated[SECRET_KEYS.caBundle]!);
    expect(bundle).toEqual([rotated[SECRET_KEYS.caCert], caGood.certificatePem]);
    expect(JSON.parse(rotated[SECRET_KEYS.bundleRetention]!)).toEqual({ [fingerprint(caGood)]: days(20).toISOString() });
    // A replica still serving the old leaf stays trusted; the new leaf is trusted too.
    expect(chainVerifies(leafNearExpiry.certificatePem, bundle)).toBe(true);
    expect(chainVerifies(rotated[SECRET_KEYS.tlsCert]!, bundle)).toBe(true);
    expect(chainVerifies(rotated[SECRET_KEYS.tlsCert]!, [caGood.certificatePem])).toBe(false);
    expect(decideRotation(input(rotated)).action).toBe('keep');
    expect(decideRotation(input(rotated, { now: days(19) })).action).toBe('keep');
    expect(nextRenewalAt(rotated, DEFAULT_ROTATION_POLICY, NOW)).toEqual(days(20));

    const afterOldLeaf = input(rotated, { now: days(20) });
    expect(decideRotation(afterOldLeaf)).toMatchObject({ action: 'update-bundle', reason: expect.stringMatching(/pruned CA good/) });
    const pruned = await render(afterOldLeaf);
    expect(splitPemCertificates(pruned[SECRET_KEYS.caBundle]!)).toEqual([rotated[SECRET_KEYS.caCert]]);
    expect(pruned[SECRET_KEYS.bundleRetention]).toBe('{}');
    expect(pruned[SECRET_KEYS.tlsCert]).toBe(rotated[SECRET_KEYS.tlsCert]);
    expect(decideRotation(input(pruned, { now: days(20) })).action).toBe('keep');
  });

  it('keeps a previous CA until its own expiry when the old leaf is unusable', async () => {
    const rotated = await render(input(good({ [SECRET_KEYS.tlsCert]: CORRUPT }), { force: 'ca' }));
    expect(splitPemCertificates(rotated[SECRET_KEYS.caBundle]!)).toContain(caGood.certificatePem);
    expect(rotated[SECRET_KEYS.bundleRetention]).toBe('{}'); // no earlier date than the CA's own expiry
  });

  it('rebuilds a deleted Secret keeping the CA this replica still serves', async () => {
    const data = await render(input(undefined, { retain: [carried(caGood, days(80))] }));
    expect(splitPemCertificates(data[SECRET_KEYS.caBundle]!)).toEqual([data[SECRET_KEYS.caCert], caGood.certificatePem]);
    expect(chainVerifies(leafGood.certificatePem, splitPemCertificates(data[SECRET_KEYS.caBundle]!))).toBe(true);
  });

  it('clamps a new leaf to the CA lifetime', async () => {
    const policy: RotationPolicy = { ...SHORT_POLICY, caRenewBeforeMs: 30 * DAY, leafLifetimeMs: 200 * DAY };
    const data = await render(input(secretData(caOld, await leaf(caOld, days(-10), days(10))), { policy, now: days(-20) }));
    expect(inspectCertificate(data[SECRET_KEYS.tlsCert]!).notAfter).toEqual(days(40));
  });

  it('rewrites only the bundle for update-bundle', async () => {
    const current = good({ [SECRET_KEYS.caBundle]: caGood.certificatePem + caExpired.certificatePem });
    const data = await render(input(current));
    expect(data).toEqual({ ...secretData(caGood, leafGood) });
  });

  it('refuses to issue a leaf without a valid CA', async () => {
    const current = good({ [SECRET_KEYS.caKey]: undefined });
    await expect(renderSecretData(input(current), { action: 'issue-leaf', reason: 'test' })).rejects.toThrow(/without a valid CA/);
  });
});

describe('tlsMaterialFromSecretData', () => {
  it.each<[string, () => CertificateSecretData, RegExp]>([
    ['a missing key', () => good({ [SECRET_KEYS.tlsKey]: undefined }), /both required/],
    ['a mismatched key', () => good({ [SECRET_KEYS.tlsKey]: caGood.privateKeyPem }), /does not match/],
    ['a corrupt certificate', () => good({ [SECRET_KEYS.tlsCert]: CORRUPT }), /not a valid certificate/],
  ])('rejects %s', (_name, data, message) => {
    expect(() => tlsMaterialFromSecretData(data())).toThrow(message);
  });

  it('serves the leaf and exposes the bundle', () => {
    const material = tlsMaterialFromSecretData(good());
    expect(material).toMatchObject({ cert: leafGood.certificatePem, key: leafGood.privateKeyPem, caBundle: caGood.certificatePem, notAfter: days(80) });
    expect(material.caFingerprint).toBe(fingerprint(caGood));
  });
});

describe('nextRenewalAt', () => {
  it.each<[string, () => CertificateSecretData, Date | undefined]>([
    ['the leaf lookahead', () => good(), days(50)],
    ['an earlier bundle prune', () => good(withPrevious(caOther, days(20))), days(20)],
    ['the CA lookahead when it comes first', () => secretData(caNearExpiry, leafOfNearExpiryCa), days(200 - YEAR)],
    ['nothing for a broken CA', () => good({ [SECRET_KEYS.caCert]: CORRUPT }), undefined],
  ])('is %s', (_name, data, expected) => {
    expect(nextRenewalAt(data(), DEFAULT_ROTATION_POLICY, NOW)).toEqual(expected);
  });
});

describe('rotationPolicyProblems', () => {
  it.each<[string, Partial<RotationPolicy>, RegExp | undefined]>([
    ['the default policy', {}, undefined],
    ['a lookahead as long as the CA lifetime', { caRenewBeforeMs: DEFAULT_ROTATION_POLICY.caLifetimeMs }, /CA renewal lookahead must be shorter/],
    ['a leaf lookahead as long as its lifetime', { leafRenewBeforeMs: 90 * DAY }, /serving certificate renewal lookahead/],
    ['a leaf outliving the CA', { leafLifetimeMs: 6 * YEAR * DAY }, /must not exceed the CA lifetime/],
    ['a zero lifetime', { leafLifetimeMs: 0 }, /leafLifetimeMs must be a positive duration/],
    ['1024-bit keys', { keyBits: 1024 }, /at least 2048/],
    ['a negative backdate', { backdateMs: -1 }, /backdateMs/],
    ['an empty CA name', { caCommonName: ' ' }, /caCommonName/],
  ])('%s', (_name, overrides, problem) => {
    const problems = rotationPolicyProblems({ ...DEFAULT_ROTATION_POLICY, ...overrides });
    if (problem === undefined) expect(problems).toEqual([]);
    else expect(problems.join('\n')).toMatch(problem);
  });
});

describe('a thousand days of rotation', () => {
  // Steps through time like the periodic check does and asserts the zero-downtime invariants: the
  // served leaf is always valid and trusted, a replica lagging one step behind is still trusted by
  // the bundle, no leaf outlives its CA, and expired CAs leave the bundle.
  it('keeps every served certificate trusted across leaf and CA rotations', async () => {
    const policy = SHORT_POLICY;
    const keys = await keyPool(4);
    const issuer = pooledIssuer(keys.slice(0, 2), keys.slice(2)); // consecutive CAs still differ
    let data: CertificateSecretData | undefined;
    let lagging: string | undefined;
    const actions: RotationAction[] = [];
    let largestBundle = 0;
    for (let day = 0; day <= 1000; day += 5) {
      const now = days(day);
      const step = input(data, { now, policy });
      const decision = decideRotation(step);
      actions.push(decision.action);
      data = (await renderSecretData(step, decision, issuer)) ?? data!;
      expect(decideRotation(input(data, { now, policy })).action).toBe('keep');

      const served = inspectCertificate(data[SECRET_KEYS.tlsCert]!);
      const caInfo = inspectCertificate(data[SECRET_KEYS.caCert]!);
      const bundle = splitPemCertificates(data[SECRET_KEYS.caBundle]!);
      largestBundle = Math.max(largestBundle, bundle.length);
      expect(served.notBefore.getTime()).toBeLessThanOrEqual(now.getTime());
      expect(served.notAfter.getTime()).toBeGreaterThan(now.getTime() + policy.leafRenewBeforeMs);
      expect(served.notAfter.getTime()).toBeLessThanOrEqual(caInfo.notAfter.getTime());
      expect(chainVerifies(data[SECRET_KEYS.tlsCert]!, bundle)).toBe(true);
      for (const pem of bundle) expect(inspectCertificate(pem).notAfter.getTime()).toBeGreaterThan(now.getTime());
      if (lagging !== undefined && inspectCertificate(lagging).notAfter.getTime() > now.getTime()) {
        expect(chainVerifies(lagging, bundle)).toBe(true);
      }
      lagging = data[SECRET_KEYS.tlsCert];
    }
    expect(actions.filter((a) => a === 'rotate-ca')).toHaveLength(4); // day 0, then every 300 days
    expect(actions.filter((a) => a === 'issue-leaf').length).toBeGreaterThanOrEqual(10);
    expect(actions.filter((a) => a === 'update-bundle')).toHaveLength(3); // each old CA pruned after its last leaf
    expect(largestBundle).toBe(2);
  });
});

function pair(serving: KeyAndCertificate): Record<string, string> {
  return { [SECRET_KEYS.tlsCert]: serving.certificatePem, [SECRET_KEYS.tlsKey]: serving.privateKeyPem };
}

function withPrevious(previous: KeyAndCertificate, until: Date): Record<string, string> {
  return {
    [SECRET_KEYS.caBundle]: caGood.certificatePem + previous.certificatePem,
    [SECRET_KEYS.bundleRetention]: JSON.stringify({ [fingerprint(previous)]: until.toISOString() }),
  };
}

function carried(certificate: KeyAndCertificate, until: Date): RetainedCa {
  return { certificatePem: certificate.certificatePem, until };
}

function fingerprint(certificate: KeyAndCertificate): string {
  return inspectCertificate(certificate.certificatePem).fingerprint;
}

async function render(rotation: RotationInput): Promise<Record<string, string>> {
  const data = await renderSecretData(rotation, decideRotation(rotation));
  if (data === undefined) throw new Error('expected a write');
  return data;
}
