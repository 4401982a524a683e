// client-node 2.0 builds a new undici Agent for every API request (KubeConfig.applySecurityAuthentication
// calls createDispatcher each time), so every request opens its own TLS connection to the API
// server: a full handshake with client-certificate checks on the server for each write, and each
// idle connection keeps its OpenSSL buffers in the controller until undici closes it seconds
// later. Under load that was ~100 open connections in the controller and most of the API
// server's CPU. One shared dispatcher per set of TLS settings keeps a pool of kept-alive
// connections instead, as client-go does.
// That pool speaks HTTP/1.1: undici 8 (client-node's) negotiates HTTP/2 by default, which put every
// watch and every write of the controller on one TCP connection, where each write waited 0.3-0.8 s
// longer than the API server spent on it and the work queue fell 15-20 s behind a burst of 1,000
// creates; one connection per request in flight does not (docs/adr/0020-controller-lag.md).
import { createHash } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';

/** The part of an undici dispatcher we use: a graceful close once it is replaced. */
interface Closable {
  close?: () => Promise<void>;
}

/** The undici Agent options we set: client-node's connect (TLS) options, and the protocol. */
type AgentConstructor = new (options: { connect?: unknown; allowH2: boolean }) => Closable;

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
 * The dispatcher client-node builds, as a pool of HTTP/1.1 connections: the same undici Agent
 * class (client-node's own undici, which its fetch expects) and connect options, with HTTP/2 off.
 * Other dispatchers (a proxy, none for plain HTTP) are left as client-node makes them.
 */
export function http1Dispatcher(stock: Closable | undefined, options: { type?: string; connect?: unknown }): Closable | undefined {
  if (!stock || options.type !== 'agent') return stock;
  const Agent = stock.constructor as AgentConstructor;
  void stock.close?.().catch(() => undefined);
  return new Agent({ connect: options.connect, allowH2: false });
}

/**
 * Makes every API request made through this KubeConfig share one dispatcher (one pool of
 * kept-alive HTTP/1.1 connections) while the TLS settings stay the same. When they change (a
 * rotated client certificate), the next request gets a new dispatcher and the old one is closed
 * once its requests are done. Returns false, changing nothing, if this client-node has no
 * per-request dispatcher hook.
 */
export function reuseConnections(kubeConfig: KubeConfig): boolean {
  // createDispatcher is private in client-node's types; the version is pinned by package-lock.
  const target = kubeConfig as unknown as { createDispatcher?: CreateDispatcher };
  if (typeof target.createDispatcher !== 'function') return false;
  const create = target.createDispatcher.bind(kubeConfig);
  let current: { key: string; dispatcher: Closable | undefined } | undefined;
  target.createDispatcher = (cluster, agentOptions) => {
    const options = kubeConfig.createDispatcherOptions(cluster as Parameters<KubeConfig['createDispatcherOptions']>[0], agentOptions as Parameters<KubeConfig['createDispatcherOptions']>[1]);
    const key = fingerprint(options);
    if (current?.key === key) return current.dispatcher;
    const replaced = current?.dispatcher;
    current = { key, dispatcher: http1Dispatcher(create(cluster, agentOptions), options) };
    // Requests that already picked the old pool use it after a few more awaits; a closed undici
    // dispatcher would throw for them, so it closes only after they have had time to finish.
    if (replaced) setTimeout(() => void replaced.close?.().catch(() => undefined), REPLACED_POOL_GRACE_MS).unref();
    return current.dispatcher;
  };
  return true;
}
