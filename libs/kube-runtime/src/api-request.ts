// Kubernetes API writes as plain data, sent by a thin HTTP client instead of client-node's generated
// API: client-node 2 sends every call through fetch (Request, Headers, web streams) and its
// ObjectSerializer, which cost most of the controller's CPU per resource (ADR 0022). These pure
// functions build exactly what client-node would send — path, query, headers, body — and read an
// answer back, so the transport that sends them holds no logic of its own.

/** The Content-Types of the writes we make: a create or delete body, a merge patch, a server-side apply. */
export type ApiContentType = 'application/json' | 'application/merge-patch+json' | 'application/apply-patch+yaml';

/** One API call, without the server and the credentials. */
export interface ApiRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** The API path, e.g. `/apis/gateway.networking.k8s.io/v1/namespaces/prod/httproutes/agent-a`. */
  path: string;
  /** Query parameters, sent in this order. */
  query?: Record<string, string>;
  /** The body, sent as JSON (also for apply-patch+yaml: JSON is YAML). */
  body?: unknown;
  /** Required with a body. */
  contentType?: ApiContentType;
}

/** Names one object (or, without `name`, its collection) of an API group; the core group is `''`. */
export interface ResourceRef {
  group: string;
  version: string;
  plural: string;
  namespace?: string;
  name?: string;
  subresource?: 'status';
}

/** What client-node sends as Accept with every call; the API server answers JSON. */
export const ACCEPT = 'application/json, */*;q=0.8';

/** The API path of `ref`, each segment URL-encoded as client-node encodes it. */
export function resourcePath(ref: ResourceRef): string {
  const segments = ref.group === '' ? ['api', ref.version] : ['apis', ref.group, ref.version];
  if (ref.namespace !== undefined) segments.push('namespaces', ref.namespace);
  segments.push(ref.plural);
  if (ref.name !== undefined) segments.push(ref.name);
  if (ref.subresource !== undefined) segments.push(ref.subresource);
  return `/${segments.map(encodeURIComponent).join('/')}`;
}

/**
 * Where to send `request` on the API server `server` (a kubeconfig's cluster.server): its origin,
 * and the path after the server's own path prefix (an API server behind a proxy may have one), with
 * the query string.
 */
export function requestTarget(server: string, request: Pick<ApiRequest, 'path' | 'query'>): { origin: string; path: string } {
  const url = new URL(server);
  const prefix = url.pathname.replace(/\/+$/, '');
  const query = request.query && Object.keys(request.query).length > 0 ? `?${new URLSearchParams(request.query).toString()}` : '';
  return { origin: url.origin, path: `${prefix}${request.path}${query}` };
}

/**
 * The headers of `request`: the credentials' headers (Authorization, Impersonate-User, as the
 * KubeConfig applies them), client-node's Accept and User-Agent, and the body's Content-Type.
 */
export function requestHeaders(request: Pick<ApiRequest, 'body' | 'contentType'>, credentials: Record<string, string>, userAgent: string): Record<string, string> {
  const headers: Record<string, string> = { ...credentials, accept: ACCEPT, 'user-agent': userAgent };
  if (request.body !== undefined) {
    if (request.contentType === undefined) throw new Error('an API request with a body needs a content type');
    headers['content-type'] = request.contentType;
  }
  return headers;
}

/** The body text of `request`, or undefined without a body. */
export function requestBody(request: Pick<ApiRequest, 'body'>): string | undefined {
  return request.body === undefined ? undefined : JSON.stringify(request.body);
}

/** Response headers with one string per name (repeated headers joined with ", ", as fetch's Headers joins them). */
export function flatHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}

/**
 * The answer of a successful call: its JSON, or undefined for an empty body. Anything else is an
 * error, never "no object": a create that answered no object would read as refused.
 */
export function successBody(contentType: string | undefined, text: string): unknown {
  if (text === '') return undefined;
  if (!/^application\/([a-z0-9.+-]*\+)?json\s*(;|$)/i.test((contentType ?? '').trim())) throw new Error(`the API server answered ${contentType ?? 'no content type'}, not JSON`);
  return JSON.parse(text);
}

/** Whether an HTTP status is a success (2xx). */
export function isSuccess(status: number): boolean {
  return status >= 200 && status <= 299;
}

/** Creates `body` in the collection `ref`, by `fieldManager` if given (a POST; refused with 409 if the name is taken). */
export function createRequest(ref: ResourceRef, body: unknown, fieldManager?: string): ApiRequest {
  const request: ApiRequest = { method: 'POST', path: resourcePath({ ...ref, name: undefined }), body, contentType: 'application/json' };
  return fieldManager === undefined ? request : { ...request, query: { fieldManager } };
}

/** Server-side applies `body` to `ref` as `fieldManager`; `force` takes fields over from other managers. */
export function applyRequest(ref: ResourceRef, body: unknown, fieldManager: string, force: boolean): ApiRequest {
  return { method: 'PATCH', path: resourcePath(ref), query: { fieldManager, force: String(force) }, body, contentType: 'application/apply-patch+yaml' };
}

/** A JSON merge patch of `ref` (or its status subresource) as `fieldManager`. */
export function mergePatchRequest(ref: ResourceRef, patch: unknown, fieldManager: string): ApiRequest {
  return { method: 'PATCH', path: resourcePath(ref), query: { fieldManager }, body: patch, contentType: 'application/merge-patch+json' };
}

/** Deletes `ref`; with `uid`, only the object of that uid (a precondition: 409 for another). */
export function deleteRequest(ref: ResourceRef, uid?: string): ApiRequest {
  return uid === undefined ? { method: 'DELETE', path: resourcePath(ref) } : { method: 'DELETE', path: resourcePath(ref), body: { preconditions: { uid } }, contentType: 'application/json' };
}
