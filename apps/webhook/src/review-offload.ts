// Hands large reviews to one worker thread. A 3.35 MiB review costs the thread that decides it
// 60–200 ms of parse, mutate and garbage collection; on the thread that also serves every
// connection, a flood of them delayed ordinary reviews by seconds (ADR 0010, "Overload"). The body
// buffer is transferred, not copied, and only the short answer comes back.
import { Worker } from 'node:worker_threads';
import type { RoutingConfig } from '@kaos/routing';
import type { Logger } from '@kaos/kube-runtime';
import type { ReviewDecision, WebhookName } from './review-decision.js';

/** A review sent to the worker; `body` is transferred. */
export interface ReviewWorkerRequest {
  id: number;
  webhook: WebhookName;
  body: Uint8Array;
}

/** The worker's answer to one request: the decision, or the stack of an unexpected error. */
export type ReviewWorkerReply = { id: number; decision: ReviewDecision } | { id: number; failure: string };

/** The worker's first message: the nice value it gave its thread, or why it could not. */
export type ReviewWorkerNotice = { started: { threadId: number; nice: number } | { niceError: string } };

/**
 * How much the worker thread raises its nice value above the serving thread's (at most to 19): under
 * CPU contention Linux then gives it about a tenth of what the serving thread gets (CFS weights 110
 * and 1024 at nice 10 and 0), so large reviews use the CPU that ordinary ones leave.
 */
export const REVIEW_WORKER_NICE = 10;

/** Decides reviews somewhere other than the calling thread. */
export interface ReviewOffload {
  /** The decision for `body`, which the caller must not use afterwards (its memory moves to the worker). */
  decide(body: Uint8Array, webhook: WebhookName): Promise<ReviewDecision>;
  /** Reviews sent and not yet answered. */
  pending(): number;
  /** Whether the worker thread is up (it starts on demand and stops when idle). */
  running(): boolean;
  /** Stops the worker; pending reviews fail. */
  close(): Promise<void>;
}

/** Thrown for a review the worker could not answer: it died, or the decision threw. */
export class ReviewWorkerError extends Error {}

/** What createReviewWorker needs. */
export interface ReviewWorkerOptions {
  /** The worker's bundled entry point (review-worker.js next to main.js). */
  url: URL;
  config: RoutingConfig;
  logger: Logger;
  /** The worker is stopped after this long with nothing to do, giving its memory back (default 60 s). */
  idleStopMs?: number;
  /** How far the worker thread lowers its priority below the serving thread's (default REVIEW_WORKER_NICE). */
  nice?: number;
}

/** Default idle time after which the worker thread is stopped; the next large review starts it again. */
export const DEFAULT_WORKER_IDLE_STOP_MS = 60_000;

/**
 * One worker thread, started on the first review and stopped when idle. Reviews are decided one at
 * a time in arrival order (the admission handler's caps bound how many wait). A worker that dies
 * fails only the reviews it held; the next review starts a new one.
 */
export function createReviewWorker(options: ReviewWorkerOptions): ReviewOffload {
  const { url, config, logger } = options;
  const idleStopMs = options.idleStopMs ?? DEFAULT_WORKER_IDLE_STOP_MS;
  let worker: Worker | undefined;
  let nextId = 0;
  let idleTimer: NodeJS.Timeout | undefined;
  const waiting = new Map<number, { resolve: (decision: ReviewDecision) => void; reject: (error: Error) => void }>();

  function failAll(current: Worker, error: ReviewWorkerError): void {
    if (worker !== current) return;
    worker = undefined;
    for (const { reject } of waiting.values()) reject(error);
    waiting.clear();
  }

  function start(): Worker {
    const started = new Worker(url, { workerData: { config, nice: options.nice ?? REVIEW_WORKER_NICE }, name: 'review-worker' });
    started.on('message', (reply: ReviewWorkerReply | ReviewWorkerNotice) => {
      if ('started' in reply) {
        if ('niceError' in reply.started) logger.warn('the review worker runs at the serving thread\'s priority: setting its nice value failed', { error: reply.started.niceError });
        else logger.info('review worker started for large reviews', reply.started);
        return;
      }
      const entry = waiting.get(reply.id);
      if (!entry) return;
      waiting.delete(reply.id);
      if ('decision' in reply) entry.resolve(reply.decision);
      else entry.reject(new ReviewWorkerError(`the review worker failed to decide a review: ${reply.failure}`));
      if (waiting.size === 0) scheduleIdleStop();
    });
    started.on('error', (error) => {
      logger.error('the review worker failed; its pending reviews are answered 503 and the next large review starts a new one', { error, pending: waiting.size });
      failAll(started, new ReviewWorkerError(`the review worker failed: ${error.message}`));
    });
    started.on('exit', (code) => {
      if (worker === started && waiting.size > 0) logger.error('the review worker exited with reviews pending', { code, pending: waiting.size });
      failAll(started, new ReviewWorkerError(`the review worker exited with code ${code}`));
    });
    // An idle worker must not keep the process alive (shutdown waits for connections, not for it).
    started.unref();
    return started;
  }

  function scheduleIdleStop(): void {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => {
      const idle = worker;
      if (!idle || waiting.size > 0) return;
      worker = undefined;
      void idle.terminate();
    }, idleStopMs);
    idleTimer.unref();
  }

  return {
    decide(body, webhook) {
      clearTimeout(idleTimer);
      worker ??= start();
      const id = nextId++;
      // Only a buffer that is the body's alone can be transferred (a view of a shared pool or of a
      // larger chunk is copied first, which only small bodies are in practice).
      const own = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength ? body : new Uint8Array(body);
      const request: ReviewWorkerRequest = { id, webhook, body: own };
      const decision = new Promise<ReviewDecision>((resolve, reject) => waiting.set(id, { resolve, reject }));
      worker.postMessage(request, [own.buffer as ArrayBuffer]);
      return decision;
    },
    pending: () => waiting.size,
    running: () => worker !== undefined,
    async close() {
      clearTimeout(idleTimer);
      const current = worker;
      if (!current) return;
      failAll(current, new ReviewWorkerError('the webhook is shutting down'));
      await current.terminate();
    },
  };
}
