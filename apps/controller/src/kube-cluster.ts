// The Cluster the reconciler needs, on @kubernetes/client-node, put together from one file per
// job: the caches (cluster-watches.ts, each watch under watch-supervisor.ts), the shared Gateway
// (gateway-cache.ts), the API calls (cluster-api.ts), Events (event-recorder.ts) and the
// leader-election Lease (lease-store.ts).
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { isKaosKind } from '@kaos/api-types';
import type { Logger } from '@kaos/kube-runtime';
import { OWNER_KIND_LABEL, OWNER_NAME_LABEL, type RoutingConfig } from '@kaos/routing';
import { createApiTransport } from './api-transport.js';
import { createClusterApi, type ApiObservers } from './cluster-api.js';
import { createClusterWatches } from './cluster-watches.js';
import { createEventRecorder, eventPoster, type PostEvent } from './event-recorder.js';
import { createGatewayCache } from './gateway-cache.js';
import { createLeaseStore } from './lease-store.js';
import type { WatchRestartReason } from './metrics.js';
import { resourceKey, type Cluster } from './reconciler.js';
import { NO_TRACE, type Stage, type StageTrace } from './stage-trace.js';

/** What the cluster adapter reports to the metrics. */
export interface ClusterObservers extends ApiObservers {
  /** Each time a supervised informer is restarted. */
  watchRestarted?: (watch: string, reason: WatchRestartReason) => void;
}

/** The client-node adapter: caches, informers feeding `enqueue`, and the writes. */
export function createKubeCluster(kubeConfig: KubeConfig, config: RoutingConfig, logger: Logger, enqueue: (key: string) => void, observers: ClusterObservers = {}, trace: StageTrace = NO_TRACE) {
  const restarted = (watch: string) => (reason: WatchRestartReason) => observers.watchRestarted?.(watch, reason);
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  // The writes (three a resource) skip client-node's fetch and ObjectSerializer (ADR 0022).
  const send = createApiTransport(kubeConfig);

  const watches = createClusterWatches(kubeConfig, custom, logger, enqueue, restarted, trace);
  // The shared Gateway's address is in every status.gateway.url: a change of it requeues everything.
  const gateway = createGatewayCache(kubeConfig, custom, config, logger, { changed: watches.resyncAll, read: () => observers.read?.('gateways'), restarted });
  const api = createClusterApi({ custom, send }, observers);
  /** Marks `sent`, awaits the call, marks `acked` (not on failure): the stage trace of one API call. */
  async function traced<T>(key: string | undefined, sent: Stage, acked: Stage, call: () => Promise<T>): Promise<T> {
    if (!trace.enabled || key === undefined) return call();
    trace.mark(key, sent);
    const result = await call();
    trace.mark(key, acked);
    return result;
  }
  const keyOf = (kind: unknown, namespace: string | undefined, name: string | undefined) => (isKaosKind(kind) && name ? resourceKey(kind, namespace ?? '', name) : undefined);
  const postEvent = eventPoster(send);
  const tracedPost: PostEvent = (namespace, event) => traced(keyOf(event.involvedObject.kind, event.involvedObject.namespace, event.involvedObject.name), 'event-sent', 'event-acked', () => postEvent(namespace, event));
  const supervisors = gateway.supervisor ? [...watches.supervisors, gateway.supervisor] : watches.supervisors;

  const cluster: Cluster = {
    getResource: watches.getResource,
    cachedRoute: watches.cachedRoute,
    async getRoute(namespace, name) {
      return watches.cachedRoute(namespace, name) ?? api.readRoute(namespace, name);
    },
    getGateway: gateway.get,
    async createRoute(route) {
      // A route of that name not labelled as ours is known from the metadata watch: the create would
      // be refused, so it is not sent (a stale cache only makes the reconcile read and retry).
      if (watches.foreignRouteExists(route.metadata.namespace, route.metadata.name!)) return undefined;
      const labels = route.metadata.labels ?? {};
      return traced(keyOf(labels[OWNER_KIND_LABEL], route.metadata.namespace, labels[OWNER_NAME_LABEL]), 'route-sent', 'route-acked', () => api.createRoute(route));
    },
    applyRoute: api.applyRoute,
    removeRouteFields: api.removeRouteFields,
    deleteRoute: api.deleteRoute,
    readGatewayStatus: api.readGatewayStatus,
    writeGatewayStatus: (resource, status) => traced(keyOf(resource.kind, resource.metadata.namespace, resource.metadata.name), 'status-sent', 'status-acked', () => api.writeGatewayStatus(resource, status)),
    event: createEventRecorder(tracedPost, logger, () => observers.write?.('event')),
  };

  return {
    cluster,
    /** The leader-election Lease `namespace/name`. */
    leaseStore: (namespace: string, name: string) => createLeaseStore(custom, namespace, name),
    /** Queues every cached resource: on becoming leader and periodically, to repair anything missed. */
    resyncAll: watches.resyncAll,
    async start() {
      await Promise.all(supervisors.map((supervisor) => supervisor.start()));
    },
    synced: () => supervisors.every((supervisor) => supervisor.synced()),
    async stop() {
      await Promise.all(supervisors.map((supervisor) => supervisor.stop()));
    },
  };
}
