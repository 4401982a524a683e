// npm run bench:webhook — the webhook against its two floors, side by side, on this machine.
// Each server runs in its own process (one core); this process drives it (the other): autocannon for
// maximum throughput, an open-loop paced client for latency at a fixed rate. All servers run with the
// production container's V8 and malloc settings (ADR 0008), printed first; BENCH_NODE_OPTIONS and
// BENCH_MALLOC_ARENA_MAX override them ('' for Node's and glibc's defaults). CPU per request is
// printed next to req/s because it moves much less when other work shares the machine.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { build } from 'esbuild';
import { benchTls, realisticAgentReview } from './fixtures.js';
import { pacedLoad } from './paced-load.js';

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
  /** Server CPU time (user + system) per request of the max-throughput run: robust to other load on the machine. */
  cpuMicrosPerRequest: number;
  rssMb: number;
  peakRssMb: number;
}

/** The benchmark servers as one bundle, run by plain node like the production image (no loaders inflating RSS). */
const SERVER_BUNDLE = 'dist/bench/webhook-server.js';
await build({
  entryPoints: ['apps/webhook/bench/server.ts'],
  outfile: SERVER_BUNDLE,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  tsconfig: 'apps/webhook/tsconfig.json',
  banner: { js: "import { createRequire as __kaosCreateRequire } from 'node:module'; const require = __kaosCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});

/** V8 limits of the production container (ADR 0008; the chart sets them); BENCH_NODE_OPTIONS overrides, '' for Node's defaults. */
const NODE_OPTIONS = process.env.BENCH_NODE_OPTIONS ?? '--max-old-space-size=96 --max-semi-space-size=1';
/** glibc malloc arenas of the production container; BENCH_MALLOC_ARENA_MAX overrides, '' for glibc's default (8 per core). */
const MALLOC_ARENA_MAX = process.env.BENCH_MALLOC_ARENA_MAX ?? '2';
/** Every server process gets the same settings, so the comparison with the floors stays fair. */
const SERVER_ENV: NodeJS.ProcessEnv = {
  PATH: process.env.PATH,
  ...(NODE_OPTIONS ? { NODE_OPTIONS } : {}),
  ...(MALLOC_ARENA_MAX ? { MALLOC_ARENA_MAX } : {}),
};

/** One certificate for all servers, generated here: no server pays for node-forge or key generation. */
const TLS_DIR = mkdtempSync(join(tmpdir(), 'kaos-bench-tls-'));
const tls = await benchTls();
writeFileSync(join(TLS_DIR, 'tls.crt'), tls.cert);
writeFileSync(join(TLS_DIR, 'tls.key'), tls.key);

function startServer(kind: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [SERVER_BUNDLE, kind], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...SERVER_ENV, BENCH_TLS_DIR: TLS_DIR } });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${kind} server exited with ${code}`)));
    createInterface({ input: child.stdout! }).once('line', (line) => resolve({ child, port: Number(line) }));
  });
}

/** The real webhook: the production bundle (dist/apps/webhook/main.js) serving mounted certificates. */
async function startWebhook(): Promise<{ child: ChildProcess; port: number }> {
  const port = await freePort();
  const healthPort = await freePort();
  const child = spawn(process.execPath, ['dist/apps/webhook/main.js'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...SERVER_ENV, METRICS_SECURE: 'false', TLS_MODE: 'files', TLS_CERT_DIR: TLS_DIR, WEBHOOK_PORT: String(port), HEALTH_PORT: String(healthPort), BIND_ADDRESS: '127.0.0.1', GATEWAY_API_ENABLED: 'true', GATEWAY_NAMESPACE: 'kaos-system' },
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`webhook exited with ${code}`)));
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      if (line.includes('admission webhook listening')) {
        lines.close();
        child.stdout!.resume();
        resolve({ child, port });
      }
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createNetServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** CPU seconds (user + system) the process has used so far; /proc/<pid>/stat fields 14 and 15, in clock ticks. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

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
  const { child, port } = kind === 'webhook' ? await startWebhook() : await startServer(kind);
  try {
    await load(port, path, { duration: 2 }); // warm-up: JIT, TLS sessions
    const cpuBefore = cpuSeconds(child.pid!);
    const max = await load(port, path, {});
    const cpuUsed = cpuSeconds(child.pid!) - cpuBefore;
    const fixed = await pacedLoad({ port, path, body, rate: FIXED_RATE, durationS: DURATION_S, connections: CONNECTIONS });
    return {
      name,
      requestsPerSecond: Math.round(max.requests.average),
      p50AtRate: fixed.p50,
      p99AtRate: fixed.p99,
      achievedRate: fixed.achievedRate,
      errors: max.errors + max.non2xx + fixed.errors,
      cpuMicrosPerRequest: Math.round((cpuUsed * 1e6) / max.requests.total),
      rssMb: memoryMb(child.pid!, 'VmRSS'),
      peakRssMb: memoryMb(child.pid!, 'VmHWM'),
    };
  } finally {
    child.kill('SIGTERM');
  }
}

console.log(`server settings (all four runs): NODE_OPTIONS="${NODE_OPTIONS}" MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX || '(glibc default)'} — override with BENCH_NODE_OPTIONS / BENCH_MALLOC_ARENA_MAX`);
console.log(`bench:webhook — ${body.length}-byte AdmissionReview (kubectl-applied Agent), ${CONNECTIONS} keep-alive connections, ${DURATION_S}s per run`);
const transport = await measure('transport floor (bare https, fixed answer)', 'transport', '/');
const work = await measure('work floor (bare https, same work)', 'work', '/');
const webhook = await measure('kaos webhook POST /validate (production bundle)', 'webhook', '/validate');
const mutate = await measure('kaos webhook POST /mutate (production bundle)', 'webhook', '/mutate');

const rows = [transport, work, webhook, mutate];
console.log('');
console.log(['server', 'req/s', 'CPU µs/req', `p50 @${FIXED_RATE}/s`, `p99 @${FIXED_RATE}/s`, 'achieved/s', 'errors', 'RSS MB', 'peak RSS MB'].join(' | '));
for (const row of rows) {
  console.log([row.name, row.requestsPerSecond, row.cpuMicrosPerRequest, `${row.p50AtRate} ms`, `${row.p99AtRate} ms`, row.achievedRate, row.errors, row.rssMb, row.peakRssMb].join(' | '));
}
const ratio = (a: Figures, b: Figures) => (a.requestsPerSecond / b.requestsPerSecond).toFixed(2);
console.log('');
console.log(`ratio webhook(/validate) / work floor: ${ratio(webhook, work)}x (target >= 0.8x)`);
console.log(`ratio webhook(/validate) / transport floor: ${ratio(webhook, transport)}x`);
console.log(`ratio work floor / transport floor: ${ratio(work, transport)}x`);
// Wall-clock req/s swings with whatever else runs on the machine; CPU per request less so.
console.log(`ratio by CPU per request, webhook(/validate) vs work floor: ${(work.cpuMicrosPerRequest / webhook.cpuMicrosPerRequest).toFixed(2)}x; /mutate: ${(work.cpuMicrosPerRequest / mutate.cpuMicrosPerRequest).toFixed(2)}x`);
console.log(`load average at the end: ${loadavg().map((value) => value.toFixed(1)).join(' ')} (2 cores; above ~1.5 other work competes with the servers)`);
const targets = [
  [`p99 at ${FIXED_RATE} req/s <= 5 ms`, webhook.p99AtRate <= 5 && mutate.p99AtRate <= 5],
  ['throughput >= 0.8x work floor', webhook.requestsPerSecond >= 0.8 * work.requestsPerSecond],
  ['peak RSS <= 100 MB', webhook.peakRssMb <= 100 && mutate.peakRssMb <= 100],
  ['no errors', rows.every((row) => row.errors === 0)],
] as const;
for (const [target, met] of targets) console.log(`${met ? 'met    ' : 'MISSED '} ${target}`);
