// client-node 2.0 builds a new undici Agent for every API request (KubeConfig.applySecurityAuthentication
// calls createDispatcher each time), so every request opens its own TLS connection to the API
// server: a full handshake with client-certificate checks on the server for each write, and each
// idle connection keeps its OpenSSL buffers in the controller until undici closes it seconds
// later. Under load that was ~100 open connections in the controller and most of the API
// server's CPU. One shared dispatcher per set of TLS settings keeps a pool of kept-alive
// connections instead, as client-go does.
import { createHash } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';

/** The part of an undici dispatcher we use: a graceful close once it is replaced. */
interface Closable {
  close?: () => Promise<void>;
}

type CreateDispatcher = (cluster: unknown, agentOptions: unknown) => Closable | undefined;

/** How long a replaced connection pool stays open for requests that already chose it. */
const REPLACED_POOL_GRACE_MS = 60_000;

/** A stable digest of the dispatcher settings (CA, client certificate and key, TLS flags). */
function fingerprint(options: unknown): string {
  // The replacer sees a Buffer only through its holder: JSON.stringify has already applied
  // Buffer#toJSON (an array of numbers, 4x the PEM) to `value`.
  const text = JSON.stringify(options, function (this: Record<string, unknown>, key: string, value: unknown) {
    const original = this[key];
    return Buffer.isBuffer(original) ? original.toString('base64') : value;
  });
  return createHash('sha256').update(text ?? '').digest('hex');
}

/**
 * Makes every API request made through this KubeConfig share one dispatcher (one connection pool)
 * while the TLS settings stay the same. When they change (a rotated client certificate), the
 * next request gets a new dispatcher and the old one is closed once its requests are done.
 * Returns false, changing nothing, if this client-node has no per-request dispatcher hook.
 */
export function reuseConnections(kubeConfig: KubeConfig): boolean {
  // createDispatcher is private in client-node's types; the version is pinned by package-lock.
  const target = kubeConfig as unknown as { createDispatcher?: CreateDispatcher };
  if (typeof target.createDispatcher !== 'function') return false;
  const create = target.createDispatcher.bind(kubeConfig);
  let current: { key: string; dispatcher: Closable | undefined } | undefined;
  target.createDispatcher = (cluster, agentOptions) => {
    const key = fingerprint(kubeConfig.createDispatcherOptions(cluster as Parameters<KubeConfig['createDispatcherOptions']>[0], agentOptions as Parameters<KubeConfig['createDispatcherOptions']>[1]));
    if (current?.key === key) return current.dispatcher;
    const replaced = current?.dispatcher;
    current = { key, dispatcher: create(cluster, agentOptions) };
    // Requests that already picked the old pool use it after a few more awaits; a closed undici
    // dispatcher would throw for them, so it closes only after they have had time to finish.
    if (replaced) setTimeout(() => void replaced.close?.().catch(() => undefined), REPLACED_POOL_GRACE_MS).unref();
    return current.dispatcher;
  };
  return true;
}
