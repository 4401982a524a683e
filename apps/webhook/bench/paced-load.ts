import { Agent } from 'node:https';
import { sendReview } from './large-review.js';

/** Latency figures of a paced run, in milliseconds, measured from each request's scheduled start. */
export interface PacedResult {
  sent: number;
  completed: number;
  /** Requests without a 200 in the end (after retries, when 429s are retried). */
  errors: number;
  /** Those errors by final status or client error ('timeout': no answer within the API server's timeoutSeconds). */
  errorsBy: Record<string, number>;
  /** 429s received (each retried after its Retry-After when `retry429` is set). */
  shed: number;
  achievedRate: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * Open-loop load at a fixed rate: request i is due at start + i/rate, whatever happened before, and
 * its latency counts from that due time (so a stalled server is not hidden by a waiting client:
 * no coordinated omission). autocannon's `overallRate` instead sends each connection's per-second
 * quota back to back, which measures burst queueing rather than latency at a steady rate.
 * `retry429`: a 429 is re-sent after its Retry-After, as the API server does (large-review.ts), and
 * the latency includes the wait. `stop`: no request is sent once it resolves (durationS still caps).
 */
export async function pacedLoad(options: {
  port: number;
  path: string;
  body: string;
  rate: number;
  durationS: number;
  connections: number;
  retry429?: boolean;
  stop?: Promise<unknown>;
}): Promise<PacedResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections, rejectUnauthorized: false });
  const total = Math.round(options.rate * options.durationS);
  const intervalMs = 1000 / options.rate;
  const latencies: number[] = [];
  let errors = 0;
  const errorsBy: Record<string, number> = {};
  let shed = 0;
  let sent = 0;
  let stopped = false;
  void options.stop?.then(() => (stopped = true));
  const start = performance.now();
  const inFlight = new Set<Promise<void>>();

  const fire = (due: number) => {
    const done = sendReview({ agent, port: options.port, path: options.path, body: options.body, ...(options.retry429 ? {} : { maxRetries: 0 }) }).then((outcome) => {
      shed += outcome.shed;
      if (outcome.final === 200) latencies.push(performance.now() - due);
      else {
        errors++;
        errorsBy[outcome.final] = (errorsBy[outcome.final] ?? 0) + 1;
      }
    });
    inFlight.add(done);
    void done.then(() => inFlight.delete(done));
  };

  while (sent < total && !stopped) {
    const now = performance.now();
    while (sent < total && start + sent * intervalMs <= now) {
      fire(start + sent * intervalMs);
      sent++;
    }
    // Spin (setImmediate) close to the next due time; sleep when it is further away than a timer's slack.
    const untilNext = start + sent * intervalMs - performance.now();
    await new Promise((resolve) => (untilNext > 2 ? setTimeout(resolve, untilNext - 1.5) : setImmediate(resolve)));
  }
  await Promise.all(inFlight);
  const elapsedS = (performance.now() - start) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const round = (n: number) => Math.round(n * 100) / 100;
  return {
    sent,
    completed: latencies.length,
    errors,
    errorsBy,
    shed,
    achievedRate: Math.round(latencies.length / elapsedS),
    p50: round(percentile(latencies, 50)),
    p90: round(percentile(latencies, 90)),
    p99: round(percentile(latencies, 99)),
    max: round(latencies[latencies.length - 1] ?? NaN),
  };
}
