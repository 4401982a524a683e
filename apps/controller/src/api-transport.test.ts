import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { ApiException, KubeConfig } from '@kubernetes/client-node';
import { applyRequest, createRequest, deleteRequest, mergePatchRequest, selfSignedCertificate } from '@kaos/kube-runtime';
import { CLIENT_NODE_USER_AGENT, createApiTransport } from './api-transport.js';
import { apiStatus } from './kube-boundary.js';
import { reuseConnections } from './connections.js';
import { LeanWatch } from './lean-watch.js';

/** What the server saw of one request. */
interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  socket: unknown;
}

/** A server that records each request and answers with `answer(seen)`: [status, content type, body]. */
function recordingServer(answer: (seen: Seen) => [number, string | undefined, string], tls?: { cert: string; key: string }) {
  const seen: Seen[] = [];
  const handler = (request: IncomingMessage, response: ServerResponse) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      const record = { method: request.method!, url: request.url!, headers: request.headers, body, socket: request.socket };
      seen.push(record);
      const [status, contentType, text] = answer(record);
      response.writeHead(status, contentType ? { 'content-type': contentType, 'x-trace': ['a', 'b'] } : {});
      response.end(text);
    });
  };
  const server: Server = tls ? createHttpsServer(tls, handler) : createHttpServer(handler);
  return {
    seen,
    server,
    async listen(): Promise<number> {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return (server.address() as AddressInfo).port;
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function kubeConfigFor(server: string, user: Record<string, unknown>, cluster: Record<string, unknown> = {}): KubeConfig {
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: 'c', server, ...cluster }],
    users: [{ name: 'u', ...user }],
    contexts: [{ name: 'ctx', cluster: 'c', user: 'u' }],
    currentContext: 'ctx',
  });
  return config;
}

const route = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'agent-a', namespace: 'prod' } };
const ref = { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'httproutes', namespace: 'prod', name: 'agent-a' };

describe('CLIENT_NODE_USER_AGENT', () => {
  it('is the installed client-node version (what its own calls send)', () => {
    const installed = JSON.parse(readFileSync(new URL('../../../node_modules/@kubernetes/client-node/package.json', import.meta.url), 'utf8')) as { version: string };
    expect(CLIENT_NODE_USER_AGENT).toBe(`kubernetes-client-javascript/${installed.version}`);
  });
});

describe('createApiTransport over TLS, with a bearer token and impersonation, on the shared pool', () => {
  const fake = { seen: [] as Seen[], close: async () => {} };
  let send: ReturnType<typeof createApiTransport>;
  let status = 201;

  beforeAll(async () => {
    const certificate = await selfSignedCertificate('api', ['localhost']);
    const server = recordingServer((seen) => (status === 204 ? [204, undefined, ''] : [status, 'application/json', status < 300 ? JSON.stringify({ ...route, echoed: seen.body.length }) : '{"kind":"Status","reason":"AlreadyExists","code":409}']), certificate);
    const port = await server.listen();
    Object.assign(fake, { seen: server.seen, close: server.close });
    const config = kubeConfigFor(`https://127.0.0.1:${port}`, { token: 'secret-token', impersonateUser: 'someone' }, { caData: Buffer.from(certificate.cert).toString('base64') });
    reuseConnections(config);
    send = createApiTransport(config);
  }, 30_000);
  afterAll(() => fake.close());

  it('sends a create exactly as client-node does: path, query, headers, JSON body; answers the object', async () => {
    status = 201;
    const answer = await send(createRequest(ref, route, 'kaos-routing-controller'));
    expect(answer).toEqual({ ...route, echoed: JSON.stringify(route).length });
    const [request] = fake.seen.slice(-1);
    expect(request).toMatchObject({ method: 'POST', url: '/apis/gateway.networking.k8s.io/v1/namespaces/prod/httproutes?fieldManager=kaos-routing-controller', body: JSON.stringify(route) });
    expect(request!.headers).toMatchObject({
      authorization: 'Bearer secret-token',
      'impersonate-user': 'someone',
      accept: 'application/json, */*;q=0.8',
      'content-type': 'application/json',
      'user-agent': CLIENT_NODE_USER_AGENT,
    });
  });

  it.each<[string, () => ReturnType<typeof createRequest>, string, string]>([
    ['a forced server-side apply', () => applyRequest(ref, route, 'kaos-routing-controller', true), 'PATCH', 'application/apply-patch+yaml'],
    ['a merge patch', () => mergePatchRequest(ref, { spec: { hostnames: null } }, 'kaos-routing-controller'), 'PATCH', 'application/merge-patch+json'],
    ['a delete with a uid precondition', () => deleteRequest(ref, 'u-1'), 'DELETE', 'application/json'],
  ])('sends %s with its content type', async (_name, request, method, contentType) => {
    status = 200;
    await send(request());
    const [seen] = fake.seen.slice(-1);
    expect(seen!.method).toBe(method);
    expect(seen!.headers['content-type']).toBe(contentType);
    expect(JSON.parse(seen!.body)).toEqual(request().body);
  });

  it('reads an answer nobody wants to its end without parsing it, and keeps the connection', async () => {
    status = 200;
    const before = fake.seen.length;
    await expect(send(mergePatchRequest(ref, {}, 'm'), { answer: false })).resolves.toBeUndefined();
    await expect(send(mergePatchRequest(ref, {}, 'm'))).resolves.toMatchObject({ kind: 'HTTPRoute' });
    expect(fake.seen).toHaveLength(before + 2);
  });

  it('still rejects a refused write whose answer is not wanted, with its body', async () => {
    status = 409;
    const error = await send(deleteRequest(ref, 'u'), { answer: false }).catch((caught: unknown) => caught);
    expect(apiStatus(error)).toBe(409);
    expect((error as ApiException<string>).body).toContain('AlreadyExists');
  });

  it('answers undefined for an empty success', async () => {
    status = 204;
    await expect(send(deleteRequest(ref))).resolves.toBeUndefined();
    expect(fake.seen.slice(-1)[0]!.headers['content-type']).toBeUndefined();
  });

  it.each([404, 409, 422, 429, 500, 503])('rejects a %i with an ApiException of that code (what the reconciler tells apart), carrying the body and headers', async (code) => {
    status = code;
    const error = await send(createRequest(ref, route, 'kaos-routing-controller')).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ApiException);
    expect(apiStatus(error)).toBe(code);
    expect((error as ApiException<string>).body).toContain('AlreadyExists');
    expect((error as ApiException<string>).headers).toMatchObject({ 'content-type': 'application/json', 'x-trace': 'a, b' });
  });

  it('keeps its connections (the pool of connections.ts), not one per request', async () => {
    status = 200;
    const before = fake.seen.length;
    for (let i = 0; i < 10; i++) await send(mergePatchRequest(ref, {}, 'm'));
    // undici may alternate between two kept-alive connections for back-to-back requests.
    expect(new Set(fake.seen.slice(before).map((seen) => seen.socket)).size).toBeLessThanOrEqual(2);
  });
});

describe('watches and writes', () => {
  it('run on connections of their own: a watch never takes the writes\' connection (its events would queue behind their answers, ADR 0022)', async () => {
    const certificate = await selfSignedCertificate('api', ['localhost']);
    const server = recordingServer((seen) => (seen.url.includes('watch=true') ? [200, 'application/json', ''] : [200, 'application/json', '{}']), certificate);
    const port = await server.listen();
    try {
      const config = kubeConfigFor(`https://127.0.0.1:${port}`, { token: 't' }, { caData: Buffer.from(certificate.cert).toString('base64') });
      reuseConnections(config);
      const send = createApiTransport(config);
      await send(mergePatchRequest(ref, {}, 'm'));
      // undici frees a connection a moment after its answer was read; then it is idle and kept
      // alive, and a watch on the same pool would take it.
      await new Promise((resolve) => setTimeout(resolve, 50));
      await new Promise<void>((resolve) => void new LeanWatch(config).watch('/apis/kaos.tools/v1alpha1/agents', {}, () => undefined, () => resolve()));
      await send(mergePatchRequest(ref, {}, 'm'));
      const [write, watch, nextWrite] = server.seen;
      expect(watch!.url).toBe('/apis/kaos.tools/v1alpha1/agents?watch=true');
      expect(nextWrite!.socket).toBe(write!.socket);
      expect(watch!.socket).not.toBe(write!.socket);
    } finally {
      await server.close();
    }
  }, 30_000);
});

describe('createApiTransport, other credentials and clusters', () => {
  it('uses the fallback dispatcher when the KubeConfig has no TLS settings (system CAs), and still sends the credentials', async () => {
    const certificate = await selfSignedCertificate('api', ['localhost']);
    const server = recordingServer(() => [200, 'application/json; charset=utf-8', '{"ok":true}'], certificate);
    const port = await server.listen();
    const { Agent } = await import('undici');
    // Stands in for fetch's global dispatcher, which would trust the system's CAs.
    const trusting = new Agent({ connect: { ca: certificate.cert } });
    try {
      const config = kubeConfigFor(`https://127.0.0.1:${port}/prefix/`, { username: 'admin', password: 'pw' });
      let fallbackUsed = 0;
      const send = createApiTransport(config, () => {
        fallbackUsed++;
        return trusting;
      });
      await expect(send(createRequest({ group: '', version: 'v1', plural: 'events', namespace: 'p' }, { reason: 'R' }))).resolves.toEqual({ ok: true });
      expect(fallbackUsed).toBe(1);
      expect(server.seen[0]).toMatchObject({ method: 'POST', url: '/prefix/api/v1/namespaces/p/events' });
      expect(server.seen[0]!.headers.authorization).toBe(`Basic ${Buffer.from('admin:pw').toString('base64')}`);
    } finally {
      await trusting.close();
      await server.close();
    }
  }, 30_000);

  it('presents the client certificate of the KubeConfig', async () => {
    const [serving, client] = await Promise.all([selfSignedCertificate('api', ['localhost']), selfSignedCertificate('kaos-client', [])]);
    const server = recordingServer(() => [200, 'application/json', '{}'], { ...serving, requestCert: true, rejectUnauthorized: false } as never);
    const port = await server.listen();
    try {
      const base64 = (text: string) => Buffer.from(text).toString('base64');
      const config = kubeConfigFor(`https://127.0.0.1:${port}`, { certData: base64(client.cert), keyData: base64(client.key) }, { caData: base64(serving.cert) });
      await createApiTransport(config)(deleteRequest(ref));
      expect((server.seen[0]!.socket as TLSSocket).getPeerCertificate().subject.CN).toBe('kaos-client');
    } finally {
      await server.close();
    }
  }, 30_000);

  it('sends a token from an exec credential plugin, as client-node does', async () => {
    const server = recordingServer(() => [200, 'application/json', '{}']);
    const port = await server.listen();
    try {
      const credential = JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token: 'exec-token' } });
      const config = kubeConfigFor(`http://127.0.0.1:${port}`, { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: process.execPath, args: ['-e', `process.stdout.write(${JSON.stringify(credential)})`] } }, { skipTLSVerify: true });
      await createApiTransport(config)(deleteRequest(ref));
      expect(server.seen[0]!.headers.authorization).toBe('Bearer exec-token');
    } finally {
      await server.close();
    }
  });

  it('refuses a KubeConfig without a cluster', async () => {
    await expect(createApiTransport(new KubeConfig())(deleteRequest(ref))).rejects.toThrow('No active cluster');
  });
});
