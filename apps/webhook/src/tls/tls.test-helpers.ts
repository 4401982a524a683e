// Shared fixtures of the TLS tests: a fixed clock, certificate sets built at chosen times, fake
// timers, and a cert-manager style ECDSA pair (forge cannot make ECDSA certificates).
import { generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';
import { ApiException, type V1MutatingWebhookConfiguration, type V1Secret, type V1ValidatingWebhookConfiguration } from '@kubernetes/client-node';
import jsonpatch from 'fast-json-patch';
import type { JsonPatchOperation, WebhookConfigurationsApi } from './ca-injector.js';
import { generateCa, generateServingCertificate, webhookSubjectAltNames, type KeyAndCertificate, type SubjectAltNames } from './certificates.js';
import type { Timers } from './cert-manager.js';
import { SECRET_KEYS, type Issuer, type RotationPolicy } from './rotation.js';
import type { SecretsApi } from './secret-store.js';

/** The tests' "now"; far from the real date so nothing depends on the wall clock. */
export const NOW = new Date('2031-03-01T12:00:00.000Z');
export const DAY = 24 * 60 * 60 * 1000;
export const SANS = webhookSubjectAltNames({ service: 'kaos-webhook', namespace: 'kaos-system' });
export const RENAMED_SANS = webhookSubjectAltNames({ service: 'kaos-routing-webhook', namespace: 'kaos-system' });

/** NOW shifted by a number of days. */
export function days(n: number, from: Date = NOW): Date {
  return new Date(from.getTime() + n * DAY);
}

/** A CA valid from `from` to `to`. */
export function ca(from: Date, to: Date, commonName = 'test-ca'): Promise<KeyAndCertificate> {
  return generateCa({ commonName, notBefore: from, notAfter: to });
}

/** A serving certificate signed by `issuer`. */
export function leaf(issuer: KeyAndCertificate, from: Date, to: Date, sans: SubjectAltNames = SANS): Promise<KeyAndCertificate> {
  return generateServingCertificate({ ca: issuer, sans, notBefore: from, notAfter: to });
}

/** Secret data for a CA and leaf, with a bundle holding the CA plus `previous`. */
export function secretData(issuer: KeyAndCertificate, serving: KeyAndCertificate, previous: string[] = []): Record<string, string> {
  return {
    [SECRET_KEYS.caCert]: issuer.certificatePem,
    [SECRET_KEYS.caKey]: issuer.privateKeyPem,
    [SECRET_KEYS.tlsCert]: serving.certificatePem,
    [SECRET_KEYS.tlsKey]: serving.privateKeyPem,
    [SECRET_KEYS.caBundle]: [issuer.certificatePem, ...previous].join(''),
    [SECRET_KEYS.bundleRetention]: '{}',
  };
}

/** Fresh RSA-2048 private keys (PKCS#8 PEM), generated in parallel. */
export async function keyPool(size: number): Promise<string[]> {
  const generate = promisify(generateKeyPair);
  const pairs = await Promise.all(
    Array.from({ length: size }, () =>
      generate('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } }),
    ),
  );
  return pairs.map((pair) => pair.privateKey);
}

/** An issuer handing out pooled keys in turn, so tests issuing many certificates skip key generation. */
export function pooledIssuer(caKeys: readonly string[], leafKeys: readonly string[]): Issuer {
  let cas = 0;
  let leaves = 0;
  return {
    generateCa: (options) => generateCa({ ...options, privateKeyPem: caKeys[cas++ % caKeys.length]! }),
    generateServingCertificate: (options) => generateServingCertificate({ ...options, privateKeyPem: leafKeys[leaves++ % leafKeys.length]! }),
  };
}

/** A short policy for lifecycle tests (CA 400 d renewed 100 d early, leaf 90 d renewed 30 d early). */
export const SHORT_POLICY: RotationPolicy = {
  caLifetimeMs: 400 * DAY,
  caRenewBeforeMs: 100 * DAY,
  leafLifetimeMs: 90 * DAY,
  leafRenewBeforeMs: 30 * DAY,
  backdateMs: 5 * 60 * 1000,
  keyBits: 2048,
  caCommonName: 'test-ca',
};

/** An ApiException as @kubernetes/client-node throws it for a non-2xx answer. */
export function apiError(code: number, reason: string): ApiException<string> {
  return new ApiException(code, reason, JSON.stringify({ kind: 'Status', code, reason, message: `${reason} (fake)` }), {});
}

type ReadParams = Parameters<SecretsApi['readNamespacedSecret']>[0];
type CreateParams = Parameters<SecretsApi['createNamespacedSecret']>[0];
type ReplaceParams = Parameters<SecretsApi['replaceNamespacedSecret']>[0];

/** An API server holding one namespace's Secrets, with resourceVersion checks like the real one. */
export class FakeSecretsApi implements SecretsApi {
  readonly secrets = new Map<string, V1Secret>();
  writes = 0;
  conflicts = 0;
  reads = 0;
  failReads: Error | undefined;
  /** Runs after every read: lets a test change the Secret between a replica's read and its write. */
  afterRead: (() => void) | undefined;
  private version = 100;

  async readNamespacedSecret({ name, namespace }: ReadParams): Promise<V1Secret> {
    this.reads++;
    if (this.failReads !== undefined) throw this.failReads;
    const secret = this.secrets.get(`${namespace}/${name}`);
    if (secret === undefined) throw apiError(404, 'NotFound');
    const copy = structuredClone(secret);
    this.afterRead?.();
    return copy;
  }

  async createNamespacedSecret({ namespace, body }: CreateParams): Promise<V1Secret> {
    const key = `${namespace}/${body.metadata?.name}`;
    if (this.secrets.has(key)) {
      this.conflicts++;
      throw apiError(409, 'AlreadyExists');
    }
    return this.store(key, body);
  }

  async replaceNamespacedSecret({ name, namespace, body }: ReplaceParams): Promise<V1Secret> {
    const key = `${namespace}/${name}`;
    const current = this.secrets.get(key);
    if (current === undefined) throw apiError(404, 'NotFound');
    if (body.metadata?.resourceVersion !== current.metadata?.resourceVersion) {
      this.conflicts++;
      throw apiError(409, 'Conflict');
    }
    return this.store(key, body);
  }

  /** Puts a Secret in place as another writer would. */
  put(name: string, data: Record<string, string>, extra: Partial<V1Secret> = {}): void {
    this.store(`kaos-system/${name}`, { metadata: { name, namespace: 'kaos-system', ...extra.metadata }, type: extra.type ?? 'kubernetes.io/tls', data: encodeData(data) });
    this.writes--; // setup, not a write under test
  }

  decoded(name = 'webhook-tls'): Record<string, string> {
    const data = this.secrets.get(`kaos-system/${name}`)?.data ?? {};
    return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
  }

  private store(key: string, body: V1Secret): V1Secret {
    this.writes++;
    const stored = structuredClone({ ...body, metadata: { ...body.metadata, resourceVersion: String(++this.version) } });
    this.secrets.set(key, stored);
    return structuredClone(stored);
  }
}

function encodeData(data: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
}

type Configuration = V1MutatingWebhookConfiguration | V1ValidatingWebhookConfiguration;

/** Cluster-scoped webhook configurations with JSON patch semantics, `test` included, like the API server. */
export class FakeWebhookApi implements WebhookConfigurationsApi {
  readonly mutating = new Map<string, V1MutatingWebhookConfiguration>();
  readonly validating = new Map<string, V1ValidatingWebhookConfiguration>();
  readonly patches: { kind: string; name: string; body: JsonPatchOperation[] }[] = [];
  /** Bumps the resourceVersion before the next N patches, as a concurrent writer would. */
  raceNextPatches = 0;
  private version = 1;

  async readMutatingWebhookConfiguration({ name }: { name: string }): Promise<V1MutatingWebhookConfiguration> {
    return this.read(this.mutating, name);
  }

  async readValidatingWebhookConfiguration({ name }: { name: string }): Promise<V1ValidatingWebhookConfiguration> {
    return this.read(this.validating, name);
  }

  async patchMutatingWebhookConfiguration({ name, body }: { name: string; body: JsonPatchOperation[] }): Promise<V1MutatingWebhookConfiguration> {
    return this.patch('Mutating', this.mutating, name, body);
  }

  async patchValidatingWebhookConfiguration({ name, body }: { name: string; body: JsonPatchOperation[] }): Promise<V1ValidatingWebhookConfiguration> {
    return this.patch('Validating', this.validating, name, body);
  }

  put<T extends Configuration>(map: Map<string, T>, name: string, caBundles: (string | undefined)[]): void {
    map.set(name, {
      metadata: { name, resourceVersion: String(this.version++) },
      webhooks: caBundles.map((caBundle, i) => ({
        name: `w${i}.kaos.tech`,
        clientConfig: { service: { name: 'kaos-webhook', namespace: 'kaos-system' }, ...(caBundle === undefined ? {} : { caBundle }) },
        admissionReviewVersions: ['v1'],
        sideEffects: 'None',
      })),
    } as T);
  }

  private read<T extends Configuration>(map: Map<string, T>, name: string): T {
    const found = map.get(name);
    if (found === undefined) throw apiError(404, 'NotFound');
    return structuredClone(found);
  }

  private patch<T extends Configuration>(kind: string, map: Map<string, T>, name: string, body: JsonPatchOperation[]): T {
    const current = map.get(name);
    if (current === undefined) throw apiError(404, 'NotFound');
    if (this.raceNextPatches > 0) {
      this.raceNextPatches--;
      current.metadata = { ...current.metadata, resourceVersion: String(this.version++) };
    }
    this.patches.push({ kind, name, body });
    try {
      const patched = jsonpatch.applyPatch(structuredClone(current), body as jsonpatch.Operation[], true, false).newDocument;
      patched.metadata = { ...patched.metadata, resourceVersion: String(this.version++) };
      map.set(name, patched);
      return structuredClone(patched);
    } catch {
      throw apiError(422, 'Invalid'); // a failed `test` operation
    }
  }
}

/** Timers driven by the test: nothing fires until advance(). */
export class FakeTimers implements Timers {
  private current: number;
  private nextId = 1;
  private readonly pending = new Map<number, { at: number; callback: () => void }>();

  constructor(start: Date = NOW) {
    this.current = start.getTime();
  }

  now(): number {
    return this.current;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.pending.set(id, { at: this.current + ms, callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }

  /** Delays (from now) of the timers still pending, soonest first. */
  delays(): number[] {
    return [...this.pending.values()].map((timer) => timer.at - this.current).sort((a, b) => a - b);
  }

  /** Moves the clock and fires every timer that became due, in order. */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      const due = [...this.pending.entries()].filter(([, timer]) => timer.at <= target).sort((a, b) => a[1].at - b[1].at)[0];
      if (due === undefined) break;
      this.pending.delete(due[0]);
      this.current = Math.max(this.current, due[1].at);
      due[1].callback();
    }
    this.current = target;
  }
}

/** Waits (on I/O, never on certificate lifetimes) until the condition holds. */
export async function eventually(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

// A P-256 pair as cert-manager issues them, made with `openssl req -x509 -newkey ec ...` and valid
// until 2126. The key is a throwaway test fixture and protects nothing.
export const ECDSA_CERT = `-----BEGIN CERTIFICATE-----
MIIB+jCCAaCgAwIBAgIUCfhbs11WxiDtOL8mj+r4O36HSdMwCgYIKoZIzj0EAwIw
JzElMCMGA1UEAwwca2Fvcy13ZWJob29rLmthb3Mtc3lzdGVtLnN2YzAgFw0yNjEx
MjYwOTM5NDlaGA8yMTI2MTEwMjA5Mzk0OVowJzElMCMGA1UEAwwca2Fvcy13ZWJo
b29rLmthb3Mtc3lzdGVtLnN2YzBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABPFD
AvAh1bq9U1YVvWQchz2neDmpkq/LLSrWzEEp+nX/6SuF73j8egP5lQyMnoI9URY9
rguQBv05JW3ff0zKdPSjgacwgaQwHQYDVR0OBBYEFBvpXTmsxUaQPwqSq/mxsabD
pQmZMB8GA1UdIwQYMBaAFBvpXTmsxUaQPwqSq/mxsabDpQmZMD8GA1UdEQQ4MDaC
HGthb3Mtd2ViaG9vay5rYW9zLXN5c3RlbS5zdmOHBH8AAAGHEAAAAAAAAAAAAAAA
AAAAAAEwEwYDVR0lBAwwCgYIKwYBBQUHAwEwDAYDVR0TAQH/BAIwADAKBggqhkjO
PQQDAgNIADBFAiAUDDcsuYzkWDcOZo5STZB7YXW5uBXujH6M3W5A3yX7+QIhAKmY
KVHCxYCEJVp5nPbmF5aicFyJFXXZsYm2YbXsw7Uv
-----END CERTIFICATE-----
`;

export const ECDSA_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgStx6kNQWiJt8HrYF
Wsvwg5WSaEdd7+FITisC8tjzNlqhRANCAATxQwLwIdW6vVNWFb1kHIc9p3g5qZKv
yy0q1sxBKfp1/+krhe94/HoD+ZUMjJ6CPVEWPa4LkAb9OSVt339MynT0
-----END PRIVATE KEY-----
`;
