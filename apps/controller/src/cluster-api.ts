// The reconciler's calls past the caches: reads of routes and of status.gateway (rare, on
// client-node's API classes), and the writes (one to three per resource, on the lean transport of
// api-transport.ts): server-side apply with one field manager, creates, removals and deletes that
// carry the uid as a precondition, and status writes that touch only status.gateway.
import type { CustomObjectsApi } from '@kubernetes/client-node';
import { GATEWAY_API_GROUP, KAOS_GROUP, KAOS_VERSION, KIND_DEFINITIONS, type GatewayStatus, type HTTPRoute, type KaosResource } from '@kaos/api-types';
import { applyRequest, createRequest, deleteRequest, mergePatchRequest, type ResourceRef } from '@kaos/kube-runtime';
import { FIELD_MANAGER } from '@kaos/routing';
import type { ApiSend } from './api-transport.js';
import { apiStatus, GATEWAY_VERSION } from './kube-boundary.js';
import { GatewayApiMissingError, type Cluster } from './reconciler.js';

/** How long the answer to "are the Gateway API CRDs installed?" is reused. */
export const GATEWAY_API_CHECK_MS = 10_000;

/** What the calls go through: client-node's API for the reads, the transport for the writes. */
export interface ClusterApis {
  custom: Pick<CustomObjectsApi, 'getNamespacedCustomObject' | 'listClusterCustomObject'>;
  send: ApiSend;
}

/** The HTTPRoute `name` in `namespace` (or, without a name, the namespace's routes). */
export function routeRef(namespace: string, name?: string): ResourceRef {
  return { group: GATEWAY_API_GROUP, version: GATEWAY_VERSION, plural: 'httproutes', namespace, name };
}

/** The status subresource of a KAOS resource of this plural. */
function statusRef(plural: string, namespace: string, name: string): ResourceRef {
  return { group: KAOS_GROUP, version: KAOS_VERSION, plural, namespace, name, subresource: 'status' };
}

/** An object the API server answered a write with; a write that answers none is a broken answer, not "no route". */
function answeredObject<T>(answer: unknown): T {
  if (typeof answer !== 'object' || answer === null) throw new Error('the API server answered the write without an object');
  return answer as T;
}

/** What the API calls report to the metrics. */
export interface ApiObservers {
  /** Before each write to the API server. */
  write?: (verb: 'create' | 'apply' | 'patch' | 'delete' | 'status' | 'event') => void;
  /** Before each read a reconcile makes past the caches. */
  read?: (what: 'httproutes' | 'gateways' | 'crd-check' | 'kaos-resources') => void;
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

/** The Cluster's calls that go to the API server; `readRoute` is getRoute without the cache. */
export type ClusterApi = Pick<Cluster, 'createRoute' | 'applyRoute' | 'removeRouteFields' | 'deleteRoute' | 'readGatewayStatus' | 'writeGatewayStatus'> & { readRoute: Cluster['getRoute'] };

/** Creates the API calls of the Cluster; a 404 from a Gateway API call is told apart as GatewayApiMissingError when the CRDs are missing. */
export function createClusterApi({ custom, send }: ClusterApis, observers: ApiObservers = {}, now: () => number = Date.now): ClusterApi {
  const onWrite = observers.write ?? (() => {});
  const onRead = observers.read ?? (() => {});

  let gatewayApiCheckedAt = 0;
  let gatewayApiPresent = false;
  // A 404 on a route means either "no such route" or "no such resource type": asked at most every 10 s.
  async function gatewayApiInstalled(): Promise<boolean> {
    if (now() - gatewayApiCheckedAt < GATEWAY_API_CHECK_MS) return gatewayApiPresent;
    try {
      onRead('crd-check');
      await custom.listClusterCustomObject({ group: GATEWAY_API_GROUP, version: GATEWAY_VERSION, plural: 'httproutes', limit: 1 });
      gatewayApiPresent = true;
    } catch (error) {
      if (apiStatus(error) !== 404) throw error;
      gatewayApiPresent = false;
    }
    gatewayApiCheckedAt = now();
    return gatewayApiPresent;
  }
  const pluralOf = (resource: KaosResource) => KIND_DEFINITIONS.find((definition) => definition.kind === resource.kind)!.plural;

  return {
    async readRoute(namespace, name) {
      try {
        onRead('httproutes');
        return (await custom.getNamespacedCustomObject({ group: GATEWAY_API_GROUP, version: GATEWAY_VERSION, namespace, plural: 'httproutes', name })) as HTTPRoute;
      } catch (error) {
        if (apiStatus(error) !== 404) throw error;
        if (!(await gatewayApiInstalled())) throw new GatewayApiMissingError('Gateway API CRDs are not installed');
        return undefined;
      }
    },
    async createRoute(route) {
      onWrite('create');
      try {
        return answeredObject<HTTPRoute>(await send(createRequest(routeRef(route.metadata.namespace!), route, FIELD_MANAGER)));
      } catch (error) {
        if (apiStatus(error) === 409) return undefined; // AlreadyExists: ours not cached yet, or foreign
        if (apiStatus(error) === 404 && !(await gatewayApiInstalled())) throw new GatewayApiMissingError('Gateway API CRDs are not installed');
        throw error;
      }
    },
    async applyRoute(route, uid) {
      onWrite('apply');
      // A uid in an applied object is a precondition: the API server refuses the apply (409 or 422)
      // unless the live object has that uid, so a route replaced since it was read is left alone.
      const body = { ...route, metadata: { ...route.metadata, ...(uid ? { uid } : {}) } };
      return answeredObject<HTTPRoute>(await send(applyRequest(routeRef(route.metadata.namespace!, route.metadata.name!), body, FIELD_MANAGER, true)));
    },
    async removeRouteFields(route, paths) {
      onWrite('patch');
      const patched = await send(mergePatchRequest(routeRef(route.metadata.namespace!, route.metadata.name!), removalPatch(route.metadata.uid!, paths), FIELD_MANAGER));
      return answeredObject<HTTPRoute>(patched);
    },
    async deleteRoute(namespace, name, uid) {
      onWrite('delete');
      try {
        await send(deleteRequest(routeRef(namespace, name), uid || undefined), { answer: false });
      } catch (error) {
        if (apiStatus(error) !== 404) throw error;
      }
    },
    async readGatewayStatus(resource) {
      onRead('kaos-resources');
      const plural = pluralOf(resource);
      try {
        const live = (await custom.getNamespacedCustomObject({ group: KAOS_GROUP, version: KAOS_VERSION, namespace: resource.metadata.namespace!, plural, name: resource.metadata.name! })) as KaosResource;
        return { gateway: live.status?.gateway };
      } catch (error) {
        if (apiStatus(error) === 404) return undefined;
        throw error;
      }
    },
    async writeGatewayStatus(resource, gateway: GatewayStatus | undefined) {
      onWrite('status');
      // A merge patch of status.gateway alone, named by our field manager: whatever else the status
      // holds (the KAOS operator's phase, ready, endpoint, message, deployment, ...) is never sent, so never touched.
      const request = mergePatchRequest(statusRef(pluralOf(resource), resource.metadata.namespace!, resource.metadata.name!), { status: { gateway: gateway ?? null } }, FIELD_MANAGER);
      if (!gateway) {
        await send(request, { answer: false });
        return true;
      }
      // The API server answers 200 for a status.gateway its CRD's schema pruned (an upstream CRD,
      // or one it has not switched from yet): only the object it answers says whether it was kept.
      const stored = (await send(request)) as Partial<KaosResource> | undefined;
      return stored?.status?.gateway !== undefined;
    },
  };
}
