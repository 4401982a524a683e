// The ops endpoints of both apps, as controller-runtime splits them: /healthz and /readyz on a
// plain-HTTP port for the kubelet's probes, and /metrics on its own HTTPS port behind a TokenReview
// and a SubjectAccessReview (metrics-auth.ts). With METRICS_SECURE=false, /metrics is served on
// the health port over plain HTTP without authentication instead. Routes are tables of exact paths;
// a dispatcher serves them (plainOpsDispatcher here, express in the webhook).
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
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

/** One ops endpoint: answers a GET of its path (a HEAD gets the same headers without the body, as node:http sends it). */
export type OpsEndpoint = (request: IncomingMessage, response: ServerResponse) => void;

/** The endpoints of one ops port by exact path, and the 404 text for any other path. */
export interface OpsRoutes {
  endpoints: ReadonlyMap<string, OpsEndpoint>;
  notFound(path: string): string;
}

/** Turns the routes of a port into its request listener. */
export type OpsDispatcher = (routes: OpsRoutes) => (request: IncomingMessage, response: ServerResponse) => void;

/** The answer to another method on a known path. */
export function sendMethodNotAllowed(request: IncomingMessage, response: ServerResponse): void {
  request.resume();
  sendJson(response, 405, { error: `${request.method} not allowed on ${pathOf(request)}` }, { allow: 'GET, HEAD' });
}

/** The answer to an unknown path. */
export function sendNotFound(routes: OpsRoutes, request: IncomingMessage, response: ServerResponse): void {
  request.resume();
  sendJson(response, 404, { error: routes.notFound(pathOf(request)) });
}

/** The answer when an endpoint throws: JSON, like every other answer of the port. */
export function sendEndpointError(response: ServerResponse, error: unknown): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  sendJson(response, 500, { error: `internal error: ${(error as Error).message}` });
}

/**
 * The ops ports' dispatcher without a framework: exact paths, GET and HEAD (others 405 with
 * `Allow`), 404 elsewhere. The controller serves its three paths with it rather than with express
 * (+14 MB of RSS in the controller's bundle, ADR 0023); the webhook keeps express (ops-express.ts).
 */
export const plainOpsDispatcher: OpsDispatcher = (routes) => (request, response) => {
  const endpoint = routes.endpoints.get(pathOf(request));
  if (!endpoint) return sendNotFound(routes, request, response);
  if (request.method !== 'GET' && request.method !== 'HEAD') return sendMethodNotAllowed(request, response);
  try {
    endpoint(request, response);
  } catch (error) {
    sendEndpointError(response, error);
  }
};

/**
 * The plain-HTTP routes: /healthz, /readyz (200 `{status:'ready',checks,...detail}` or 503
 * `not ready`) and, when `serveMetrics`, /metrics.
 */
export function healthRoutes(options: OpsHandlerOptions): OpsRoutes {
  const endpoints = new Map<string, OpsEndpoint>([
    ['/healthz', (_request, response) => sendJson(response, 200, { status: 'ok' })],
    [
      '/readyz',
      (_request, response) => {
        const { checks, detail } = options.readiness();
        const ready = Object.values(checks).every(Boolean);
        sendJson(response, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', checks, ...detail });
      },
    ],
  ]);
  if (options.serveMetrics) endpoints.set('/metrics', (_request, response) => void sendMetrics(response, options.metrics));
  const paths = [...endpoints.keys()];
  return {
    endpoints,
    notFound: (path) => {
      const hint = !options.serveMetrics && path === '/metrics' ? ' (/metrics is served over HTTPS on METRICS_PORT with a bearer token)' : '';
      return `no such endpoint: ${path}; try ${paths.join(', ')}${hint}`;
    },
  };
}

/** The HTTPS /metrics route: every request authenticated and authorized (401/403/500 in plain text, as controller-runtime). */
export function secureMetricsRoutes(metrics: MetricsSource, authorizer: RequestAuthorizer, logger?: Logger): OpsRoutes {
  const serveMetrics: OpsEndpoint = (request, response) => {
    void authorizer.authorize(request.headers.authorization, request.method ?? 'GET', '/metrics').then((decision) => {
      if (decision.status === 200) return sendMetrics(response, metrics);
      if (decision.status === 500) logger?.error('metrics request not authorized: API call failed', { error: decision.message });
      else logger?.debug('metrics request refused', { status: decision.status, reason: decision.message });
      const text = `${decision.message}\n`;
      response.writeHead(decision.status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text), ...(decision.status === 401 ? { 'www-authenticate': 'Bearer' } : {}) });
      response.end(text);
    });
  };
  return { endpoints: new Map([['/metrics', serveMetrics]]), notFound: (path) => `no such endpoint: ${path}; try /metrics` };
}

/** Creates the plain-HTTP health server (not listening yet). */
export function createHealthServer(options: OpsHandlerOptions, dispatcher: OpsDispatcher = plainOpsDispatcher): Server {
  const server = createHttpServer(dispatcher(healthRoutes(options)));
  applyLimits(server);
  return server;
}

/** Creates the HTTPS metrics server (not listening yet) with the given serving certificate. */
export function createSecureMetricsServer(tls: { cert: string; key: string }, metrics: MetricsSource, authorizer: RequestAuthorizer, logger?: Logger, dispatcher: OpsDispatcher = plainOpsDispatcher): HttpsServer {
  const server = createHttpsServer({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' }, dispatcher(secureMetricsRoutes(metrics, authorizer, logger)));
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
  /** Serves the routes of both ports; default plainOpsDispatcher. */
  dispatcher?: OpsDispatcher;
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
  const health = createHealthServer({ readiness: options.readiness, metrics: options.metrics, serveMetrics: !metricsConfig.secure }, options.dispatcher);
  const healthPort = await listen(health, options.healthPort, options.bindAddress);
  logger.info('health endpoints listening', { port: healthPort, paths: metricsConfig.secure ? ['/healthz', '/readyz'] : ['/healthz', '/readyz', '/metrics'] });
  if (!metricsConfig.secure) {
    logger.warn('METRICS_SECURE=false: /metrics is served over plain HTTP without authentication', { port: healthPort });
    return { healthPort, servers: [health] };
  }
  const tls = await (options.certificate ?? (() => selfSignedCertificate('kaos-metrics', ['localhost', hostname()])))();
  const metricsServer = createSecureMetricsServer(tls, options.metrics, options.authorizer!, logger, options.dispatcher);
  const metricsPort = await listen(metricsServer, metricsConfig.port, options.bindAddress);
  logger.info('metrics endpoint listening over HTTPS with TokenReview/SubjectAccessReview', { port: metricsPort, path: '/metrics' });
  return { healthPort, metricsPort, servers: [health, metricsServer] };
}
