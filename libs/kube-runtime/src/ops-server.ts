// The ops endpoints of both apps, as controller-runtime splits them: /healthz and /readyz on a
// plain-HTTP port for the kubelet's probes, and /metrics on its own HTTPS port behind a TokenReview
// and a SubjectAccessReview (metrics-auth.ts). With METRICS_SECURE=false, /metrics is served on
// the health port over plain HTTP without authentication instead.
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import express, { type Express, type Request, type Response } from 'express';
import { ConfigError, envBoolean, envWholeNumber, type Environment } from '@kaos/routing';
import type { FieldProblem } from '@kaos/api-types';
import type { Logger } from './logger.js';
import type { RequestAuthorizer } from './metrics-auth.js';
import { selfSignedCertificate } from './self-signed.js';

/** Where /metrics is served. */
export interface MetricsConfig {
  /** `METRICS_SECURE` (true): HTTPS with TokenReview/SubjectAccessReview on `port`; false: plain HTTP on the health port. */
  secure: boolean;
  /** `METRICS_PORT` (8443): HTTPS port of /metrics when secure. */
  port: number;
}

/** Reads METRICS_SECURE and METRICS_PORT; throws ConfigError naming every bad variable. */
export function loadMetricsConfig(env: Environment): MetricsConfig {
  const problems: FieldProblem[] = [];
  const secure = envBoolean(env, 'METRICS_SECURE', true, problems);
  const port = envWholeNumber(env, 'METRICS_PORT', 8443, 1, 65535, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return { secure, port };
}

/** What /readyz reports: named checks (ready when all are true) and details shown beside them. */
export interface ReadinessReport {
  checks: Record<string, boolean>;
  /** Extra top-level fields of the body (the controller's `leader`, `crds`); never affect the status. */
  detail?: Record<string, unknown>;
}

/** A metrics registry (prom-client's Registry fits). */
export interface MetricsSource {
  contentType: string;
  metrics(): Promise<string>;
}

/** Connection limits that bound slow-loris and idle clients on the ops ports. */
export const OPS_CONNECTION_LIMITS = { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 120_000 } as const;

function applyLimits(server: Server | HttpsServer): void {
  server.headersTimeout = OPS_CONNECTION_LIMITS.headersTimeoutMs;
  server.requestTimeout = OPS_CONNECTION_LIMITS.requestTimeoutMs;
  server.keepAliveTimeout = OPS_CONNECTION_LIMITS.keepAliveTimeoutMs;
}

// JSON with an explicit length: probes and scrapers get one small, non-chunked answer.
function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  response.end(text);
}

function pathOf(request: IncomingMessage): string {
  const url = request.url ?? '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

async function sendMetrics(response: ServerResponse, source: MetricsSource): Promise<void> {
  try {
    const text = await source.metrics();
    response.writeHead(200, { 'content-type': source.contentType, 'content-length': Buffer.byteLength(text) });
    response.end(text);
  } catch (error) {
    // A failing collector must answer, not leave the scrape hanging.
    sendJson(response, 500, { error: `internal error: ${(error as Error).message}` });
  }
}

/** Options of the ops request handlers. */
export interface OpsHandlerOptions {
  readiness(): ReadinessReport;
  metrics: MetricsSource;
  /** Serve /metrics on this (health) handler: METRICS_SECURE=false. */
  serveMetrics: boolean;
}

/** Express, as the project's HTTP framework, with what a probe or scraper does not need turned off. */
function opsApp(): Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('query parser', false);
  return app;
}

/** 405 for other methods on a known path (express answers HEAD through the GET route), 404 elsewhere. */
function finish(app: Express, paths: readonly string[], notFound: (path: string) => string): Express {
  app.all(paths as string[], (request: Request, response: Response) => {
    request.resume();
    sendJson(response, 405, { error: `${request.method} not allowed on ${pathOf(request)}` }, { allow: 'GET, HEAD' });
  });
  app.use((request: Request, response: Response) => {
    const path = pathOf(request);
    sendJson(response, 404, { error: notFound(path) });
  });
  return app;
}

/**
 * The plain-HTTP handler (an express app): /healthz, /readyz (200 `{status:'ready',checks,...detail}`
 * or 503 `not ready`) and, when `serveMetrics`, /metrics. GET and HEAD only (others 405), else 404.
 */
export function healthHandler(options: OpsHandlerOptions): (request: IncomingMessage, response: ServerResponse) => void {
  const paths = options.serveMetrics ? ['/healthz', '/readyz', '/metrics'] : ['/healthz', '/readyz'];
  const app = opsApp();
  app.get('/healthz', (_request: Request, response: Response) => sendJson(response, 200, { status: 'ok' }));
  app.get('/readyz', (_request: Request, response: Response) => {
    const { checks, detail } = options.readiness();
    const ready = Object.values(checks).every(Boolean);
    sendJson(response, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', checks, ...detail });
  });
  if (options.serveMetrics) app.get('/metrics', (_request: Request, response: Response) => void sendMetrics(response, options.metrics));
  return finish(app, paths, (path) => {
    const hint = !options.serveMetrics && path === '/metrics' ? ' (/metrics is served over HTTPS on METRICS_PORT with a bearer token)' : '';
    return `no such endpoint: ${path}; try ${paths.join(', ')}${hint}`;
  });
}

/** The HTTPS /metrics handler (an express app): every request authenticated and authorized (401/403/500 in plain text, as controller-runtime). */
export function secureMetricsHandler(metrics: MetricsSource, authorizer: RequestAuthorizer, logger?: Logger): (request: IncomingMessage, response: ServerResponse) => void {
  const app = opsApp();
  app.get('/metrics', (request: Request, response: Response) => {
    void authorizer.authorize(request.headers.authorization, request.method, '/metrics').then((decision) => {
      if (decision.status === 200) return sendMetrics(response, metrics);
      if (decision.status === 500) logger?.error('metrics request not authorized: API call failed', { error: decision.message });
      else logger?.debug('metrics request refused', { status: decision.status, reason: decision.message });
      const text = `${decision.message}\n`;
      response.writeHead(decision.status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text), ...(decision.status === 401 ? { 'www-authenticate': 'Bearer' } : {}) });
      response.end(text);
    });
  });
  return finish(app, ['/metrics'], (path) => `no such endpoint: ${path}; try /metrics`);
}

/** Creates the plain-HTTP health server (not listening yet). */
export function createHealthServer(options: OpsHandlerOptions): Server {
  const server = createHttpServer(healthHandler(options));
  applyLimits(server);
  return server;
}

/** Creates the HTTPS metrics server (not listening yet) with the given serving certificate. */
export function createSecureMetricsServer(tls: { cert: string; key: string }, metrics: MetricsSource, authorizer: RequestAuthorizer, logger?: Logger): HttpsServer {
  const server = createHttpsServer({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' }, secureMetricsHandler(metrics, authorizer, logger));
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

/** Options of startOpsServers. */
export interface StartOpsOptions extends Omit<OpsHandlerOptions, 'serveMetrics'> {
  healthPort: number;
  bindAddress?: string | undefined;
  metricsConfig: MetricsConfig;
  /** Authorizes /metrics requests; required when metricsConfig.secure. */
  authorizer?: RequestAuthorizer;
  /** The HTTPS certificate of /metrics; default a self-signed one generated now (localhost, the host name). */
  certificate?: () => Promise<{ cert: string; key: string }>;
  logger: Logger;
}

/** The running ops servers. */
export interface OpsServers {
  healthPort: number;
  /** HTTPS port of /metrics, when METRICS_SECURE. */
  metricsPort?: number;
  servers: Array<Server | HttpsServer>;
}

/** Starts the health server, and the HTTPS metrics server when secure; logs where each listens. */
export async function startOpsServers(options: StartOpsOptions): Promise<OpsServers> {
  const { metricsConfig, logger } = options;
  // Checked before anything listens, so a refusal leaves no server behind.
  if (metricsConfig.secure && !options.authorizer) throw new Error('secure metrics need an authorizer');
  const health = createHealthServer({ readiness: options.readiness, metrics: options.metrics, serveMetrics: !metricsConfig.secure });
  const healthPort = await listen(health, options.healthPort, options.bindAddress);
  logger.info('health endpoints listening', { port: healthPort, paths: metricsConfig.secure ? ['/healthz', '/readyz'] : ['/healthz', '/readyz', '/metrics'] });
  if (!metricsConfig.secure) {
    logger.warn('METRICS_SECURE=false: /metrics is served over plain HTTP without authentication', { port: healthPort });
    return { healthPort, servers: [health] };
  }
  const tls = await (options.certificate ?? (() => selfSignedCertificate('kaos-metrics', ['localhost', hostname()])))();
  const metricsServer = createSecureMetricsServer(tls, options.metrics, options.authorizer!, logger);
  const metricsPort = await listen(metricsServer, metricsConfig.port, options.bindAddress);
  logger.info('metrics endpoint listening over HTTPS with TokenReview/SubjectAccessReview', { port: metricsPort, path: '/metrics' });
  return { healthPort, metricsPort, servers: [health, metricsServer] };
}
