// The Cluster the reconciler needs, on @kubernetes/client-node: list+watch caches of the three
// kinds, of our HTTPRoutes and of the other HTTPRoutes' metadata (informers, restarted with backoff
// when they fail), server-side apply with one field manager, and status writes that touch only
// status.gateway.
import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
  Observable,
  PatchStrategy,
  setHeaderOptions,
  type Informer,
  type KubeConfig,
  type KubernetesObject,
  type ObjectCache,
  type RequestContext,
  type ResponseContext,
} from '@kubernetes/client-node';
import {
  GATEWAY_API_GROUP,
  KAOS_GROUP,
  isKaosKind,
  KAOS_VERSION,
  KIND_DEFINITIONS,
  type Gateway,
  type GatewayStatus,
  type HTTPRoute,
  type KaosKind,
  type KaosResource,
} from '@kaos/api-types';
import { FIELD_MANAGER, MANAGED_BY, MANAGED_BY_LABEL, MANAGED_ROUTE_SELECTOR, OWNER_KIND_LABEL, OWNER_NAME_LABEL, routeResourceName, type RoutingConfig } from '@kaos/routing';
import type { LeaseSpec, LeaseStore } from './leader-election.js';
import type { Logger } from '@kaos/kube-runtime';
import type { WatchRestartReason } from './metrics.js';
import { GatewayApiMissingError, resourceKey, type Cluster } from './reconciler.js';
import { makeSlimInformer, slimForCache, type RawList } from './slim-cache.js';

const GATEWAY_VERSION = 'v1';
/** Our kinds' status belongs to the KAOS operator except `status.gateway`, the only part the reconciler reads. */
const slimResource = (object: KubernetesObject) => slimForCache(object, ['gateway']);
/** A route's status is the Gateway's verdict (`parents`), mirrored onto the resource: all of it stays. */
const slimRoute = (object: KubernetesObject) => slimForCache(object, 'all');
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

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
 * Custom objects arrive as plain JSON (timestamps are strings), which our types describe; client-node
 * types metadata with Date fields. The cast happens here, at the boundary, and nowhere else.
 */
function typed<T>(object: KubernetesObject | undefined): T | undefined {
  return object as unknown as T | undefined;
}

function status(error: unknown): number | undefined {
  return error instanceof ApiException ? error.code : undefined;
}

type Cached<T extends KubernetesObject> = Informer<T> & ObjectCache<T>;

/** What supervise needs of an informer (a fake implements it in tests). */
export type SupervisedInformer = Pick<Informer<KubernetesObject>, 'on' | 'start' | 'stop'>;

/** Supervision settings; tests shrink the times. */
export interface SupervisionOptions {
  /** Restart a watch that has delivered nothing (not even a reconnect) for this long: it may be silently dead. */
  watchdogMs: number;
  /** First restart delay after an error; doubles per consecutive error up to maxBackoffMs. */
  baseBackoffMs: number;
  maxBackoffMs: number;
  /** A watch whose resource type does not exist (404) counts as synced: the Gateway API may be installed later. */
  optional?: boolean;
  random?: () => number;
}

/** What supervise tells its owner. */
export interface SupervisionHooks {
  /** After a restarted watch is running again: requeue everything, so events missed while it was down are repaired. */
  resync: () => void;
  /** Each time the watch is restarted (the restart metric). */
  restarted?: (reason: WatchRestartReason) => void;
}

/** Production supervision: restart after 5 quiet minutes; back off from 0.5 s to 60 s. */
export const DEFAULT_SUPERVISION: SupervisionOptions = { watchdogMs: 5 * 60_000, baseBackoffMs: 500, maxBackoffMs: 60_000 };

/**
 * Keeps an informer running. client-node's informer relists on 410 Gone and reconnects after a
 * normal close, but stops for good on any other error, and nothing notices a watch that silently
 * stalls. So: restart after errors with exponential backoff and jitter, restart a watch that has
 * been quiet for `watchdogMs`, and once a restarted watch runs again call `hooks.resync` (requeue
 * everything) so events missed while it was down are repaired.
 */
export function supervise(name: string, informer: SupervisedInformer, logger: Logger, hooks: SupervisionHooks, options: SupervisionOptions = DEFAULT_SUPERVISION) {
  const random = options.random ?? Math.random;
  let failures = 0;
  // Errors seen so far: client-node reports a failed list or watch through the 'error' event while
  // start() still resolves, so a start attempt succeeded only if no error arrived during it.
  let errors = 0;
  let stopped = false;
  let synced = false;
  let missing = false;
  let restarts = 0;
  let resyncDue = false;
  let lastActivity = Date.now();
  let restartTimer: NodeJS.Timeout | undefined;
  let restartPending = false;
  const touch = () => {
    lastActivity = Date.now();
  };
  for (const verb of ['add', 'update', 'delete', 'change'] as const) informer.on(verb, touch);
  informer.on('connect', touch);

  const start = async (): Promise<void> => {
    const errorsBefore = errors;
    try {
      await informer.start();
    } catch (error) {
      scheduleRestart(error);
      return;
    }
    // A failed attempt has already scheduled the next one; resetting here would defeat the backoff.
    if (stopped || errors !== errorsBefore) return;
    touch();
    synced = true;
    missing = false;
    failures = 0;
    if (resyncDue) {
      resyncDue = false;
      hooks.resync();
    }
  };
  const restart = (reason: WatchRestartReason) => {
    restartPending = false;
    if (stopped) return;
    restarts++;
    resyncDue = true;
    hooks.restarted?.(reason);
    void start();
  };
  const scheduleRestart = (error: unknown) => {
    if (stopped) return;
    // Our own informer.stop() aborts the request and client-node reports that as an error too.
    if ((error as Error | undefined)?.name === 'AbortError') return;
    errors++;
    failures++;
    missing = status(error) === 404;
    const delay = Math.round(Math.min(options.maxBackoffMs, options.baseBackoffMs * 2 ** (failures - 1)) * (0.75 + random() / 2));
    logger.warn('watch failed; restarting', { watch: name, error: (error as Error)?.message ?? String(error), retryInMs: delay, failures });
    clearTimeout(restartTimer);
    restartPending = true;
    restartTimer = setTimeout(() => restart('error'), delay);
  };
  informer.on('error', (error) => scheduleRestart(error));
  const watchdog = setInterval(
    () => {
      if (stopped || restartPending || Date.now() - lastActivity < options.watchdogMs) return;
      logger.info('watch quiet for too long; reconnecting', { watch: name, quietMs: Date.now() - lastActivity });
      touch();
      restartPending = true;
      void informer.stop().then(() => restart('watchdog'));
    },
    Math.max(10, Math.floor(options.watchdogMs / 4)),
  );
  watchdog.unref();
  return {
    start,
    async stop() {
      stopped = true;
      clearTimeout(restartTimer);
      clearInterval(watchdog);
      await informer.stop();
    },
    synced: () => synced || (options.optional === true && missing),
    restarts: () => restarts,
  };
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

/**
 * The JSON merge patch that removes fields (paths like `spec.hostnames`) from the object with this
 * uid: a uid in a patch is a precondition (the API server refuses to change it), so an object
 * replaced since it was read is left alone. A null removes a field whoever set it and leaves every
 * field manager's set; it is a no-op, not an error, when the field is already gone (a stale cache).
 */
export function removalPatch(uid: string, paths: string[]): Record<string, unknown> {
  const patch: Record<string, unknown> = { metadata: { uid } };
  for (const path of paths) {
    const keys = path.split('.');
    let node = patch;
    for (const key of keys.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
    node[keys.at(-1)!] = null;
  }
  return patch;
}

/** What the cluster adapter reports to the metrics. */
export interface ClusterObservers {
  /** Before each write to the API server. */
  write?: (verb: 'create' | 'apply' | 'patch' | 'delete' | 'status' | 'event') => void;
  /** Before each read a reconcile makes past the caches. */
  read?: (what: 'httproutes' | 'gateways' | 'crd-check' | 'kaos-resources') => void;
  /** Each time a supervised informer is restarted. */
  watchRestarted?: (watch: string, reason: WatchRestartReason) => void;
}

/** The client-node adapter: caches, informers feeding `enqueue`, and the writes. */
export function createKubeCluster(kubeConfig: KubeConfig, config: RoutingConfig, logger: Logger, enqueue: (key: string) => void, observers: ClusterObservers = {}) {
  const onWrite = observers.write ?? (() => {});
  const onRead = observers.read ?? (() => {});
  const restarted = (watch: string) => (reason: WatchRestartReason) => observers.watchRestarted?.(watch, reason);
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const objects = KubernetesObjectApi.makeApiClient(kubeConfig);

  const resourceInformers = new Map<KaosKind, Cached<KubernetesObject>>();
  const supervisors: Array<ReturnType<typeof supervise>> = [];
  for (const definition of KIND_DEFINITIONS) {
    const informer = makeSlimInformer(
      kubeConfig,
      `/apis/${KAOS_GROUP}/${KAOS_VERSION}/${definition.plural}`,
      (continueToken, limit) => custom.listClusterCustomObject({ group: KAOS_GROUP, version: KAOS_VERSION, plural: definition.plural, limit, _continue: continueToken }) as Promise<RawList>,
      slimResource,
    );
    const onObject = (object: KubernetesObject) => enqueue(resourceKey(definition.kind, object.metadata?.namespace ?? '', object.metadata?.name ?? ''));
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
  routeInformer.on('delete', routeGoneHandler((kind, namespace, name) => typed<KaosResource>(resourceInformers.get(kind)?.get(name, namespace)), logger, enqueue));
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

  // The shared Gateway's address is in every status.gateway.url: watch that one Gateway (by name,
  // so RBAC can stay limited to it) and requeue everything when its addresses or listeners change.
  const gatewayInformer = config.gatewayApiEnabled
    ? makeSlimInformer(
        kubeConfig,
        `/apis/${GATEWAY_API_GROUP}/${GATEWAY_VERSION}/namespaces/${config.gatewayNamespace}/gateways`,
        (continueToken, limit) =>
          custom.listNamespacedCustomObject({
            group: GATEWAY_API_GROUP,
            version: GATEWAY_VERSION,
            namespace: config.gatewayNamespace,
            plural: 'gateways',
            fieldSelector: `metadata.name=${config.gatewayName}`,
            limit,
            _continue: continueToken,
          }) as Promise<RawList>,
        slimRoute,
        undefined,
        `metadata.name=${config.gatewayName}`,
      )
    : undefined;
  if (gatewayInformer) {
    let gatewaySignature: string | undefined;
    const onGateway = (gateway: KubernetesObject | undefined) => {
      const typedGateway = typed<Gateway>(gateway);
      const signature = typedGateway ? JSON.stringify([typedGateway.status?.addresses ?? [], typedGateway.spec.listeners]) : 'gone';
      if (signature === gatewaySignature) return;
      gatewaySignature = signature;
      logger.info('Gateway changed; requeueing every resource', { gateway: `${config.gatewayNamespace}/${config.gatewayName}`, addresses: typedGateway?.status?.addresses ?? [] });
      resyncAll();
    };
    gatewayInformer.on('add', onGateway);
    gatewayInformer.on('update', onGateway);
    gatewayInformer.on('delete', () => onGateway(undefined));
    supervisors.push(supervise('gateways', gatewayInformer, logger, { resync: resyncAll, restarted: restarted('gateways') }, { ...DEFAULT_SUPERVISION, optional: true }));
  }

  let gatewayApiCheckedAt = 0;
  let gatewayApiPresent = false;
  async function gatewayApiInstalled(): Promise<boolean> {
    if (Date.now() - gatewayApiCheckedAt < 10_000) return gatewayApiPresent;
    try {
      onRead('crd-check');
      await custom.listClusterCustomObject({ group: GATEWAY_API_GROUP, version: GATEWAY_VERSION, plural: 'httproutes', limit: 1 });
      gatewayApiPresent = true;
    } catch (error) {
      if (status(error) !== 404) throw error;
      gatewayApiPresent = false;
    }
    gatewayApiCheckedAt = Date.now();
    return gatewayApiPresent;
  }

  const eventTimes = new Map<string, number>();
  const EVENT_INTERVAL_MS = 60_000;
  let eventTimesSweptAt = Date.now();
  const GATEWAY_CACHE_MS = 5_000;
  let cachedGateway: Gateway | undefined;
  let gatewayReadAt = 0;
  let gatewayRead: Promise<Gateway | undefined> | undefined;

  const leasePath = (namespace: string, name: string) => ({ group: 'coordination.k8s.io', version: 'v1', namespace, plural: 'leases', name });
  /** Per-request options that abort the request when `signal` aborts (the leader's renew deadline). */
  const abortOn = (signal: AbortSignal | undefined) =>
    signal && {
      middleware: [
        {
          pre: (context: RequestContext) => {
            context.setSignal(signal);
            return new Observable(Promise.resolve(context));
          },
          post: (response: ResponseContext) => new Observable(Promise.resolve(response)),
        },
      ],
      middlewareMergeStrategy: 'append' as const,
    };
  /** The leader-election Lease, read and written as plain JSON (MicroTime stays a string). */
  const leaseStore = (namespace: string, name: string): LeaseStore => ({
    async read(signal) {
      try {
        const lease = (await custom.getNamespacedCustomObject(leasePath(namespace, name), abortOn(signal))) as { spec?: LeaseSpec; metadata: { resourceVersion: string } };
        return { spec: lease.spec ?? {}, resourceVersion: lease.metadata.resourceVersion };
      } catch (error) {
        if (status(error) === 404) return undefined;
        throw error;
      }
    },
    async create(spec, signal) {
      await custom.createNamespacedCustomObject({ ...leasePath(namespace, name), body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace }, spec } }, abortOn(signal));
    },
    async write(spec, resourceVersion, signal) {
      await custom.replaceNamespacedCustomObject({ ...leasePath(namespace, name), body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace, resourceVersion }, spec } }, abortOn(signal));
    },
  });

  const cluster: Cluster = {
    getResource: (kind, namespace, name) => typed<KaosResource>(resourceInformers.get(kind)?.get(name, namespace)),
    cachedRoute: (namespace, name) => typed<HTTPRoute>(routeInformer.get(name, namespace)),
    async getRoute(namespace, name) {
      const cached = typed<HTTPRoute>(routeInformer.get(name, namespace));
      if (cached) return cached;
      try {
        onRead('httproutes');
        return (await custom.getNamespacedCustomObject({ group: GATEWAY_API_GROUP, version: GATEWAY_VERSION, namespace, plural: 'httproutes', name })) as HTTPRoute;
      } catch (error) {
        if (status(error) !== 404) throw error;
        if (!(await gatewayApiInstalled())) throw new GatewayApiMissingError('Gateway API CRDs are not installed');
        return undefined;
      }
    },
    getGateway() {
      // Every reconcile reads the one shared Gateway: a few seconds of reuse spares the API server,
      // and concurrent reconciles share one read in flight instead of each making its own.
      // The watched Gateway is always current; a read covers the time before the watch has it.
      const watched = typed<Gateway>(gatewayInformer?.get(config.gatewayName, config.gatewayNamespace));
      if (watched) return Promise.resolve(watched);
      if (Date.now() - gatewayReadAt < GATEWAY_CACHE_MS) return Promise.resolve(cachedGateway);
      gatewayRead ??= (async () => {
        try {
          onRead('gateways');
          cachedGateway = (await custom.getNamespacedCustomObject({
            group: GATEWAY_API_GROUP,
            version: GATEWAY_VERSION,
            namespace: config.gatewayNamespace,
            plural: 'gateways',
            name: config.gatewayName,
          })) as Gateway;
        } catch (error) {
          if (status(error) !== 404) throw error;
          cachedGateway = undefined;
        }
        gatewayReadAt = Date.now();
        return cachedGateway;
      })().finally(() => {
        gatewayRead = undefined;
      });
      return gatewayRead;
    },
    async createRoute(route) {
      // A route of that name not labelled as ours is known from the metadata watch: the create would
      // be refused, so it is not sent (a stale cache only makes the reconcile read and retry).
      if (foreignRouteInformer.get(route.metadata.name!, route.metadata.namespace)) return undefined;
      onWrite('create');
      try {
        return typed<HTTPRoute>(await objects.create(route as unknown as KubernetesObject, undefined, undefined, FIELD_MANAGER));
      } catch (error) {
        if (status(error) === 409) return undefined; // AlreadyExists: ours not cached yet, or foreign
        if (status(error) === 404 && !(await gatewayApiInstalled())) throw new GatewayApiMissingError('Gateway API CRDs are not installed');
        throw error;
      }
    },
    async applyRoute(route, uid) {
      onWrite('apply');
      // A uid in an applied object is a precondition: the API server refuses the apply (409 or 422)
      // unless the live object has that uid, so a route replaced since it was read is left alone.
      const body = { ...route, metadata: { ...route.metadata, ...(uid ? { uid } : {}) } };
      const applied = await objects.patch(body as unknown as KubernetesObject, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
      return typed<HTTPRoute>(applied)!;
    },
    async removeRouteFields(route, paths) {
      onWrite('patch');
      const patched = await custom.patchNamespacedCustomObject(
        {
          group: GATEWAY_API_GROUP,
          version: GATEWAY_VERSION,
          namespace: route.metadata.namespace!,
          plural: 'httproutes',
          name: route.metadata.name!,
          body: removalPatch(route.metadata.uid!, paths),
          fieldManager: FIELD_MANAGER,
        },
        mergePatch,
      );
      return typed<HTTPRoute>(patched as KubernetesObject)!;
    },
    async deleteRoute(namespace, name, uid) {
      onWrite('delete');
      try {
        await objects.delete({ apiVersion: `${GATEWAY_API_GROUP}/${GATEWAY_VERSION}`, kind: 'HTTPRoute', metadata: { name, namespace } }, undefined, undefined, undefined, undefined, undefined, uid ? { preconditions: { uid } } : undefined);
      } catch (error) {
        if (status(error) !== 404) throw error;
      }
    },
    async readGatewayStatus(resource) {
      onRead('kaos-resources');
      const plural = KIND_DEFINITIONS.find((definition) => definition.kind === resource.kind)!.plural;
      try {
        const live = (await custom.getNamespacedCustomObject({ group: KAOS_GROUP, version: KAOS_VERSION, namespace: resource.metadata.namespace!, plural, name: resource.metadata.name! })) as KaosResource;
        return { gateway: live.status?.gateway };
      } catch (error) {
        if (status(error) === 404) return undefined;
        throw error;
      }
    },
    async writeGatewayStatus(resource, gateway: GatewayStatus | undefined) {
      onWrite('status');
      const plural = KIND_DEFINITIONS.find((definition) => definition.kind === resource.kind)!.plural;
      // A merge patch of status.gateway alone, named by our field manager: whatever else the status
      // holds (the KAOS operator's phase, ready, endpoint, message, deployment, ...) is never sent, so never touched.
      await custom.patchNamespacedCustomObjectStatus(
        {
          group: KAOS_GROUP,
          version: KAOS_VERSION,
          namespace: resource.metadata.namespace!,
          plural,
          name: resource.metadata.name!,
          body: { status: { gateway: gateway ?? null } },
          fieldManager: FIELD_MANAGER,
        },
        mergePatch,
      );
    },
    event(resource, type, reason, message) {
      // At most one Event per resource and reason a minute: a failing resource must not flood etcd.
      const key = `${resource.metadata.uid}/${reason}`;
      const last = eventTimes.get(key) ?? 0;
      if (Date.now() - last < EVENT_INTERVAL_MS) return;
      // Entries older than the interval decide nothing: drop them (once an interval) so the map
      // holds only the last minute's Events, not one entry per resource ever seen.
      if (Date.now() - eventTimesSweptAt >= EVENT_INTERVAL_MS) {
        eventTimesSweptAt = Date.now();
        for (const [seen, at] of eventTimes) if (eventTimesSweptAt - at >= EVENT_INTERVAL_MS) eventTimes.delete(seen);
      }
      eventTimes.set(key, Date.now());
      onWrite('event');
      const at = new Date().toISOString();
      core
        .createNamespacedEvent({
          namespace: resource.metadata.namespace!,
          body: {
            metadata: { generateName: `${resource.metadata.name}.`, namespace: resource.metadata.namespace },
            involvedObject: { apiVersion: resource.apiVersion ?? `${KAOS_GROUP}/${KAOS_VERSION}`, kind: resource.kind, name: resource.metadata.name, namespace: resource.metadata.namespace, uid: resource.metadata.uid },
            type,
            reason,
            message,
            firstTimestamp: at as unknown as Date,
            lastTimestamp: at as unknown as Date,
            count: 1,
            source: { component: FIELD_MANAGER },
            reportingComponent: FIELD_MANAGER,
          },
        })
        .catch((error: unknown) => logger.warn('could not record event', { reason, namespace: resource.metadata.namespace, name: resource.metadata.name, error: (error as Error).message }));
    },
  };

  return {
    cluster,
    leaseStore,
    /** Queues every cached resource: on becoming leader and periodically, to repair anything missed. */
    resyncAll,
    async start() {
      await Promise.all(supervisors.map((supervisor) => supervisor.start()));
    },
    synced: () => supervisors.every((supervisor) => supervisor.synced()),
    async stop() {
      await Promise.all(supervisors.map((supervisor) => supervisor.stop()));
    },
  };
}
