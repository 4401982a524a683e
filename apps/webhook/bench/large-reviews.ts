// Diagnostic: does the webhook survive concurrent near-limit AdmissionReviews under the production
// V8 limits (BENCH_NODE_OPTIONS, default as in the chart), and what does its RSS peak at?
// BENCH_MAX_CONCURRENT_REVIEWS and BENCH_MAX_IN_FLIGHT_BYTES set the webhook's caps (its defaults
// otherwise); like the API server, the client retries a 429 after its Retry-After — here without the
// API server's timeout, so every review is eventually answered. Build first (npm run bench:webhook does).
//   tsx apps/webhook/bench/large-reviews.ts [concurrency] [rounds]
import { Agent } from 'node:https';
import { benchTlsDir, memoryMiB, NODE_OPTIONS, startWebhook } from './harness.js';
import { largeReview, sendReview } from './large-review.js';

const concurrency = Number(process.argv[2] ?? 16);
const rounds = Number(process.argv[3] ?? 5);
const caps = Object.fromEntries(
  (['MAX_CONCURRENT_REVIEWS', 'MAX_IN_FLIGHT_BYTES'] as const).flatMap((name) => (process.env[`BENCH_${name}`] ? [[name, process.env[`BENCH_${name}`]!]] : [])),
);

const webhook = await startWebhook(await benchTlsDir(), caps);
let exited: string | undefined;
void webhook.exited.then((how) => {
  exited = how;
  console.log(`webhook exited: ${how}`);
});
const body = largeReview();
const agent = new Agent({ keepAlive: true, maxSockets: concurrency, rejectUnauthorized: false });
const statuses = new Map<string, number>();
let retries = 0;
for (let round = 0; round < rounds && exited === undefined; round++) {
  const outcomes = await Promise.all(
    Array.from({ length: concurrency }, () => sendReview({ agent, port: webhook.port, path: '/validate', body, timeoutMs: Infinity, maxRetries: Infinity })),
  );
  for (const outcome of outcomes) {
    retries += outcome.shed;
    statuses.set(String(outcome.final), (statuses.get(String(outcome.final)) ?? 0) + 1);
  }
}
const hwm = exited === undefined ? memoryMiB(webhook.child.pid!, 'VmHWM') : NaN;
console.log(`${(body.length / 1048576).toFixed(2)} MiB reviews, ${concurrency} concurrent x ${rounds} rounds, NODE_OPTIONS="${NODE_OPTIONS}": caps ${JSON.stringify(caps)}: answers ${JSON.stringify(Object.fromEntries(statuses))} after ${retries} retried 429s, peak RSS ${hwm} MB, alive: ${exited === undefined}`);
agent.destroy();
webhook.stop();
