import { request as httpRequest, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHealthServer, listen, plainOpsDispatcher, type OpsDispatcher, type ReadinessReport } from '@kaos/kube-runtime';
import { expressOpsDispatcher } from './ops-express.js';

// The webhook serves its ops ports with express, the controller with kube-runtime's plain
// dispatcher: the same routes must get the same answers from both.
let readiness: () => ReadinessReport = () => ({ checks: { serving: true } });
const metrics = { contentType: 'text/plain; version=0.0.4; charset=utf-8', metrics: async () => 'up 1\n' };
const servers: Server[] = [];
const ports = new Map<OpsDispatcher, number>();

beforeAll(async () => {
  for (const dispatcher of [plainOpsDispatcher, expressOpsDispatcher]) {
    const server = createHealthServer({ readiness: () => readiness(), metrics, serveMetrics: true }, dispatcher);
    servers.push(server);
    ports.set(dispatcher, await listen(server, 0, '127.0.0.1'));
  }
});

afterAll(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

function call(port: number, path: string, method: string): Promise<{ status: number; type?: string; length?: string; allow?: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const { 'content-type': type, 'content-length': length, allow } = res.headers;
        resolve({ status: res.statusCode ?? 0, ...(type ? { type } : {}), ...(length ? { length } : {}), ...(allow ? { allow } : {}), body: Buffer.concat(chunks).toString() });
      });
    });
    req.on('error', reject);
    req.end(method === 'POST' ? '{"ignored":true}' : undefined);
  });
}

/** The answers of the plain and the express dispatcher to the same request. */
async function bothAnswers(path: string, method: string) {
  return { plain: await call(ports.get(plainOpsDispatcher)!, path, method), viaExpress: await call(ports.get(expressOpsDispatcher)!, path, method) };
}

describe('the express ops dispatcher answers as the plain one', () => {
  it.each([
    ['/healthz', 'GET', 200],
    ['/healthz', 'HEAD', 200],
    ['/healthz?verbose', 'GET', 200],
    ['/readyz', 'GET', 200],
    ['/metrics', 'GET', 200],
    ['/metrics', 'HEAD', 200],
    ['/healthz', 'POST', 405],
    ['/readyz', 'DELETE', 405],
    ['/healthz/', 'GET', 404],
    ['/HEALTHZ', 'GET', 404],
    ['/', 'GET', 404],
    ['/nope', 'POST', 404],
  ])('%s %s: %d from both', async (path, method, status) => {
    const { plain, viaExpress } = await bothAnswers(path, method);
    expect(plain.status).toBe(status);
    expect(viaExpress).toEqual(plain);
  });

  it.each([
    ['a failing check', 503, () => ({ checks: { serving: false } })],
    ['a readiness that throws', 500, () => { throw new Error('state unavailable'); }],
  ] as Array<[string, number, () => ReadinessReport]>)('/readyz with %s: %d from both', async (_name, status, report) => {
    readiness = report;
    try {
      const { plain, viaExpress } = await bothAnswers('/readyz', 'GET');
      expect(plain.status).toBe(status);
      expect(viaExpress).toEqual(plain);
    } finally {
      readiness = () => ({ checks: { serving: true } });
    }
  });
});
