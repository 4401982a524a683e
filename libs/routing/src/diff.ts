import { GATEWAY_API_GROUP, type HTTPBackendRef, type HTTPRoute, type HTTPRouteRule, type ParentReference } from '@kaos/api-types';

/** Fields of a route spec that this project never sets: present on a live route, they are drift. */
const UNOWNED_SPEC_FIELDS = ['hostnames'] as const;

/** The value when it is a list, else an empty list: a malformed live route must not crash the comparison. */
function listOf<T>(value: T[] | undefined): T[] {
  return Array.isArray(value) ? value : [];
}

function withParentDefaults(ref: ParentReference, routeNamespace: string | undefined): ParentReference {
  return { group: GATEWAY_API_GROUP, kind: 'Gateway', namespace: routeNamespace, ...ref };
}

function withBackendDefaults(ref: HTTPBackendRef, routeNamespace: string | undefined): HTTPBackendRef {
  return { group: '', kind: 'Service', namespace: routeNamespace, weight: 1, ...ref };
}

function withRuleDefaults(rule: HTTPRouteRule, routeNamespace: string | undefined): HTTPRouteRule {
  return {
    ...rule,
    matches: (rule.matches === undefined ? [{}] : listOf(rule.matches)).map((match) => ({ ...match, path: { type: 'PathPrefix', value: '/', ...match.path } })),
    backendRefs: listOf(rule.backendRefs).map((ref) => withBackendDefaults(ref, routeNamespace)),
  };
}

/** The route spec with every value the API server defaults spelled out, so equal routes compare equal. */
function normalizedSpec(route: HTTPRoute): HTTPRoute['spec'] {
  const namespace = route.metadata.namespace;
  return {
    ...route.spec,
    parentRefs: listOf(route.spec.parentRefs).map((ref) => withParentDefaults(ref, namespace)),
    rules: listOf(route.spec.rules).map((rule) => withRuleDefaults(rule, namespace)),
  };
}

/**
 * Whether two JSON values are equal, treating a key whose value is undefined as absent. Exact, not
 * "live holds what we want": `spec.parentRefs` and `spec.rules` are atomic lists in the HTTPRoute
 * CRD (no x-kubernetes-list-type), so a forced apply replaces them whole, and any key another writer
 * added inside them (a `sectionName`, a `urlRewrite.hostname`, a `timeouts.backendRequest`, a
 * header match) is drift one apply removes. The only values the API server adds inside what we
 * send are the defaults normalizedSpec spells out.
 */
export function sameJson(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((item, index) => sameJson(item, b[index]));
  }
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
    const defined = (object: object) => Object.entries(object).filter(([, value]) => value !== undefined);
    const left = defined(a);
    const right = new Map(defined(b));
    return left.length === right.size && left.every(([key, value]) => right.has(key) && sameJson(value, right.get(key)));
  }
  return a === b;
}

/**
 * What differs between the route we want and the route in the cluster, as field paths; empty when
 * no write is needed. Ignores API-server defaults and what others add outside what we write
 * (status, foreign labels, annotations and owner references). Inside `spec.parentRefs` and
 * `spec.rules` the comparison is exact (see sameJson): every hand edit there is drift, and one
 * forced apply reverts it. `spec.hostnames`, which we never set, is drift when present
 * (strayRouteFields); other spec fields a newer Gateway API may add are left alone.
 */
export function routeDifferences(desired: HTTPRoute, live: HTTPRoute): string[] {
  const differences: string[] = [];
  for (const [key, value] of Object.entries(desired.metadata.labels ?? {})) {
    if (live.metadata.labels?.[key] !== value) differences.push(`metadata.labels[${JSON.stringify(key)}]`);
  }
  for (const owner of desired.metadata.ownerReferences ?? []) {
    const present = (live.metadata.ownerReferences ?? []).some(
      (ref) => ref.uid === owner.uid && ref.kind === owner.kind && ref.apiVersion === owner.apiVersion && ref.controller === owner.controller,
    );
    if (!present) differences.push('metadata.ownerReferences');
  }
  const desiredSpec = normalizedSpec(desired);
  const liveSpec = normalizedSpec(live);
  const strays = new Set(strayRouteFields(desired, live));
  for (const key of new Set([...Object.keys(desiredSpec), ...UNOWNED_SPEC_FIELDS])) {
    const want = desiredSpec[key];
    if (want === undefined ? strays.has(`spec.${key}`) : !sameJson(want, liveSpec[key])) differences.push(`spec.${key}`);
  }
  return differences;
}

/**
 * Fields the live route has and the desired route leaves unset (`spec.hostnames`), as paths like
 * routeDifferences'. A forced server-side apply that omits a field removes it only when our field
 * manager owned it; set by another writer (the KAOS operator's `manager`, `kubectl edit`) it stays,
 * and every later reconcile would see it again. So the controller removes these explicitly.
 */
export function strayRouteFields(desired: HTTPRoute, live: HTTPRoute): string[] {
  const spec = (live.spec ?? {}) as Record<string, unknown>;
  return UNOWNED_SPEC_FIELDS.filter((key) => {
    if ((desired.spec as Record<string, unknown>)[key] !== undefined) return false;
    const have = spec[key];
    return Array.isArray(have) ? have.length > 0 : have !== undefined && have !== null;
  }).map((key) => `spec.${key}`);
}

/** Whether the live route must be written to match the desired one (see routeDifferences). */
export function routeNeedsUpdate(desired: HTTPRoute, live: HTTPRoute): boolean {
  return routeDifferences(desired, live).length > 0;
}
