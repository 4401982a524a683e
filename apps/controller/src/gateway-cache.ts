// The shared Gateway, which every reconcile reads (its address is in every status.gateway.url): a
// watch of that one Gateway requeues everything when its addresses or listeners change, and the
// reads before the watch has it are shared and reused for a few seconds.
import type { CustomObjectsApi, KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { GATEWAY_API_GROUP, type Gateway } from '@kaos/api-types';
import type { Logger } from '@kaos/kube-runtime';
import type { RoutingConfig } from '@kaos/routing';
import { slimRoute, type RestartReporter } from './cluster-watches.js';
import { apiStatus, GATEWAY_VERSION, typed } from './kube-boundary.js';
import { makeSlimInformer, type RawList } from './slim-cache.js';
import { DEFAULT_SUPERVISION, supervise, type Supervisor } from './watch-supervisor.js';

/** How long a Gateway read past the watch is reused. */
export const GATEWAY_CACHE_MS = 5_000;

/** Where gatewayReader gets the Gateway from. */
export interface GatewaySources {
  /** The watch's copy, if it has one. */
  watched: () => Gateway | undefined;
  /** A read from the API server (undefined when there is no Gateway). */
  read: () => Promise<Gateway | undefined>;
  /** Whether the watch's cache is filled (listed, and the type exists): then a missing Gateway is an answer. Default: never. */
  cacheFilled?: () => boolean;
  /** The clock of the reuse window (default Date.now). */
  now?: () => number;
}

/**
 * getGateway: the watched copy when the watch has it, or no Gateway when the watch's cache is
 * filled and lacks it; else one read shared by concurrent callers and reused for GATEWAY_CACHE_MS.
 */
export function gatewayReader({ watched, read, cacheFilled = () => false, now = Date.now }: GatewaySources): () => Promise<Gateway | undefined> {
  let cached: Gateway | undefined;
  let readAt = 0;
  let inFlight: Promise<Gateway | undefined> | undefined;
  return () => {
    // Every reconcile asks: a few seconds of reuse spare the API server. The watched copy is always
    // current; a read only covers the time before the watch has it. A failed read is not reused.
    const current = watched();
    // A filled cache without the Gateway means there is none (yet): its watch delivers it when it
    // comes and requeues everything. Reading anyway cost a read every 5 s and held every reconcile
    // meanwhile behind it (~0.3 s at 10,000 resources).
    if (current || cacheFilled()) return Promise.resolve(current);
    if (now() - readAt < GATEWAY_CACHE_MS) return Promise.resolve(cached);
    inFlight ??= (async () => {
      cached = await read();
      readAt = now();
      return cached;
    })().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };
}

/** Calls `onChange` when the Gateway's addresses or listeners change or it goes; other updates (its status conditions) do not requeue anything. */
export function gatewayChangeHandler(gatewayName: string, logger: Pick<Logger, 'info'>, onChange: () => void): (gateway: KubernetesObject | undefined) => void {
  let signature: string | undefined;
  return (object) => {
    const gateway = typed<Gateway>(object);
    const next = gateway ? JSON.stringify([gateway.status?.addresses ?? [], gateway.spec.listeners]) : 'gone';
    if (next === signature) return;
    signature = next;
    logger.info('Gateway changed; requeueing every resource', { gateway: gatewayName, addresses: gateway?.status?.addresses ?? [] });
    onChange();
  };
}

/** What the Gateway cache reports to its owner. */
export interface GatewayCacheHooks {
  /** The Gateway's addresses or listeners changed: requeue every resource. */
  changed: () => void;
  /** Before each read past the watch (the reads metric). */
  read: () => void;
  restarted: RestartReporter;
}

/** The Gateway's watch (by name, so RBAC can stay limited to it) when the Gateway API is enabled, and `get`; start the supervisor. */
export function createGatewayCache(
  kubeConfig: KubeConfig,
  custom: Pick<CustomObjectsApi, 'listNamespacedCustomObject' | 'getNamespacedCustomObject'>,
  config: Pick<RoutingConfig, 'gatewayApiEnabled' | 'gatewayNamespace' | 'gatewayName'>,
  logger: Logger,
  hooks: GatewayCacheHooks,
): { get: () => Promise<Gateway | undefined>; supervisor?: Supervisor } {
  const gatewayPath = { group: GATEWAY_API_GROUP, version: GATEWAY_VERSION, namespace: config.gatewayNamespace, plural: 'gateways' };
  const informer = config.gatewayApiEnabled
    ? makeSlimInformer(
        kubeConfig,
        `/apis/${GATEWAY_API_GROUP}/${GATEWAY_VERSION}/namespaces/${config.gatewayNamespace}/gateways`,
        (continueToken, limit) => custom.listNamespacedCustomObject({ ...gatewayPath, fieldSelector: `metadata.name=${config.gatewayName}`, limit, _continue: continueToken }) as Promise<RawList>,
        slimRoute,
        undefined,
        `metadata.name=${config.gatewayName}`,
      )
    : undefined;
  let supervisor: Supervisor | undefined;
  if (informer) {
    const onGateway = gatewayChangeHandler(`${config.gatewayNamespace}/${config.gatewayName}`, logger, hooks.changed);
    informer.on('add', onGateway);
    informer.on('update', onGateway);
    informer.on('delete', () => onGateway(undefined));
    supervisor = supervise('gateways', informer, logger, { resync: hooks.changed, restarted: hooks.restarted('gateways') }, { ...DEFAULT_SUPERVISION, optional: true });
  }
  const get = gatewayReader({
    watched: () => typed<Gateway>(informer?.get(config.gatewayName, config.gatewayNamespace)),
    read: async () => {
      try {
        hooks.read();
        return (await custom.getNamespacedCustomObject({ ...gatewayPath, name: config.gatewayName })) as Gateway;
      } catch (error) {
        if (apiStatus(error) !== 404) throw error;
        return undefined;
      }
    },
    cacheFilled: () => supervisor?.cacheFilled() ?? false,
  });
  return supervisor ? { get, supervisor } : { get };
}
