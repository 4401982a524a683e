// The Kubernetes calls the webhook makes (read/create/replace/watch its Secret, read/patch its webhook
// configurations), over node:https with credentials from kube-credentials.ts. client-node's types
// only: its generated API classes and their dependencies cost ~30 MB of RSS at runtime (ADR 0008).
import { request, type RequestOptions } from 'node:https';
import type { KubeCredentials } from './kube-credentials.js';
import type { V1MutatingWebhookConfiguration, V1Secret, V1ValidatingWebhookConfiguration } from '@kubernetes/client-node';
import type { SecretsApi } from './tls/secret-store.js';
import type { SecretWatchApi, WatchEvent } from './tls/secret-watch.js';
import type { WebhookConfigurationsApi } from './tls/ca-injector.js';

/** Longest a single API call may take before it fails (and the caller's backoff retries). */
const REQUEST_TIMEOUT_MS = 15_000;

/** A non-2xx answer of the API server; `code` and `body` as client-node's ApiException has them. */
export class KubernetesApiError extends Error {
  override readonly name = 'KubernetesApiError';
  readonly code: number;
  readonly body: unknown;
  readonly headers: Record<string, string | string[] | undefined>;

  constructor(code: number, message: string, body: unknown, headers: Record<string, string | string[] | undefined>) {
    super(message);
    this.code = code;
    this.body = body;
    this.headers = headers;
  }
}

/** One call to the API server; JSON in, JSON out; non-2xx answers throw KubernetesApiError with the status body. */
export async function kubernetesRequest<T>(
  credentials: KubeCredentials,
  method: 'GET' | 'POST' | 'PUT' | 'PATCH',
  path: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<T> {
  // Appended, not resolved: a server URL may carry a path prefix (API proxies such as Rancher's).
  const url = new URL(`${credentials.server.replace(/\/+$/, '')}${path}`);
  const options: RequestOptions = {
    method,
    headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': contentType }) },
    timeout: REQUEST_TIMEOUT_MS,
  };
  credentials.applyTo(options);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise<T>((resolve, reject) => {
    const req = request(url, options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        try {
          parsed = text === '' ? undefined : JSON.parse(text);
        } catch {
          // keep the raw text: errors from proxies are not always JSON
        }
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) resolve(parsed as T);
        else reject(new KubernetesApiError(status, `${method} ${url.pathname} failed with HTTP ${status}`, parsed, res.headers));
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url.pathname} timed out after ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

const encode = encodeURIComponent;

/** Secrets: read, create, replace (what the certificate Secret store needs). */
export function restSecretsApi(credentials: KubeCredentials): SecretsApi {
  return {
    readNamespacedSecret: ({ name, namespace }) =>
      kubernetesRequest<V1Secret>(credentials, 'GET', `/api/v1/namespaces/${encode(namespace)}/secrets/${encode(name)}`),
    createNamespacedSecret: ({ namespace, body }) =>
      kubernetesRequest<V1Secret>(credentials, 'POST', `/api/v1/namespaces/${encode(namespace)}/secrets`, body),
    replaceNamespacedSecret: ({ name, namespace, body }) =>
      kubernetesRequest<V1Secret>(credentials, 'PUT', `/api/v1/namespaces/${encode(namespace)}/secrets/${encode(name)}`, body),
  } as SecretsApi;
}

/** Seconds the API server keeps one watch open before ending it (the watcher then re-opens it). */
const WATCH_TIMEOUT_SECONDS = 300;

/**
 * One watch of the Secret `name`, newline-delimited JSON events until the API server ends it.
 * Restricted by the field selector metadata.name, which is what lets RBAC allow it by resourceName.
 */
export function restSecretWatchApi(credentials: KubeCredentials, timeoutSeconds = WATCH_TIMEOUT_SECONDS): SecretWatchApi {
  return {
    watchNamespacedSecret: ({ name, namespace }, onEvent, signal) => {
      const query = new URLSearchParams({ watch: 'true', fieldSelector: `metadata.name=${name}`, timeoutSeconds: String(timeoutSeconds) });
      const url = new URL(`${credentials.server.replace(/\/+$/, '')}/api/v1/namespaces/${encode(namespace)}/secrets?${query}`);
      // Silence longer than the server's own timeout means a dead connection.
      const options: RequestOptions = { method: 'GET', headers: { accept: 'application/json' }, timeout: (timeoutSeconds + 30) * 1000 };
      credentials.applyTo(options);
      return new Promise<void>((resolve, reject) => {
        if (signal.aborted) return resolve();
        const req = request(url, options, (res) => {
          const status = res.statusCode ?? 0;
          if (status < 200 || status >= 300) {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('end', () => {
              const text = Buffer.concat(chunks).toString('utf8');
              let body: unknown = text;
              try {
                body = JSON.parse(text);
              } catch {
                // keep the raw text
              }
              reject(new KubernetesApiError(status, `watch ${url.pathname} failed with HTTP ${status}`, body, res.headers));
            });
            return;
          }
          let pending = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            pending += chunk;
            let newline: number;
            while ((newline = pending.indexOf('\n')) !== -1) {
              const line = pending.slice(0, newline).trim();
              pending = pending.slice(newline + 1);
              if (line === '') continue;
              try {
                onEvent(JSON.parse(line) as WatchEvent);
              } catch (error) {
                req.destroy(new Error(`unreadable watch event: ${(error as Error).message}`));
                return;
              }
            }
          });
          res.on('end', () => resolve());
          res.on('error', (error) => (signal.aborted ? resolve() : reject(error)));
        });
        signal.addEventListener('abort', () => req.destroy(), { once: true });
        req.on('timeout', () => req.destroy(new Error(`watch ${url.pathname} was silent for ${timeoutSeconds + 30} s`)));
        req.on('error', (error) => (signal.aborted ? resolve() : reject(error)));
        req.end();
      });
    },
  };
}

const WEBHOOK_CONFIGURATIONS = '/apis/admissionregistration.k8s.io/v1';

/** Webhook configurations: read and JSON-patch (what the CA bundle injector needs). */
export function restWebhookConfigurationsApi(credentials: KubeCredentials): WebhookConfigurationsApi {
  const jsonPatch = 'application/json-patch+json';
  return {
    readMutatingWebhookConfiguration: ({ name }) =>
      kubernetesRequest<V1MutatingWebhookConfiguration>(credentials, 'GET', `${WEBHOOK_CONFIGURATIONS}/mutatingwebhookconfigurations/${encode(name)}`),
    patchMutatingWebhookConfiguration: ({ name, body }) =>
      kubernetesRequest<V1MutatingWebhookConfiguration>(credentials, 'PATCH', `${WEBHOOK_CONFIGURATIONS}/mutatingwebhookconfigurations/${encode(name)}`, body, jsonPatch),
    readValidatingWebhookConfiguration: ({ name }) =>
      kubernetesRequest<V1ValidatingWebhookConfiguration>(credentials, 'GET', `${WEBHOOK_CONFIGURATIONS}/validatingwebhookconfigurations/${encode(name)}`),
    patchValidatingWebhookConfiguration: ({ name, body }) =>
      kubernetesRequest<V1ValidatingWebhookConfiguration>(credentials, 'PATCH', `${WEBHOOK_CONFIGURATIONS}/validatingwebhookconfigurations/${encode(name)}`, body, jsonPatch),
  };
}
