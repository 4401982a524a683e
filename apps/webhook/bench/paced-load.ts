import { Agent, request } from 'node:https';

/** Latency figures of a paced run, in milliseconds, measured from each request's scheduled start. */
export interface PacedResult {
  sent: number;
  completed: number;
  errors: number;
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
 */
export async function pacedLoad(options: { port: number; path: string; body: string; rate: number; durationS: number; connections: number }): Promise<PacedResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections, rejectUnauthorized: false });
  const total = Math.round(options.rate * options.durationS);
  const intervalMs = 1000 / options.rate;
  const latencies: number[] = [];
  let errors = 0;
  let sent = 0;
  const start = performance.now();
  const inFlight = new Set<Promise<void>>();

  const fire = (due: number) => {
    const done = new Promise<void>((resolve) => {
      const req = request(
        { host: '127.0.0.1', port: options.port, path: options.path, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(options.body) } },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) latencies.push(performance.now() - due);
            else errors++;
            resolve();
          });
        },
      );
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end(options.body);
    });
    inFlight.add(done);
    void done.then(() => inFlight.delete(done));
  };

  while (sent < total) {
    const now = performance.now();
    while (sent < total && start + sent * intervalMs <= now) {
      fire(start + sent * intervalMs);
      sent++;
    }
    await new Promise((resolve) => setImmediate(resolve));
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
    achievedRate: Math.round(latencies.length / elapsedS),
    p50: round(percentile(latencies, 50)),
    p90: round(percentile(latencies, 90)),
    p99: round(percentile(latencies, 99)),
    max: round(latencies[latencies.length - 1] ?? NaN),
  };
}
