import { request as httpRequest, type Server } from 'node:http';
import { request as httpsRequest, type Server as HttpsServer } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createMetrics } from './metrics.js';
import { expressOpsDispatcher } from './ops-express.js';
import { OPS_CONNECTION_LIMITS, createHealthServer } from '@kaos/kube-runtime';
import { CONNECTION_LIMITS, createWebhookServer, listen } from './server.js';
import { ca, days, leaf } from './tls/tls.test-helpers.js';

// Both servers on loopback: the ops endpoints as probes and Prometheus see them, and the HTTPS
// server's answer for anything that is not an admission path.
let ready = false;
let ops: Server;
let opsPort: number;
let webhook: HttpsServer;
let webhookPort: number;
let caPem: string;

beforeAll(async () => {
  const metrics = createMetrics(false);
  metrics.admissions.inc({ webhook: 'mutate', kind: 'Agent', operation: 'CREATE', result: 'patched' });
  // The ops server as main.ts starts it with METRICS_SECURE=false, on express (the secure one is tested in libs/kube-runtime).
  ops = createHealthServer({ readiness: () => ({ checks: { certificateLoaded: true, serving: ready } }), metrics: metrics.registry, serveMetrics: true }, expressOpsDispatcher);
  opsPort = await listen(ops, 0, '127.0.0.1');

  const wall = new Date();
  const root = await ca(days(-1, wall), days(30, wall), 'server-test-ca');
  const serving = await leaf(root, days(-1, wall), days(30, wall), { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  caPem = root.certificatePem;
  webhook = createWebhookServer({ cert: serving.certificatePem, key: serving.privateKeyPem }, (request, response) => {
    if (request.url !== '/mutate') return false;
    response.end('admission');
    return true;
  });
  webhookPort = await listen(webhook, 0, '127.0.0.1');
});

afterAll(async () => {
  for (const server of [ops, webhook]) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(path: string, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: opsPort, path, method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('ops endpoints', () => {
  it.each([
    { path: '/healthz', status: 200, body: { status: 'ok' } },
    { path: '/healthz?verbose=1', status: 200, body: { status: 'ok' } },
    { path: '/nope', status: 404, body: { error: 'no such endpoint: /nope; try /healthz, /readyz, /metrics' } },
  ])('GET $path answers $status', async ({ path, status, body }) => {
    const answer = await get(path);
    expect(answer.status).toBe(status);
    expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(JSON.parse(answer.body)).toEqual(body);
  });

  it('/readyz is 503 until every check passes, with the checks', async () => {
    ready = false;
    const before = await get('/readyz');
    ready = true;
    const after = await get('/readyz');
    expect([before.status, JSON.parse(before.body)]).toEqual([503, { status: 'not ready', checks: { certificateLoaded: true, serving: false } }]);
    expect([after.status, JSON.parse(after.body)]).toEqual([200, { status: 'ready', checks: { certificateLoaded: true, serving: true } }]);
  });

  it('/metrics is the Prometheus text format with the webhook counters', async () => {
    const answer = await get('/metrics');
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(answer.body).toContain('kaos_webhook_admissions_total{webhook="mutate",kind="Agent",operation="CREATE",result="patched"} 1');
  });

  it.each(['POST', 'DELETE'])('%s is refused with 405 and Allow', async (method) => {
    const answer = await get('/healthz', method);
    expect(answer.status).toBe(405);
    expect(answer.headers.allow).toBe('GET, HEAD');
  });

  it('HEAD answers without a body', async () => {
    const answer = await get('/healthz', 'HEAD');
    expect([answer.status, answer.body]).toEqual([200, '']);
  });

  it('bounds slow and idle clients', () => {
    expect([ops.headersTimeout, ops.requestTimeout, ops.keepAliveTimeout]).toEqual([
      OPS_CONNECTION_LIMITS.headersTimeoutMs,
      OPS_CONNECTION_LIMITS.requestTimeoutMs,
      OPS_CONNECTION_LIMITS.keepAliveTimeoutMs,
    ]);
  });

  it('keeps idle connections open longer than the API server does (Go IdleConnTimeout 90 s), so the API server closes them first', () => {
    expect(webhook.keepAliveTimeout).toBe(CONNECTION_LIMITS.keepAliveTimeoutMs);
    expect(CONNECTION_LIMITS.keepAliveTimeoutMs).toBeGreaterThan(90_000);
  });
});

describe('admission server', () => {
  function call(path: string, method: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port: webhookPort, path, method, ca: caPem }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it.each([
    { path: '/mutate', method: 'POST', status: 200, body: 'admission' },
    { path: '/', method: 'GET', status: 404, body: JSON.stringify({ error: 'no such endpoint: GET /; POST AdmissionReviews to /mutate or /validate' }) },
    { path: '/other?x=1', method: 'POST', status: 404, body: JSON.stringify({ error: 'no such endpoint: POST /other; POST AdmissionReviews to /mutate or /validate' }) },
  ])('$method $path answers $status', async ({ path, method, status, body }) => {
    expect(await call(path, method)).toEqual({ status, body });
  });
});
