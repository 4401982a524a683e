import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import express, { type Express } from 'express';
import type { Logger } from './logger.js';
import { tlsServerOptions } from './tls/server-options.js';
import type { TlsMaterial } from './tls/rotation.js';
import type { WebhookMetrics } from './metrics.js';

/** Connection limits that bound slow-loris and idle clients. */
export const CONNECTION_LIMITS = {
  /** Whole headers must arrive within this time. */
  headersTimeoutMs: 10_000,
  /** A whole request must arrive within this time (the API server gives webhooks at most 30 s). */
  requestTimeoutMs: 30_000,
  /** Idle keep-alive connections close after this time. */
  keepAliveTimeoutMs: 60_000,
} as const;

function applyLimits(server: Server | HttpsServer): void {
  server.headersTimeout = CONNECTION_LIMITS.headersTimeoutMs;
  server.requestTimeout = CONNECTION_LIMITS.requestTimeoutMs;
  server.keepAliveTimeout = CONNECTION_LIMITS.keepAliveTimeoutMs;
}

/** A request handler that serves a request and returns true, or returns false to pass it on. */
export type RouteHandler = (request: IncomingMessage, response: ServerResponse) => boolean;

/**
 * The HTTPS server the API server calls. Admission paths go straight to `admission`; anything else
 * reaches a small express app that answers 404 with a hint.
 */
export function createWebhookServer(tls: Pick<TlsMaterial, 'cert' | 'key'>, admission: RouteHandler): HttpsServer {
  const fallback = express();
  fallback.disable('x-powered-by');
  fallback.disable('etag');
  fallback.use((request, response) => {
    response.status(404).json({ error: `no such endpoint: ${request.method} ${request.path}; POST AdmissionReviews to /mutate or /validate` });
  });
  const server = createHttpsServer(tlsServerOptions(tls), (request, response) => {
    if (!admission(request, response)) fallback(request, response);
  });
  applyLimits(server);
  return server;
}

/** Replaces the serving certificate of a running server: new handshakes use it, open connections continue. */
export function reloadCertificate(server: HttpsServer, tls: Pick<TlsMaterial, 'cert' | 'key'>): void {
  server.setSecureContext(tlsServerOptions(tls));
}

/** What /readyz reports on. */
export interface Readiness {
  /** Named checks; ready when all are true. */
  checks(): Record<string, boolean>;
}

/** Operations endpoints on their own plain-HTTP port: /healthz, /readyz and /metrics. */
export function createOpsApp(readiness: Readiness, metrics: WebhookMetrics): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_request, response) => {
    response.json({ status: 'ok' });
  });
  app.get('/readyz', (_request, response) => {
    const checks = readiness.checks();
    const ready = Object.values(checks).every(Boolean);
    response.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', checks });
  });
  app.get('/metrics', async (_request, response, next) => {
    try {
      response.type(metrics.registry.contentType).send(await metrics.registry.metrics());
    } catch (error) {
      next(error);
    }
  });
  return app;
}

/** Starts the ops app on a plain HTTP server. */
export function createOpsServer(app: Express): Server {
  const server = createHttpServer(app);
  applyLimits(server);
  return server;
}

/** Listens on `port` (0 picks a free one) at `host`, resolving with the bound port. */
export function listen(server: Server | HttpsServer, port: number, host?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

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
