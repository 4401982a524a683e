import type { HTTPRoute, KaosKind, KaosResource } from '@kaos/api-types';
import { KIND_ROUTING, MANAGED_BY, MANAGED_BY_LABEL, OWNER_KIND_LABEL, OWNER_NAME_LABEL } from './naming.js';

/**
 * What the controller may do with a live HTTPRoute that has the name of a resource's route:
 * - `manage`: it is ours (created or adopted earlier): keep it in the desired shape, delete it when
 *   the resource should have none;
 * - `adopt`: the resource controls it (controller owner reference with the resource's uid) but it
 *   does not carry our labels — what the upstream KAOS operator creates when its Gateway API option
 *   is on. While routing is enabled it is taken over and brought to the desired shape; while
 *   routing is disabled it is left alone (it may still be the KAOS operator's to serve);
 * - `foreign`: anything else — never written, never deleted, reported as a conflict.
 */
export type RouteOwnership = { decision: 'manage' } | { decision: 'adopt' } | { decision: 'foreign'; reason: string };

/** Whether the route carries our three labels, naming this resource. */
function labelledFor(route: HTTPRoute, resource: KaosResource): boolean {
  const labels = route.metadata.labels ?? {};
  return labels[MANAGED_BY_LABEL] === MANAGED_BY && labels[OWNER_KIND_LABEL] === resource.kind && labels[OWNER_NAME_LABEL] === resource.metadata.name;
}

/**
 * Decides whether a live route with the name of `resource`'s route is ours, ours to adopt, or
 * foreign. The controller owner reference decides when there is one: to this resource (same uid
 * and kind) it is ours — adopted when our labels are missing — and to anything else (another
 * object, an earlier resource of the same name) it is foreign. Without one, our labels naming this
 * resource make it ours (ADR 0006); a route with neither is foreign, even with a non-controller
 * owner reference to the resource.
 */
export function routeOwnership(route: HTTPRoute, resource: KaosResource): RouteOwnership {
  const controller = (route.metadata.ownerReferences ?? []).find((ref) => ref.controller === true);
  if (controller) {
    if (controller.uid === resource.metadata.uid && controller.kind === resource.kind) {
      return labelledFor(route, resource) ? { decision: 'manage' } : { decision: 'adopt' };
    }
    const earlier = controller.kind === resource.kind && controller.name === resource.metadata.name;
    return {
      decision: 'foreign',
      reason: earlier
        ? `it is controlled by an earlier ${resource.kind} ${controller.name} (uid ${controller.uid}), not this one`
        : `it is controlled by ${controller.kind} ${controller.name} (uid ${controller.uid})`,
    };
  }
  if (labelledFor(route, resource)) return { decision: 'manage' };
  return { decision: 'foreign', reason: `it has no controller owner reference to this ${resource.kind} and not our labels` };
}

/**
 * The kind and name of the resource whose route has this name (the inverse of routeName), or
 * undefined when no kind's prefix fits. The prefixes (`agent-`, `modelapi-`, `mcp-`) are not
 * prefixes of one another, so at most one kind fits. Maps an event of any HTTPRoute — a foreign
 * one that is not in the controller's label-selected cache, or ours with edited labels — to the
 * resource to reconcile.
 */
export function routeResourceName(route: string): { kind: KaosKind; name: string } | undefined {
  for (const [kind, routing] of Object.entries(KIND_ROUTING) as Array<[KaosKind, (typeof KIND_ROUTING)[KaosKind]]>) {
    const prefix = `${routing.routePrefix}-`;
    if (route.startsWith(prefix) && route.length > prefix.length) return { kind, name: route.slice(prefix.length) };
  }
  return undefined;
}
