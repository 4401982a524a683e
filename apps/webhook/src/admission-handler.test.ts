import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ResourceValidator } from '@kaos/api-types';
import { createAdmissionHandler, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_CONCURRENT_REVIEWS, DEFAULT_MAX_IN_FLIGHT_BYTES, DEFAULT_OFFLOAD_ABOVE_BYTES, PREALLOCATE_ABOVE_BYTES, SHED_UNREAD_ABOVE_BYTES } from './admission-handler.js';
import { decideReview } from './review-decision.js';
import { ReviewWorkerError, type ReviewOffload } from './review-offload.js';
import { serveForTest, testRoutingConfig } from './handler.test-helpers.js';
import { silentLogger } from '@kaos/kube-runtime';
import { createMetrics } from './metrics.js';

const metrics = createMetrics(false);
const handler = createAdmissionHandler({ config: testRoutingConfig, validator: new ResourceValidator(), logger: silentLogger(), metrics, maxBodyBytes: 64 * 1024 });
let served: Awaited<ReturnType<typeof serveForTest>>;

beforeAll(async () => {
  served = await serveForTest(handler);
});
afterAll(() => served.close());

const send = (...args: Parameters<typeof served.send>) => served.send(...args);

const agentReview = (object: unknown = { kind: 'Agent', apiVersion: 'kaos.tools/v1alpha1', metadata: { name: 'a', namespace: 'prod' }, spec: { modelAPI: 'm' } }) =>
  JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid: 'u-1', kind: { group: 'kaos.tools', version: 'v1alpha1', kind: 'Agent' }, operation: 'CREATE', namespace: 'prod', name: 'a', object },
  });

describe('admission handler', () => {
  it('answers /mutate with the defaulting patch and echoes the uid', async () => {
    const { status, body } = await send('/mutate', agentReview());
    expect(status).toBe(200);
    const review = JSON.parse(body);
    expect(review).toMatchObject({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'u-1', allowed: true, patchType: 'JSONPatch' } });
    expect(JSON.parse(Buffer.from(review.response.patch, 'base64').toString())).toEqual([
      { op: 'add', path: '/spec/gatewayRoute', value: { timeout: '120s' } },
    ]);
  });

  it('answers /validate with a denial that names the field', async () => {
    const object = { kind: 'Agent', metadata: { name: 'a', namespace: 'prod' }, spec: { modelAPI: 'm', gatewayRoute: { timeout: '5 minutes' } } };
    const { status, body } = await send('/validate?timeout=10s', agentReview(object), { 'content-type': 'application/json; charset=utf-8' });
    expect(status).toBe(200);
    expect(JSON.parse(body).response).toEqual({
      uid: 'u-1',
      allowed: false,
      status: { code: 422, reason: 'Invalid', message: 'Agent prod/a is invalid: spec.gatewayRoute.timeout: "5 minutes" is not a Gateway API duration (e.g. 30s, 1m, 1h30m)' },
    });
  });

  it.each<[string, string, string | Buffer, Record<string, string> | undefined, string, number, string]>([
    ['malformed JSON', '/validate', '{"apiVersion":', undefined, 'POST', 400, 'body is not valid JSON'],
    ['a non-AdmissionReview', '/validate', '{"kind":"Pod"}', undefined, 'POST', 400, 'kind must be "AdmissionReview"'],
    ['a review without request', '/mutate', '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}', undefined, 'POST', 400, 'request is missing'],
    [
      'an unknown kind',
      '/validate',
      JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'x', kind: { group: 'apps', version: 'v1', kind: 'Deployment' }, operation: 'CREATE' } }),
      undefined,
      'POST',
      400,
      'this webhook does not handle Deployment.v1.apps',
    ],
    ['a wrong content type', '/validate', agentReview(), { 'content-type': 'text/plain' }, 'POST', 415, 'content-type must be application/json, not "text/plain"'],
    ['no content type', '/validate', agentReview(), {}, 'POST', 415, 'content-type must be application/json, not ""'],
    ['a GET', '/validate', '', undefined, 'GET', 405, 'GET is not allowed'],
    ['a body over the limit (declared)', '/validate', Buffer.alloc(70 * 1024, 32), undefined, 'POST', 413, 'exceeds the limit of 65536 bytes'],
    ['a body over the limit (chunked)', '/validate', Buffer.alloc(70 * 1024, 32), { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, 'POST', 413, 'exceeds the limit'],
    ['invalid UTF-8 and binary', '/mutate', Buffer.from([0xff, 0xfe, 0x00, 0x7b]), undefined, 'POST', 400, 'body is not valid JSON'],
  ])('refuses %s with a 4xx and a reason', async (_name, path, body, headers, method, status, message) => {
    const response = await send(path, body, headers ?? { 'content-type': 'application/json' }, method);
    expect(response.status).toBe(status);
    expect(JSON.parse(response.body).error).toContain(message);
  });

  // readBody copies pieces of a body over PREALLOCATE_ABOVE_BYTES into one buffer of the declared
  // length (or gathers them when chunked): the review must come out byte for byte, multi-byte
  // characters cut between pieces included.
  it.each([
    ['a declared length', (length: number): Record<string, string | number> => ({ 'content-type': 'application/json', 'content-length': length })],
    ['chunked transfer encoding', (): Record<string, string | number> => ({ 'content-type': 'application/json', 'transfer-encoding': 'chunked' })],
  ])('reads a large review sent in 1001-byte pieces with %s', async (_name, headers) => {
    const object = { kind: 'Agent', apiVersion: 'kaos.tools/v1alpha1', metadata: { name: 'a', namespace: 'prod' }, spec: { modelAPI: 'm', config: { description: 'Zürich ✓ '.repeat(2000) } } };
    const body = Buffer.from(agentReview(object));
    expect(body.length).toBeGreaterThan(PREALLOCATE_ABOVE_BYTES);
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: served.port, path: '/mutate', method: 'POST', headers: headers(body.length) }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      });
      req.on('error', reject);
      const write = (offset: number): void => {
        if (offset >= body.length) {
          req.end();
          return;
        }
        req.write(body.subarray(offset, offset + 1001));
        setImmediate(() => write(offset + 1001));
      };
      write(0);
    });
    expect(answer.status).toBe(200);
    const review = JSON.parse(answer.body);
    expect(review.response).toMatchObject({ uid: 'u-1', allowed: true, patchType: 'JSONPatch' });
    expect(JSON.parse(Buffer.from(review.response.patch, 'base64').toString())).toEqual([{ op: 'add', path: '/spec/gatewayRoute', value: { timeout: '120s' } }]);
  });

  it('answers an UPDATE of an object stored before a rule with the old problem as a warning, and a change of it with a denial', async () => {
    const stored = { kind: 'Agent', metadata: { name: 'a', namespace: 'prod' }, spec: { modelAPI: 'm', gatewayRoute: { timeout: '100000s' }, config: { description: 'old' } } };
    const updateReview = (object: unknown) =>
      JSON.stringify({
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: { uid: 'u-2', kind: { group: 'kaos.tools', version: 'v1alpha1', kind: 'Agent' }, operation: 'UPDATE', namespace: 'prod', name: 'a', object, oldObject: stored },
      });
    const described = await send('/validate', updateReview({ ...stored, spec: { ...stored.spec, config: { description: 'new' } } }));
    expect(JSON.parse(described.body).response).toEqual({
      uid: 'u-2',
      allowed: true,
      warnings: ['spec.gatewayRoute.timeout: "100000s" is not a Gateway API duration (e.g. 30s, 1m, 1h30m) (already invalid before this update; allowed unchanged)'],
    });
    const changed = await send('/validate', updateReview({ ...stored, spec: { ...stored.spec, gatewayRoute: { timeout: '200000s' } } }));
    expect(JSON.parse(changed.body).response).toMatchObject({ allowed: false, status: { message: 'Agent prod/a is invalid: spec.gatewayRoute.timeout: "200000s" is not a Gateway API duration (e.g. 30s, 1m, 1h30m)' } });
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/kaos_webhook_admissions_total\{webhook="validate",kind="Agent",operation="UPDATE",result="warned"\} 1\b/);
    expect(text).toMatch(/kaos_webhook_admissions_total\{webhook="validate",kind="Agent",operation="UPDATE",result="denied"\} 1\b/);
  });

  it('lets other paths through to the next handler', async () => {
    expect((await send('/other', '{}')).status).toBe(404);
  });

  it('counts decisions and refusals in its metrics', async () => {
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/kaos_webhook_admissions_total\{webhook="mutate",kind="Agent",operation="CREATE",result="patched"\} [1-9]/);
    expect(text).toMatch(/kaos_webhook_admissions_total\{webhook="validate",kind="Agent",operation="CREATE",result="denied"\} [1-9]/);
    expect(text).toMatch(/kaos_webhook_bad_requests_total\{reason="malformed_json"\} [1-9]/);
    expect(text).toMatch(/kaos_webhook_admission_duration_seconds_count\{webhook="validate"\} [1-9]/);
  });
});

interface SlowAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A review on its own kept-alive connection (as the API server's client sends them) whose headers
 * and first half arrive now, the rest on finish(): it stays in flight until then.
 */
function slowReview(port: number, body: string) {
  const half = Math.floor(body.length / 2);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  let finish!: () => void;
  let socket: unknown;
  const answer = new Promise<SlowAnswer>((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/validate', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    req.on('socket', (assigned) => (socket = assigned));
    req.write(body.slice(0, half));
    finish = () => req.end(body.slice(half));
  });
  /** Another review on the same agent: tells whether the connection survived the first answer. */
  const again = () =>
    new Promise<{ status: number; sameConnection: boolean }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/validate', method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, sameConnection: req.socket === socket }));
      });
      req.on('error', reject);
      req.end(body);
    });
  return { answer, again, finish: () => finish(), close: () => agent.destroy() };
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The sum of a metric's samples over all its labels. */
const value = async (metric: { get(): Promise<{ values: Array<{ value: number }> }> }) => (await metric.get()).values.reduce((sum, sample) => sum + sample.value, 0);

describe('load shedding', () => {

  it('defaults to 4 of the largest reviews at once (sized with bench:overload, ADR 0010) and 64 reviews of any size', () => {
    expect(DEFAULT_MAX_IN_FLIGHT_BYTES).toBe(4 * DEFAULT_MAX_BODY_BYTES);
    expect(DEFAULT_MAX_CONCURRENT_REVIEWS).toBe(64);
  });

  it('with N+1 slow reviews at once, answers exactly the excess 429 with Retry-After and a Status before reading its body, and the N normally', async () => {
    const limit = 3;
    const shedMetrics = createMetrics(false);
    const server = await serveForTest(createAdmissionHandler({ config: testRoutingConfig, validator: new ResourceValidator(), logger: silentLogger(), metrics: shedMetrics, maxConcurrentReviews: limit }));
    const reviews = Array.from({ length: limit + 1 }, () => slowReview(server.port, agentReview()));
    try {
      // Every body is still half-sent: the refused one is answered without waiting for the rest of it.
      await waitFor(async () => (await value(shedMetrics.reviewsShed)) === 1 && (await value(shedMetrics.reviewsInFlight)) === limit);
      const refused = await Promise.race(reviews.map((review) => review.answer));
      expect(refused.status).toBe(429);
      expect(refused.headers['retry-after']).toBe('1');
      // Closing a connection whose body is unread would make TCP reset it, losing this answer.
      expect(refused.headers.connection).not.toBe('close');
      expect(JSON.parse(refused.body)).toEqual({
        apiVersion: 'v1',
        kind: 'Status',
        metadata: {},
        status: 'Failure',
        message: 'the admission webhook is handling 3 reviews at once; retry after 1s',
        reason: 'TooManyRequests',
        details: { retryAfterSeconds: 1 },
        code: 429,
      });
      for (const review of reviews) review.finish();
      const answers = await Promise.all(reviews.map((review) => review.answer));
      expect(answers.map((answer) => answer.status).sort()).toEqual([200, 200, 200, 429]);
      // Capacity comes back as reviews finish: the retry is admitted, on the same connection.
      await waitFor(async () => (await value(shedMetrics.reviewsInFlight)) === 0);
      const retried = reviews[answers.findIndex((answer) => answer.status === 429)]!;
      expect(await retried.again()).toEqual({ status: 200, sameConnection: true });
      const text = await shedMetrics.registry.metrics();
      expect(text).toContain('kaos_webhook_reviews_shed_total{webhook="validate",reason="reviews"} 1');
      expect(text).toMatch(/kaos_webhook_admissions_total\{webhook="validate",kind="Agent",operation="CREATE",result="allowed"\} 4/);
    } finally {
      for (const review of reviews) {
        review.finish();
        review.close();
      }
      await server.close();
    }
  });

  it('refuses a large review that would take the declared bytes in flight over the cap, still admitting small ones and always one', async () => {
    const large = agentReview({ kind: 'Agent', apiVersion: 'kaos.tools/v1alpha1', metadata: { name: 'a', namespace: 'prod', annotations: { pad: 'x'.repeat(20_000) } }, spec: { modelAPI: 'm' } });
    const size = Buffer.byteLength(large);
    const shedMetrics = createMetrics(false);
    const server = await serveForTest(
      createAdmissionHandler({ config: testRoutingConfig, validator: new ResourceValidator(), logger: silentLogger(), metrics: shedMetrics, maxInFlightBytes: Math.floor(2.5 * size) }),
    );
    const reviews = [slowReview(server.port, large), slowReview(server.port, large)];
    try {
      await waitFor(async () => (await value(shedMetrics.reviewBytesInFlight)) === 2 * size);
      const third = slowReview(server.port, large);
      reviews.push(third);
      const refused = await third.answer;
      expect(refused.status).toBe(429);
      expect(JSON.parse(refused.body).message).toBe(`the admission webhook is handling ${Math.round(Math.floor(2.5 * size) / 1024)} KiB of reviews at once; retry after 1s`);
      // A small review still fits next to the two large ones.
      expect((await server.send('/validate', agentReview())).status).toBe(200);
      for (const review of reviews) review.finish();
      expect((await Promise.all(reviews.slice(0, 2).map((review) => review.answer))).map((answer) => answer.status)).toEqual([200, 200]);
      await waitFor(async () => (await value(shedMetrics.reviewsInFlight)) === 0);
      expect(await value(shedMetrics.reviewBytesInFlight)).toBe(0);
      expect(await shedMetrics.registry.metrics()).toContain('kaos_webhook_reviews_shed_total{webhook="validate",reason="bytes"} 1');
    } finally {
      for (const review of reviews) {
        review.finish();
        review.close();
      }
      await server.close();
    }
    // Alone, a review over the whole cap is admitted: the cap can never block a legal review for good.
    const tiny = await serveForTest(createAdmissionHandler({ config: testRoutingConfig, validator: new ResourceValidator(), logger: silentLogger(), metrics: createMetrics(false), maxInFlightBytes: 1024 }));
    try {
      expect((await tiny.send('/validate', large)).status).toBe(200);
    } finally {
      await tiny.close();
    }
  });
});

/**
 * Sends a review over a raw connection in one write, as the API server does, and reports the answer
 * once it is complete, and when the connection closed.
 */
function rawReview(port: number, body: string) {
  const socket = connect(port, '127.0.0.1');
  socket.write(`POST /validate HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n`);
  socket.write(body);
  socket.on('error', () => undefined);
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now())));
  const answer = new Promise<{ head: string; body: string; at: number }>((resolve) => {
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const end = text.indexOf('\r\n\r\n');
      const length = Number(/content-length: (\d+)/i.exec(text)?.[1]);
      if (end !== -1 && text.length >= end + 4 + length) resolve({ head: text.slice(0, end), body: text.slice(end + 4, end + 4 + length), at: performance.now() });
    });
  });
  return { answer, closed, destroy: () => socket.destroy() };
}

describe('shedding a large review without reading its body', () => {
  const large = (bytes: number) => agentReview({ kind: 'Agent', apiVersion: 'kaos.tools/v1alpha1', metadata: { name: 'a', namespace: 'prod', annotations: { pad: 'x'.repeat(bytes) } }, spec: { modelAPI: 'm' } });

  it.each<[string, number, boolean]>([
    ['3 MiB: answered unread, the connection closed after the delay', 3 * 1024 * 1024, true],
    ['at the threshold: answered unread', SHED_UNREAD_ABOVE_BYTES, true],
    ['just under the threshold: read, discarded, the connection kept', SHED_UNREAD_ABOVE_BYTES - 1024, false],
  ])('%s', async (_name, padBytes, unread) => {
    const body = large(padBytes);
    const size = Buffer.byteLength(body);
    const closeAfterMs = 1000;
    const shedMetrics = createMetrics(false);
    // One review always fits; a byte cap of 1 KiB sheds every other review while one is in flight.
    const handler = createAdmissionHandler({ config: testRoutingConfig, validator: new ResourceValidator(), logger: silentLogger(), metrics: shedMetrics, maxInFlightBytes: 1024, maxBodyBytes: 4 * 1024 * 1024, shedUnreadCloseAfterMs: closeAfterMs });
    const serverSockets: Socket[] = [];
    const server = await serveForTest((request, response) => {
      if (Number(request.headers['content-length']) === size) serverSockets.push(request.socket);
      return handler(request, response);
    });
    const holder = slowReview(server.port, agentReview());
    await waitFor(async () => (await value(shedMetrics.reviewsInFlight)) === 1);
    const sent = rawReview(server.port, body);
    try {
      const answer = await sent.answer;
      expect(answer.head).toMatch(/^HTTP\/1\.1 429 /);
      expect(answer.head).toMatch(/\r\nretry-after: 1\r\n/i);
      expect(JSON.parse(answer.body)).toMatchObject({ kind: 'Status', reason: 'TooManyRequests', code: 429 });
      expect(await shedMetrics.registry.metrics()).toContain('kaos_webhook_reviews_shed_total{webhook="validate",reason="bytes"} 1');
      await new Promise((resolve) => setTimeout(resolve, 300));
      const [serverSocket] = serverSockets;
      if (unread) {
        // The client must not reuse the connection, and the server stopped pulling the body (the
        // kernel's buffers on both sides hold the rest).
        expect(answer.head).toMatch(/\r\nconnection: close\r\n/i);
        expect(serverSocket!.bytesRead).toBeLessThan(size);
        const closedAt = await sent.closed;
        expect(closedAt - answer.at).toBeGreaterThan(closeAfterMs - 400);
        expect(closedAt - answer.at).toBeLessThan(closeAfterMs + 1500);
      } else {
        // Read and thrown away: the whole body reached the server, and the connection stays usable.
        expect(answer.head).not.toMatch(/\r\nconnection: close\r\n/i);
        expect(serverSocket!.bytesRead).toBeGreaterThan(size);
        const outcome = await Promise.race([sent.closed.then(() => 'closed'), new Promise((resolve) => setTimeout(() => resolve('open'), closeAfterMs + 500))]);
        expect(outcome).toBe('open');
      }
    } finally {
      sent.destroy();
      holder.finish();
      await holder.answer;
      holder.close();
      await server.close();
    }
  }, 15_000);
});

describe('large reviews on the review worker', () => {
  /** An offload that records what it was given and decides like the worker, or fails like a dead one. */
  function recordingOffload(fail = false) {
    const seen: { webhook: string; bytes: number }[] = [];
    const offload: ReviewOffload = {
      decide: async (body, webhook) => {
        seen.push({ webhook, bytes: body.byteLength });
        if (fail) throw new ReviewWorkerError('the review worker exited with code 1');
        return decideReview(body, webhook, testRoutingConfig, new ResourceValidator());
      },
      pending: () => 0,
      running: () => true,
      close: async () => undefined,
    };
    return { offload, seen };
  }
  const padded = (bytes: number) => {
    const object = { kind: 'Agent', apiVersion: 'kaos.tools/v1alpha1', metadata: { name: 'a', namespace: 'prod', annotations: { padding: '' } }, spec: { modelAPI: 'm' } };
    const base = agentReview(object).length;
    return agentReview({ ...object, metadata: { ...object.metadata, annotations: { padding: 'x'.repeat(bytes - base) } } });
  };

  it.each([
    ['an ordinary review is decided on the serving thread', 7 * 1024, 0],
    ['a review just under the threshold too', DEFAULT_OFFLOAD_ABOVE_BYTES - 1, 0],
    ['a review at the threshold goes to the worker', DEFAULT_OFFLOAD_ABOVE_BYTES, 1],
    ['the largest legal review goes to the worker', 3 * 1024 * 1024, 1],
  ])('%s', async (_name, bytes, offloaded) => {
    const { offload, seen } = recordingOffload();
    const server = await serveForTest(createAdmissionHandler({ config: testRoutingConfig, validator: new ResourceValidator(), logger: silentLogger(), metrics: createMetrics(false), offload }));
    try {
      const body = padded(bytes);
      expect(body.length).toBe(bytes);
      const { status, body: answer } = await server.send('/mutate', body);
      expect(status).toBe(200);
      expect(JSON.parse(answer).response).toMatchObject({ uid: 'u-1', allowed: true, patchType: 'JSONPatch' });
      expect(seen).toEqual(offloaded ? [{ webhook: 'mutate', bytes }] : []);
    } finally {
      await server.close();
    }
  });

  it('answers 503 with Retry-After, which the API server retries, when the worker dies holding the review', async () => {
    const { offload } = recordingOffload(true);
    const metrics = createMetrics(false);
    const server = await serveForTest(createAdmissionHandler({ config: testRoutingConfig, validator: new ResourceValidator(), logger: silentLogger(), metrics, offload, offloadAboveBytes: 1024 }));
    try {
      const answer = await new Promise<{ status: number; headers: IncomingHttpHeaders; body: string }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: server.port, path: '/validate', method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        });
        req.on('error', reject);
        req.end(padded(4096));
      });
      expect(answer.status).toBe(503);
      expect(answer.headers['retry-after']).toBe('1');
      expect(JSON.parse(answer.body).error).toBe('the review worker exited with code 1');
      expect(await metrics.registry.metrics()).toContain('kaos_webhook_bad_requests_total{reason="worker_failed"} 1');
    } finally {
      await server.close();
    }
  });
});
