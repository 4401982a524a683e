import { GATEWAY_API_GROUP, type FieldProblem, type HTTPRoute, type KaosKind, type ParentReference } from '@kaos/api-types';
import type { RoutingConfig } from './config.js';
import { KIND_ROUTING, MANAGED_BY, MANAGED_BY_LABEL, OWNER_KIND_LABEL, OWNER_NAME_LABEL } from './naming.js';

const RESERVED_SEGMENTS = new Set<string>(Object.values(KIND_ROUTING).map((routing) => routing.pathSegment));

/** Whether a parentRef of a route in `routeNamespace` names the KAOS Gateway (API defaults applied). */
export function refersToKaosGateway(ref: ParentReference, routeNamespace: string | undefined, config: RoutingConfig): boolean {
  return (
    (ref.group ?? GATEWAY_API_GROUP) === GATEWAY_API_GROUP &&
    (ref.kind ?? 'Gateway') === 'Gateway' &&
    ref.name === config.gatewayName &&
    (ref.namespace ?? routeNamespace) === config.gatewayNamespace
  );
}

/** Whether an HTTPRoute attaches to the KAOS Gateway (the one every namespace shares). */
export function attachesToKaosGateway(route: HTTPRoute, config: RoutingConfig): boolean {
  const parentRefs = Array.isArray(route.spec?.parentRefs) ? route.spec.parentRefs : [];
  return parentRefs.some((ref) => refersToKaosGateway(ref, route.metadata.namespace, config));
}

/** The path prefix KAOS itself gives the route's owner, when the route carries our ownership labels. */
function ownPrefixOfManagedRoute(route: HTTPRoute): string | undefined {
  const labels = route.metadata.labels ?? {};
  if (labels[MANAGED_BY_LABEL] !== MANAGED_BY) return undefined;
  const routing = KIND_ROUTING[labels[OWNER_KIND_LABEL] as KaosKind] as (typeof KIND_ROUTING)[KaosKind] | undefined;
  const name = labels[OWNER_NAME_LABEL];
  if (!routing || !name) return undefined;
  return `/${route.metadata.namespace}/${routing.pathSegment}/${name}`;
}

/** Why one path match of a route in `namespace` trespasses on paths it does not own, or undefined. */
function claimProblem(type: string, path: string, namespace: string, ownPrefix: string | undefined): string | undefined {
  if (type === 'RegularExpression') {
    return 'regular-expression paths are not allowed on the shared KAOS Gateway: they cannot be checked against other namespaces\' paths';
  }
  if (type !== 'PathPrefix' && type !== 'Exact') return `path match type ${JSON.stringify(type)} is not supported on the shared KAOS Gateway`;
  if (ownPrefix !== undefined) {
    return path === ownPrefix && type === 'PathPrefix'
      ? undefined
      : `a KAOS-managed route may claim only the path prefix ${JSON.stringify(ownPrefix)}, not ${JSON.stringify(path)}`;
  }
  const segments = path.split('/').filter((segment) => segment !== '');
  if (segments[0] !== namespace) {
    return `claims ${JSON.stringify(path)}, outside this namespace's paths: routes on the shared KAOS Gateway must stay under "/${namespace}/"`;
  }
  if (segments.length >= 2 && RESERVED_SEGMENTS.has(segments[1]!)) {
    return `claims ${JSON.stringify(path)}, which KAOS reserves for its ${segments[1]} routes ("/${namespace}/${segments[1]}/…")`;
  }
  return undefined;
}

/**
 * Path-ownership guard of the shared Gateway: every path an HTTPRoute attached to the KAOS Gateway
 * claims must lie under `/{its namespace}/`, and `/{ns}/{agent|modelapi|mcp}/…` is reserved for the
 * routes KAOS manages, so no namespace can shadow or steal another's traffic. A match without a
 * path claims `/` (everything) and is refused too. Routes on other Gateways are not our business.
 */
export function routeClaimProblems(route: HTTPRoute, config: RoutingConfig): FieldProblem[] {
  if (!attachesToKaosGateway(route, config)) return [];
  const namespace = route.metadata.namespace ?? '';
  const ownPrefix = ownPrefixOfManagedRoute(route);
  const problems: FieldProblem[] = [];
  const rules = Array.isArray(route.spec.rules) && route.spec.rules.length > 0 ? route.spec.rules : [{}];
  rules.forEach((rule, ruleIndex) => {
    const matches = Array.isArray(rule.matches) && rule.matches.length > 0 ? rule.matches : [{}];
    matches.forEach((match, matchIndex) => {
      const type = match.path?.type ?? 'PathPrefix';
      const path = match.path?.value ?? '/';
      const problem = claimProblem(type, path, namespace, ownPrefix);
      if (problem) problems.push({ field: `spec.rules[${ruleIndex}].matches[${matchIndex}].path`, message: problem });
    });
  });
  return problems;
}
