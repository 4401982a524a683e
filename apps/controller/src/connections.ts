// client-node 2.0 builds a new undici Agent for every API request (KubeConfig.applySecurityAuthentication
// calls createDispatcher each time), so every request opens its own TLS connection to the API
// server: a full handshake with client-certificate checks on the server for each write, and each
// idle connection keeps its OpenSSL buffers in the controller until undici closes it seconds
// later. Under load that was ~100 open connections in the controller and most of the API
// server's CPU. One shared dispatcher per set of TLS settings keeps a pool of kept-alive
// connections instead, as client-go does; the watches get a second one (watchDispatcher), so their
// events never queue behind the writes on one HTTP/2 connection.
import type { KubeConfig } from '@kubernetes/client-node';

/** The part of an undici dispatcher we use: a graceful close once it is replaced. */
interface Closable {
  close?: () => Promise<void>;
}

type CreateDispatcher = (cluster: unknown, agentOptions: unknown) => Closable | undefined;

/** How long a replaced connection pool stays open for requests that already chose it. */
const REPLACED_POOL_GRACE_MS = 60_000;

/**
 * Whether two sets of dispatcher settings (CA, client certificate and key, TLS flags) are the same.
 * Asked on every request, with Buffers read afresh each time: compared byte by byte, which costs
 * far less than hashing a serialisation of them (ADR 0022's profile: 3 % of the CPU).
 */
export function sameSettings(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Buffer.isBuffer(a) || Buffer.isBuffer(b)) return Buffer.isBuffer(a) && Buffer.isBuffer(b) && a.equals(b);
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keysA = Object.keys(a).filter((key) => (a as Record<string, unknown>)[key] !== undefined);
  const keysB = Object.keys(b).filter((key) => (b as Record<string, unknown>)[key] !== undefined);
  if (keysA.length !== keysB.length) return false;
  return keysA.every((key) => sameSettings((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]));
}

/** Per shared dispatcher: the pool its watches use instead, made on first use (see watchDispatcher). */
const watchPools = new WeakMap<object, () => unknown>();

/**
 * The dispatcher a watch uses in place of `dispatcher`: a pool of its own with the same settings
 * when `dispatcher` is one of reuseConnections' (else `dispatcher` itself). On one HTTP/2
 * connection with the writes, watch events waited behind the writes' traffic: at 10,000 resources
 * an event reached the controller 141–178 ms (p50) and 684–803 ms (p99) after the create was
 * answered, and -10 / 109 ms on a connection of its own (ADR 0022, amendment "Watches on a connection of their own").
 */
export function watchDispatcher<T>(dispatcher: T): T {
  const pool = typeof dispatcher === 'object' && dispatcher !== null ? watchPools.get(dispatcher) : undefined;
  return (pool?.() as T | undefined) ?? dispatcher;
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
  let current: { settings: unknown; dispatcher: Closable | undefined; close: () => Promise<void> } | undefined;
  target.createDispatcher = (cluster, agentOptions) => {
    const settings = kubeConfig.createDispatcherOptions(cluster as Parameters<KubeConfig['createDispatcherOptions']>[0], agentOptions as Parameters<KubeConfig['createDispatcherOptions']>[1]);
    if (current && sameSettings(current.settings, settings)) return current.dispatcher;
    const replaced = current;
    const dispatcher = create(cluster, agentOptions);
    let watches: Closable | undefined;
    if (dispatcher) watchPools.set(dispatcher, () => (watches ??= create(cluster, agentOptions)));
    current = { settings, dispatcher, close: () => Promise.all([dispatcher?.close?.(), watches?.close?.()]).then(() => undefined) };
    // Requests that already picked the old pool use it after a few more awaits; a closed undici
    // dispatcher would throw for them, so it closes only after they have had time to finish.
    if (replaced) setTimeout(() => void replaced.close().catch(() => undefined), REPLACED_POOL_GRACE_MS).unref();
    return current.dispatcher;
  };
  return true;
}
