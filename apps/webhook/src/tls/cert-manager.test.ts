import { mkdtemp, mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { silentLogger } from '@kaos/kube-runtime';
import { WebhookConfigurationNotFoundError, type CaInjector } from './ca-injector.js';
import { propagationDelayFromEnvironment, startCertificateManager, systemTimers, type CertificateManager, type CertificateManagerOptions } from './cert-manager.js';
import { splitPemCertificates, type KeyAndCertificate } from './certificates.js';
import { DEFAULT_ROTATION_POLICY, SECRET_KEYS, type TlsMaterial } from './rotation.js';
import { createSecretStore } from './secret-store.js';
import { DAY, ECDSA_CERT, ECDSA_KEY, FakeSecretsApi, FakeTimers, NOW, SANS, apiError, ca, days, eventually, keyPool, leaf, pooledIssuer, secretData } from './tls.test-helpers.js';
import type { Issuer } from './rotation.js';

const MINUTE = 60 * 1000;
const CHECK = 10 * MINUTE;
const PROPAGATION = 10 * 1000;

let caGood: KeyAndCertificate;
let leafGood: KeyAndCertificate;
let leafNext: KeyAndCertificate;
let leafOfOther: KeyAndCertificate;
let issuer: Issuer;

beforeAll(async () => {
  const keys = await keyPool(4);
  issuer = pooledIssuer(keys.slice(0, 2), keys.slice(2));
  const other = await ca(days(-10), days(1000), 'other');
  caGood = await ca(days(-10), days(5 * 365 - 10), 'good');
  [leafGood, leafNext, leafOfOther] = await Promise.all([leaf(caGood, days(-10), days(80)), leaf(caGood, days(-1), days(89)), leaf(other, days(-1), days(89))]);
});

/** An injector that records what it was asked to inject and fails while `failure` is set. */
class FakeInjector implements CaInjector {
  readonly bundles: string[] = [];
  failure: Error | undefined;
  private readonly events: string[];

  constructor(events: string[]) {
    this.events = events;
  }

  async inject(caBundlePem: string): Promise<{ changed: boolean; patched: string[] }> {
    if (this.failure !== undefined) throw this.failure;
    const changed = this.bundles.at(-1) !== caBundlePem;
    this.bundles.push(caBundlePem);
    if (changed) this.events.push('inject');
    return { changed, patched: changed ? ['MutatingWebhookConfiguration/x'] : [] };
  }
}

/** Waits until the manager has armed its next timer (ready resolves just before that). */
async function scheduled(timers: FakeTimers): Promise<void> {
  await eventually(() => timers.delays().length > 0);
}

const running: CertificateManager[] = [];
afterEach(() => {
  for (const manager of running.splice(0)) manager.stop();
});

function start(options: CertificateManagerOptions): CertificateManager {
  const manager = startCertificateManager(options);
  running.push(manager);
  return manager;
}

interface GenerateHarness {
  api: FakeSecretsApi;
  timers: FakeTimers;
  injector: FakeInjector;
  served: TlsMaterial[];
  events: string[];
  manager: CertificateManager;
}

/** Stands in for the Secret watch: the test fires what the watch would report. */
class FakeChanges {
  private readonly listeners: Array<(reason: string) => void> = [];
  unsubscribed = 0;

  readonly subscribe = (onChange: (reason: string) => void): (() => void) => {
    this.listeners.push(onChange);
    return () => this.unsubscribed++;
  };

  fire(reason: string): void {
    for (const listener of this.listeners) listener(reason);
  }
}

function generate(
  setup: (api: FakeSecretsApi, injector: FakeInjector) => void = () => undefined,
  checkIntervalMs = CHECK,
  shared: { api?: FakeSecretsApi; changes?: FakeChanges } = {},
): GenerateHarness {
  const api = shared.api ?? new FakeSecretsApi();
  const timers = new FakeTimers();
  const events: string[] = [];
  const injector = new FakeInjector(events);
  setup(api, injector);
  const served: TlsMaterial[] = [];
  const store = createSecretStore({ api, name: 'webhook-tls', namespace: 'kaos-system', policy: DEFAULT_ROTATION_POLICY, logger: silentLogger(), now: () => new Date(timers.now()), issuer });
  const manager = start({
    mode: 'generate',
    store,
    sans: SANS,
    injector,
    logger: silentLogger(),
    timers,
    random: () => 0.5, // no jitter: delays are exactly the exponential steps
    checkIntervalMs,
    propagationDelayMs: PROPAGATION,
    ...(shared.changes === undefined ? {} : { changes: shared.changes.subscribe }),
    onCertificate: (material) => {
      events.push('serve');
      served.push(material);
    },
  });
  return { api, timers, injector, served, events, manager };
}

describe('propagationDelayFromEnvironment', () => {
  it.each<[string | undefined, { propagationDelayMs?: number }]>([
    [undefined, {}],
    ['', {}],
    ['1', { propagationDelayMs: 1000 }],
    ['0.5', { propagationDelayMs: 500 }],
    ['0', { propagationDelayMs: 0 }],
  ])('%p gives %p', (value, expected) => {
    expect(propagationDelayFromEnvironment(value === undefined ? {} : { WEBHOOK_CA_PROPAGATION_SECONDS: value })).toEqual(expected);
  });

  it.each(['-1', 'ten', '10s'])('refuses %p', (value) => {
    expect(() => propagationDelayFromEnvironment({ WEBHOOK_CA_PROPAGATION_SECONDS: value })).toThrow(/WEBHOOK_CA_PROPAGATION_SECONDS/);
  });
});

describe('generate mode', () => {
  it('creates certificates at start, injects the bundle before serving, and schedules the next check', async () => {
    const h = generate();
    const material = await h.manager.ready;
    await scheduled(h.timers);
    expect(h.events).toEqual(['inject', 'serve']);
    expect(h.manager.state()).toEqual({ certificateLoaded: true, caBundleInjected: true, notAfter: days(90) });
    expect(h.manager.current()).toBe(material);
    expect(h.injector.bundles).toEqual([material.caBundle]);
    expect(h.api.decoded()[SECRET_KEYS.tlsCert]).toBe(material.cert);
    expect(h.timers.delays()).toEqual([CHECK]);
  });

  it('keeps the stored certificate on restart and on periodic checks', async () => {
    const h = generate((api) => api.put('webhook-tls', secretData(caGood, leafGood)));
    expect((await h.manager.ready).cert).toBe(leafGood.certificatePem);
    await scheduled(h.timers);
    h.timers.advance(CHECK);
    await eventually(() => h.api.reads === 2 && h.timers.delays().length === 1);
    expect(h.served).toHaveLength(1);
    expect(h.api.writes).toBe(0);
    expect(h.timers.delays()).toEqual([CHECK]);
  });

  it('wakes at the renewal point when it comes before the periodic check', async () => {
    const dueSoon = await leaf(caGood, days(-59), new Date(NOW.getTime() + 30 * DAY + 60 * MINUTE));
    const h = generate((api) => api.put('webhook-tls', secretData(caGood, dueSoon)), 24 * 60 * MINUTE);
    await h.manager.ready;
    await scheduled(h.timers);
    expect(h.timers.delays()).toEqual([60 * MINUTE]);
    h.timers.advance(60 * MINUTE);
    await eventually(() => h.served.length === 2);
    expect(h.served[1]!.caFingerprint).toBe(h.served[0]!.caFingerprint);
    expect(h.api.writes).toBe(1);
  });

  it('serves a new leaf of the same CA at once', async () => {
    const h = generate((api) => api.put('webhook-tls', secretData(caGood, leafGood)));
    await h.manager.ready;
    await h.manager.refresh('leaf');
    expect(h.served).toHaveLength(2);
    expect(h.served[1]!.fingerprint).not.toBe(h.served[0]!.fingerprint);
    expect(h.events).toEqual(['inject', 'serve', 'serve']);
  });

  it('rotates the CA: injects old+new bundle, waits for propagation, then serves the new certificate', async () => {
    const h = generate((api) => api.put('webhook-tls', secretData(caGood, leafGood)));
    await h.manager.ready;
    const rotation = h.manager.refresh('ca');
    await eventually(() => h.timers.delays().includes(PROPAGATION));
    expect(h.events).toEqual(['inject', 'serve', 'inject']);
    const bundle = splitPemCertificates(h.injector.bundles.at(-1)!);
    expect(bundle).toHaveLength(2);
    expect(bundle[1]).toBe(caGood.certificatePem);
    h.timers.advance(PROPAGATION);
    await rotation;
    expect(h.events).toEqual(['inject', 'serve', 'inject', 'serve']);
    expect(h.served[1]!.caFingerprint).not.toBe(h.served[0]!.caFingerprint);
  });

  it('adopts a rotation made by another replica at its next check', async () => {
    const h = generate((api) => api.put('webhook-tls', secretData(caGood, leafGood)));
    await h.manager.ready;
    await scheduled(h.timers);
    const other = createSecretStore({ api: h.api, name: 'webhook-tls', namespace: 'kaos-system', policy: DEFAULT_ROTATION_POLICY, logger: silentLogger(), now: () => NOW, issuer });
    const winner = await other.ensure(SANS, { force: 'ca' });
    h.timers.advance(CHECK);
    await eventually(() => h.timers.delays().includes(PROPAGATION));
    h.timers.advance(PROPAGATION);
    await eventually(() => h.served.length === 2);
    expect(h.served[1]!.fingerprint).toBe(winner.material.fingerprint);
  });

  it('serves but is not ready while the webhook configuration is missing, retrying with backoff', async () => {
    const h = generate((api, injector) => {
      api.put('webhook-tls', secretData(caGood, leafGood));
      injector.failure = new WebhookConfigurationNotFoundError('MutatingWebhookConfiguration "x" not found');
    });
    await h.manager.ready;
    await eventually(() => h.timers.delays().length === 1);
    expect(h.manager.state()).toMatchObject({ certificateLoaded: true, caBundleInjected: false, lastError: expect.stringContaining('not found') });
    expect(h.timers.delays()).toEqual([1000]);
    h.timers.advance(1000);
    await eventually(() => h.timers.delays()[0] === 2000);
    h.injector.failure = undefined;
    h.timers.advance(2000);
    await eventually(() => h.manager.state().caBundleInjected);
    await eventually(() => h.timers.delays()[0] === CHECK);
    expect(h.manager.state().lastError).toBeUndefined();
    expect(h.served).toHaveLength(1);
  });

  it('retries a failing Secret API with growing backoff and loads once it answers', async () => {
    const h = generate((api) => {
      api.failReads = apiError(403, 'Forbidden');
    });
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      await eventually(() => h.timers.delays().length === 1 && h.api.reads === i + 1);
      delays.push(h.timers.delays()[0]!);
      h.timers.advance(h.timers.delays()[0]!);
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000]);
    expect(h.manager.state()).toMatchObject({ certificateLoaded: false, lastError: expect.stringContaining('HTTP 403') });
    h.api.failReads = undefined;
    await h.manager.ready;
    expect(h.manager.state().certificateLoaded).toBe(true);
  });

  it('keeps serving the current certificate when a new CA cannot be injected', async () => {
    const h = generate((api) => api.put('webhook-tls', secretData(caGood, leafGood)));
    await h.manager.ready;
    h.injector.failure = apiError(500, 'InternalError');
    await expect(h.manager.refresh('ca')).rejects.toThrow(/keeping the current certificate/);
    expect(h.served).toHaveLength(1);
    expect(h.manager.state().caBundleInjected).toBe(true); // a transient error says nothing about the bundle in place
    h.injector.failure = undefined;
    h.timers.advance(h.timers.delays()[0]!);
    await eventually(() => h.timers.delays().includes(PROPAGATION));
    h.timers.advance(PROPAGATION);
    await eventually(() => h.served.length === 2);
  });

  it('recreates a deleted Secret as soon as the watch reports it, keeps the served CA trusted, and serves the new certificate after the propagation delay', async () => {
    const changes = new FakeChanges();
    const h = generate((api) => api.put('webhook-tls', secretData(caGood, leafGood), { type: 'Opaque', metadata: { labels: { 'app.kubernetes.io/managed-by': 'Helm' } } }), CHECK, { changes });
    await h.manager.ready;
    await scheduled(h.timers);
    h.api.secrets.delete('kaos-system/webhook-tls');
    changes.fire('DELETED');
    h.timers.advance(200); // debounce, far from the 10-minute check
    await eventually(() => h.api.secrets.has('kaos-system/webhook-tls') && h.timers.delays().includes(PROPAGATION));
    expect(h.api.secrets.get('kaos-system/webhook-tls')).toMatchObject({ type: 'Opaque', metadata: { labels: { 'app.kubernetes.io/managed-by': 'Helm' } } });
    const bundle = splitPemCertificates(h.injector.bundles.at(-1)!);
    expect(bundle).toHaveLength(2);
    expect(bundle[1]).toBe(caGood.certificatePem);
    // Still the old certificate until the API servers have the new CA: it stays valid, its CA is in the bundle.
    expect(h.served).toHaveLength(1);
    h.timers.advance(PROPAGATION);
    await eventually(() => h.served.length === 2);
    expect(h.served[1]!.cert).toBe(h.api.decoded()[SECRET_KEYS.tlsCert]);
    expect(h.served[1]!.caFingerprint).not.toBe(h.served[0]!.caFingerprint);
    h.manager.stop();
    expect(changes.unsubscribed).toBe(1);
  });

  it('two replicas seeing the deletion race to recreate it: one create wins, the other adopts it, both serve the same new certificate', async () => {
    const api = new FakeSecretsApi();
    api.put('webhook-tls', secretData(caGood, leafGood));
    const changes = new FakeChanges();
    const replicas = [generate(() => undefined, CHECK, { api, changes }), generate(() => undefined, CHECK, { api, changes })];
    for (const replica of replicas) await replica.manager.ready;
    for (const replica of replicas) await scheduled(replica.timers);
    api.secrets.delete('kaos-system/webhook-tls');
    changes.fire('DELETED');
    for (const replica of replicas) replica.timers.advance(200);
    await eventually(() => replicas.every((replica) => replica.timers.delays().includes(PROPAGATION)));
    // One create; the loser's AlreadyExists (if it got that far) made it re-read and adopt.
    expect(api.writes).toBe(1);
    expect(api.conflicts).toBeLessThanOrEqual(1);
    for (const replica of replicas) replica.timers.advance(PROPAGATION);
    await eventually(() => replicas.every((replica) => replica.served.length === 2));
    expect(replicas[0]!.served[1]!.fingerprint).toBe(replicas[1]!.served[1]!.fingerprint);
    expect(replicas[0]!.served[1]!.cert).toBe(api.decoded()[SECRET_KEYS.tlsCert]);
    expect(replicas[1]!.injector.bundles.at(-1)).toBe(replicas[0]!.injector.bundles.at(-1));
  });

  it('stops: clears its timers, rejects ready when nothing was loaded, and does not switch after a pending wait', async () => {
    const never = generate((api) => {
      api.failReads = apiError(500, 'InternalError');
    });
    await eventually(() => never.timers.delays().length === 1);
    never.manager.stop();
    await expect(never.manager.ready).rejects.toThrow(/stopped before a certificate was loaded/);
    expect(never.timers.delays()).toEqual([]);

    const h = generate((api) => api.put('webhook-tls', secretData(caGood, leafGood)));
    await h.manager.ready;
    const rotation = h.manager.refresh('ca');
    await eventually(() => h.timers.delays().includes(PROPAGATION));
    h.manager.stop();
    await rotation;
    expect(h.served).toHaveLength(1);
    expect(h.timers.delays()).toEqual([]);
  });
});

describe('files mode', () => {
  let directory: string;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'kaos-tls-'));
  });

  afterEach(async () => {
    await rm(directory, { recursive: true, force: true });
    await mkdir(directory);
  });

  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  async function writePair(pair: KeyAndCertificate, caPem?: string, dir = directory): Promise<void> {
    await writeFile(join(dir, 'tls.crt'), pair.certificatePem);
    await writeFile(join(dir, 'tls.key'), pair.privateKeyPem);
    if (caPem !== undefined) await writeFile(join(dir, 'ca.crt'), caPem);
  }

  function files(extra: { injector?: CaInjector; watch?: boolean; timers?: FakeTimers | typeof systemTimers } = {}) {
    const served: TlsMaterial[] = [];
    const timers = extra.timers ?? new FakeTimers();
    const manager = start({
      mode: 'files',
      directory,
      pollIntervalMs: 30_000,
      watch: extra.watch ?? false,
      logger: silentLogger(),
      timers,
      random: () => 0.5,
      ...(extra.injector === undefined ? {} : { injector: extra.injector }),
      onCertificate: (material) => {
        served.push(material);
      },
    });
    return { manager, served, timers };
  }

  it('serves the mounted pair and reloads it when it changes', async () => {
    await writePair(leafGood);
    const { manager, served, timers } = files();
    expect((await manager.ready).cert).toBe(leafGood.certificatePem);
    expect(manager.state()).toEqual({ certificateLoaded: true, caBundleInjected: true, notAfter: days(80) });
    const fake = timers as FakeTimers;
    await scheduled(fake);
    expect(fake.delays()).toEqual([30_000]);
    fake.advance(30_000);
    await eventually(() => fake.delays().length === 1);
    expect(served).toHaveLength(1); // unchanged files: no reload
    await writePair(leafNext);
    fake.advance(30_000);
    await eventually(() => served.length === 2);
    expect(served[1]!.cert).toBe(leafNext.certificatePem);
  });

  it('ignores a half-written pair until it is consistent', async () => {
    await writePair(leafGood);
    const { manager, served } = files();
    await manager.ready;
    await writeFile(join(directory, 'tls.crt'), leafNext.certificatePem);
    await expect(manager.refresh()).rejects.toThrow(/until they are consistent: tls.key does not match tls.crt/);
    expect(served).toHaveLength(1);
    expect(manager.current()!.cert).toBe(leafGood.certificatePem);
    await writeFile(join(directory, 'tls.key'), leafNext.privateKeyPem);
    await manager.refresh();
    expect(served.map((m) => m.cert)).toEqual([leafGood.certificatePem, leafNext.certificatePem]);
  });

  it('follows a kubelet-style ..data symlink swap', async () => {
    await mkdir(join(directory, '..v1'));
    await writePair(leafGood, undefined, join(directory, '..v1'));
    await symlink('..v1', join(directory, '..data'));
    await symlink('..data/tls.crt', join(directory, 'tls.crt'));
    await symlink('..data/tls.key', join(directory, 'tls.key'));
    const { manager, served } = files();
    await manager.ready;
    await mkdir(join(directory, '..v2'));
    await writePair(leafNext, undefined, join(directory, '..v2'));
    await symlink('..v2', join(directory, '..data_tmp'));
    await rename(join(directory, '..data_tmp'), join(directory, '..data'));
    await manager.refresh();
    expect(served.map((m) => m.cert)).toEqual([leafGood.certificatePem, leafNext.certificatePem]);
  });

  it('serves an ECDSA P-256 pair from cert-manager', async () => {
    await writePair({ certificatePem: ECDSA_CERT, privateKeyPem: ECDSA_KEY });
    const { manager } = files();
    expect((await manager.ready).dnsNames).toEqual(['kaos-webhook.kaos-system.svc']);
  });

  it('waits for a missing directory, retrying no slower than the poll interval', async () => {
    await rm(directory, { recursive: true });
    const { manager, timers } = files();
    const fake = timers as FakeTimers;
    await eventually(() => fake.delays().length === 1);
    expect(manager.state()).toMatchObject({ certificateLoaded: false, lastError: expect.stringContaining('ENOENT') });
    for (let i = 0; i < 6; i++) {
      fake.advance(fake.delays()[0]!);
      await eventually(() => fake.delays().length === 1);
    }
    expect(fake.delays()).toEqual([30_000]);
    await mkdir(directory);
    await writePair(leafGood);
    fake.advance(30_000);
    await manager.ready;
  });

  it('injects the mounted ca.crt when an injector is configured', async () => {
    await writePair(leafOfOther, caGood.certificatePem);
    const injector = new FakeInjector([]);
    const { manager } = files({ injector });
    await manager.ready;
    expect(injector.bundles).toEqual([caGood.certificatePem]);
    expect(manager.state().caBundleInjected).toBe(true);
  });

  it('reloads on a file system event without waiting for the poll', async () => {
    await writePair(leafGood);
    const { manager, served } = files({ watch: true, timers: systemTimers });
    await manager.ready;
    const staging = `${directory}-staging`;
    await mkdir(staging, { recursive: true });
    await writePair(leafNext, undefined, staging);
    // Atomic per file, as an operator copying a new pair in would do it.
    await rename(join(staging, 'tls.key'), join(directory, 'tls.key'));
    await rename(join(staging, 'tls.crt'), join(directory, 'tls.crt'));
    await eventually(() => served.length === 2, 5000);
    expect(served[1]!.cert).toBe(leafNext.certificatePem);
    await rm(staging, { recursive: true, force: true });
  });
});
