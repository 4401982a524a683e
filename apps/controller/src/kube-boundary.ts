// Where client-node's types meet ours, for every file that calls the API server: the one cast of
// custom objects, and the HTTP status of a failed call.
import { ApiException, type KubernetesObject } from '@kubernetes/client-node';

/** The Gateway API version the controller reads and writes. */
export const GATEWAY_VERSION = 'v1';

/**
 * Custom objects arrive as plain JSON (timestamps are strings), which our types describe; client-node
 * types metadata with Date fields. The cast happens here, at the boundary, and nowhere else.
 */
export function typed<T>(object: KubernetesObject | undefined): T | undefined {
  return object as unknown as T | undefined;
}

/** The HTTP status of a failed API call; undefined when it failed before an answer (a network error). */
export function apiStatus(error: unknown): number | undefined {
  return error instanceof ApiException ? error.code : undefined;
}
