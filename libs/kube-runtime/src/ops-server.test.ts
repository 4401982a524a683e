import { afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { request as httpsRequest } from 'node:https';
import type { Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { ConfigError } from '@kaos/routing';
import { silentLogger } from './logger.js';
import { createRequestAuthorizer, type DelegatedAuthApi } from './metrics-auth.js';
import { selfSignedCertificate, type ServingCertificate } from './self-signed.js';
import { createHealthServer, listen, loadMetricsConfig, startOpsServers, type ReadinessReport } from './ops-server.js';

const metrics = { contentType: 'text/plain; version=0.0.4; charset=utf-8', metrics: async () => '# HELP up 1\nup 1\n' };
const failingMetrics = { contentType: 'text/plain', metrics: async () => Promise.reject(new Error('collector broke')) };
const open: Array<Server | HttpsServer> = [];

afterEach(async () => {
  await Promise.all(
    open.splice(0).map(
      (server) =>
        new Promise((resolve) => {
          server.close(resolve);
          server.closeAllConnections();
        }),
    ),
  );
});

async function health(readiness: () => ReadinessReport, serveMetrics: boolean, source = metrics) {
  const server = createHealthServer({ readiness, metrics: source, serveMetrics });
  open.push(server);
  const port = await listen(server, 0, '127.0.0.1');
  return async (path: string, method = 'GET') => {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, { method });
    return { status: response.status, type: response.headers.get('content-type'), allow: response.headers.get('allow'), body: await response.text() };
  };
}

const ready = () => ({ checks: { cachesSynced: true } });

describe('the health server', () => {
  it.each([
    ['/healthz', 'GET', 200, { status: 'ok' }],
    ['/healthz?verbose', 'GET', 200, { status: 'ok' }],
    ['/readyz', 'GET', 200, { status: 'ready', checks: { cachesSynced: true } }],
    ['/metrics', 'GET', 404, { error: 'no such endpoint: /metrics; try /healthz, /readyz (/metrics is served over HTTPS on METRICS_PORT with a bearer token)' }],
    ['/nope', 'GET', 404, { error: 'no such endpoint: /nope; try /healthz, /readyz' }],
    ['/healthz', 'POST', 405, { error: 'POST not allowed on /healthz' }],
    ['/readyz', 'PUT', 405, { error: 'PUT not allowed on /readyz' }],
    ['/healthz/', 'GET', 404, { error: 'no such endpoint: /healthz/; try /healthz, /readyz' }],
    ['/Healthz', 'GET', 404, { error: 'no such endpoint: /Healthz; try /healthz, /readyz' }],
  ] as const)('with secure metrics answers %s %s with %d', async (path, method, status, body) => {
    const get = await health(ready, false);
    const response = await get(path, method);
    expect(response.status).toBe(status);
    expect(JSON.parse(response.body)).toEqual(body);
    expect(response.type).toBe('application/json; charset=utf-8');
    if (status === 405) expect(response.allow).toBe('GET, HEAD');
  });

  it.each([
    ['all checks true, with details', { checks: { cachesSynced: true }, detail: { leader: true, crds: { compatible: true } } }, 200, { status: 'ready', checks: { cachesSynced: true }, leader: true, crds: { compatible: true } }],
    ['one check false', { checks: { certificateLoaded: true, serving: false } }, 503, { status: 'not ready', checks: { certificateLoaded: true, serving: false } }],
    ['no checks', { checks: {} }, 200, { status: 'ready', checks: {} }],
  ])('reports readiness with %s', async (_name, report, status, body) => {
    const get = await health(() => report, false);
    const response = await get('/readyz');
    expect(response.status).toBe(status);
    expect(JSON.parse(response.body)).toEqual(body);
  });

  it('answers HEAD with the GET headers and no body', async () => {
    const get = await health(ready, false);
    const response = await get('/readyz', 'HEAD');
    expect([response.status, response.type, response.body]).toEqual([200, 'application/json; charset=utf-8', '']);
  });

  it('answers 500 in JSON when readiness throws, and keeps serving', async () => {
    let broken = true;
    const get = await health(() => {
      if (broken) throw new Error('state unavailable');
      return { checks: { cachesSynced: true } };
    }, false);
    const failed = await get('/readyz');
    expect([failed.status, JSON.parse(failed.body)]).toEqual([500, { error: 'internal error: state unavailable' }]);
    broken = false;
    expect((await get('/readyz')).status).toBe(200);
  });

  it.each([
    [metrics, 200, '# HELP up 1\nup 1\n'],
    [failingMetrics, 500, '{"error":"internal error: collector broke"}'],
  ])('serves /metrics over plain HTTP when METRICS_SECURE=false (%#)', async (source, status, body) => {
    const get = await health(ready, true, source);
    const response = await get('/metrics');
    expect(response.status).toBe(status);
    expect(response.body).toBe(body);
  });
});

describe('loadMetricsConfig', () => {
  it.each([
    [{}, { secure: true, port: 8443 }],
    [{ METRICS_SECURE: 'false', METRICS_PORT: '9090' }, { secure: false, port: 9090 }],
    [{ METRICS_SECURE: 'true' }, { secure: true, port: 8443 }],
  ])('reads %j', (env, config) => {
    expect(loadMetricsConfig(env)).toEqual(config);
  });

  it.each([[{ METRICS_SECURE: 'maybe' }], [{ METRICS_PORT: '0' }], [{ METRICS_PORT: 'http' }]])('rejects %j', (env) => {
    expect(() => loadMetricsConfig(env)).toThrow(ConfigError);
  });
});

/** GET over HTTPS without verifying the self-signed certificate, as a scraper with insecure_skip_verify. */
function getTls(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path, method, headers, rejectUnauthorized: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString(), headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('startOpsServers', () => {
  const api: DelegatedAuthApi = {
    tokenReview: async (token) => (token === 'forged' ? { authenticated: false } : { authenticated: true, user: { username: token } }),
    subjectAccessReview: async ({ user }) => ({ allowed: user.username === 'reader' }),
  };
  // One key for the suite: RSA generation is slow on a busy machine.
  let serving: ServingCertificate;
  beforeAll(async () => {
    serving = await selfSignedCertificate('kaos-metrics', ['localhost']);
  }, 60_000);
  const certificate = async () => serving;

  it.each([
    ['no token', {}, 401, 'Unauthorized'],
    ['an invalid token', { authorization: 'Bearer forged' }, 401, 'Unauthorized'],
    ['a token without the reader role', { authorization: 'Bearer nobody' }, 403, 'Authorization denied for user nobody'],
    ['a token with the reader role', { authorization: 'Bearer reader' }, 200, 'up 1'],
  ])('secure: /metrics over HTTPS with %s answers %s', async (_name, headers, status, body) => {
    const ops = await startOpsServers({ healthPort: 0, bindAddress: '127.0.0.1', metricsConfig: { secure: true, port: 0 }, readiness: ready, metrics, certificate, authorizer: createRequestAuthorizer({ api }), logger: silentLogger() });
    open.push(...ops.servers);
    const response = await getTls(ops.metricsPort!, '/metrics', headers);
    expect(response.status).toBe(status);
    expect(response.body).toContain(body);
    if (status === 401) expect(response.headers['www-authenticate']).toBe('Bearer');
    // The probes stay plain HTTP without a token.
    expect((await fetch(`http://127.0.0.1:${ops.healthPort}/healthz`)).status).toBe(200);
  });

  it.each([
    ['/other', 'GET', 404],
    ['/metrics', 'POST', 405],
  ])('secure: %s %s answers %d', async (path, method, status) => {
    const ops = await startOpsServers({ healthPort: 0, bindAddress: '127.0.0.1', metricsConfig: { secure: true, port: 0 }, readiness: ready, metrics, certificate, authorizer: createRequestAuthorizer({ api }), logger: silentLogger() });
    open.push(...ops.servers);
    expect((await getTls(ops.metricsPort!, path, { authorization: 'Bearer reader' }, method)).status).toBe(status);
  });

  it('answers 500 and logs when the API cannot be asked', async () => {
    const errors: string[] = [];
    const logger = Object.assign(silentLogger(), { error: (message: string) => errors.push(message) }) as unknown as ReturnType<typeof silentLogger>;
    const broken: DelegatedAuthApi = { tokenReview: async () => Promise.reject(new Error('down')), subjectAccessReview: async () => ({ allowed: true }) };
    const ops = await startOpsServers({ healthPort: 0, bindAddress: '127.0.0.1', metricsConfig: { secure: true, port: 0 }, readiness: ready, metrics, certificate, authorizer: createRequestAuthorizer({ api: broken }), logger });
    open.push(...ops.servers);
    expect((await getTls(ops.metricsPort!, '/metrics', { authorization: 'Bearer reader' })).status).toBe(500);
    expect(errors).toEqual(['metrics request not authorized: API call failed']);
  });

  it('insecure: one plain-HTTP server with /metrics, no HTTPS port', async () => {
    const ops = await startOpsServers({ healthPort: 0, bindAddress: '127.0.0.1', metricsConfig: { secure: false, port: 0 }, readiness: ready, metrics, logger: silentLogger() });
    open.push(...ops.servers);
    expect(ops.metricsPort).toBeUndefined();
    expect(ops.servers).toHaveLength(1);
    expect(await (await fetch(`http://127.0.0.1:${ops.healthPort}/metrics`)).text()).toContain('up 1');
  });

  it('refuses secure metrics without an authorizer', async () => {
    const promise = startOpsServers({ healthPort: 0, bindAddress: '127.0.0.1', metricsConfig: { secure: true, port: 0 }, readiness: ready, metrics, logger: silentLogger() });
    await expect(promise).rejects.toThrow('secure metrics need an authorizer');
    // Refused before anything listens: no server is left open (jest would never exit).
  });
});
