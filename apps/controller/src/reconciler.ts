import { isDeepStrictEqual } from 'node:util';
import { isKaosKind, type Gateway, type GatewayStatus, type HTTPRoute, type KaosKind, type KaosResource } from '@kaos/api-types';
import { exponentialBackoffMs } from '@kaos/kube-runtime';
import {
  ROUTE_READY,
  ROUTE_REASONS,
  desiredRoute,
  gatewayStatus,
  invalidRoute,
  routeDifferences,
  routeName,
  routeOwnership,
  routeProblems,
  strayRouteFields,
  wantsRoute,
  type RouteReason,
  type RoutingConfig,
} from '@kaos/routing';
import type { ReconcileResult } from './queue.js';

/** Thrown by the cluster adapter when the Gateway API CRDs are not installed. */
export class GatewayApiMissingError extends Error {
  override readonly name = 'GatewayApiMissingError';
}

/** What the reconciler needs from the cluster; the app wires it to client-node, tests to a fake. */
export interface Cluster {
  /** The resource from the local cache, or undefined when it is gone. */
  getResource(kind: KaosKind, namespace: string, name: string): KaosResource | undefined;
  /**
   * The HTTPRoute of that name from the local cache, which holds only routes labelled as ours: a
   * miss does not mean there is no route (a foreign one, the KAOS operator's not adopted yet, or one the cache has not seen yet).
   */
  cachedRoute(namespace: string, name: string): HTTPRoute | undefined;
  /** The HTTPRoute of that name, from the cache or else the API server, or undefined; throws GatewayApiMissingError without the CRDs. */
  getRoute(namespace: string, name: string): Promise<HTTPRoute | undefined>;
  /**
   * Creates the route, failing safely when any route of that name exists: returns undefined then,
   * so a foreign route is never touched. Throws GatewayApiMissingError without the CRDs.
   */
  createRoute(route: HTTPRoute): Promise<HTTPRoute | undefined>;
  /** The shared Gateway, when it exists. */
  getGateway(): Promise<Gateway | undefined>;
  /**
   * Server-side applies the route with our field manager, taking over conflicting fields, only if
   * it is still the object with this uid (so a route replaced meanwhile is never taken over); returns the result.
   */
  applyRoute(route: HTTPRoute, uid: string | undefined): Promise<HTTPRoute>;
  /**
   * Removes fields (paths like `spec.hostnames`, from strayRouteFields) that another field manager
   * set and a forced apply therefore leaves, only if the route still has the live one's uid; returns the result.
   */
  removeRouteFields(route: HTTPRoute, paths: string[]): Promise<HTTPRoute>;
  /** Deletes the route, only if it is still the object with this uid. */
  deleteRoute(namespace: string, name: string, uid: string | undefined): Promise<void>;
  /**
   * The resource's `status.gateway` as the API server has it now (a read past the cache), or
   * undefined when the resource is gone: confirms that a removal the cache shows really happened.
   */
  readGatewayStatus(resource: KaosResource): Promise<{ gateway: GatewayStatus | undefined } | undefined>;
  /**
   * Writes `status.gateway` (and nothing else) through the status subresource; `undefined` removes
   * it. Resolves whether the API server kept it: false when its answer lacks the status.gateway sent (the CRD's schema pruned it).
   */
  writeGatewayStatus(resource: KaosResource, status: GatewayStatus | undefined): Promise<boolean>;
  /** Records a Kubernetes Event on the resource. */
  event(resource: KaosResource, type: 'Normal' | 'Warning', reason: string, message: string): void;
}

/** Where the reconciler reports its route writes; winston's Logger fits, tests pass a recorder. */
export interface RouteLogger {
  info(message: string, fields: Record<string, unknown>): void;
  warn(message: string, fields: Record<string, unknown>): void;
  error(message: string, fields: Record<string, unknown>): void;
}

const NO_LOGS: RouteLogger = { info: () => {}, warn: () => {}, error: () => {} };

/** Reconciler settings: where the route log lines go, and the clock (tests fix it). */
export interface ReconcilerOptions {
  logger?: RouteLogger;
  now?: () => Date;
  /** Status write-back backoff (tests shrink it). */
  statusBackoff?: { baseMs: number; maxMs: number; windowMs: number };
  /**
   * Whether the installed CRD of this kind keeps status.gateway, as the CRD watch last saw it. A
   * write the API server pruned although it does was served under the CRD's previous schema (the
   * API server switches a moment after the CRD changes): it fails, so the queue retries it. Without
   * this, or while the CRD lacks the field, a pruned write is left alone: the CRD watch reports it.
   */
  keepsGatewayStatus?: (kind: KaosKind) => boolean;
}

/** How long to wait before looking again at something no watch reports: the Gateway API CRDs being installed. */
export const RECHECK_AFTER_MS = 30_000;

/**
 * When another writer keeps removing `status.gateway` — upstream KAOS's operator replaces the whole
 * status (a PUT of what its Go types know, without `gateway`) on every reconcile, and our status
 * write is one more event it reconciles — writing it straight back would be an endless two-writer
 * loop. The first removal is answered at once; a removal within `windowMs` of our last write-back
 * makes the controller wait `baseMs`, doubling up to `maxMs`, before writing it back again.
 */
export const STATUS_REWRITE_BACKOFF = { baseMs: 30_000, maxMs: 10 * 60_000, windowMs: 10 * 60_000 } as const;
/** A removal of status.gateway counts as one of ours undone only this soon after our write (the loop answers within seconds). */
const STATUS_WRITE_MEMORY_MS = 60_000;

/** The work-queue key of a resource: `kind/namespace/name`. */
export function resourceKey(kind: KaosKind, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}

/** Splits a work-queue key; undefined for keys that are not ours. */
export function parseResourceKey(key: string): { kind: KaosKind; namespace: string; name: string } | undefined {
  const [kind, namespace, name, ...rest] = key.split('/');
  if (!isKaosKind(kind) || !namespace || !name || rest.length > 0) return undefined;
  return { kind, namespace, name };
}

/**
 * What routeDifferences compares of a route (our labels' values, owner references, spec), as
 * stable JSON: equal signatures mean a write would meet the same route again.
 */
export function routeSignature(route: HTTPRoute): string {
  const stable = (value: unknown): unknown =>
    Array.isArray(value)
      ? value.map(stable)
      : typeof value === 'object' && value !== null
        ? Object.fromEntries(Object.keys(value).sort().map((key) => [key, stable((value as Record<string, unknown>)[key])]))
        : value;
  return JSON.stringify(stable({ labels: route.metadata.labels, ownerReferences: route.metadata.ownerReferences, spec: route.spec }));
}

/** The RouteReady reason currently on the resource, to emit an Event only when the state changes. */
function routeReadyReason(resource: KaosResource): string | undefined {
  return resource.status?.gateway?.conditions?.find((condition) => condition.type === ROUTE_READY)?.reason;
}

/** The earlier of two requests to look again (none when neither asks). */
function sooner(a: ReconcileResult, b: ReconcileResult): ReconcileResult {
  const ms = [a, b].map((result) => result?.requeueAfterMs).filter((value): value is number => value !== undefined);
  return ms.length > 0 ? { requeueAfterMs: Math.min(...ms) } : undefined;
}

/** Status comparison that ignores timestamps alone, so an unchanged state is never rewritten. */
function sameStatus(a: GatewayStatus | undefined, b: GatewayStatus | undefined): boolean {
  const strip = (status: GatewayStatus | undefined) =>
    status && { ...status, conditions: status.conditions?.map(({ lastTransitionTime: _time, ...rest }) => rest) };
  return isDeepStrictEqual(strip(a), strip(b));
}

/**
 * Reconciles one resource: makes its HTTPRoute what `desiredRoute` says (create, update only when
 * `routeDifferences` finds something, delete when it should have none), never touches a route it
 * does not own, and reports everything on `status.gateway`. Throws on API failures so the queue
 * retries with backoff; the failure is on the status first.
 */
export function createReconciler(cluster: Cluster, config: RoutingConfig, options: ReconcilerOptions = {}) {
  const now = options.now ?? (() => new Date());
  const logger = options.logger ?? NO_LOGS;
  const backoff = options.statusBackoff ?? STATUS_REWRITE_BACKOFF;
  // Why each resource last had no route, as logged: a state that persists (a foreign route, missing
  // CRDs rechecked every 30 s) is logged once per process, not on every recheck.
  const loggedProblems = new Map<string, string>();
  // Keys whose route name a foreign route holds: a create would only be refused again, so read instead.
  const foreignRouteKeys = new Set<string>();
  // Keys whose route our last write left still different (see routeSignature): not written again until it changes.
  const unwritable = new Map<string, string>();
  // Our last update of each key's route while the cache may not have it yet: the resourceVersion it
  // wrote over and the route the API server answered with. The answer can come before the watch
  // event (separate streams, nothing orders them); a reconcile in between must not take the
  // pre-write route from the cache for drift and write again (docs/adr/0020-controller-lag.md).
  const routeWrites = new Map<string, { over: string; route: HTTPRoute; at: number }>();
  // When we last created each key's route, until the cache shows it: a reconcile before the route
  // informer delivers it (the resource's own events, such as our status patch, can come first)
  // reads the route instead of creating it again, which the API server would refuse (a write) (ADR 0021).
  const routeCreates = new Map<string, number>();
  const fieldsOf = (resource: KaosResource, route: string) => ({ kind: resource.kind, namespace: resource.metadata.namespace, name: resource.metadata.name, route });
  /** A warn line "HTTPRoute not created: <why>", once per resource and reason. */
  function notCreated(key: string, resource: KaosResource, route: string, reason: RouteReason, message: string) {
    if (loggedProblems.get(key) === reason) return;
    loggedProblems.set(key, reason);
    logger.warn(`HTTPRoute not created: ${message}`, { ...fieldsOf(resource, route), reason });
  }
  /** An error line for a failed API call on the route; the queue retries with backoff, which bounds how often it repeats. */
  function apiFailed(resource: KaosResource, route: string, verb: 'created' | 'updated' | 'deleted', error: unknown) {
    logger.error(`HTTPRoute not ${verb}: API error: ${(error as Error).message}`, { ...fieldsOf(resource, route), reason: ROUTE_REASONS.APIError, error: (error as Error).message });
  }

  // Our recent status.gateway writes (the resourceVersion the resource had then), and the resources
  // whose status.gateway another writer keeps removing: how often, the last time, and when it may be
  // written back. Entries are dropped once they decide nothing, so both stay small.
  const statusWrites = new Map<string, { resourceVersion: string | undefined; at: number }>();
  const statusRemovals = new Map<string, { count: number; notBefore: number }>();
  let sweptAt = 0;
  function sweep(at: number) {
    if (at - sweptAt < STATUS_WRITE_MEMORY_MS) return;
    sweptAt = at;
    for (const [key, write] of statusWrites) if (at - write.at >= STATUS_WRITE_MEMORY_MS) statusWrites.delete(key);
    for (const [key, removal] of statusRemovals) if (at - removal.notBefore >= backoff.windowMs) statusRemovals.delete(key);
  }

  /**
   * Writes status.gateway when it differs from what the resource has; returns when to look again
   * if the write is held back because another writer keeps removing it (see STATUS_REWRITE_BACKOFF).
   */
  async function report(key: string, resource: KaosResource, status: GatewayStatus | undefined): Promise<ReconcileResult> {
    if (sameStatus(resource.status?.gateway, status)) return;
    const at = now().getTime();
    sweep(at);
    if (status && !resource.status?.gateway) {
      const written = statusWrites.get(key);
      // Our write is gone and the resource changed since (a cache that has not seen our write yet
      // still has the resourceVersion we wrote over): someone removed it, unless the API server
      // still has it — a watch served under an older CRD schema delivers it pruned. Counted once per write.
      if (written && written.resourceVersion !== resource.metadata.resourceVersion && at - written.at < STATUS_WRITE_MEMORY_MS) {
        statusWrites.delete(key);
        const current = await cluster.readGatewayStatus(resource);
        if (!current) return;
        if (current.gateway) {
          if (sameStatus(current.gateway, status)) return;
          await writeStatus(resource, status);
          return;
        }
        const previous = statusRemovals.get(key);
        // The window runs from when we last wrote it back: a removal answering a write held back for
        // the full cap still counts, so the delay stays at the cap instead of starting over (review).
        const count = previous && at - previous.notBefore < backoff.windowMs ? previous.count + 1 : 1;
        // The first removal is answered at once: the backoff starts with the second (failure count - 1).
        const delayMs = count < 2 ? 0 : exponentialBackoffMs(count - 1, backoff);
        statusRemovals.set(key, { count, notBefore: at + delayMs });
        if (delayMs > 0) {
          const message = `status.gateway was removed by another writer ${count} times in a row (the KAOS operator replaces the whole status when it writes its own fields); writing it back in ${Math.round(delayMs / 1000)} s`;
          logger.warn(message, { kind: resource.kind, namespace: resource.metadata.namespace, name: resource.metadata.name, removals: count, rewriteInMs: delayMs });
          cluster.event(resource, 'Warning', 'StatusGatewayRemoved', message);
        }
      }
      const removal = statusRemovals.get(key);
      if (removal && at < removal.notBefore) return { requeueAfterMs: removal.notBefore - at };
    }
    const writtenOver = resource.metadata.resourceVersion;
    const kept = await writeStatus(resource, status);
    // A write the API server pruned was never stored: its absence later is no one's removal.
    if (status && kept) statusWrites.set(key, { resourceVersion: writtenOver, at });
    else statusWrites.delete(key);
  }

  /** Writes status.gateway; resolves whether it was kept, and throws (so the queue retries) when it was pruned although its CRD keeps it now. */
  async function writeStatus(resource: KaosResource, status: GatewayStatus | undefined): Promise<boolean> {
    if (await cluster.writeGatewayStatus(resource, status)) return true;
    if (options.keepsGatewayStatus?.(resource.kind)) {
      throw new Error(`status.gateway of ${resource.kind} ${resource.metadata.namespace}/${resource.metadata.name} was pruned by the API server, although its CRD now keeps it (the API server is still serving the CRD's previous schema); retrying`);
    }
    return false;
  }

  function blocked(resource: KaosResource, reason: RouteReason, message: string): GatewayStatus {
    return gatewayStatus({ resource, config, blocked: { reason, message }, previous: resource.status?.gateway?.conditions, now: now() });
  }

  async function removeOwnRoute(resource: KaosResource, live: HTTPRoute | undefined, why: string): Promise<void> {
    if (!live) return;
    const { decision } = routeOwnership(live, resource);
    // A route not adopted yet (the KAOS operator's) becomes ours only while routing is on: switched
    // off, the controller leaves it to whoever may still be serving it.
    if (decision === 'foreign' || (decision === 'adopt' && !config.gatewayApiEnabled)) return;
    try {
      await cluster.deleteRoute(live.metadata.namespace!, live.metadata.name!, live.metadata.uid);
    } catch (error) {
      apiFailed(resource, live.metadata.name!, 'deleted', error);
      throw error;
    }
    logger.info('HTTPRoute deleted', { ...fieldsOf(resource, live.metadata.name!), reason: why });
    cluster.event(resource, 'Normal', 'RouteDeleted', `deleted HTTPRoute ${live.metadata.name}: ${why}`);
  }

  return async function reconcile(key: string): Promise<ReconcileResult> {
    const parsed = parseResourceKey(key);
    if (!parsed) return;
    const resource = cluster.getResource(parsed.kind, parsed.namespace, parsed.name);
    // Gone or going: the garbage collector removes the route through its owner reference.
    if (!resource || resource.metadata.deletionTimestamp) {
      loggedProblems.delete(key);
      foreignRouteKeys.delete(key);
      unwritable.delete(key);
      routeWrites.delete(key);
      routeCreates.delete(key);
      return;
    }

    const name = routeName(resource);
    const problems = routeProblems(resource, config);
    const wanted = wantsRoute(resource, config) && problems.length === 0 ? desiredRoute(resource, config) : undefined;
    // Read the route even when routing is off: a route left from when it was on must go.
    let live: HTTPRoute | undefined = cluster.cachedRoute(parsed.namespace, name);
    const written = routeWrites.get(key);
    if (written) {
      // Still exactly the version our write replaced: the cache has not seen the write yet. Anything
      // else (our write's event, a later change, the route gone) and the cache is the truth again.
      const pending = live?.metadata.resourceVersion === written.over && live.metadata.uid === written.route.metadata.uid && now().getTime() - written.at < STATUS_WRITE_MEMORY_MS;
      if (pending) live = written.route;
      else routeWrites.delete(key);
    }
    let created = false;
    const createdAt = routeCreates.get(key);
    if (live || (createdAt !== undefined && now().getTime() - createdAt >= STATUS_WRITE_MEMORY_MS)) routeCreates.delete(key);
    try {
      if (!live && wanted && routeCreates.has(key)) {
        // We created it and the cache has not shown it yet: read it (a read, where a create would be
        // a refused write); gone since, and the create below makes it again.
        live = await cluster.getRoute(parsed.namespace, name);
        if (!live) routeCreates.delete(key);
      }
      if (!live && wanted && foreignRouteKeys.has(key)) {
        // A foreign route held the name: requeued when it changes or goes (the cluster watches
        // every route's metadata). Gone: create ours now, not after a failed attempt and a backoff.
        live = await cluster.getRoute(parsed.namespace, name);
        if (!live) foreignRouteKeys.delete(key);
      }
      if (!live && wanted && !foreignRouteKeys.has(key)) {
        // Not in the cache: most likely a new route. A create is one call where a read followed by
        // a write would be two, and it fails when any route of that name exists, foreign ones included.
        try {
          live = await cluster.createRoute(wanted);
        } catch (error) {
          if (!(error instanceof GatewayApiMissingError)) {
            apiFailed(resource, name, 'created', error);
            await report(key, resource, blocked(resource, ROUTE_REASONS.APIError, `creating HTTPRoute ${name} failed: ${(error as Error).message}`));
          }
          throw error;
        }
        created = live !== undefined;
        if (created) routeCreates.set(key, now().getTime());
      }
      live ??= await cluster.getRoute(parsed.namespace, name);
      // The foreign route is gone: the retry below creates ours.
      if (!live) foreignRouteKeys.delete(key);
    } catch (error) {
      if (!(error instanceof GatewayApiMissingError)) throw error;
      if (!config.gatewayApiEnabled) return report(key, resource, undefined);
      notCreated(key, resource, name, ROUTE_REASONS.GatewayAPIMissing, 'the Gateway API CRDs (gateway.networking.k8s.io) are not installed; looking again every 30 s');
      return sooner(await report(key, resource, blocked(resource, ROUTE_REASONS.GatewayAPIMissing, 'the Gateway API CRDs (gateway.networking.k8s.io) are not installed')), { requeueAfterMs: RECHECK_AFTER_MS });
    }

    if (!wantsRoute(resource, config)) {
      // Routing off: no route and no status.gateway. Agent not exposed: say so on its status.
      loggedProblems.delete(key);
      await removeOwnRoute(resource, live, config.gatewayApiEnabled ? 'spec.agentNetwork.expose is false' : 'Gateway API routing is disabled');
      return report(key, resource, config.gatewayApiEnabled ? blocked(resource, ROUTE_REASONS.Disabled, 'spec.agentNetwork.expose is false') : undefined);
    }

    if (problems.length > 0) {
      await removeOwnRoute(resource, live, 'the resource cannot have a valid route');
      const { reason, message } = invalidRoute(problems);
      notCreated(key, resource, name, reason, `invalid route: ${message}`);
      if (routeReadyReason(resource) !== reason) {
        cluster.event(resource, 'Warning', reason, message);
      }
      return report(key, resource, blocked(resource, reason, message));
    }

    const ownership = live && routeOwnership(live, resource);
    if (ownership && ownership.decision === 'foreign') {
      foreignRouteKeys.add(key);
      const message = `HTTPRoute ${parsed.namespace}/${name} exists and is not managed by KAOS for this ${resource.kind} (${ownership.reason}); it is left untouched`;
      notCreated(key, resource, name, ROUTE_REASONS.RouteConflict, `route conflict: ${message}`);
      if (routeReadyReason(resource) !== ROUTE_REASONS.RouteConflict) {
        cluster.event(resource, 'Warning', ROUTE_REASONS.RouteConflict, message);
      }
      return report(key, resource, blocked(resource, ROUTE_REASONS.RouteConflict, message));
    }

    // The create found a route that was gone again when read: retry with backoff, never apply blind
    // (an apply would create it without the check that it is not someone else's).
    if (!live) throw new Error(`HTTPRoute ${parsed.namespace}/${name} existed when created and was gone when read; retrying`);
    let differences = created ? [] : routeDifferences(wanted!, live);
    loggedProblems.delete(key);
    if (differences.length > 0 && unwritable.get(key) === routeSignature(live) + routeSignature(wanted!)) {
      // Our last write of this desired route left exactly this route, still different: writing again would change nothing.
      differences = [];
    }
    if (created) {
      logger.info('HTTPRoute created', fieldsOf(resource, name));
      cluster.event(resource, 'Normal', 'RouteCreated', `HTTPRoute ${name}`);
    } else if (differences.length > 0) {
      // The apply takes over every field we set; fields we leave unset that another writer set
      // (hostnames from the KAOS operator or a hand edit) survive it and are removed explicitly.
      const strays = strayRouteFields(wanted!, live);
      const over = live.metadata.resourceVersion;
      try {
        if (differences.some((difference) => !strays.includes(difference))) live = await cluster.applyRoute(wanted!, live.metadata.uid);
        if (strays.length > 0) live = await cluster.removeRouteFields(live, strays);
        // What the writes could not change (a default of a newer Gateway API inside our rules, a
        // webhook that puts a field back) must not be written on every reconcile: remember the
        // route as written, and write again only once it changes.
        const left = routeDifferences(wanted!, live);
        if (left.length > 0) {
          unwritable.set(key, routeSignature(live) + routeSignature(wanted!));
          logger.warn('HTTPRoute still differs after writing it; not writing it again until it changes', { ...fieldsOf(resource, name), differences: left });
        } else unwritable.delete(key);
        if (over) routeWrites.set(key, { over, route: live, at: now().getTime() });
      } catch (error) {
        apiFailed(resource, name, 'updated', error);
        await report(key, resource, blocked(resource, ROUTE_REASONS.APIError, `writing HTTPRoute ${name} failed: ${(error as Error).message}`));
        throw error;
      }
      if (ownership?.decision === 'adopt') {
        logger.info('HTTPRoute adopted', { ...fieldsOf(resource, name), differences });
        cluster.event(resource, 'Normal', 'RouteAdopted', `adopted HTTPRoute ${name}, controlled by this ${resource.kind} without KAOS routing's labels (as the KAOS operator creates it): ${differences.join(', ')} changed`);
      } else {
        logger.info('HTTPRoute updated', { ...fieldsOf(resource, name), differences });
        cluster.event(resource, 'Normal', 'RouteUpdated', `HTTPRoute ${name}: ${differences.join(', ')} changed`);
      }
    }

    const gateway = await cluster.getGateway();
    const status = gatewayStatus({ resource, config, route: live, gateway, previous: resource.status?.gateway?.conditions, now: now() });
    // No timed look again while the route is not Accepted: the Gateway's verdict is written on the
    // route's status, which the route informer delivers (an update requeues this resource).
    return report(key, resource, status);
  };
}
