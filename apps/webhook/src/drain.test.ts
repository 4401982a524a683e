import { Agent, createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { afterEach, describe, expect, it } from '@jest/globals';
import { trackConnections, type ConnectionTracker } from './drain.js';
import { silentLogger } from '@kaos/kube-runtime';
import { createWebhookServer, listen, shutdown } from './server.js';
import { ca, days, leaf } from './tls/tls.test-helpers.js';

// The API server's webhook client as far as the drain is concerned: HTTP/1.1 keep-alive, one
// connection reused for request after request (an Agent with one socket).
interface Answer {
  status: number;
  connection: string | undefined;
  reusedSocket: boolean;
  body: string;
}

function post(port: number, agent: Agent, path = '/validate'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, reusedSocket: req.reusedSocket, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end('{}');
  });
}

interface Harness {
  server: Server;
  port: number;
  tracker: ConnectionTracker;
  agent: Agent;
  /** Requests to /slow wait until this is called. */
  release(): void;
}

const open: Harness[] = [];
afterEach(async () => {
  for (const harness of open.splice(0)) {
    harness.release();
    harness.agent.destroy();
    harness.server.closeAllConnections();
    await new Promise((resolve) => harness.server.close(resolve));
  }
});

async function start(): Promise<Harness> {
  let waiting: Array<() => void> = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      const answer = () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      if (req.url === '/slow') waiting.push(answer);
      else answer();
    });
  });
  const tracker = trackConnections(server);
  const port = await listen(server, 0, '127.0.0.1');
  const harness = {
    server,
    port,
    tracker,
    agent: new Agent({ keepAlive: true, maxSockets: 1 }),
    release() {
      const pending = waiting;
      waiting = [];
      for (const answer of pending) answer();
    },
  };
  open.push(harness);
  return harness;
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('trackConnections: draining', () => {
  it('answers a review that is in flight when the drain starts, and closes its connection with it', async () => {
    const h = await start();
    const inFlight = post(h.port, h.agent, '/slow');
    await until(() => h.tracker.counts().active === 1);
    expect(h.tracker.counts()).toEqual({ open: 1, active: 1 });
    const drained = h.tracker.drain({ maxMs: 1500, idleCloseMs: 1000 });
    expect(h.tracker.draining).toBe(true);
    h.release();
    expect(await inFlight).toMatchObject({ status: 200, connection: 'close' });
    // The connection ended with the response, well before the drain's end.
    await until(() => h.tracker.counts().open === 0, 1000);
    expect((await drained).remaining).toBe(0);
  });

  it('still answers a review sent on a kept-alive connection just after the drain started (it is not closed under the request)', async () => {
    const h = await start();
    expect(await post(h.port, h.agent)).toMatchObject({ status: 200, connection: 'keep-alive', reusedSocket: false });
    const drained = h.tracker.drain({ maxMs: 1500, idleCloseMs: 500 });
    // The connection is idle at this instant; the API server may be writing a review on it right now.
    const answer = await post(h.port, h.agent);
    expect(answer).toMatchObject({ status: 200, connection: 'close', reusedSocket: true });
    expect((await drained).remaining).toBe(0);
  });

  it('keeps accepting new connections while draining (nodes whose kube-proxy still routes here)', async () => {
    const h = await start();
    const drained = h.tracker.drain({ maxMs: 1000, idleCloseMs: 300 });
    const fresh = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect(await post(h.port, fresh)).toMatchObject({ status: 200, connection: 'close', reusedSocket: false });
    } finally {
      fresh.destroy();
    }
    await drained;
  });

  it('closes a connection once it has been idle for idleCloseMs, and keeps accepting new ones until maxMs although none is left', async () => {
    const h = await start();
    await post(h.port, h.agent);
    const idleFrom = Date.now();
    const closed = new Promise<void>((resolve) => h.server.once('connection', (socket) => socket.once('close', () => resolve())));
    const second = new Agent({ keepAlive: true, maxSockets: 1 });
    await post(h.port, second);
    second.destroy();
    await closed;
    expect(h.tracker.counts()).toEqual({ open: 1, active: 0 });
    const drain = h.tracker.drain({ maxMs: 1500, idleCloseMs: 200 });
    await until(() => h.tracker.counts().open === 0);
    // Not at once (the instant an idle connection may be picked again), but soon after idleCloseMs.
    expect(Date.now() - idleFrom).toBeGreaterThanOrEqual(190);
    // No connection is left, yet a late one (a stale kube-proxy rule) is still accepted and answered.
    const late = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      await post(h.port, late);
    } finally {
      late.destroy();
    }
    const drained = await drain;
    expect(drained.elapsedMs).toBeGreaterThanOrEqual(1490);
  });

  it('ends at maxMs while a review is still running; the shutdown grace then cuts it, so the process exits in bounded time', async () => {
    const h = await start();
    const stuck = post(h.port, h.agent, '/slow').then(
      () => 'answered',
      (error: Error) => error.message,
    );
    await until(() => h.tracker.counts().active === 1);
    const drained = await h.tracker.drain({ maxMs: 300, idleCloseMs: 100 });
    expect(drained).toMatchObject({ remaining: 1 });
    expect(drained.elapsedMs).toBeGreaterThanOrEqual(290);
    const started = Date.now();
    await shutdown([h.server], silentLogger(), 200);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await stuck).toMatch(/socket hang up|ECONNRESET/);
  });
});

describe('trackConnections on the HTTPS admission server', () => {
  it('tracks connections after the TLS handshake and closes them with the response while draining', async () => {
    const wall = new Date();
    const root = await ca(days(-1, wall), days(30, wall), 'drain-test-ca');
    const serving = await leaf(root, days(-1, wall), days(30, wall), { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    const server = createWebhookServer({ cert: serving.certificatePem, key: serving.privateKeyPem }, () => false);
    const tracker = trackConnections(server);
    const port = await listen(server, 0, '127.0.0.1');
    const agent = new HttpsAgent({ keepAlive: true, maxSockets: 1, ca: root.certificatePem });
    const get = () =>
      new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
        const req = httpsRequest({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
        });
        req.on('error', reject);
        req.end();
      });
    try {
      expect(await get()).toEqual({ status: 404, connection: 'keep-alive' });
      expect(tracker.counts()).toEqual({ open: 1, active: 0 });
      const drained = tracker.drain({ maxMs: 1500, idleCloseMs: 1000 });
      expect(await get()).toEqual({ status: 404, connection: 'close' });
      expect((await drained).remaining).toBe(0);
    } finally {
      agent.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
