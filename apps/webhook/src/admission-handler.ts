import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ResourceValidator } from '@kaos/api-types';
import type { RoutingConfig } from '@kaos/routing';
import type { Logger } from '@kaos/kube-runtime';
import type { WebhookMetrics } from './metrics.js';
import { decideReview, type ReviewDecision, type WebhookName } from './review-decision.js';
import { ReviewWorkerError, type ReviewOffload } from './review-offload.js';

/** Paths the API server posts AdmissionReviews to. */
export const ADMISSION_PATHS = { mutate: '/mutate', validate: '/validate' } as const;

/** Default body limit: the API server sends at most about 3 MiB (object and oldObject of 1.5 MiB each). */
export const DEFAULT_MAX_BODY_BYTES = 3.5 * 1024 * 1024;

/**
 * Default cap of review bytes (declared Content-Length) handled at once: 4 of the largest reviews.
 * Memory follows size: the API server's largest reviews (3.35 MiB, object and oldObject) each hold
 * ~6 MB while read and parsed (bench/large-reviews.ts: uncapped 276 MB with 32 at once against the
 * chart's 256Mi limit). CPU sets the number: the review worker decides them one at a time, and
 * with 4 admitted instead of 8 ordinary reviews kept p99 under 1 s during bench:overload's floods
 * (ADR 0010, "Shedding without reading"); refusing costs little, the body is not read.
 */
export const DEFAULT_MAX_IN_FLIGHT_BYTES = 4 * DEFAULT_MAX_BODY_BYTES;

/**
 * Default cap of reviews handled at once, whatever their size: ordinary reviews (a few KB) never
 * reach the byte cap, and 16 busy keep-alive connections already keep up to 16 in flight.
 */
export const DEFAULT_MAX_CONCURRENT_REVIEWS = 64;

/** Seconds the API server is asked to wait before retrying a review refused for load. */
export const RETRY_AFTER_SECONDS = 1;

/**
 * A refused review declared at least this large is answered without reading its body, and its
 * connection is closed: reading (decrypting) a 3.35 MiB body to throw it away costs the serving
 * thread more than the new connection the retry needs (ADR 0010, "Shedding without reading").
 * Smaller refused bodies are read and discarded, keeping their connection.
 */
export const SHED_UNREAD_ABOVE_BYTES = 256 * 1024;

/**
 * How long a connection refused without reading its body stays open after the answer: time for the
 * client to read the answer before our close resets the connection (a reset can reach the client
 * before it has read the answer). Go's transport closes such a connection itself 50 ms after it has
 * the answer (net/http maxWriteWaitBeforeConnReuse); Go's own server waits 500 ms before closing
 * (rstAvoidanceDelay).
 */
export const SHED_UNREAD_CLOSE_AFTER_MS = 2_000;

/**
 * Reviews at least this large are decided on the review worker when one is given: a 256 KiB review
 * takes a few ms to parse, a 3.35 MiB one 60–200 ms with its garbage collection (ADR 0010), and an
 * ordinary one (a few KB) is cheaper to decide than to send to another thread.
 */
export const DEFAULT_OFFLOAD_ABOVE_BYTES = 256 * 1024;

/** What the admission handler needs. */
export interface AdmissionHandlerOptions {
  config: RoutingConfig;
  validator: ResourceValidator;
  logger: Logger;
  metrics: WebhookMetrics;
  maxBodyBytes?: number;
  /** Reviews handled at once; more are answered 429 with Retry-After before their body is read. */
  maxConcurrentReviews?: number;
  /** Declared body bytes handled at once (one review is always admitted); more get 429 likewise. */
  maxInFlightBytes?: number;
  /** Where large reviews are decided (the review worker); without it every review is decided here. */
  offload?: ReviewOffload;
  /** Bodies of at least this many bytes go to `offload` (default DEFAULT_OFFLOAD_ABOVE_BYTES). */
  offloadAboveBytes?: number;
  /** How long a connection refused without reading its body stays open (default SHED_UNREAD_CLOSE_AFTER_MS; tests). */
  shedUnreadCloseAfterMs?: number;
  /** Clock of the rate-limited load-shedding log line (tests). */
  now?: () => number;
}

class HttpError extends Error {
  readonly status: number;
  readonly reason: string;

  constructor(status: number, reason: string, message: string) {
    super(message);
    this.status = status;
    this.reason = reason;
  }
}

const JSON_HEADERS = { 'content-type': 'application/json' } as const;

function webhookFor(url: string | undefined): WebhookName | undefined {
  const path = url?.split('?', 1)[0];
  if (path === ADMISSION_PATHS.mutate) return 'mutate';
  if (path === ADMISSION_PATHS.validate) return 'validate';
  return undefined;
}

/** Bodies declared larger than this are read into one preallocated buffer (readBody). */
export const PREALLOCATE_ABOVE_BYTES = 16 * 1024;

/**
 * Reads the whole body, refusing early (413) once it passes `limit` bytes. With a declared length
 * (the API server always sends one) each chunk is copied into one buffer of that size as it arrives
 * and can be collected at once, instead of all chunks staying alive until a final concatenation:
 * a 3.35 MiB review then holds about one copy of its bytes while read, not two (ADR 0008). Bodies
 * up to PREALLOCATE_ABOVE_BYTES (an ordinary review, one or two TLS records) are gathered as before:
 * usually one chunk, used as it is, with no allocation or copy.
 */
function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(request.headers['content-length']);
  if (declared > limit) return Promise.reject(new HttpError(413, 'too_large', `body of ${declared} bytes exceeds the limit of ${limit} bytes`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    // Node's HTTP parser never delivers more than a declared Content-Length; should it, the rest is
    // gathered as chunks.
    let whole = Number.isSafeInteger(declared) && declared > PREALLOCATE_ABOVE_BYTES ? Buffer.allocUnsafe(declared) : undefined;
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      if (size + chunk.length > limit) {
        request.removeAllListeners('data');
        request.resume();
        reject(new HttpError(413, 'too_large', `body exceeds the limit of ${limit} bytes`));
        return;
      }
      if (whole && size + chunk.length <= whole.length) chunk.copy(whole, size);
      else {
        if (whole) chunks.push(whole.subarray(0, size));
        whole = undefined;
        chunks.push(chunk);
      }
      size += chunk.length;
    });
    request.on('end', () => {
      if (whole) resolve(size === whole.length ? whole : whole.subarray(0, size));
      else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    });
    request.on('error', reject);
  });
}

/**
 * The admission hot path as a plain Node request handler: body read directly, one JSON.parse, the
 * pure decision from libs/routing, one JSON.stringify. No framework on this path (see ADR 0004).
 * Every bad input gets a 4xx with a reason and a log line; nothing here throws to the server.
 */
export function createAdmissionHandler(options: AdmissionHandlerOptions) {
  const { config, validator, logger, metrics } = options;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const maxConcurrentReviews = options.maxConcurrentReviews ?? DEFAULT_MAX_CONCURRENT_REVIEWS;
  const maxInFlightBytes = options.maxInFlightBytes ?? DEFAULT_MAX_IN_FLIGHT_BYTES;
  const { offload } = options;
  const offloadAboveBytes = options.offloadAboveBytes ?? DEFAULT_OFFLOAD_ABOVE_BYTES;
  const now = options.now ?? Date.now;
  const shedUnreadCloseAfterMs = options.shedUnreadCloseAfterMs ?? SHED_UNREAD_CLOSE_AFTER_MS;
  const timers = { mutate: metrics.admissionSeconds.labels('mutate'), validate: metrics.admissionSeconds.labels('validate') };
  let inFlight = 0;
  let inFlightBytes = 0;
  let shedSinceLog = 0;
  let lastShedLog = -Infinity;
  // A metav1.Status, as the API server's own 429s are; what users see if every retry is refused.
  const shedAnswer = (message: string) => {
    const body = JSON.stringify({
      apiVersion: 'v1',
      kind: 'Status',
      metadata: {},
      status: 'Failure',
      message: `the admission webhook is handling ${message} at once; retry after ${RETRY_AFTER_SECONDS}s`,
      reason: 'TooManyRequests',
      details: { retryAfterSeconds: RETRY_AFTER_SECONDS },
      code: 429,
    });
    return { body, headers: { ...JSON_HEADERS, 'retry-after': String(RETRY_AFTER_SECONDS), 'content-length': Buffer.byteLength(body) } };
  };
  const shedAnswers = {
    reviews: shedAnswer(`${maxConcurrentReviews} reviews`),
    bytes: shedAnswer(`${maxInFlightBytes >= 1048576 ? `${Math.round((maxInFlightBytes / 1048576) * 10) / 10} MiB` : `${Math.round(maxInFlightBytes / 1024)} KiB`} of reviews`),
  };

  // 429 with Retry-After is what the API server's webhook client retries (client-go rest
  // with_retry.go checkWait), within the webhook's timeoutSeconds; a reset connection is not.
  function shed(request: IncomingMessage, response: ServerResponse, webhook: WebhookName, reason: keyof typeof shedAnswers, bytes: number): void {
    metrics.reviewsShed.inc({ webhook, reason });
    if (bytes >= SHED_UNREAD_ABOVE_BYTES) shedUnread(request, response, reason);
    else {
      // The body is never buffered: Node discards it after this answer. The connection stays open
      // while draining, because closing it with the body unread makes TCP reset it, and the API
      // server would then see a reset instead of this answer.
      request.resume();
      if (response.hasHeader('connection')) response.removeHeader('connection');
      response.writeHead(429, shedAnswers[reason].headers);
      response.end(shedAnswers[reason].body);
    }
    shedSinceLog++;
    const at = now();
    if (at - lastShedLog >= 10_000) {
      logger.warn('too many reviews at once: answering 429 with Retry-After, the API server retries them', {
        webhook,
        reason,
        maxConcurrentReviews,
        maxInFlightBytes,
        inFlight,
        inFlightBytes,
        shed: shedSinceLog,
      });
      lastShedLog = at;
      shedSinceLog = 0;
    }
  }

  // The body stays unread: paused, the request stops pulling from the socket, TCP's window closes and
  // the sender stalls. The answer says `connection: close`; Go's transport then drops the connection
  // 50 ms after reading it, as its body write is unfinished, and retries on a new one. The response
  // is written, not ended: ending it makes Node read the rest of the body to discard it. The socket
  // is destroyed after shedUnreadCloseAfterMs: paused, it never reads the client's own close, so the
  // timer is what ends it (cleared if the socket ends otherwise, by a reset or a shutdown).
  function shedUnread(request: IncomingMessage, response: ServerResponse, reason: keyof typeof shedAnswers): void {
    request.pause();
    response.writeHead(429, { ...shedAnswers[reason].headers, connection: 'close' });
    response.write(shedAnswers[reason].body);
    const { socket } = request;
    const closer = setTimeout(() => socket.destroy(), shedUnreadCloseAfterMs);
    closer.unref();
    socket.once('close', () => clearTimeout(closer));
  }

  function refuse(response: ServerResponse, error: HttpError, request: IncomingMessage): void {
    metrics.badRequests.inc({ reason: error.reason });
    logger.warn('admission request refused', { status: error.status, reason: error.reason, error: error.message, path: request.url });
    if (response.headersSent) return;
    response.writeHead(error.status, {
      ...JSON_HEADERS,
      ...(error.status === 413 ? { connection: 'close' } : {}),
      ...(error.status === 503 ? { 'retry-after': String(RETRY_AFTER_SECONDS) } : {}),
    });
    response.end(JSON.stringify({ error: error.message }));
  }

  async function handle(request: IncomingMessage, response: ServerResponse, webhook: WebhookName): Promise<void> {
    const started = process.hrtime.bigint();
    if (request.method !== 'POST') {
      throw new HttpError(405, 'method', `${request.method} is not allowed: POST an admission.k8s.io/v1 AdmissionReview`);
    }
    const contentType = request.headers['content-type'] ?? '';
    if (!/^application\/json\s*(;|$)/i.test(contentType)) {
      request.resume();
      throw new HttpError(415, 'content_type', `content-type must be application/json, not ${JSON.stringify(contentType)}`);
    }
    const body = await readBody(request, maxBodyBytes);
    const decision = offload && body.length >= offloadAboveBytes ? await decideOffloaded(body, webhook) : decideReview(body, webhook, config, validator);
    if ('refusal' in decision) throw new HttpError(decision.refusal.status, decision.refusal.reason, decision.refusal.message);
    const { answer, summary } = decision;
    response.writeHead(200, JSON_HEADERS);
    response.end(answer);

    metrics.admissions.inc({ webhook, kind: summary.kind, operation: summary.operation, result: summary.result });
    timers[webhook].observe(Number(process.hrtime.bigint() - started) / 1e9);
    // Allowed reviews log at debug; skip building the line at all when debug is off (hot path).
    if (summary.result !== 'denied' && !logger.isDebugEnabled()) return;
    logger.log(summary.result === 'denied' ? 'info' : 'debug', 'admission decided', {
      webhook,
      uid: summary.uid,
      kind: summary.kind,
      operation: summary.operation,
      namespace: summary.namespace,
      name: summary.name,
      decision: summary.result,
      dryRun: summary.dryRun,
      ...(summary.reason ? { reason: summary.reason } : {}),
      ...(summary.warnings ? { warnings: summary.warnings } : {}),
    });
  }

  async function decideOffloaded(body: Buffer, webhook: WebhookName): Promise<ReviewDecision> {
    try {
      return await offload!.decide(body, webhook);
    } catch (error) {
      // 503 with Retry-After is retried by the API server like a 429 (client-go checkWait), and the
      // retry meets a new worker; the body is gone with the failed one, so it cannot be decided here.
      if (error instanceof ReviewWorkerError) throw new HttpError(503, 'worker_failed', error.message);
      throw error;
    }
  }

  /** Handles the request when its path is an admission path; returns false to let others serve it. */
  return function admissionHandler(request: IncomingMessage, response: ServerResponse): boolean {
    const webhook = webhookFor(request.url);
    if (!webhook) return false;
    // Decided on arrival, from the headers, before the body is read: a refused review costs no memory.
    // The API server always declares Content-Length; a chunked body counts as the largest allowed.
    const declared = Number(request.headers['content-length']);
    const bytes = Number.isInteger(declared) && declared >= 0 ? Math.min(declared, maxBodyBytes) : maxBodyBytes;
    if (inFlight >= maxConcurrentReviews) {
      shed(request, response, webhook, 'reviews', bytes);
      return true;
    }
    // One review is always admitted, so any legal review gets through however low the cap.
    if (inFlight > 0 && inFlightBytes + bytes > maxInFlightBytes) {
      shed(request, response, webhook, 'bytes', bytes);
      return true;
    }
    inFlight++;
    inFlightBytes += bytes;
    metrics.reviewsInFlight.inc();
    metrics.reviewBytesInFlight.inc(bytes);
    response.once('close', () => {
      inFlight--;
      inFlightBytes -= bytes;
      metrics.reviewsInFlight.dec();
      metrics.reviewBytesInFlight.dec(bytes);
    });
    handle(request, response, webhook).catch((error: unknown) => {
      if (error instanceof HttpError) return refuse(response, error, request);
      // Anything else is a bug or a broken stream; still answer (never crash), and log the stack.
      logger.error('admission request failed unexpectedly', { error: error as Error, path: request.url });
      refuse(response, new HttpError(400, 'unreadable', `request could not be processed: ${(error as Error).message}`), request);
    });
    return true;
  };
}
