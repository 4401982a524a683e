import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import express, { type Express } from 'express';
import type { Logger } from './logger.js';
import type { WebhookMetrics } from './metrics.js';

/** Key and certificate chain, PEM. */
export interface TlsMaterial {
  key: string;
  cert: string;
}

/**
 * TLS settings: TLS 1.2 or newer with forward-secret AEAD ciphers only (TLS 1.3 suites are always
 * on). The API server's Go client negotiates these.
 */
export const TLS_OPTIONS = {
  minVersion: 'TLSv1.2',
  ciphers: [
    'ECDHE-ECDSA-AES128-GCM-SHA256',
    'ECDHE-RSA-AES128-GCM-SHA256',
    'ECDHE-ECDSA-AES256-GCM-SHA384',
    'ECDHE-RSA-AES256-GCM-SHA384',
    'ECDHE-ECDSA-CHACHA20-POLY1305',
    'ECDHE-RSA-CHACHA20-POLY1305',
  ].join(':'),
  honorCipherOrder: true,
} as const;

/** Connection limits that bound slow-loris and idle clients. */
export const CONNECTION_LIMITS = {
  /** Whole headers must arrive within this time. */
  headersTimeoutMs: 10_000,
  /** A whole request must arrive within this time (the API server gives webhooks at most 30 s). */
  requestTimeoutMs: 30_000,
  /** Idle keep-alive connections close after this time. */
  keepAliveTimeoutMs: 60_000,
  /** Requests served on one connection before it is closed. */
  maxRequestsPerSocket: 0,
} as const;

function applyLimits(server: Server | HttpsServer): void {
  server.headersTimeout = CONNECTION_LIMITS.headersTimeoutMs;
  server.requestTimeout = CONNECTION_LIMITS.requestTimeoutMs;
  server.keepAliveTimeout = CONNECTION_LIMITS.keepAliveTimeoutMs;
  server.maxRequestsPerSocket = CONNECTION_LIMITS.maxRequestsPerSocket;
}

/** A request handler that serves a request and returns true, or returns false to pass it on. */
export type RouteHandler = (request: IncomingMessage, response: ServerResponse) => boolean;

/**
 * The HTTPS server the API server calls. Admission paths go straight to `admission`; anything else
 * reaches a small express app that answers 404 with a hint.
 */
export function createWebhookServer(tls: TlsMaterial, admission: RouteHandler): HttpsServer {
  const fallback = express();
  fallback.disable('x-powered-by');
  fallback.disable('etag');
  fallback.use((request, response) => {
    response.status(404).json({ error: `no such endpoint: ${request.method} ${request.path}; POST AdmissionReviews to /mutate or /validate` });
  });
  const server = createHttpsServer({ ...TLS_OPTIONS, key: tls.key, cert: tls.cert }, (request, response) => {
    if (!admission(request, response)) fallback(request, response);
  });
  applyLimits(server);
  return server;
}

/** Replaces the serving certificate of a running server: new handshakes use it, open connections continue. */
export function reloadCertificate(server: HttpsServer, tls: TlsMaterial): void {
  server.setSecureContext({ ...TLS_OPTIONS, key: tls.key, cert: tls.cert });
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
