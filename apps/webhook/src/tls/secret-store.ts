// The certificate Secret as the coordination point between replicas: read it, run the pure rotation
// decision, and write changes with optimistic concurrency (create, or replace at the resourceVersion
// that was read). A replica that loses the race gets 409 Conflict (AlreadyExists for a create),
// re-reads and adopts the winner's certificates, so every replica converges on one set.
// A deleted Secret is recreated as it was: same type, labels and annotations as last read (Helm's
// included), so `helm upgrade` finds the object it rendered and `helm uninstall` deletes it by name.
import type { CoreV1Api, V1Secret } from '@kubernetes/client-node';
import type { Logger } from '@kaos/kube-runtime';
import { normalizeSans, type SubjectAltNames } from './certificates.js';
import { apiStatus } from './kubernetes-errors.js';
import {
  SECRET_KEYS,
  decideRotation,
  nextRenewalAt,
  renderSecretData,
  rotationPolicyProblems,
  tlsMaterialFromSecretData,
  type CertificateSecretData,
  type Issuer,
  type RetainedCa,
  type RotationDecision,
  type RotationPolicy,
  type TlsMaterial,
} from './rotation.js';

/** The part of CoreV1Api the store uses (a fake implements just this in tests). */
export type SecretsApi = Pick<CoreV1Api, 'readNamespacedSecret' | 'createNamespacedSecret' | 'replaceNamespacedSecret'>;

/** Where the Secret lives and how certificates in it are rotated. */
export interface SecretStoreOptions {
  readonly api: SecretsApi;
  readonly name: string;
  readonly namespace: string;
  readonly policy: RotationPolicy;
  readonly logger: Logger;
  readonly now?: () => Date;
  readonly issuer?: Issuer;
  /** Reads after a lost write race before giving up; the caller retries later with backoff. */
  readonly maxAttempts?: number;
  /** Labels of a Secret this process never saw (created from scratch); the chart passes its own. */
  readonly labels?: Readonly<Record<string, string>>;
}

/** Per-call options of ensure. */
export interface EnsureOptions {
  readonly force?: 'leaf' | 'ca';
  /** CAs this process still serves leaves of; kept in the bundle if the Secret lost them. */
  readonly retain?: readonly RetainedCa[];
}

/** The outcome of ensure: what to serve, what was decided, and when to look again. */
export interface EnsureResult {
  readonly material: TlsMaterial;
  readonly decision: RotationDecision;
  /** True when this call wrote the Secret; false when it kept or adopted another replica's write. */
  readonly wrote: boolean;
  readonly renewAt: Date | undefined;
}

/** Reads and, when needed, rotates the certificate Secret. */
export interface SecretStore {
  ensure(sans: SubjectAltNames, options?: EnsureOptions): Promise<EnsureResult>;
  /**
   * The CA bundle the Secret holds now (a fresh, quorum read; undefined when the Secret is gone), in
   * the form `EnsureResult.material.caBundle` has: what the injector confirms before writing.
   */
  currentBundle(): Promise<string | undefined>;
}

const MANAGED_BY = 'kaos-routing-webhook';

/**
 * The type of a Secret created from scratch: the chart's (Secret types are immutable, and a
 * `helm upgrade` would fail trying to turn a `kubernetes.io/tls` Secret back into the `Opaque` it renders).
 */
export const CREATED_SECRET_TYPE = 'Opaque';

/** What a recreated Secret copies from the last one read. */
interface RememberedShape {
  type: string | undefined;
  labels: Record<string, string> | undefined;
  annotations: Record<string, string> | undefined;
}

/** Creates a store over the Secret `name` in `namespace`; throws on an unusable policy. */
export function createSecretStore(options: SecretStoreOptions): SecretStore {
  const problems = rotationPolicyProblems(options.policy);
  if (problems.length > 0) throw new Error(`invalid certificate rotation policy: ${problems.join('; ')}`);
  const { api, name, namespace, policy, logger } = options;
  const now = options.now ?? (() => new Date());
  const maxAttempts = options.maxAttempts ?? 5;
  const fields = { secret: `${namespace}/${name}` };
  let remembered: RememberedShape | undefined;

  async function read(): Promise<V1Secret | undefined> {
    try {
      const secret = await api.readNamespacedSecret({ name, namespace });
      remembered = { type: secret.type, labels: secret.metadata?.labels, annotations: secret.metadata?.annotations };
      return secret;
    } catch (error) {
      if (apiStatus(error) === 404) return undefined;
      throw error;
    }
  }

  async function write(existing: V1Secret | undefined, data: Record<string, string>): Promise<'written' | 'conflict'> {
    try {
      if (existing === undefined) {
        const labels = remembered?.labels ?? options.labels ?? { 'app.kubernetes.io/managed-by': MANAGED_BY };
        const annotations = remembered?.annotations;
        await api.createNamespacedSecret({
          namespace,
          body: {
            apiVersion: 'v1',
            kind: 'Secret',
            metadata: { name, namespace, labels: { ...labels }, ...(annotations === undefined ? {} : { annotations: { ...annotations } }) },
            type: remembered?.type ?? CREATED_SECRET_TYPE,
            data: encode(data),
          },
        });
      } else {
        // Keep metadata (owner references, Helm annotations) and foreign keys; resourceVersion
        // from the read makes the API server refuse the write if anyone changed it since.
        await api.replaceNamespacedSecret({ name, namespace, body: { ...existing, data: { ...existing.data, ...encode(data) } } });
      }
      return 'written';
    } catch (error) {
      if (apiStatus(error) === 409) return 'conflict';
      throw error;
    }
  }

  return {
    async ensure(sans, ensureOptions = {}) {
      const wanted = normalizeSans(sans);
      for (let attempt = 1; attempt <= maxAttempts; attempt++) {
        const secret = await read();
        const current = secret === undefined ? undefined : decode(secret.data);
        const at = now();
        // A forced rotation applies once: after a lost race the winner already rotated.
        const input = {
          current,
          sans: wanted,
          now: at,
          policy,
          retain: ensureOptions.retain ?? [],
          ...(attempt === 1 && ensureOptions.force !== undefined ? { force: ensureOptions.force } : {}),
        };
        const decision = decideRotation(input);
        const data = await renderSecretData(input, decision, options.issuer);
        if (data === undefined) {
          logger.debug('certificate Secret up to date', { ...fields, action: decision.action, reason: decision.reason });
          return result(current ?? {}, decision, false, at);
        }
        logger.info(secret === undefined ? 'creating certificate Secret' : 'updating certificate Secret', { ...fields, action: decision.action, reason: decision.reason, attempt });
        if ((await write(secret, data)) === 'written') {
          logger.info('certificate Secret updated', { ...fields, action: decision.action });
          return result({ ...current, ...data }, decision, true, at);
        }
        logger.info('another replica updated the certificate Secret first; re-reading it', { ...fields, attempt });
      }
      throw new Error(`certificate Secret ${fields.secret} kept changing under us; gave up after ${maxAttempts} attempts`);
    },

    async currentBundle() {
      const secret = await read();
      if (secret === undefined) return undefined;
      const data = decode(secret.data);
      return data[SECRET_KEYS.caBundle] ?? data[SECRET_KEYS.caCert];
    },
  };

  function result(data: CertificateSecretData, decision: RotationDecision, wrote: boolean, at: Date): EnsureResult {
    return { material: tlsMaterialFromSecretData(data), decision, wrote, renewAt: nextRenewalAt(data, policy, at) };
  }
}

function decode(data: Record<string, string> | undefined): CertificateSecretData {
  return Object.fromEntries(Object.entries(data ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64').toString('utf8')]));
}

function encode(data: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(data).map(([key, value]) => [key, Buffer.from(value, 'utf8').toString('base64')]));
}
