import {
  ADMISSION_API_VERSION,
  GATEWAY_API_GROUP,
  KAOS_GROUP,
  formatProblems,
  isKaosKind,
  kindDefinition,
  type AdmissionRequest,
  type AdmissionResponse,
  type FieldProblem,
  type HTTPRoute,
  type JsonPatchOperation,
  type KaosResource,
  type ResourceValidator,
} from '@kaos/api-types';
import { routeClaimProblems } from './claims.js';
import type { RoutingConfig } from './config.js';
import { isGatewayDuration, parseGatewayDuration } from './duration.js';
import { KIND_ROUTING } from './naming.js';
import { routeProblems } from './problems.js';
import { isBeingDeleted, parseFieldPath, valuesEqual, problemNode, ratchetProblems, ratchetedWarning, type PathSegment, type RatchetResult, type SchemaNode } from './ratchet.js';

/** What the webhook decides for one HTTP request: a review response, or a 400 with the reason. */
export type AdmissionOutcome = { response: AdmissionResponse } | { badRequest: string };

/** Timeouts longer than this are allowed but get a warning. */
export const LONG_TIMEOUT_WARNING_MS = 3_600_000;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Checks that a request body is an admission.k8s.io/v1 AdmissionReview with a usable request, and
 * returns that request, or the reason it is not one (the webhook answers 400 with it).
 */
export function parseAdmissionReview(body: unknown): { request: AdmissionRequest } | { badRequest: string } {
  if (!isObject(body)) return { badRequest: 'body must be a JSON object (an admission.k8s.io/v1 AdmissionReview)' };
  if (body.kind !== 'AdmissionReview') return { badRequest: `kind must be "AdmissionReview", not ${JSON.stringify(body.kind)}` };
  if (body.apiVersion !== ADMISSION_API_VERSION) {
    return { badRequest: `apiVersion must be "${ADMISSION_API_VERSION}", not ${JSON.stringify(body.apiVersion)}` };
  }
  const request = body.request;
  if (!isObject(request)) return { badRequest: 'request is missing: the AdmissionReview carries no request' };
  if (typeof request.uid !== 'string' || request.uid === '') return { badRequest: 'request.uid must be a non-empty string' };
  const kind = request.kind;
  if (!isObject(kind) || typeof kind.group !== 'string' || typeof kind.version !== 'string' || typeof kind.kind !== 'string') {
    return { badRequest: 'request.kind must be an object with string group, version and kind' };
  }
  if (!['CREATE', 'UPDATE', 'DELETE', 'CONNECT'].includes(request.operation as string)) {
    return { badRequest: `request.operation must be CREATE, UPDATE, DELETE or CONNECT, not ${JSON.stringify(request.operation)}` };
  }
  return { request: request as unknown as AdmissionRequest };
}

/** Whether the request is about one of the KAOS kinds. */
function isKaosRequest(request: AdmissionRequest): boolean {
  return request.kind.group === KAOS_GROUP && isKaosKind(request.kind.kind);
}

function isHTTPRouteRequest(request: AdmissionRequest): boolean {
  return request.kind.group === GATEWAY_API_GROUP && request.kind.kind === 'HTTPRoute';
}

function unknownKind(request: AdmissionRequest): { badRequest: string } {
  const { group, version, kind } = request.kind;
  return { badRequest: `this webhook does not handle ${kind}.${version}.${group || 'core'}` };
}

/**
 * The JSON Patch that writes the per-kind default into `spec.gatewayRoute.timeout` when the
 * resource sets none; empty when it does (so the mutation is idempotent).
 */
export function timeoutDefaultPatch(object: unknown, config: RoutingConfig): JsonPatchOperation[] {
  if (!isObject(object) || !isKaosKind(object.kind) || !isObject(object.spec)) return [];
  const timeout = config.defaultTimeouts[object.kind];
  const gatewayRoute = object.spec.gatewayRoute;
  if (gatewayRoute === undefined || gatewayRoute === null) return [{ op: 'add', path: '/spec/gatewayRoute', value: { timeout } }];
  if (!isObject(gatewayRoute) || gatewayRoute.timeout !== undefined) return [];
  return [{ op: 'add', path: '/spec/gatewayRoute/timeout', value: timeout }];
}

/** Whether an UPDATE is part of a deletion: the object (or the stored one) has a deletionTimestamp. */
function isDeletionUpdate(request: AdmissionRequest): boolean {
  return request.operation === 'UPDATE' && (isBeingDeleted(request.object) || isBeingDeleted(request.oldObject));
}

/** Whether an UPDATE leaves `spec` as it was (labels, annotations, finalizers, owner references only). */
function isMetadataOnlyUpdate(request: AdmissionRequest): boolean {
  if (request.operation !== 'UPDATE' || !isObject(request.object) || !isObject(request.oldObject)) return false;
  return valuesEqual(request.object.spec, request.oldObject.spec);
}

/**
 * Mutating admission: defaults the route timeout of KAOS resources on CREATE and UPDATE, except
 * on objects being deleted (their updates remove finalizers) and on metadata-only updates: a
 * default there would turn a label or finalizer change into a spec change, which the API server
 * then validates in full (its ratcheting excuses only unchanged values) — see ADR 0012.
 */
export function mutate(request: AdmissionRequest, config: RoutingConfig): AdmissionOutcome {
  if (!isKaosRequest(request)) return unknownKind(request);
  const response: AdmissionResponse = { uid: request.uid, allowed: true };
  if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return { response };
  if (request.subResource || isDeletionUpdate(request) || isMetadataOnlyUpdate(request)) return { response };
  const patch = timeoutDefaultPatch(request.object, config);
  if (patch.length === 0) return { response };
  return { response: { ...response, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') } };
}

/** Everything wrong with a KAOS object: schema and CEL problems, then route problems, without repeats. */
export function resourceProblems(object: unknown, config: RoutingConfig, validator: ResourceValidator): FieldProblem[] {
  const schemaProblems = validator.problems(object);
  const candidate = object as KaosResource;
  if (!isObject(candidate) || !isKaosKind(candidate.kind) || !isObject(candidate.metadata) || !isObject(candidate.spec)) {
    return schemaProblems;
  }
  const ownProblems = routeProblems(candidate, config);
  // The route check words duration problems with the offending value; keep only its version.
  const ownFields = new Set(ownProblems.map((problem) => problem.field));
  return [...schemaProblems.filter((problem) => !ownFields.has(problem.field)), ...ownProblems];
}

/**
 * Admission warnings: allowed, but probably not what the user meant. None for the kind's default
 * timeout: the mutating webhook writes it into every object without one, so a warning about it would
 * greet every apply of a manifest that never mentions a timeout.
 */
export function resourceWarnings(resource: KaosResource, config: RoutingConfig): string[] {
  const timeout = resource.spec.gatewayRoute?.timeout;
  if (timeout === undefined || !isGatewayDuration(timeout) || timeout === config.defaultTimeouts[resource.kind]) return [];
  const warnings: string[] = [];
  if (!config.gatewayApiEnabled) {
    warnings.push(`spec.gatewayRoute.timeout: ${timeout} has no effect while Gateway API routing is disabled (GATEWAY_API_ENABLED=false)`);
  } else if (resource.kind === 'Agent' && resource.spec.agentNetwork?.expose === false) {
    warnings.push(`spec.gatewayRoute.timeout: ${timeout} has no effect while spec.agentNetwork.expose is false (the Agent gets no route)`);
  }
  const milliseconds = parseGatewayDuration(timeout);
  if (milliseconds === 0) {
    warnings.push(`spec.gatewayRoute.timeout: ${timeout} disables the request timeout; a stuck request holds its Gateway connection forever`);
  } else if (milliseconds > LONG_TIMEOUT_WARNING_MS) {
    warnings.push(`spec.gatewayRoute.timeout: ${timeout} is longer than an hour; the Gateway keeps such requests and their connections open that long`);
  }
  return warnings;
}

/** The object as stored: namespace from the request when the body leaves it out, generateName stands in for the name. */
function withRequestIdentity(object: unknown, request: AdmissionRequest): unknown {
  if (!isObject(object) || !isObject(object.metadata)) return object;
  const metadata = object.metadata as { name?: string; generateName?: string; namespace?: string };
  const name = metadata.name || (metadata.generateName ? `${metadata.generateName}xxxxx` : undefined);
  return { ...object, metadata: { ...metadata, name, namespace: metadata.namespace || request.namespace } };
}

/** Problems of KAOS kinds that name a configuration variable are about the timeout the object leaves to it. */
const DEFAULT_TIMEOUT_VARIABLES = new Set<string>(Object.values(KIND_ROUTING).map((routing) => routing.defaultTimeoutVariable));
const TIMEOUT_NODE: readonly PathSegment[] = ['spec', 'gatewayRoute', 'timeout'];

/**
 * Validation ratcheting of an UPDATE (ADR 0012): the problems of `object` it introduces or changes
 * block it; problems it leaves as they were in `oldObject` are allowed, with a warning each.
 */
function ratchetUpdate(
  request: AdmissionRequest,
  object: unknown,
  problems: FieldProblem[],
  problemsOf: (object: unknown) => FieldProblem[],
  schema: SchemaNode | undefined,
): RatchetResult {
  const oldObject = withRequestIdentity(request.oldObject, request);
  return ratchetProblems({
    object,
    oldObject,
    problems,
    oldProblems: () => problemsOf(oldObject),
    nodeOf: (problem) => (DEFAULT_TIMEOUT_VARIABLES.has(problem.field) ? TIMEOUT_NODE : schema ? problemNode(problem, schema) : parseFieldPath(problem.field)),
    schema,
  });
}

/** The answer to a review with problems: on UPDATE only the problems it introduces or changes deny it. */
function decide(
  request: AdmissionRequest,
  object: unknown,
  problems: FieldProblem[],
  problemsOf: (object: unknown) => FieldProblem[],
  schema: SchemaNode | undefined,
  warningsIfAllowed: () => string[],
): AdmissionResponse {
  if (request.operation !== 'UPDATE') return denial(request, problems);
  const { blocking, ratcheted } = ratchetUpdate(request, object, problems, problemsOf, schema);
  const warnings = ratcheted.map(ratchetedWarning);
  if (blocking.length > 0) return denial(request, blocking, warnings);
  warnings.push(...warningsIfAllowed());
  return { uid: request.uid, allowed: true, ...(warnings.length > 0 ? { warnings } : {}) };
}

function denial(request: AdmissionRequest, problems: FieldProblem[], warnings: string[] = []): AdmissionResponse {
  const who = `${request.kind.kind} ${request.namespace ? `${request.namespace}/` : ''}${request.name ?? ''}`.trim();
  return {
    uid: request.uid,
    allowed: false,
    status: { code: 422, reason: 'Invalid', message: `${who} is invalid: ${formatProblems(problems)}` },
    ...(warnings.length > 0 ? { warnings } : {}),
  };
}

/** The path-ownership problems of an HTTPRoute; none for anything that is not one. */
function claimProblemsOf(object: unknown, config: RoutingConfig): FieldProblem[] {
  if (!isObject(object) || !isObject(object.metadata) || !isObject(object.spec)) return [];
  return routeClaimProblems(object as unknown as HTTPRoute, config);
}

/**
 * Validating admission: denies KAOS resources whose route would be invalid (listing every problem
 * with its field), warns about surprising settings, and denies HTTPRoutes on the shared Gateway
 * that claim paths outside their namespace or reserved for KAOS. An UPDATE is denied only for the
 * problems it introduces or changes (validation ratcheting, ADR 0012), and never while the object
 * is being deleted, so finalizers of objects stored before a rule existed can always be removed.
 */
export function validate(request: AdmissionRequest, config: RoutingConfig, validator: ResourceValidator): AdmissionOutcome {
  const allowed: AdmissionResponse = { uid: request.uid, allowed: true };
  const kaos = isKaosRequest(request);
  if (!kaos && !isHTTPRouteRequest(request)) return unknownKind(request);
  if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return { response: allowed };
  if (request.subResource || isDeletionUpdate(request)) return { response: allowed };
  const object = withRequestIdentity(request.object, request);

  if (!kaos) {
    if (!isObject(object) || !isObject(object.metadata) || !isObject(object.spec)) {
      return { badRequest: 'request.object must be an HTTPRoute with metadata and spec' };
    }
    const problems = routeClaimProblems(object as unknown as HTTPRoute, config);
    if (problems.length === 0) return { response: allowed };
    return { response: decide(request, object, problems, (old) => claimProblemsOf(old, config), undefined, () => []) };
  }

  const problems = resourceProblems(object, config, validator);
  const resource = object as KaosResource;
  if (problems.length > 0) {
    const schema = kindDefinition(request.kind.kind).schema as SchemaNode;
    return { response: decide(request, object, problems, (old) => resourceProblems(old, config, validator), schema, () => warningsOf(resource, config)) };
  }
  const found = warningsOf(resource, config);
  return { response: found.length > 0 ? { ...allowed, warnings: found } : allowed };
}

/**
 * The warnings of a resource with a spec. A module-level function, not a closure named per review:
 * the bundles keep function names (esbuild `keepNames`), which renames every named closure when it
 * is created, a defineProperty per review that cost 3 % of the webhook's CPU (issue 14's profile).
 */
function warningsOf(resource: KaosResource, config: RoutingConfig): string[] {
  return isObject(resource.spec) ? resourceWarnings(resource, config) : [];
}
