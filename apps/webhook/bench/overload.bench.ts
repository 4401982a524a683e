// npm run bench:overload — ordinary reviews at a steady rate, alone and while a bounded flood of the
// API server's largest legal reviews (3.35 MiB, object and oldObject) comes in on many connections,
// side by side in one run (ADR 0010, "Overload"). Each scenario gets a fresh webhook (the production
// bundle with the chart's NODE_OPTIONS and MALLOC_ARENA_MAX; BENCH_NODE_OPTIONS /
// BENCH_MALLOC_ARENA_MAX override), so its peak RSS (VmHWM) is its own. Both clients behave like the
// API server: keep-alive HTTP/1.1, a 429 is re-sent after its Retry-After within the 10 s
// timeoutSeconds. The flood runs in its own process and stops by itself after BENCH_FLOOD_ROUNDS
// reviews per connection; the paced load runs until it has stopped. The webhook's own event-loop
// delay comes from its /metrics (prom-client). About 2 minutes.
import { spawn } from 'node:child_process';
import { get } from 'node:http';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { realisticAgentReview } from './fixtures.js';
import { benchTlsDir, bundleBenchEntry, cpuSeconds, MALLOC_ARENA_MAX, MEMORY_LIMIT_MIB, memoryMiB, NODE_OPTIONS, startWebhook } from './harness.js';
import type { FloodResult } from './large-review.js';
import { pacedLoad, type PacedResult } from './paced-load.js';

const RATE = Number(process.env.BENCH_RATE ?? 100);
const BASELINE_S = Number(process.env.BENCH_DURATION ?? 10);
/**
 * Up to 64 connections for the paced load (the webhook's MAX_CONCURRENT_REVIEWS): enough for 100/s
 * while answers take under 0.6 s, few enough that a stall does not turn into a storm of TLS
 * handshakes. (The API server's client has no limit; it keeps 25 idle per host.) A review waiting
 * for a free connection counts: latency runs from its due time.
 */
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const FLOODS = (process.env.BENCH_FLOOD_CONNECTIONS ?? '48,96').split(',').map(Number);
const ROUNDS = Number(process.env.BENCH_FLOOD_ROUNDS ?? 2);
/** The webhook's MAX_IN_FLIGHT_BYTES for this run; unset, the webhook's default. */
const MAX_IN_FLIGHT_BYTES = process.env.BENCH_MAX_IN_FLIGHT_BYTES;
/** No scenario's paced load outlasts this, flood or not. */
const MAX_FLOOD_S = 60;
/**
 * The target for ordinary reviews under a flood (ADR 0010, "Overload"): answered on the first attempt
 * (a 429 costs at least its 1 s Retry-After) and far inside the API server's 10 s timeoutSeconds.
 */
const P99_TARGET_MS = 1000;
const body = realisticAgentReview();

const FLOOD_BUNDLE = await bundleBenchEntry('apps/webhook/bench/flood-client.ts', 'dist/bench/flood-client.js');
const tlsDir = await benchTlsDir();

/** What flood-client.ts prints: the flood and the CPU seconds it took to send it. */
type FloodOutput = FloodResult & { cpuSeconds: number };

interface Row {
  scenario: string;
  /** CPU seconds the clients used over the measured part: they share the machine with the webhook. */
  clientCpu: { paced: number; flood?: number };
  /** The webhook's event-loop delay (prom-client's nodejs_eventloop_lag_*), ms, over the measured part. */
  loopDelay: { p99: number; max: number };
  /** The webhook's CPU time and its wait for a CPU over the measured part, and how long that part was, in seconds. */
  cpu: { ran: number; waited: number; seconds: number };
  normal: PacedResult;
  flood?: FloodOutput;
  peakRssMiB: number;
  alive: boolean;
}

/**
 * The webhook's own event-loop delay from its /metrics (prom-client's monitorEventLoopDelay, reset at
 * every scrape): how long the loop was blocked, whatever the clients saw.
 */
function loopDelay(healthPort: number): Promise<{ p99: number; max: number }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port: healthPort, path: '/metrics' }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        const ms = (name: string) => Math.round(Number(text.match(new RegExp(`^${name} (\\S+)`, 'm'))?.[1]) * 1000);
        resolve({ p99: ms('nodejs_eventloop_lag_p99_seconds'), max: ms('nodejs_eventloop_lag_max_seconds') });
      });
    }).on('error', reject);
  });
}

function startFlood(port: number, connections: number): { sending: Promise<void>; result: Promise<FloodOutput> } {
  const child = spawn(process.execPath, [FLOOD_BUNDLE, JSON.stringify({ port, connections, rounds: ROUNDS })], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  let started!: () => void;
  const sending = new Promise<void>((resolve) => (started = resolve));
  const result = new Promise<FloodOutput>((resolve, reject) => {
    lines.on('line', (line) => {
      if (line === 'sending') started();
      else resolve(JSON.parse(line) as FloodOutput);
    });
    child.once('exit', (code) => reject(new Error(`flood client exited with ${code}`)));
  });
  return { sending, result };
}

async function scenario(name: string, floodConnections: number | undefined): Promise<Row> {
  const webhook = await startWebhook(tlsDir, MAX_IN_FLIGHT_BYTES ? { MAX_IN_FLIGHT_BYTES } : {});
  let alive = true;
  void webhook.exited.then(() => (alive = false));
  try {
    await pacedLoad({ port: webhook.port, path: '/validate', body, rate: RATE, durationS: 2, connections: CONNECTIONS, retry429: true }); // warm-up: JIT, TLS sessions
    await loopDelay(webhook.healthPort); // resets its histogram: the figures below cover the measured part only
    const before = { ...cpuSeconds(webhook.child.pid!), at: performance.now(), paced: process.cpuUsage() };
    const pacedCpu = () => {
      const used = process.cpuUsage(before.paced);
      return (used.user + used.system) / 1e6;
    };
    const cpu = () => {
      const after = cpuSeconds(webhook.child.pid!);
      return { ran: after.ran - before.ran, waited: after.waited - before.waited, seconds: (performance.now() - before.at) / 1000 };
    };
    if (floodConnections === undefined) {
      const normal = await pacedLoad({ port: webhook.port, path: '/validate', body, rate: RATE, durationS: BASELINE_S, connections: CONNECTIONS, retry429: true });
      return { scenario: name, normal, clientCpu: { paced: pacedCpu() }, loopDelay: await loopDelay(webhook.healthPort), cpu: cpu(), peakRssMiB: memoryMiB(webhook.child.pid!, 'VmHWM'), alive };
    }
    const flood = startFlood(webhook.port, floodConnections);
    await flood.sending;
    const normal = await pacedLoad({ port: webhook.port, path: '/validate', body, rate: RATE, durationS: MAX_FLOOD_S, connections: CONNECTIONS, retry429: true, stop: flood.result.catch(() => undefined) });
    const result = await flood.result;
    return { scenario: name, normal, flood: result, clientCpu: { paced: pacedCpu(), flood: result.cpuSeconds }, loopDelay: await loopDelay(webhook.healthPort), cpu: cpu(), peakRssMiB: memoryMiB(webhook.child.pid!, 'VmHWM'), alive };
  } finally {
    webhook.stop();
  }
}

console.log(`webhook settings: NODE_OPTIONS="${NODE_OPTIONS}" MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX || '(glibc default)'}, ${MAX_IN_FLIGHT_BYTES ? `MAX_IN_FLIGHT_BYTES=${MAX_IN_FLIGHT_BYTES}` : 'default caps (64 reviews, 14 MiB)'} — override with BENCH_NODE_OPTIONS / BENCH_MALLOC_ARENA_MAX / BENCH_MAX_IN_FLIGHT_BYTES`);
console.log(
  `bench:overload — ordinary ${Buffer.byteLength(body)}-byte reviews to /validate at ${RATE}/s on up to ${CONNECTIONS} connections; flood: 3.35 MiB reviews (object + oldObject) to /validate and /mutate, ${ROUNDS} per connection, on ${FLOODS.join(' and ')} connections; 429s retried after Retry-After within 10 s`,
);
const rows: Row[] = [await scenario('baseline: ordinary reviews alone', undefined)];
for (const connections of FLOODS) rows.push(await scenario(`ordinary + flood of ${connections} connections`, connections));

const baseline = rows[0]!.normal;
console.log('');
console.log(
  ['scenario', 'normal p50', 'normal p99', 'normal max', 'normal sent', 'normal errors', 'normal 429s', 'large answered 200', 'large 429s (shed)', 'large failed', 'flood s', 'webhook loop delay p99/max', 'webhook CPU s / waited for a CPU s / of s', 'client CPU s (paced + flood)', `peak RSS MiB (limit ${MEMORY_LIMIT_MIB})`, 'p99 / baseline p99'].join(' | '),
);
for (const row of rows) {
  const large = row.flood;
  const failed = large ? Object.entries(large.finals).filter(([final]) => final !== '200').map(([final, count]) => `${count}×${final}`).join(' ') || '0' : '';
  console.log(
    [
      row.scenario,
      `${row.normal.p50} ms`,
      `${row.normal.p99} ms`,
      `${row.normal.max} ms`,
      row.normal.sent,
      row.normal.errors === 0 ? 0 : Object.entries(row.normal.errorsBy).map(([final, count]) => `${count}×${final}`).join(' '),
      row.normal.shed,
      large ? `${large.finals['200'] ?? 0}/${large.reviews}` : '',
      large ? large.shed : '',
      failed,
      large ? large.seconds.toFixed(1) : '',
      `${row.loopDelay.p99}/${row.loopDelay.max} ms`,
      `${row.cpu.ran.toFixed(1)} / ${row.cpu.waited.toFixed(1)} / ${row.cpu.seconds.toFixed(1)}`,
      row.clientCpu.flood === undefined ? row.clientCpu.paced.toFixed(1) : `${row.clientCpu.paced.toFixed(1)} + ${row.clientCpu.flood.toFixed(1)}`,
      `${row.peakRssMiB}${row.alive ? '' : ' (DIED)'}`,
      `${(row.normal.p99 / baseline.p99).toFixed(1)}x`,
    ].join(' | '),
  );
}
console.log('');
console.log(`load average at the end: ${loadavg().map((value) => value.toFixed(1)).join(' ')} (the webhook, the flood client and the paced client share this machine's cores)`);
console.log("large failed: 429 = still refused when the API server's timeout would end its retries; timeout = no answer within 10 s (a failed write)");
const flooded = rows.slice(1);
const targets = [
  [`ordinary reviews during a flood: p99 <= ${P99_TARGET_MS} ms, none failed`, flooded.every((row) => row.normal.p99 <= P99_TARGET_MS && row.normal.errors === 0)],
  ['ordinary reviews alone: none failed, none shed', rows[0]!.normal.errors === 0 && rows[0]!.normal.shed === 0],
  [`peak RSS < ${MEMORY_LIMIT_MIB} MiB (the container limit), webhook alive`, rows.every((row) => row.peakRssMiB < MEMORY_LIMIT_MIB && row.alive)],
  ['large reviews: the excess shed with 429 + Retry-After', flooded.every((row) => row.flood!.shed > 0)],
] as const;
for (const [target, met] of targets) console.log(`${met ? 'met    ' : 'MISSED '} ${target}`);
