// The four Kubernetes calls the webhook makes, over node:https with credentials from client-node's
// KubeConfig. client-node's generated API classes pull every model of every API group into the
// bundle (about 7 MB of code, ~45 MB of RSS); the webhook needs two resources (ADR 0004).
import { request } from 'node:https';
import { ApiException, type KubeConfig } from '@kubernetes/client-node';
import type { V1MutatingWebhookConfiguration, V1Secret, V1ValidatingWebhookConfiguration } from '@kubernetes/client-node';
import type { SecretsApi } from './tls/secret-store.js';
import type { WebhookConfigurationsApi } from './tls/ca-injector.js';

/** Longest a single API call may take before it fails (and the caller's backoff retries). */
const REQUEST_TIMEOUT_MS = 15_000;

/** One call to the API server; JSON in, JSON out; non-2xx answers throw ApiException with the status body. */
export async function kubernetesRequest<T>(
  kubeConfig: KubeConfig,
  method: 'GET' | 'POST' | 'PUT' | 'PATCH',
  path: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<T> {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const url = new URL(path, cluster.server);
  const options: Parameters<typeof request>[1] = {
    method,
    headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': contentType }) },
    timeout: REQUEST_TIMEOUT_MS,
  };
  // Fills in CA, client certificate or (re-read, rotating) bearer token, and a pooled agent.
  await kubeConfig.applyToHTTPSOptions(options);
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
        else reject(new ApiException(status, `${method} ${url.pathname} failed with HTTP ${status}`, parsed, res.headers as Record<string, string>));
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
export function restSecretsApi(kubeConfig: KubeConfig): SecretsApi {
  return {
    readNamespacedSecret: ({ name, namespace }) =>
      kubernetesRequest<V1Secret>(kubeConfig, 'GET', `/api/v1/namespaces/${encode(namespace)}/secrets/${encode(name)}`),
    createNamespacedSecret: ({ namespace, body }) =>
      kubernetesRequest<V1Secret>(kubeConfig, 'POST', `/api/v1/namespaces/${encode(namespace)}/secrets`, body),
    replaceNamespacedSecret: ({ name, namespace, body }) =>
      kubernetesRequest<V1Secret>(kubeConfig, 'PUT', `/api/v1/namespaces/${encode(namespace)}/secrets/${encode(name)}`, body),
  } as SecretsApi;
}

const WEBHOOK_CONFIGURATIONS = '/apis/admissionregistration.k8s.io/v1';

/** Webhook configurations: read and JSON-patch (what the CA bundle injector needs). */
export function restWebhookConfigurationsApi(kubeConfig: KubeConfig): WebhookConfigurationsApi {
  const jsonPatch = 'application/json-patch+json';
  return {
    readMutatingWebhookConfiguration: ({ name }) =>
      kubernetesRequest<V1MutatingWebhookConfiguration>(kubeConfig, 'GET', `${WEBHOOK_CONFIGURATIONS}/mutatingwebhookconfigurations/${encode(name)}`),
    patchMutatingWebhookConfiguration: ({ name, body }) =>
      kubernetesRequest<V1MutatingWebhookConfiguration>(kubeConfig, 'PATCH', `${WEBHOOK_CONFIGURATIONS}/mutatingwebhookconfigurations/${encode(name)}`, body, jsonPatch),
    readValidatingWebhookConfiguration: ({ name }) =>
      kubernetesRequest<V1ValidatingWebhookConfiguration>(kubeConfig, 'GET', `${WEBHOOK_CONFIGURATIONS}/validatingwebhookconfigurations/${encode(name)}`),
    patchValidatingWebhookConfiguration: ({ name, body }) =>
      kubernetesRequest<V1ValidatingWebhookConfiguration>(kubeConfig, 'PATCH', `${WEBHOOK_CONFIGURATIONS}/validatingwebhookconfigurations/${encode(name)}`, body, jsonPatch),
  } as WebhookConfigurationsApi;
}
