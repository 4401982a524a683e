import type { ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { KubeCredentials } from './kube-credentials.js';
import { restSecretWatchApi } from './kube-rest.js';
import { listen } from './server.js';
import { apiStatus } from './tls/kubernetes-errors.js';
import type { WatchEvent } from './tls/secret-watch.js';
import { ca, days, leaf } from './tls/tls.test-helpers.js';

// A stand-in API server: what it does per request is set by each test.
let server: Server;
let credentials: KubeCredentials;
let respond: (url: string, response: ServerResponse) => void;

beforeAll(async () => {
  const wall = new Date();
  const root = await ca(days(-1, wall), days(30, wall), 'kube-rest-test-ca');
  const serving = await leaf(root, days(-1, wall), days(30, wall), { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  server = createServer({ cert: serving.certificatePem, key: serving.privateKeyPem }, (request, response) => respond(request.url ?? '', response));
  const port = await listen(server, 0, '127.0.0.1');
  credentials = { source: 'test', server: `https://127.0.0.1:${port}/`, applyTo: (options) => Object.assign(options, { ca: root.certificatePem }) };
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('restSecretWatchApi', () => {
  it('watches one Secret by field selector (what RBAC resourceNames allow) and parses events split across chunks', async () => {
    let requested = '';
    respond = (url, response) => {
      requested = url;
      response.writeHead(200, { 'content-type': 'application/json' });
      const lines = `${JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'webhook-tls' } } })}\n${JSON.stringify({ type: 'DELETED', object: { metadata: { name: 'webhook-tls' } } })}\n`;
      response.write(lines.slice(0, 17));
      setTimeout(() => response.end(lines.slice(17)), 20);
    };
    const events: WatchEvent[] = [];
    await restSecretWatchApi(credentials, 60).watchNamespacedSecret({ name: 'webhook-tls', namespace: 'kaos-system' }, (event) => events.push(event), new AbortController().signal);
    expect(events.map((event) => event.type)).toEqual(['ADDED', 'DELETED']);
    const url = new URL(requested, 'https://x');
    expect(url.pathname).toBe('/api/v1/namespaces/kaos-system/secrets');
    expect(Object.fromEntries(url.searchParams)).toEqual({ watch: 'true', fieldSelector: 'metadata.name=webhook-tls', timeoutSeconds: '60' });
  });

  it('rejects with the status of a refused watch (e.g. RBAC without watch)', async () => {
    respond = (_url, response) => {
      response.writeHead(403, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ kind: 'Status', code: 403, message: 'secrets "webhook-tls" is forbidden' }));
    };
    const watch = restSecretWatchApi(credentials).watchNamespacedSecret({ name: 'webhook-tls', namespace: 'kaos-system' }, () => undefined, new AbortController().signal);
    await expect(watch).rejects.toMatchObject({ code: 403 });
    expect(apiStatus(await watch.catch((error: unknown) => error))).toBe(403);
  });

  it('ends quietly when aborted', async () => {
    respond = (_url, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write(`${JSON.stringify({ type: 'ADDED', object: {} })}\n`);
    };
    const controller = new AbortController();
    const events: string[] = [];
    const watch = restSecretWatchApi(credentials).watchNamespacedSecret({ name: 'webhook-tls', namespace: 'kaos-system' }, (event) => {
      events.push(event.type);
      controller.abort();
    }, controller.signal);
    await expect(watch).resolves.toBeUndefined();
    expect(events).toEqual(['ADDED']);
  });
});
