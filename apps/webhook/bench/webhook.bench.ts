// npm run bench:webhook — the webhook against its two floors, side by side, on this machine.
// Each server runs in its own process (one core); autocannon drives it from this process (the other).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { realisticAgentReview } from './fixtures.js';

const DURATION_S = Number(process.env.BENCH_DURATION ?? 10);
const FIXED_RATE = Number(process.env.BENCH_RATE ?? 1000);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const body = realisticAgentReview();

interface Figures {
  name: string;
  requestsPerSecond: number;
  p50AtRate: number;
  p99AtRate: number;
  achievedRate: number;
  errors: number;
  rssMb: number;
  peakRssMb: number;
}

function startServer(kind: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'apps/webhook/bench/server.ts', kind], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${kind} server exited with ${code}`)));
    createInterface({ input: child.stdout! }).once('line', (line) => resolve({ child, port: Number(line) }));
  });
}

function memoryMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const match = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`${field}:\\s+(\\d+) kB`));
  return match ? Math.round(Number(match[1]) / 1024) : NaN;
}

async function load(port: number, path: string, extra: Partial<autocannon.Options>): Promise<autocannon.Result> {
  return autocannon({
    url: `https://127.0.0.1:${port}${path}`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections: CONNECTIONS,
    duration: DURATION_S,
    ...extra,
  });
}

async function measure(name: string, kind: string, path: string): Promise<Figures> {
  const { child, port } = await startServer(kind);
  try {
    await load(port, path, { duration: 2 }); // warm-up: JIT, TLS sessions
    const max = await load(port, path, {});
    const fixed = await load(port, path, { overallRate: FIXED_RATE });
    return {
      name,
      requestsPerSecond: Math.round(max.requests.average),
      p50AtRate: fixed.latency.p50,
      p99AtRate: fixed.latency.p99,
      achievedRate: Math.round(fixed.requests.average),
      errors: max.errors + max.non2xx + fixed.errors + fixed.non2xx,
      rssMb: memoryMb(child.pid!, 'VmRSS'),
      peakRssMb: memoryMb(child.pid!, 'VmHWM'),
    };
  } finally {
    child.kill('SIGTERM');
  }
}

console.log(`bench:webhook — ${body.length}-byte AdmissionReview (kubectl-applied Agent), ${CONNECTIONS} keep-alive connections, ${DURATION_S}s per run`);
const transport = await measure('transport floor (bare https, fixed answer)', 'transport', '/');
const work = await measure('work floor (bare https, same work)', 'work', '/');
const webhook = await measure('kaos webhook POST /validate', 'webhook', '/validate');
const mutate = await measure('kaos webhook POST /mutate', 'webhook', '/mutate');

const rows = [transport, work, webhook, mutate];
console.log('');
console.log(['server', 'req/s', `p50 @${FIXED_RATE}/s`, `p99 @${FIXED_RATE}/s`, 'achieved/s', 'errors', 'RSS MB', 'peak RSS MB'].join(' | '));
for (const row of rows) {
  console.log([row.name, row.requestsPerSecond, `${row.p50AtRate} ms`, `${row.p99AtRate} ms`, row.achievedRate, row.errors, row.rssMb, row.peakRssMb].join(' | '));
}
const ratio = (a: Figures, b: Figures) => (a.requestsPerSecond / b.requestsPerSecond).toFixed(2);
console.log('');
console.log(`ratio webhook(/validate) / work floor: ${ratio(webhook, work)}x (target >= 0.8x)`);
console.log(`ratio webhook(/validate) / transport floor: ${ratio(webhook, transport)}x`);
console.log(`ratio work floor / transport floor: ${ratio(work, transport)}x`);
const targets = [
  [`p99 at ${FIXED_RATE} req/s <= 5 ms`, webhook.p99AtRate <= 5 && mutate.p99AtRate <= 5],
  ['throughput >= 0.8x work floor', webhook.requestsPerSecond >= 0.8 * work.requestsPerSecond],
  ['peak RSS <= 100 MB', webhook.peakRssMb <= 100 && mutate.peakRssMb <= 100],
  ['no errors', rows.every((row) => row.errors === 0)],
] as const;
for (const [target, met] of targets) console.log(`${met ? 'met    ' : 'MISSED '} ${target}`);
