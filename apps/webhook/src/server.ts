// The webhook's HTTPS admission server on plain node:https (the hot path needs no framework,
// ADR 0004); the ops port is @kaos/kube-runtime's.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { Logger } from '@kaos/kube-runtime';
import { tlsServerOptions } from './tls/server-options.js';
import type { TlsMaterial } from './tls/rotation.js';

/** Connection limits that bound slow-loris and idle clients. */
export const CONNECTION_LIMITS = {
  /** Whole headers must arrive within this time. */
  headersTimeoutMs: 10_000,
  /** A whole request must arrive within this time (the API server gives webhooks at most 30 s). */
  requestTimeoutMs: 30_000,
  /**
   * Idle keep-alive connections close after this time: longer than the API server's own idle timeout
   * (Go's http.Transport default IdleConnTimeout of 90 s, which client-go keeps), so the API server
   * closes an idle connection first. A close from our side can cross a review the API server is
   * sending on that connection, and it does not retry a POST on a broken connection (ADR 0010).
   */
  keepAliveTimeoutMs: 120_000,
} as const;

function applyLimits(server: Server | HttpsServer): void {
  server.headersTimeout = CONNECTION_LIMITS.headersTimeoutMs;
  server.requestTimeout = CONNECTION_LIMITS.requestTimeoutMs;
  server.keepAliveTimeout = CONNECTION_LIMITS.keepAliveTimeoutMs;
}

/** A request handler that serves a request and returns true, or returns false to pass it on. */
export type RouteHandler = (request: IncomingMessage, response: ServerResponse) => boolean;

// JSON with an explicit length: probes and scrapers get one small, non-chunked answer.
function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

/**
 * The HTTPS server the API server calls. Admission paths go straight to `admission`; anything else
 * gets a 404 with a hint.
 */
export function createWebhookServer(tls: Pick<TlsMaterial, 'cert' | 'key'>, admission: RouteHandler): HttpsServer {
  const server = createHttpsServer(tlsServerOptions(tls), (request, response) => {
    if (admission(request, response)) return;
    request.resume();
    sendJson(response, 404, { error: `no such endpoint: ${request.method} ${pathOf(request)}; POST AdmissionReviews to /mutate or /validate` });
  });
  applyLimits(server);
  return server;
}

/** Replaces the serving certificate of a running server: new handshakes use it, open connections continue. */
export function reloadCertificate(server: HttpsServer, tls: Pick<TlsMaterial, 'cert' | 'key'>): void {
  server.setSecureContext(tlsServerOptions(tls));
}

function pathOf(request: IncomingMessage): string {
  const url = request.url ?? '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

// The ops endpoints (/healthz, /readyz, /metrics) are @kaos/kube-runtime's startOpsServers.

/** Listens on `port` (0 picks a free one) at `host`, resolving with the bound port. */
export { listen } from '@kaos/kube-runtime';

/**
 * Graceful stop: refuse new connections, close idle keep-alive ones, let in-flight reviews finish,
 * then force-close whatever is left after `graceMs`.
 */
export async function shutdown(servers: Array<Server | HttpsServer>, logger: Logger, graceMs = 10_000): Promise<void> {
  const closing = servers.map(
    (server) =>
      new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  );
  const deadline = setTimeout(() => {
    logger.warn('shutdown grace period over; closing remaining connections', { graceMs });
    for (const server of servers) server.closeAllConnections();
  }, graceMs);
  deadline.unref();
  await Promise.all(closing);
  clearTimeout(deadline);
}
