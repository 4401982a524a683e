import {
  formatProblems,
  type Condition,
  type FieldProblem,
  type Gateway,
  type GatewayStatus,
  type HTTPRoute,
  type KaosResource,
} from '@kaos/api-types';
import { refersToKaosGateway } from './claims.js';
import type { RoutingConfig } from './config.js';
import { routeName, routePathPrefix } from './naming.js';

/** Our own condition on `status.gateway.conditions`: whether the resource is reachable through the Gateway. */
export const ROUTE_READY = 'RouteReady';

/** Reasons of RouteReady, so users (and the `Route` printer column) can tell states apart. */
export const ROUTE_REASONS = {
  /** The Gateway accepted the route and resolved its backend. */
  Ready: 'Ready',
  /** The route exists; the Gateway has not reported on this generation of it yet. */
  Pending: 'Pending',
  /** The Gateway refused the route or could not resolve its backend (see Accepted/ResolvedRefs). */
  NotAccepted: 'NotAccepted',
  /** The resource cannot have a valid route (names too long, bad timeout…): the message says which field. */
  InvalidRoute: 'InvalidRoute',
  /** An HTTPRoute with our name exists and is not ours; we neither overwrite nor delete it. */
  RouteConflict: 'RouteConflict',
  /** The Gateway API CRDs are not installed. */
  GatewayAPIMissing: 'GatewayAPIMissing',
  /** Writing the route failed; the controller retries with backoff. */
  APIError: 'APIError',
  /** Gateway API routing is disabled, or the Agent is not exposed: no route, on purpose. */
  Disabled: 'Disabled',
} as const;
/** One of ROUTE_REASONS. */
export type RouteReason = (typeof ROUTE_REASONS)[keyof typeof ROUTE_REASONS];

/** Conditions the Gateway implementation reports that we mirror onto the resource. */
export const MIRRORED_CONDITIONS = ['Accepted', 'ResolvedRefs'] as const;

/** What the controller observed, from which the resource's `status.gateway` follows. */
export interface RouteObservation {
  resource: KaosResource;
  config: RoutingConfig;
  /** The live route, when it is ours. */
  route?: HTTPRoute;
  /** The Gateway the routes attach to, when it can be read. */
  gateway?: Gateway;
  /** Why there is no (valid) route, when there is none. */
  blocked?: { reason: RouteReason; message: string };
  /** The conditions currently on the resource, to keep lastTransitionTime of unchanged ones. */
  previous?: readonly Condition[];
  now: Date;
}

/**
 * The Accepted and ResolvedRefs conditions our Gateway reported for the current generation of the
 * route; conditions about an older generation are stale and left out.
 */
export function reportedConditions(route: HTTPRoute, config: RoutingConfig): Condition[] {
  const parent = (route.status?.parents ?? []).find((candidate) => refersToKaosGateway(candidate.parentRef, route.metadata.namespace, config));
  const generation = route.metadata.generation;
  return (parent?.conditions ?? []).filter(
    (condition) =>
      (MIRRORED_CONDITIONS as readonly string[]).includes(condition.type) &&
      (generation === undefined || condition.observedGeneration === undefined || condition.observedGeneration === generation),
  );
}

/**
 * The address users reach the resource at: `http://{address}[:port]/{ns}/{type}/{name}` from the
 * Gateway's first reported address and its HTTP listener, else the relative path.
 */
export function routeUrl(resource: KaosResource, gateway: Gateway | undefined): string {
  const path = routePathPrefix(resource);
  const address = gateway?.status?.addresses?.find((candidate) => candidate.value)?.value;
  if (!address) return path;
  const listener = gateway?.spec.listeners.find((candidate) => candidate.protocol === 'HTTP');
  const host = address.includes(':') && !address.startsWith('[') ? `[${address}]` : address;
  const port = listener && listener.port !== 80 ? `:${listener.port}` : '';
  return `http://${host}${port}${path}`;
}

function condition(type: string, status: Condition['status'], reason: string, message: string, generation: number | undefined, now: Date, previous?: readonly Condition[]): Condition {
  const before = previous?.find((candidate) => candidate.type === type);
  const lastTransitionTime = before && before.status === status ? before.lastTransitionTime : now.toISOString();
  return { type, status, reason, message, lastTransitionTime, ...(generation === undefined ? {} : { observedGeneration: generation }) };
}

/** Why a route is or is not ready, from what the Gateway reported. */
function readiness(reported: Condition[]): { status: Condition['status']; reason: RouteReason; message: string } {
  const accepted = reported.find((candidate) => candidate.type === 'Accepted');
  const resolved = reported.find((candidate) => candidate.type === 'ResolvedRefs');
  if (!accepted) return { status: 'Unknown', reason: ROUTE_REASONS.Pending, message: 'waiting for the Gateway to accept the HTTPRoute' };
  if (accepted.status !== 'True') {
    return { status: 'False', reason: ROUTE_REASONS.NotAccepted, message: `the Gateway did not accept the HTTPRoute: ${accepted.reason}: ${accepted.message}` };
  }
  if (resolved && resolved.status !== 'True') {
    return { status: 'False', reason: ROUTE_REASONS.NotAccepted, message: `the Gateway cannot resolve the backend: ${resolved.reason}: ${resolved.message}` };
  }
  return { status: 'True', reason: ROUTE_REASONS.Ready, message: 'the Gateway accepted the HTTPRoute' };
}

/**
 * The `status.gateway` block of a resource: URL, route name, whether the Gateway accepted it, the
 * mirrored Accepted/ResolvedRefs conditions and our RouteReady, with a reason for every state.
 */
export function gatewayStatus(observation: RouteObservation): GatewayStatus {
  const { resource, config, route, gateway, blocked, previous, now } = observation;
  const generation = resource.metadata.generation;
  if (blocked) {
    return {
      routeName: routeName(resource),
      accepted: false,
      ...(generation === undefined ? {} : { observedGeneration: generation }),
      conditions: [condition(ROUTE_READY, 'False', blocked.reason, blocked.message, generation, now, previous)],
    };
  }
  const reported = route ? reportedConditions(route, config) : [];
  const ready = route ? readiness(reported) : { status: 'Unknown' as const, reason: ROUTE_REASONS.Pending, message: 'the HTTPRoute is being created' };
  const mirrored = reported.map((reportedCondition) =>
    condition(reportedCondition.type, reportedCondition.status, reportedCondition.reason, reportedCondition.message, generation, now, previous),
  );
  return {
    url: routeUrl(resource, gateway),
    routeName: routeName(resource),
    accepted: reported.some((candidate) => candidate.type === 'Accepted' && candidate.status === 'True'),
    ...(generation === undefined ? {} : { observedGeneration: generation }),
    conditions: [...mirrored, condition(ROUTE_READY, ready.status, ready.reason, ready.message, generation, now, previous)],
  };
}

/** The RouteReady state for resources whose route cannot be built, from their route problems. */
export function invalidRoute(problems: readonly FieldProblem[]): { reason: RouteReason; message: string } {
  return { reason: ROUTE_REASONS.InvalidRoute, message: formatProblems(problems) };
}
