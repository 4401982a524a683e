// HTTP status of a failed Kubernetes API call, so adapters can react to 404/409/422 without
// depending on how the client wraps them. Recognised by shape, not class: client-node's
// ApiException and kube-rest's KubernetesApiError both carry a numeric `code` and the `body`, and
// importing ApiException would load all of client-node (ADR 0008).

interface ApiError extends Error {
  code: number;
  body: unknown;
}

function isApiError(error: unknown): error is ApiError {
  // Node's system errors also have `code`, but as a string ('ECONNREFUSED').
  return error instanceof Error && typeof (error as Partial<ApiError>).code === 'number' && 'body' in error;
}

/** The HTTP status code of a Kubernetes API error, or undefined for other failures (network, bugs). */
export function apiStatus(error: unknown): number | undefined {
  return isApiError(error) ? error.code : undefined;
}

/** A short human description of any thrown value, for structured log fields. */
export function describeError(error: unknown): string {
  if (isApiError(error)) {
    const message = statusMessage(error.body);
    return `HTTP ${error.code}${message === undefined ? '' : `: ${message}`}`;
  }
  return error instanceof Error ? error.message : String(error);
}

// The API server answers errors with a Status object (sometimes still a JSON string); its message is the useful part.
function statusMessage(body: unknown): string | undefined {
  let parsed = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return body.slice(0, 200); // not JSON: show the start of whatever the server said
    }
  }
  const message = parsed !== null && typeof parsed === 'object' ? (parsed as { message?: unknown }).message : undefined;
  return typeof message === 'string' ? message : undefined;
}
