// Writes the CA bundle into `clientConfig.caBundle` of every webhook of our Mutating- and
// ValidatingWebhookConfiguration, so the API server trusts the serving certificate. Reads first and
// patches only webhooks whose bundle differs; every patch starts with a `test` of the
// resourceVersion, so an index never points at a webhook that a concurrent `helm upgrade` moved.
// With a `stillCurrent` check (ADR 0017), the bundle is confirmed against its source (the Secret)
// after the configuration was read and before it is patched: since the patch only applies to the
// configuration as read, a bundle older than the Secret can never overwrite a newer one.
import type { V1MutatingWebhookConfiguration, V1ValidatingWebhookConfiguration } from '@kubernetes/client-node';
import type { Logger } from '@kaos/kube-runtime';
import { apiStatus } from './kubernetes-errors.js';

/**
 * The reads and JSON-patch (RFC 6902) writes the injector makes, shaped like client-node's
 * AdmissionregistrationV1Api (kube-rest.ts implements them without loading it; a fake in tests).
 */
export interface WebhookConfigurationsApi {
  readMutatingWebhookConfiguration(params: { name: string }): Promise<V1MutatingWebhookConfiguration>;
  patchMutatingWebhookConfiguration(params: { name: string; body: JsonPatchOperation[] }): Promise<V1MutatingWebhookConfiguration>;
  readValidatingWebhookConfiguration(params: { name: string }): Promise<V1ValidatingWebhookConfiguration>;
  patchValidatingWebhookConfiguration(params: { name: string; body: JsonPatchOperation[] }): Promise<V1ValidatingWebhookConfiguration>;
}

/** Which configurations to keep in sync (either may be omitted, e.g. a mutating-only install). */
export interface CaInjectorOptions {
  readonly api: WebhookConfigurationsApi;
  readonly mutatingWebhookConfiguration?: string;
  readonly validatingWebhookConfiguration?: string;
  readonly logger: Logger;
  /** Re-reads after a failed resourceVersion test before giving up; the caller retries later. */
  readonly maxAttempts?: number;
}

/** What one injection did. */
export interface InjectionResult {
  /** True when at least one webhook's caBundle was changed. */
  readonly changed: boolean;
  /** `Kind/name` of each configuration patched. */
  readonly patched: readonly string[];
}

/** Per-call options of inject. */
export interface InjectOptions {
  /**
   * Re-reads the bundle's source and tells whether this bundle is still the one it holds. Called
   * after a configuration was read and before it is patched (never when nothing is to be written);
   * false aborts the injection with a StaleBundleError and nothing written.
   */
  readonly stillCurrent?: () => Promise<boolean>;
}

/** Keeps the webhook configurations' caBundle equal to the given PEM bundle. */
export interface CaInjector {
  inject(caBundlePem: string, options?: InjectOptions): Promise<InjectionResult>;
}

/** A webhook configuration we were told to patch does not exist (yet): a deployment error the caller retries. */
export class WebhookConfigurationNotFoundError extends Error {
  override readonly name = 'WebhookConfigurationNotFoundError';
}

/**
 * The bundle to inject is no longer the one its source holds (another replica rotated the CA since
 * it was read): nothing was written by this call; the caller re-reads the source and injects that.
 */
export class StaleBundleError extends Error {
  override readonly name = 'StaleBundleError';
}

/** One RFC 6902 operation. */
export interface JsonPatchOperation {
  readonly op: 'add' | 'test';
  readonly path: string;
  readonly value: unknown;
}

/** The JSON patch setting caBundle on every webhook whose value differs; empty when all are equal. */
export function caBundlePatch(
  configuration: { metadata?: { resourceVersion?: string }; webhooks?: readonly { clientConfig?: { caBundle?: string } }[] },
  caBundleBase64: string,
): JsonPatchOperation[] {
  const operations: JsonPatchOperation[] = (configuration.webhooks ?? []).flatMap((webhook, index) =>
    webhook.clientConfig?.caBundle === caBundleBase64
      ? []
      : // `add` on an existing member replaces it (RFC 6902 4.1), so one op covers set and unset.
        [{ op: 'add' as const, path: `/webhooks/${index}/clientConfig/caBundle`, value: caBundleBase64 }],
  );
  if (operations.length === 0) return [];
  return [{ op: 'test', path: '/metadata/resourceVersion', value: configuration.metadata?.resourceVersion ?? '' }, ...operations];
}

/** Creates an injector for the named configurations. */
export function createCaInjector(options: CaInjectorOptions): CaInjector {
  const { api, logger } = options;
  const maxAttempts = options.maxAttempts ?? 5;
  const targets: { kind: string; name: string; read: () => Promise<Configuration>; patch: (body: JsonPatchOperation[]) => Promise<unknown> }[] = [];
  const mutating = options.mutatingWebhookConfiguration;
  const validating = options.validatingWebhookConfiguration;
  if (mutating !== undefined && mutating !== '') {
    targets.push({
      kind: 'MutatingWebhookConfiguration',
      name: mutating,
      read: () => api.readMutatingWebhookConfiguration({ name: mutating }),
      patch: (body) => api.patchMutatingWebhookConfiguration({ name: mutating, body }),
    });
  }
  if (validating !== undefined && validating !== '') {
    targets.push({
      kind: 'ValidatingWebhookConfiguration',
      name: validating,
      read: () => api.readValidatingWebhookConfiguration({ name: validating }),
      patch: (body) => api.patchValidatingWebhookConfiguration({ name: validating, body }),
    });
  }

  async function injectInto(target: (typeof targets)[number], caBundleBase64: string, injectOptions: InjectOptions): Promise<boolean> {
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      let configuration: Configuration;
      try {
        configuration = await target.read();
      } catch (error) {
        if (apiStatus(error) === 404) {
          throw new WebhookConfigurationNotFoundError(
            `${target.kind} "${target.name}" not found: the CA bundle cannot be injected until it exists (check the release installed it and the name flag matches)`,
          );
        }
        throw error;
      }
      const patch = caBundlePatch(configuration, caBundleBase64);
      if (patch.length === 0) return false;
      // Confirmed after the read the patch is tested against: if another replica rotated and injected
      // since, either this check sees its Secret or the resourceVersion test sees its patch.
      if (injectOptions.stillCurrent !== undefined && !(await injectOptions.stillCurrent())) {
        throw new StaleBundleError(`not injecting into ${target.kind} "${target.name}": the certificate Secret changed since this bundle was read`);
      }
      try {
        await target.patch(patch);
        logger.info('injected CA bundle', { kind: target.kind, name: target.name, webhooks: patch.length - 1 });
        return true;
      } catch (error) {
        // 422: the resourceVersion test failed (someone else wrote in between); 409 for good measure.
        const status = apiStatus(error);
        if (status !== 422 && status !== 409) throw error;
        logger.info('webhook configuration changed while injecting the CA bundle; re-reading it', { kind: target.kind, name: target.name, attempt });
      }
    }
    throw new Error(`${target.kind} "${target.name}" kept changing while injecting the CA bundle; gave up after ${maxAttempts} attempts`);
  }

  return {
    async inject(caBundlePem, injectOptions = {}) {
      const caBundleBase64 = Buffer.from(caBundlePem, 'utf8').toString('base64');
      const patched: string[] = [];
      for (const target of targets) {
        if (await injectInto(target, caBundleBase64, injectOptions)) patched.push(`${target.kind}/${target.name}`);
      }
      return { changed: patched.length > 0, patched };
    },
  };
}

interface Configuration {
  metadata?: { resourceVersion?: string };
  webhooks?: { clientConfig?: { caBundle?: string } }[];
}
