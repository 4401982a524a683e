import { beforeAll, describe, expect, it } from '@jest/globals';
import { silentLogger } from '@kaos/kube-runtime';
import { generateCa, generateServingCertificate, type KeyAndCertificate } from './certificates.js';
import { DEFAULT_ROTATION_POLICY, SECRET_KEYS, type Issuer } from './rotation.js';
import { CREATED_SECRET_TYPE, createSecretStore } from './secret-store.js';
import { FakeSecretsApi, NOW, RENAMED_SANS, SANS, apiError, ca, days, leaf, secretData } from './tls.test-helpers.js';

function store(api: FakeSecretsApi, overrides: { now?: Date; issuer?: Issuer; maxAttempts?: number; labels?: Record<string, string> } = {}) {
  return createSecretStore({
    api,
    name: 'webhook-tls',
    namespace: 'kaos-system',
    policy: DEFAULT_ROTATION_POLICY,
    logger: silentLogger(),
    now: () => overrides.now ?? NOW,
    ...(overrides.issuer === undefined ? {} : { issuer: overrides.issuer }),
    ...(overrides.maxAttempts === undefined ? {} : { maxAttempts: overrides.maxAttempts }),
    ...(overrides.labels === undefined ? {} : { labels: overrides.labels }),
  });
}

// What Helm puts on the chart's empty Secret.
const CHART_LABELS = {
  'helm.sh/chart': 'kaos-operator-0.1.0',
  'app.kubernetes.io/name': 'kaos-operator',
  'app.kubernetes.io/instance': 'kaos-operator',
  'app.kubernetes.io/managed-by': 'Helm',
  'app.kubernetes.io/component': 'webhook',
};
const HELM_ANNOTATIONS = { 'meta.helm.sh/release-name': 'kaos-operator', 'meta.helm.sh/release-namespace': 'kaos-system' };

let caGood: KeyAndCertificate;
let leafGood: KeyAndCertificate;
let leafSoon: KeyAndCertificate;

beforeAll(async () => {
  caGood = await ca(days(-10), days(5 * 365 - 10), 'good');
  [leafGood, leafSoon] = await Promise.all([leaf(caGood, days(-10), days(80)), leaf(caGood, days(-70), days(20))]);
});

describe('createSecretStore', () => {
  it('refuses an unusable policy', () => {
    expect(() =>
      createSecretStore({ api: new FakeSecretsApi(), name: 'x', namespace: 'y', policy: { ...DEFAULT_ROTATION_POLICY, keyBits: 1024 }, logger: silentLogger() }),
    ).toThrow(/invalid certificate rotation policy: keyBits/);
  });
});

describe('ensure', () => {
  it('creates the Secret on first start', async () => {
    const api = new FakeSecretsApi();
    const result = await store(api).ensure(SANS);
    expect(result).toMatchObject({ wrote: true, decision: { action: 'rotate-ca' } });
    expect(api.writes).toBe(1);
    const stored = api.secrets.get('kaos-system/webhook-tls')!;
    // The chart's type: Secret types are immutable, and helm upgrade renders Opaque.
    expect(CREATED_SECRET_TYPE).toBe('Opaque');
    expect(stored.type).toBe('Opaque');
    expect(stored.metadata?.labels).toEqual({ 'app.kubernetes.io/managed-by': 'kaos-routing-webhook' });
    expect(api.decoded()[SECRET_KEYS.tlsCert]).toBe(result.material.cert);
    expect(result.material.caBundle).toBe(api.decoded()[SECRET_KEYS.caBundle]);
    expect(result.renewAt).toEqual(days(60));
  });

  it('keeps valid certificates on restart (helm upgrade) without writing', async () => {
    const api = new FakeSecretsApi();
    api.put('webhook-tls', secretData(caGood, leafGood));
    const result = await store(api).ensure(SANS);
    expect(result).toMatchObject({ wrote: false, decision: { action: 'keep' }, renewAt: days(50) });
    expect(result.material.cert).toBe(leafGood.certificatePem);
    expect(api.writes).toBe(0);
  });

  it('reissues the leaf for a renamed service, keeping the CA, metadata and foreign keys', async () => {
    const api = new FakeSecretsApi();
    api.put('webhook-tls', { ...secretData(caGood, leafGood), 'extra.txt': 'kept' }, { type: 'Opaque', metadata: { annotations: { 'helm.sh/resource-policy': 'keep' } } });
    const result = await store(api).ensure(RENAMED_SANS);
    expect(result).toMatchObject({ wrote: true, decision: { action: 'issue-leaf' } });
    expect(result.material.dnsNames).toEqual(RENAMED_SANS.dnsNames);
    const stored = api.secrets.get('kaos-system/webhook-tls')!;
    expect(stored.type).toBe('Opaque');
    expect(stored.metadata?.annotations).toEqual({ 'helm.sh/resource-policy': 'keep' });
    expect(api.decoded()).toMatchObject({ 'extra.txt': 'kept', [SECRET_KEYS.caCert]: caGood.certificatePem });
  });

  it.each<[string, () => Record<string, string> | undefined, 'rotate-ca' | 'issue-leaf']>([
    ['no Secret (both create)', () => undefined, 'rotate-ca'],
    ['a leaf due for renewal (both replace)', () => secretData(caGood, leafSoon), 'issue-leaf'],
  ])('lets one of two racing replicas win with %s; both serve its certificate', async (_name, initial, action) => {
    const api = new FakeSecretsApi();
    const data = initial();
    if (data !== undefined) api.put('webhook-tls', data);
    const [a, b] = await Promise.all([store(api).ensure(SANS), store(api).ensure(SANS)]);
    expect(api.writes).toBe(1);
    expect(api.conflicts).toBe(1);
    expect(a.material.fingerprint).toBe(b.material.fingerprint);
    expect(a.material.caBundle).toBe(b.material.caBundle);
    expect([a.wrote, b.wrote].sort()).toEqual([false, true]);
    expect([a.decision.action, b.decision.action].sort()).toEqual([action, 'keep'].sort());
    expect(api.decoded()[SECRET_KEYS.tlsCert]).toBe(a.material.cert);
  });

  it('applies a forced rotation once, adopting the winner after a lost race', async () => {
    const api = new FakeSecretsApi();
    api.put('webhook-tls', secretData(caGood, leafGood));
    const [a, b] = await Promise.all([store(api).ensure(SANS, { force: 'ca' }), store(api).ensure(SANS, { force: 'ca' })]);
    expect(api.writes).toBe(1);
    expect(a.material.caFingerprint).toBe(b.material.caFingerprint);
    expect(a.material.caBundle).toContain(caGood.certificatePem.trim());
  });

  it('gives up after repeated conflicts, for the caller to retry later', async () => {
    const api = new FakeSecretsApi();
    api.put('webhook-tls', secretData(caGood, leafSoon));
    // Someone rewrites the Secret after every read, so every replace is stale.
    api.afterRead = () => {
      const current = api.secrets.get('kaos-system/webhook-tls')!;
      api.secrets.set('kaos-system/webhook-tls', { ...current, metadata: { ...current.metadata, resourceVersion: `${current.metadata?.resourceVersion}x` } });
    };
    await expect(store(api, { maxAttempts: 3 }).ensure(SANS)).rejects.toThrow(/kept changing under us; gave up after 3 attempts/);
    expect(api.conflicts).toBe(3);
  });

  it('propagates read failures other than NotFound', async () => {
    const api = new FakeSecretsApi();
    api.failReads = apiError(403, 'Forbidden');
    await expect(store(api).ensure(SANS)).rejects.toMatchObject({ code: 403 });
    expect(api.writes).toBe(0);
  });

  it('recreates a deleted Secret as it was (type, Helm labels and annotations), with a new CA and the served one still trusted', async () => {
    const api = new FakeSecretsApi();
    api.put('webhook-tls', secretData(caGood, leafGood), { type: 'Opaque', metadata: { labels: CHART_LABELS, annotations: HELM_ANNOTATIONS } });
    const replica = store(api);
    expect((await replica.ensure(SANS)).decision.action).toBe('keep');
    api.secrets.delete('kaos-system/webhook-tls');
    const result = await replica.ensure(SANS, { retain: [{ certificatePem: caGood.certificatePem, until: days(80) }] });
    expect(result).toMatchObject({ wrote: true, decision: { action: 'rotate-ca' } });
    const stored = api.secrets.get('kaos-system/webhook-tls')!;
    expect(stored.type).toBe('Opaque');
    expect(stored.metadata?.labels).toEqual(CHART_LABELS);
    expect(stored.metadata?.annotations).toEqual(HELM_ANNOTATIONS);
    expect(result.material.caFingerprint).not.toBe(undefined);
    expect(result.material.caCert).not.toBe(caGood.certificatePem);
    expect(result.material.caBundle).toContain(caGood.certificatePem.trim());
  });

  it('creates a Secret it never saw with the labels it was given (the chart passes its own)', async () => {
    const api = new FakeSecretsApi();
    await store(api, { labels: CHART_LABELS }).ensure(SANS);
    expect(api.secrets.get('kaos-system/webhook-tls')?.metadata?.labels).toEqual(CHART_LABELS);
  });

  it('keeps the CA a replica still serves when the Secret was deleted', async () => {
    const api = new FakeSecretsApi();
    const result = await store(api).ensure(SANS, { retain: [{ certificatePem: caGood.certificatePem, until: days(80) }] });
    expect(result.material.caBundle).toContain(caGood.certificatePem.trim());
    expect(result.material.caFingerprint).not.toBe(undefined);
  });

  it('generates through the injected issuer', async () => {
    const api = new FakeSecretsApi();
    let calls = 0;
    const issuer: Issuer = {
      generateCa: (options) => {
        calls++;
        return generateCa(options);
      },
      generateServingCertificate: (options) => {
        calls++;
        return generateServingCertificate(options);
      },
    };
    await store(api, { issuer }).ensure(SANS);
    await store(api, { issuer }).ensure(SANS);
    expect(calls).toBe(2);
  });
});
