// Entry point of the review worker thread (bundled as dist/apps/webhook/review-worker.js): decides the
// large reviews the admission handler hands over (review-offload.ts), so their parse, validation and
// garbage collection run off the thread that serves every connection (ADR 0010, "Overload").
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { ResourceValidator } from '@kaos/api-types';
import type { RoutingConfig } from '@kaos/routing';
import { decideReview } from './review-decision.js';
import type { ReviewWorkerNotice, ReviewWorkerReply, ReviewWorkerRequest } from './review-offload.js';

if (!parentPort) throw new Error('review-worker.js runs as a worker thread of the webhook, not on its own');
const port = parentPort;
const { config, nice } = workerData as { config: RoutingConfig; nice: number };

// Linux schedules threads one by one: a higher nice value for this thread alone lets the thread that
// serves every connection (and ordinary reviews) run first whenever both want the pod's CPU.
// Relative to the priority it was started with (the serving thread's), so it is always a lowering,
// which needs no privilege, even in a process that already runs niced.
try {
  const threadId = Number(readlinkSync('/proc/thread-self').split('/').pop());
  const lowered = Math.min(19, getPriority(threadId) + nice);
  setPriority(threadId, lowered);
  port.postMessage({ started: { threadId, nice: lowered } } satisfies ReviewWorkerNotice);
} catch (error) {
  port.postMessage({ started: { niceError: (error as Error).message } } satisfies ReviewWorkerNotice);
}

const validator = new ResourceValidator();

port.on('message', ({ id, webhook, body }: ReviewWorkerRequest) => {
  let reply: ReviewWorkerReply;
  try {
    reply = { id, decision: decideReview(body, webhook, config, validator) };
  } catch (error) {
    // A bug in a decision, not a bad body (those are refusals): reported, and the worker lives on.
    reply = { id, failure: (error as Error).stack ?? String(error) };
  }
  port.postMessage(reply);
});
