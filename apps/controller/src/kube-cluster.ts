// The Cluster the reconciler needs, on @kubernetes/client-node: list+watch caches of the three
// kinds and of our HTTPRoutes (informers, restarted with backoff when they fail), server-side
// apply with one field manager, and status writes that touch only status.gateway.
import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
  PatchStrategy,
  makeInformer,
  setHeaderOptions,
  type Informer,
  type KubeConfig,
  type KubernetesObject,
  type ObjectCache,
} from '@kubernetes/client-node';
import {
  GATEWAY_API_GROUP,
  KAOS_GROUP,
  KAOS_VERSION,
  KIND_DEFINITIONS,
  type Gateway,
  type GatewayStatus,
  type HTTPRoute,
  type KaosKind,
  type KaosResource,
} from '@kaos/api-types';
import { FIELD_MANAGER, MANAGED_ROUTE_SELECTOR, OWNER_KIND_LABEL, OWNER_NAME_LABEL, type RoutingConfig } from '@kaos/routing';
import type { LeaseSpec, LeaseStore } from './leader-election.js';
import type { Logger } from './logger.js';
import { GatewayApiMissingError, resourceKey, type Cluster } from './reconciler.js';

const GATEWAY_VERSION = 'v1';
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

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

/** Keeps an informer running: restarts it after errors with exponential backoff (client-node informers stop on any error). */
function supervise<T extends KubernetesObject>(name: string, informer: Cached<T>, logger: Logger, onRestart: () => void): { start(): Promise<void>; stop(): Promise<void>; synced(): boolean } {
  let failures = 0;
  let stopped = false;
  let synced = false;
  let timer: NodeJS.Timeout | undefined;
  const start = async (): Promise<void> => {
    try {
      await informer.start();
      synced = true;
      failures = 0;
    } catch (error) {
      scheduleRestart(error);
    }
  };
  const scheduleRestart = (error: unknown) => {
    if (stopped) return;
    failures++;
    const delay = Math.min(60_000, 500 * 2 ** Math.min(failures, 7)) * (0.75 + Math.random() / 2);
    logger.warn('watch failed; restarting', { watch: name, error: (error as Error)?.message ?? String(error), retryInMs: Math.round(delay), failures });
    clearTimeout(timer);
    timer = setTimeout(() => {
      onRestart();
      void start();
    }, delay);
  };
  informer.on('error', (error) => scheduleRestart(error));
  return {
    start,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await informer.stop();
    },
    synced: () => synced,
  };
}

/** The client-node adapter: caches, informers feeding `enqueue`, and the writes. */
export function createKubeCluster(kubeConfig: KubeConfig, config: RoutingConfig, logger: Logger, enqueue: (key: string) => void) {
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const objects = KubernetesObjectApi.makeApiClient(kubeConfig);

  const resourceInformers = new Map<KaosKind, Cached<KubernetesObject>>();
  const supervisors: Array<ReturnType<typeof supervise>> = [];
  for (const definition of KIND_DEFINITIONS) {
    const informer = makeInformer<KubernetesObject>(
      kubeConfig,
      `/apis/${KAOS_GROUP}/${KAOS_VERSION}/${definition.plural}`,
      () => custom.listClusterCustomObject({ group: KAOS_GROUP, version: KAOS_VERSION, plural: definition.plural }),
    );
    const onObject = (object: KubernetesObject) => enqueue(resourceKey(definition.kind, object.metadata?.namespace ?? '', object.metadata?.name ?? ''));
    informer.on('add', onObject);
    informer.on('update', onObject);
    resourceInformers.set(definition.kind, informer);
    // After a restart the cache is relisted: requeue everything so missed events are repaired.
    supervisors.push(supervise(definition.plural, informer, logger, () => informer.list().forEach(onObject)));
  }

  const resyncAll = () =>
    resourceInformers.forEach((informer, kind) => informer.list().forEach((o) => enqueue(resourceKey(kind, o.metadata?.namespace ?? '', o.metadata?.name ?? ''))));

  const routeInformer = makeInformer<KubernetesObject>(
    kubeConfig,
    `/apis/${GATEWAY_API_GROUP}/${GATEWAY_VERSION}/httproutes`,
    () => custom.listClusterCustomObject({ group: GATEWAY_API_GROUP, version: GATEWAY_VERSION, plural: 'httproutes', labelSelector: MANAGED_ROUTE_SELECTOR }),
    MANAGED_ROUTE_SELECTOR,
  );
  const onRoute = (route: KubernetesObject) => {
    const kind = route.metadata?.labels?.[OWNER_KIND_LABEL] as KaosKind | undefined;
    const name = route.metadata?.labels?.[OWNER_NAME_LABEL];
    if (kind && name) enqueue(resourceKey(kind, route.metadata?.namespace ?? '', name));
  };
  routeInformer.on('update', onRoute);
  routeInformer.on('delete', onRoute);
  supervisors.push(supervise('httproutes', routeInformer, logger, () => resyncAll()));

  let gatewayApiCheckedAt = 0;
  let gatewayApiPresent = false;
  async function gatewayApiInstalled(): Promise<boolean> {
    if (Date.now() - gatewayApiCheckedAt < 10_000) return gatewayApiPresent;
    try {
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

  const leasePath = (namespace: string, name: string) => ({ group: 'coordination.k8s.io', version: 'v1', namespace, plural: 'leases', name });
  /** The leader-election Lease, read and written as plain JSON (MicroTime stays a string). */
  const leaseStore = (namespace: string, name: string): LeaseStore => ({
    async read() {
      try {
        const lease = (await custom.getNamespacedCustomObject(leasePath(namespace, name))) as { spec?: LeaseSpec; metadata: { resourceVersion: string } };
        return { spec: lease.spec ?? {}, resourceVersion: lease.metadata.resourceVersion };
      } catch (error) {
        if (status(error) === 404) return undefined;
        throw error;
      }
    },
    async create(spec) {
      await custom.createNamespacedCustomObject({ ...leasePath(namespace, name), body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace }, spec } });
    },
    async write(spec, resourceVersion) {
      await custom.replaceNamespacedCustomObject({ ...leasePath(namespace, name), body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace, resourceVersion }, spec } });
    },
  });

  const cluster: Cluster = {
    getResource: (kind, namespace, name) => typed<KaosResource>(resourceInformers.get(kind)?.get(name, namespace)),
    async getRoute(namespace, name) {
      const cached = typed<HTTPRoute>(routeInformer.get(name, namespace));
      if (cached) return cached;
      try {
        return (await custom.getNamespacedCustomObject({ group: GATEWAY_API_GROUP, version: GATEWAY_VERSION, namespace, plural: 'httproutes', name })) as HTTPRoute;
      } catch (error) {
        if (status(error) !== 404) throw error;
        if (!(await gatewayApiInstalled())) throw new GatewayApiMissingError('Gateway API CRDs are not installed');
        return undefined;
      }
    },
    async getGateway() {
      try {
        return (await custom.getNamespacedCustomObject({
          group: GATEWAY_API_GROUP,
          version: GATEWAY_VERSION,
          namespace: config.gatewayNamespace,
          plural: 'gateways',
          name: config.gatewayName,
        })) as Gateway;
      } catch (error) {
        if (status(error) === 404) return undefined;
        throw error;
      }
    },
    async applyRoute(route) {
      const applied = await objects.patch(route as unknown as KubernetesObject, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
      return typed<HTTPRoute>(applied)!;
    },
    async deleteRoute(namespace, name, uid) {
      try {
        await objects.delete({ apiVersion: `${GATEWAY_API_GROUP}/${GATEWAY_VERSION}`, kind: 'HTTPRoute', metadata: { name, namespace } }, undefined, undefined, undefined, undefined, undefined, uid ? { preconditions: { uid } } : undefined);
      } catch (error) {
        if (status(error) !== 404) throw error;
      }
    },
    async writeGatewayStatus(resource, gateway: GatewayStatus | undefined) {
      const plural = KIND_DEFINITIONS.find((definition) => definition.kind === resource.kind)!.plural;
      await custom.patchNamespacedCustomObjectStatus(
        { group: KAOS_GROUP, version: KAOS_VERSION, namespace: resource.metadata.namespace!, plural, name: resource.metadata.name!, body: { status: { gateway: gateway ?? null } } },
        mergePatch,
      );
    },
    event(resource, type, reason, message) {
      // At most one Event per resource and reason a minute: a failing resource must not flood etcd.
      const key = `${resource.metadata.uid}/${reason}`;
      const last = eventTimes.get(key) ?? 0;
      if (Date.now() - last < 60_000) return;
      eventTimes.set(key, Date.now());
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
