// The controller's caches: list+watch informers of the three KAOS kinds, of our HTTPRoutes and of
// the other HTTPRoutes' metadata, each under supervise, and what their events put on the queue.
import { setHeaderOptions, type CustomObjectsApi, type Informer, type KubeConfig, type KubernetesObject, type ObjectCache } from '@kubernetes/client-node';
import { GATEWAY_API_GROUP, isKaosKind, KAOS_GROUP, KAOS_VERSION, KIND_DEFINITIONS, type HTTPRoute, type KaosKind, type KaosResource } from '@kaos/api-types';
import type { Logger } from '@kaos/kube-runtime';
import { MANAGED_BY, MANAGED_BY_LABEL, MANAGED_ROUTE_SELECTOR, OWNER_KIND_LABEL, OWNER_NAME_LABEL, routeResourceName } from '@kaos/routing';
import { GATEWAY_VERSION, typed } from './kube-boundary.js';
import type { WatchRestartReason } from './metrics.js';
import { resourceKey } from './reconciler.js';
import { makeSlimInformer, slimForCache, type RawList } from './slim-cache.js';
import { NO_TRACE, type StageTrace } from './stage-trace.js';
import { DEFAULT_SUPERVISION, supervise, type Supervisor } from './watch-supervisor.js';

/** Our kinds' status belongs to the KAOS operator except `status.gateway`, the only part the reconciler reads. */
const slimResource = (object: KubernetesObject) => slimForCache(object, ['gateway']);
/** A route's status is the Gateway's verdict (`parents`), mirrored onto the resource: all of it stays. */
export const slimRoute = (object: KubernetesObject) => slimForCache(object, 'all');

/**
 * Every HTTPRoute not labelled as ours: the complement of MANAGED_ROUTE_SELECTOR (`!=` also matches
 * routes without the label), so each route is in exactly one of the two route watches.
 */
export const FOREIGN_ROUTE_SELECTOR = `${MANAGED_BY_LABEL}!=${MANAGED_BY}`;
/** Metadata only, as controller-runtime's metadata-only watches ask for it: a list, and each watch event. */
export const METADATA_LIST_ACCEPT = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1';
export const METADATA_WATCH_ACCEPT = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1';

/** Of a route not ours, all the cache keeps: which route it is (the resource it blocks follows from the name). */
export function routeIdentity(object: KubernetesObject): KubernetesObject {
  const { name, namespace, uid, resourceVersion } = object.metadata ?? {};
  return { apiVersion: object.apiVersion, kind: object.kind, metadata: { name, namespace, uid, resourceVersion } };
}

/** The kubeconfig with one more header on every request made with it (a Watch takes its headers from here). */
function withAcceptHeader(kubeConfig: KubeConfig, accept: string): KubeConfig {
  const config = Object.create(kubeConfig) as KubeConfig;
  config.applySecurityAuthentication = async (context) => {
    await kubeConfig.applySecurityAuthentication(context);
    context.setHeaderParam('Accept', accept);
  };
  return config;
}

/**
 * The resources an event of a route concerns, as queue keys: the one its name belongs to (routeName
 * inverted) when that resource exists, and, for our routes, the one its owner labels name. The
 * name maps a foreign route's release (or an edit of our labels) to the resource it blocked.
 */
export function routeEventKeys(route: KubernetesObject, exists: (kind: KaosKind, namespace: string, name: string) => boolean): string[] {
  const namespace = route.metadata?.namespace ?? '';
  const keys = new Set<string>();
  const kind = route.metadata?.labels?.[OWNER_KIND_LABEL];
  const name = route.metadata?.labels?.[OWNER_NAME_LABEL];
  if (isKaosKind(kind) && name) keys.add(resourceKey(kind, namespace, name));
  const named = routeResourceName(route.metadata?.name ?? '');
  if (named && exists(named.kind, namespace, named.name)) keys.add(resourceKey(named.kind, namespace, named.name));
  return [...keys];
}

/**
 * Handles the informer's report that one of our routes is gone: requeues its resource (a route
 * deleted by hand is recreated) and, when the resource itself is gone or being deleted, logs that
 * the garbage collector removed the route with it (the controller's own deletes log themselves).
 */
export function routeGoneHandler(getResource: (kind: KaosKind, namespace: string, name: string) => KaosResource | undefined, logger: Pick<Logger, 'info'>, enqueue: (key: string) => void) {
  return (route: KubernetesObject) => {
    const kind = route.metadata?.labels?.[OWNER_KIND_LABEL];
    const name = route.metadata?.labels?.[OWNER_NAME_LABEL];
    const namespace = route.metadata?.namespace ?? '';
    if (!isKaosKind(kind) || !name) return;
    const resource = getResource(kind, namespace, name);
    if (!resource || resource.metadata.deletionTimestamp) {
      logger.info('HTTPRoute deleted', { kind, namespace, name, route: route.metadata?.name, reason: `the ${kind} was deleted; the garbage collector removed its route` });
    }
    enqueue(resourceKey(kind, namespace, name));
  };
}

type Cached<T extends KubernetesObject> = Informer<T> & ObjectCache<T>;

/** Names a restart of the watch `watch` for the restart metric. */
export type RestartReporter = (watch: string) => (reason: WatchRestartReason) => void;

/** Creates the informers of our kinds, our routes and the other routes' metadata (not started: start the supervisors). */
export function createClusterWatches(
  kubeConfig: KubeConfig,
  custom: Pick<CustomObjectsApi, 'listClusterCustomObject'>,
  logger: Logger,
  enqueue: (key: string) => void,
  restarted: RestartReporter,
  trace: StageTrace = NO_TRACE,
) {
  const resourceInformers = new Map<KaosKind, Cached<KubernetesObject>>();
  const supervisors: Supervisor[] = [];
  for (const definition of KIND_DEFINITIONS) {
    const informer = makeSlimInformer(
      kubeConfig,
      `/apis/${KAOS_GROUP}/${KAOS_VERSION}/${definition.plural}`,
      (continueToken, limit) => custom.listClusterCustomObject({ group: KAOS_GROUP, version: KAOS_VERSION, plural: definition.plural, limit, _continue: continueToken }) as Promise<RawList>,
      slimResource,
    );
    const onObject = (object: KubernetesObject) => {
      const key = resourceKey(definition.kind, object.metadata?.namespace ?? '', object.metadata?.name ?? '');
      trace.mark(key, 'watch');
      enqueue(key);
    };
    informer.on('add', onObject);
    informer.on('update', onObject);
    // A deleted resource needs no API call, but its reconcile forgets what was logged about it.
    informer.on('delete', onObject);
    resourceInformers.set(definition.kind, informer);
    // After a restart the cache is relisted: requeue everything so missed events are repaired.
    supervisors.push(supervise(definition.plural, informer, logger, { resync: () => informer.list().forEach(onObject), restarted: restarted(definition.plural) }));
  }

  const resyncAll = () =>
    resourceInformers.forEach((informer, kind) => informer.list().forEach((o) => enqueue(resourceKey(kind, o.metadata?.namespace ?? '', o.metadata?.name ?? ''))));
  const getResource = (kind: KaosKind, namespace: string, name: string) => typed<KaosResource>(resourceInformers.get(kind)?.get(name, namespace));

  const routeInformer = makeSlimInformer(
    kubeConfig,
    `/apis/${GATEWAY_API_GROUP}/${GATEWAY_VERSION}/httproutes`,
    (continueToken, limit) =>
      custom.listClusterCustomObject({ group: GATEWAY_API_GROUP, version: GATEWAY_VERSION, plural: 'httproutes', labelSelector: MANAGED_ROUTE_SELECTOR, limit, _continue: continueToken }) as Promise<RawList>,
    slimRoute,
    MANAGED_ROUTE_SELECTOR,
  );
  const resourceExists = (kind: KaosKind, namespace: string, name: string) => resourceInformers.get(kind)?.get(name, namespace) !== undefined;
  const onRoute = (route: KubernetesObject) => routeEventKeys(route, resourceExists).forEach(enqueue);
  // An update is also how the Gateway's verdict (status.parents) arrives: no timer looks again.
  routeInformer.on('update', onRoute);
  routeInformer.on('delete', routeGoneHandler(getResource, logger, enqueue));
  supervisors.push(supervise('httproutes', routeInformer, logger, { resync: resyncAll, restarted: restarted('httproutes') }, { ...DEFAULT_SUPERVISION, optional: true }));

  // Every other HTTPRoute, metadata only (name, namespace, uid, resourceVersion kept): a foreign
  // route with one of our names blocks a resource, and its deletion must requeue that resource at
  // once, not at the next resync. One metadata-only watch instead of a full one (no spec or status
  // of routes we never read is sent or kept) or one watch per blocked name (a connection each).
  const foreignRouteInformer = makeSlimInformer(
    withAcceptHeader(kubeConfig, METADATA_WATCH_ACCEPT),
    `/apis/${GATEWAY_API_GROUP}/${GATEWAY_VERSION}/httproutes`,
    (continueToken, limit) =>
      custom.listClusterCustomObject(
        { group: GATEWAY_API_GROUP, version: GATEWAY_VERSION, plural: 'httproutes', labelSelector: FOREIGN_ROUTE_SELECTOR, limit, _continue: continueToken },
        setHeaderOptions('Accept', METADATA_LIST_ACCEPT),
      ) as Promise<RawList>,
    routeIdentity,
    FOREIGN_ROUTE_SELECTOR,
  );
  const onForeignRoute = (route: KubernetesObject) => {
    const named = routeResourceName(route.metadata?.name ?? '');
    const namespace = route.metadata?.namespace ?? '';
    if (named && resourceExists(named.kind, namespace, named.name)) enqueue(resourceKey(named.kind, namespace, named.name));
  };
  // Added: a route with one of our names appeared (ours not created yet, or the KAOS operator's);
  // updated: its owner references or labels may make it ours to adopt; deleted: the name is free.
  foreignRouteInformer.on('add', onForeignRoute);
  foreignRouteInformer.on('update', onForeignRoute);
  foreignRouteInformer.on('delete', onForeignRoute);
  // After a restart the relist reports deletions missed meanwhile; requeue the resources the remaining ones block.
  supervisors.push(
    supervise('httproutes-metadata', foreignRouteInformer, logger, { resync: () => foreignRouteInformer.list().forEach(onForeignRoute), restarted: restarted('httproutes-metadata') }, { ...DEFAULT_SUPERVISION, optional: true }),
  );

  return {
    getResource,
    /** Our route of that name, from the cache (only routes labelled as ours are in it). */
    cachedRoute: (namespace: string, name: string) => typed<HTTPRoute>(routeInformer.get(name, namespace)),
    /** Whether a route of that name not labelled as ours is known (from the metadata watch). */
    foreignRouteExists: (namespace: string | undefined, name: string) => foreignRouteInformer.get(name, namespace) !== undefined,
    /** Queues every cached resource: on becoming leader and periodically, to repair anything missed. */
    resyncAll,
    supervisors,
  };
}
