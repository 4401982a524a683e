// Two replicas sharing one certificate Secret and one pair of webhook configurations, with one
// replica's rotation slipped into a chosen point of the other's check (issue 13: a replica that read
// the Secret before another replica rotated the CA must not put its older bundle back). Every case
// ends with the invariant the API server needs: each configuration's caBundle holds the CA of every
// certificate a replica serves, and the CA the Secret holds now.
import { afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { silentLogger } from '@kaos/kube-runtime';
import { createCaInjector, type JsonPatchOperation, type WebhookConfigurationsApi } from './ca-injector.js';
import { startCertificateManager, type CertificateManager } from './cert-manager.js';
import { chainVerifies, inspectCertificate, splitPemCertificates } from './certificates.js';
import { DEFAULT_ROTATION_POLICY, SECRET_KEYS, type Issuer } from './rotation.js';
import { createSecretStore, type SecretsApi } from './secret-store.js';
import { FakeSecretsApi, FakeWebhookApi, SANS, keyPool, pooledIssuer } from './tls.test-helpers.js';

/** Points of a replica's check where the other replica may act. */
type Point = 'secret-read' | 'secret-write' | 'configuration-read' | 'configuration-patch';

let issuer: Issuer;
beforeAll(async () => {
  const keys = await keyPool(6);
  issuer = pooledIssuer(keys.slice(0, 3), keys.slice(3));
});

const MUTATING = 'kaos-mutating';
const VALIDATING = 'kaos-validating';

/** One webhook process: its own views of the shared fakes, which run a one-shot hook at a chosen point. */
class Replica {
  readonly name: string;
  readonly manager: CertificateManager;
  private readonly hooks = new Map<Point, () => Promise<void>>();

  constructor(name: string, secrets: FakeSecretsApi, webhooks: FakeWebhookApi) {
    this.name = name;
    const fire = async (point: Point): Promise<void> => {
      const hook = this.hooks.get(point);
      if (hook === undefined) return;
      this.hooks.delete(point);
      await hook();
    };
    const secretsApi: SecretsApi = {
      readNamespacedSecret: async (params) => {
        const secret = await secrets.readNamespacedSecret(params);
        await fire('secret-read');
        return secret;
      },
      createNamespacedSecret: async (params) => {
        const secret = await secrets.createNamespacedSecret(params);
        await fire('secret-write');
        return secret;
      },
      replaceNamespacedSecret: async (params) => {
        const secret = await secrets.replaceNamespacedSecret(params);
        await fire('secret-write');
        return secret;
      },
    };
    const webhooksApi: WebhookConfigurationsApi = {
      readMutatingWebhookConfiguration: async (params) => {
        const configuration = await webhooks.readMutatingWebhookConfiguration(params);
        await fire('configuration-read');
        return configuration;
      },
      readValidatingWebhookConfiguration: async (params) => {
        const configuration = await webhooks.readValidatingWebhookConfiguration(params);
        await fire('configuration-read');
        return configuration;
      },
      patchMutatingWebhookConfiguration: async (params: { name: string; body: JsonPatchOperation[] }) => {
        await fire('configuration-patch');
        return webhooks.patchMutatingWebhookConfiguration(params);
      },
      patchValidatingWebhookConfiguration: async (params: { name: string; body: JsonPatchOperation[] }) => {
        await fire('configuration-patch');
        return webhooks.patchValidatingWebhookConfiguration(params);
      },
    };
    const logger = silentLogger();
    this.manager = startCertificateManager({
      mode: 'generate',
      store: createSecretStore({ api: secretsApi, name: 'webhook-tls', namespace: 'kaos-system', policy: DEFAULT_ROTATION_POLICY, logger, issuer }),
      injector: createCaInjector({ api: webhooksApi, mutatingWebhookConfiguration: MUTATING, validatingWebhookConfiguration: VALIDATING, logger }),
      sans: SANS,
      logger,
      // Real timers: nothing here waits on them but the (zero) propagation delay.
      propagationDelayMs: 0,
      onCertificate: () => undefined,
    });
  }

  /** Runs `action` once, when this replica next reaches `point`. */
  at(point: Point, action: () => Promise<unknown>): void {
    this.hooks.set(point, async () => {
      await action();
    });
  }

  servedCert(): string {
    const material = this.manager.current();
    if (material === undefined) throw new Error(`${this.name} serves nothing`);
    return material.cert;
  }
}

const running: Replica[] = [];
afterEach(() => {
  for (const replica of running.splice(0)) replica.manager.stop();
});

/** Two replicas converged on one CA; both configurations start without a caBundle. */
async function cluster(): Promise<{ secrets: FakeSecretsApi; webhooks: FakeWebhookApi; a: Replica; b: Replica }> {
  const secrets = new FakeSecretsApi();
  const webhooks = new FakeWebhookApi();
  webhooks.put(webhooks.mutating, MUTATING, [undefined, undefined]);
  webhooks.put(webhooks.validating, VALIDATING, [undefined]);
  const a = new Replica('A', secrets, webhooks);
  running.push(a);
  await a.manager.ready;
  const b = new Replica('B', secrets, webhooks);
  running.push(b);
  await b.manager.ready;
  await Promise.all([a.manager.refresh(), b.manager.refresh()]); // both idle, nothing pending
  return { secrets, webhooks, a, b };
}

/** CA certificates of every webhook's caBundle, per configuration and webhook. */
function bundles(webhooks: FakeWebhookApi): { where: string; cas: string[] }[] {
  const configurations = [webhooks.mutating.get(MUTATING)!, webhooks.validating.get(VALIDATING)!];
  return configurations.flatMap((configuration) =>
    (configuration.webhooks ?? []).map((webhook) => ({
      where: `${configuration.metadata?.name}/${webhook.name}`,
      cas: splitPemCertificates(Buffer.from(webhook.clientConfig.caBundle ?? '', 'base64').toString('utf8')),
    })),
  );
}

function fingerprint(pem: string): string {
  return inspectCertificate(pem).fingerprint;
}

/** What is wrong with the configurations: a served certificate or the Secret's CA they do not trust. */
function bundleMisses(secrets: FakeSecretsApi, webhooks: FakeWebhookApi, replicas: readonly Replica[]): string[] {
  const secretCa = secrets.decoded()[SECRET_KEYS.caCert]!;
  const misses: string[] = [];
  for (const { where, cas } of bundles(webhooks)) {
    if (!cas.map(fingerprint).includes(fingerprint(secretCa))) misses.push(`${where} lacks the Secret's current CA`);
    for (const replica of replicas) {
      if (!chainVerifies(replica.servedCert(), cas)) misses.push(`${where} does not verify the certificate ${replica.name} serves`);
    }
  }
  return misses;
}

/** Wipes every caBundle, as a `helm upgrade` of a chart that renders it empty would. */
function wipeBundles(webhooks: FakeWebhookApi): void {
  webhooks.put(webhooks.mutating, MUTATING, [undefined, undefined]);
  webhooks.put(webhooks.validating, VALIDATING, [undefined]);
}

interface Interleaving {
  /** What replica A runs: a periodic or watch-triggered check, or a forced CA rotation. */
  readonly a: 'check' | 'rotate';
  /** Where in A's run B acts. */
  readonly at: Point;
  /** B rotates the CA and injects (a whole cycle), or only writes the rotated Secret and injects after A is done. */
  readonly b: 'rotate-and-inject' | 'rotate-secret-then-inject-later';
  /** The configurations lost their caBundle before A's run (so A has something to write). */
  readonly wiped?: boolean;
}

describe('CA bundle injection by two replicas (issue 13)', () => {
  it.each<[string, Interleaving]>([
    // The interleaving from the review: A's bundle is older than the one B injected.
    ['A reads Secret v1; B rotates to v2 and injects; A injects', { a: 'check', at: 'secret-read', b: 'rotate-and-inject' }],
    ['A reads Secret v1 and the wiped configurations; B rotates and injects; A patches', { a: 'check', at: 'configuration-read', b: 'rotate-and-inject', wiped: true }],
    ['A reads Secret v1; B rotates and injects right before A patches', { a: 'check', at: 'configuration-patch', b: 'rotate-and-inject', wiped: true }],
    ['A rotates to v2 and writes it; B rotates to v3 and injects; A injects', { a: 'rotate', at: 'secret-write', b: 'rotate-and-inject' }],
    ['A rotates, reading v1; B rotates to v2 and injects; A writes (conflict) and adopts', { a: 'rotate', at: 'secret-read', b: 'rotate-and-inject' }],
    ['A rotates to v2; B rotates to v3 while A patches the configurations', { a: 'rotate', at: 'configuration-patch', b: 'rotate-and-inject' }],
    ['A reads Secret v1; B writes v2 only; A injects; B injects after', { a: 'check', at: 'secret-read', b: 'rotate-secret-then-inject-later' }],
    ['A reads the wiped configurations; B writes v2 only; A patches; B injects after', { a: 'check', at: 'configuration-read', b: 'rotate-secret-then-inject-later', wiped: true }],
  ])('%s: the bundle ends up trusting every served certificate and the current CA', async (_name, interleaving) => {
    const { secrets, webhooks, a, b } = await cluster();
    expect(bundleMisses(secrets, webhooks, [a, b])).toEqual([]);
    if (interleaving.wiped === true) wipeBundles(webhooks);
    const caBefore = secrets.decoded()[SECRET_KEYS.caCert];

    // B's rotation as another process would do it: the whole cycle, or the Secret write alone
    // (B's store, then B's own check injects once A is done).
    const bStore = createSecretStore({ api: secrets, name: 'webhook-tls', namespace: 'kaos-system', policy: DEFAULT_ROTATION_POLICY, logger: silentLogger(), issuer });
    a.at(interleaving.at, () => (interleaving.b === 'rotate-and-inject' ? b.manager.refresh('ca') : bStore.ensure(SANS, { force: 'ca' })));
    await a.manager.refresh(interleaving.a === 'rotate' ? 'ca' : undefined);
    if (interleaving.b === 'rotate-secret-then-inject-later') await b.manager.refresh();

    expect(secrets.decoded()[SECRET_KEYS.caCert]).not.toBe(caBefore); // B's rotation happened
    expect(bundleMisses(secrets, webhooks, [a, b])).toEqual([]);
    // Both replicas end on the Secret's certificate; the bundle is the Secret's.
    const secretBundle = secrets.decoded()[SECRET_KEYS.caBundle]!;
    for (const { cas } of bundles(webhooks)) expect(cas.join('')).toBe(splitPemCertificates(secretBundle).join(''));
  });

  it('a replica whose Secret read is stale never writes a bundle that drops the newest CA, even for a moment', async () => {
    const { secrets, webhooks, a, b } = await cluster();
    const written: string[][] = [];
    const patch = webhooks.patchMutatingWebhookConfiguration.bind(webhooks);
    webhooks.patchMutatingWebhookConfiguration = async (params: { name: string; body: JsonPatchOperation[] }) => {
      const result = await patch(params);
      written.push(bundles(webhooks).filter((entry) => entry.where.startsWith(MUTATING))[0]!.cas.map(fingerprint));
      return result;
    };
    a.at('secret-read', () => b.manager.refresh('ca'));
    await a.manager.refresh();
    const newest = fingerprint(secrets.decoded()[SECRET_KEYS.caCert]!);
    expect(written.length).toBeGreaterThan(0);
    // Every write after B's (the first) keeps the newest CA.
    expect(written.filter((cas) => !cas.includes(newest))).toEqual([]);
  });
});
