// npm run bench:overload — ordinary reviews at a steady rate, alone and while a bounded flood of the
// API server's largest legal reviews (3.35 MiB, object and oldObject) comes in on many connections,
// side by side in one run (ADR 0010, "Overload"). Each scenario gets a fresh webhook (the production
// bundle with the chart's NODE_OPTIONS and MALLOC_ARENA_MAX; BENCH_NODE_OPTIONS /
// BENCH_MALLOC_ARENA_MAX override), so its peak RSS (VmHWM) is its own. Both clients behave like the
// API server: keep-alive HTTP/1.1, a 429 is re-sent after its Retry-After within the 10 s
// timeoutSeconds. The flood runs in its own process and stops by itself after BENCH_FLOOD_ROUNDS
// reviews per connection; the paced load runs until it has stopped. About 1.5 minutes.
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { build } from 'esbuild';
import { realisticAgentReview } from './fixtures.js';
import { benchTlsDir, MALLOC_ARENA_MAX, MEMORY_LIMIT_MIB, memoryMiB, NODE_OPTIONS, startWebhook } from './harness.js';
import type { FloodResult } from './large-review.js';
import { pacedLoad, type PacedResult } from './paced-load.js';

const RATE = Number(process.env.BENCH_RATE ?? 200);
const BASELINE_S = Number(process.env.BENCH_DURATION ?? 10);
/** As many connections as the paced load needs, like the API server's client (Go's MaxConnsPerHost 0). */
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? Infinity);
const FLOODS = (process.env.BENCH_FLOOD_CONNECTIONS ?? '48,96').split(',').map(Number);
const ROUNDS = Number(process.env.BENCH_FLOOD_ROUNDS ?? 3);
/** No scenario's paced load outlasts this, flood or not. */
const MAX_FLOOD_S = 60;
/** The target for ordinary reviews under a flood (see ADR 0010, "Overload"). */
const P99_TARGET_MS = 250;
const body = realisticAgentReview();

const FLOOD_BUNDLE = 'dist/bench/flood-client.js';
await build({
  entryPoints: ['apps/webhook/bench/flood-client.ts'],
  outfile: FLOOD_BUNDLE,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  tsconfig: 'apps/webhook/tsconfig.json',
  logLevel: 'warning',
});
const tlsDir = await benchTlsDir();

interface Row {
  scenario: string;
  normal: PacedResult;
  flood?: FloodResult;
  peakRssMiB: number;
  alive: boolean;
}

function startFlood(port: number, connections: number): { sending: Promise<void>; result: Promise<FloodResult> } {
  const child = spawn(process.execPath, [FLOOD_BUNDLE, JSON.stringify({ port, connections, rounds: ROUNDS })], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  let started!: () => void;
  const sending = new Promise<void>((resolve) => (started = resolve));
  const result = new Promise<FloodResult>((resolve, reject) => {
    lines.on('line', (line) => {
      if (line === 'sending') started();
      else resolve(JSON.parse(line) as FloodResult);
    });
    child.once('exit', (code) => reject(new Error(`flood client exited with ${code}`)));
  });
  return { sending, result };
}

async function scenario(name: string, floodConnections: number | undefined): Promise<Row> {
  const webhook = await startWebhook(tlsDir);
  let alive = true;
  void webhook.exited.then(() => (alive = false));
  try {
    await pacedLoad({ port: webhook.port, path: '/validate', body, rate: RATE, durationS: 2, connections: CONNECTIONS, retry429: true }); // warm-up: JIT, TLS sessions
    if (floodConnections === undefined) {
      const normal = await pacedLoad({ port: webhook.port, path: '/validate', body, rate: RATE, durationS: BASELINE_S, connections: CONNECTIONS, retry429: true });
      return { scenario: name, normal, peakRssMiB: memoryMiB(webhook.child.pid!, 'VmHWM'), alive };
    }
    const flood = startFlood(webhook.port, floodConnections);
    await flood.sending;
    const normal = await pacedLoad({ port: webhook.port, path: '/validate', body, rate: RATE, durationS: MAX_FLOOD_S, connections: CONNECTIONS, retry429: true, stop: flood.result.catch(() => undefined) });
    return { scenario: name, normal, flood: await flood.result, peakRssMiB: memoryMiB(webhook.child.pid!, 'VmHWM'), alive };
  } finally {
    webhook.stop();
  }
}

console.log(`webhook settings: NODE_OPTIONS="${NODE_OPTIONS}" MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX || '(glibc default)'}, default caps (64 reviews, 28 MiB) — override with BENCH_NODE_OPTIONS / BENCH_MALLOC_ARENA_MAX`);
console.log(
  `bench:overload — ordinary ${Buffer.byteLength(body)}-byte reviews to /validate at ${RATE}/s on ${Number.isFinite(CONNECTIONS) ? CONNECTIONS : 'as many'} connections${Number.isFinite(CONNECTIONS) ? '' : ' as needed'}; flood: 3.35 MiB reviews (object + oldObject) to /validate and /mutate, ${ROUNDS} per connection, on ${FLOODS.join(' and ')} connections; 429s retried after Retry-After within 10 s`,
);
const rows: Row[] = [await scenario('baseline: ordinary reviews alone', undefined)];
for (const connections of FLOODS) rows.push(await scenario(`ordinary + flood of ${connections} connections`, connections));

const baseline = rows[0]!.normal;
console.log('');
console.log(
  ['scenario', 'normal p50', 'normal p99', 'normal max', 'normal sent', 'normal errors', 'normal 429s', 'large answered 200', 'large 429s (shed)', 'large failed', 'flood s', `peak RSS MiB (limit ${MEMORY_LIMIT_MIB})`, 'p99 / baseline p99'].join(' | '),
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
      row.normal.errors,
      row.normal.shed,
      large ? `${large.finals['200'] ?? 0}/${large.reviews}` : '',
      large ? large.shed : '',
      failed,
      large ? large.seconds.toFixed(1) : '',
      `${row.peakRssMiB}${row.alive ? '' : ' (DIED)'}`,
      `${(row.normal.p99 / baseline.p99).toFixed(1)}x`,
    ].join(' | '),
  );
}
console.log('');
console.log(`load average at the end: ${loadavg().map((value) => value.toFixed(1)).join(' ')} (2 cores: the webhook, the flood client and the paced client share them)`);
const flooded = rows.slice(1);
const targets = [
  [`ordinary reviews under flood: p99 <= ${P99_TARGET_MS} ms`, flooded.every((row) => row.normal.p99 <= P99_TARGET_MS)],
  ['ordinary reviews: no errors, none shed', rows.every((row) => row.normal.errors === 0 && row.normal.shed === 0)],
  [`peak RSS < ${MEMORY_LIMIT_MIB} MiB, webhook alive`, rows.every((row) => row.peakRssMiB < MEMORY_LIMIT_MIB && row.alive)],
  ['large reviews: excess shed with 429 (retried), none failed otherwise', flooded.every((row) => row.flood!.shed > 0 && Object.keys(row.flood!.finals).every((final) => final === '200' || final === '429'))],
] as const;
for (const [target, met] of targets) console.log(`${met ? 'met    ' : 'MISSED '} ${target}`);
