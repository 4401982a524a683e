// npm run bench:webhook — the webhook against its two floors and the controller-runtime (Go) peer
// (go-peer.ts: built from ../shared/anchors when it and `go` are there), side by side, on this machine.
// Each server runs in its own process (one core); this process drives it (the other): autocannon for
// maximum throughput, an open-loop paced client for latency at a fixed rate. All servers run with the
// production container's V8 and malloc settings (ADR 0008), printed first; BENCH_NODE_OPTIONS and
// BENCH_MALLOC_ARENA_MAX override them ('' for Node's and glibc's defaults). CPU per request is
// printed next to req/s because it moves much less when other work shares the machine.
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { realisticAgentReview } from './fixtures.js';
import { goWebhookPeer, startGoWebhook } from './go-peer.js';
import { benchTlsDir, bundleBenchEntry, MALLOC_ARENA_MAX, memoryMiB, NODE_OPTIONS, processCpuSeconds, startWebhook } from './harness.js';
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
  /**
   * The same during the paced run: every server gets the same offered load, so a server's figure does
   * not depend on how many requests the client, sharing the two cores, manages to batch into each of
   * its event-loop turns (at maximum throughput a faster server reads several per turn and pays less).
   */
  cpuMicrosPerRequestAtRate: number;
  /** VmHWM at the end of the runs. */
  peakRssMb: number;
  /** VmRSS after the load and SETTLE_S seconds idle. */
  settledRssMb: number;
}

/** The benchmark servers as one bundle, run by plain node like the production image (no loaders inflating RSS). */
const SERVER_BUNDLE = await bundleBenchEntry('apps/webhook/bench/server.ts', 'dist/bench/webhook-server.js');

/** Every server process gets the same settings, so the comparison with the floors stays fair. */
const SERVER_ENV: NodeJS.ProcessEnv = {
  PATH: process.env.PATH,
  ...(NODE_OPTIONS ? { NODE_OPTIONS } : {}),
  ...(MALLOC_ARENA_MAX ? { MALLOC_ARENA_MAX } : {}),
};

/** One certificate for all servers, generated here: no server pays for node-forge or key generation. */
const TLS_DIR = await benchTlsDir();
/** How long a server idles after the load before its settled RSS is read. */
const SETTLE_S = Number(process.env.BENCH_SETTLE ?? 5);

/** A server under test: its process id, port, and how to stop it. */
interface Target {
  pid: number;
  port: number;
  stop(): void;
}

function startServer(kind: string): Promise<Target> {
  const child = spawn(process.execPath, [SERVER_BUNDLE, kind], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...SERVER_ENV, BENCH_TLS_DIR: TLS_DIR } });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${kind} server exited with ${code}`)));
    createInterface({ input: child.stdout! }).once('line', (line) => resolve({ pid: child.pid!, port: Number(line), stop: () => child.kill('SIGTERM') }));
  });
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

async function measure(name: string, start: () => Promise<Target>, path: string): Promise<Figures> {
  const { pid, port, stop } = await start();
  try {
    await load(port, path, { duration: 2 }); // warm-up: JIT, TLS sessions
    const cpuBefore = processCpuSeconds(pid);
    const max = await load(port, path, {});
    const cpuAfterMax = processCpuSeconds(pid);
    const fixed = await pacedLoad({ port, path, body, rate: FIXED_RATE, durationS: DURATION_S, connections: CONNECTIONS });
    const cpuAfterPaced = processCpuSeconds(pid);
    await new Promise((resolve) => setTimeout(resolve, SETTLE_S * 1000));
    return {
      name,
      requestsPerSecond: Math.round(max.requests.average),
      p50AtRate: fixed.p50,
      p99AtRate: fixed.p99,
      achievedRate: fixed.achievedRate,
      errors: max.errors + max.non2xx + fixed.errors,
      cpuMicrosPerRequest: Math.round(((cpuAfterMax - cpuBefore) * 1e6) / max.requests.total),
      cpuMicrosPerRequestAtRate: Math.round(((cpuAfterPaced - cpuAfterMax) * 1e6) / Math.max(1, fixed.completed + fixed.errors)),
      settledRssMb: memoryMiB(pid, 'VmRSS'),
      peakRssMb: memoryMiB(pid, 'VmHWM'),
    };
  } finally {
    stop();
  }
}

const load1 = () => loadavg().map((value) => value.toFixed(1)).join(' ');
const peer = goWebhookPeer();
console.log(`server settings (Node servers): NODE_OPTIONS="${NODE_OPTIONS}" MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX || '(glibc default)'} — override with BENCH_NODE_OPTIONS / BENCH_MALLOC_ARENA_MAX`);
console.log(peer.note);
console.log(`bench:webhook — ${body.length}-byte AdmissionReview (kubectl-applied Agent), ${CONNECTIONS} keep-alive connections, ${DURATION_S}s per run, settled RSS ${SETTLE_S}s after the load; load average at the start: ${load1()}`);
const transport = await measure('transport floor (bare https, fixed answer)', () => startServer('transport'), '/');
const work = await measure('work floor (bare https, same work)', () => startServer('work'), '/');
const startKaos = async (): Promise<Target> => {
  const webhook = await startWebhook(TLS_DIR);
  return { pid: webhook.child.pid!, port: webhook.port, stop: webhook.stop };
};
const webhook = await measure('kaos webhook POST /validate', startKaos, '/validate');
const mutate = await measure('kaos webhook POST /mutate', startKaos, '/mutate');
const peers: Array<Figures & { mode: 'raw' | 'typed'; path: string }> = [];
if (peer.binary) {
  for (const mode of ['raw', 'typed'] as const) {
    for (const path of ['/validate', '/mutate']) {
      peers.push({ mode, path, ...(await measure(`controller-runtime ${mode} POST ${path}`, () => startGoWebhook(peer.binary, mode, TLS_DIR), path)) });
    }
  }
}

const rows = [transport, work, webhook, mutate, ...peers];
/** Ours against the best controller-runtime peer on the same path, metric by metric (lower is better but for req/s). */
const vsBest = (row: Figures, path: string): string => {
  const same = peers.filter((candidate) => candidate.path === path);
  if (same.length === 0 || (row !== webhook && row !== mutate)) return '';
  const best = (pick: (figures: Figures) => number, better: (a: number, b: number) => number) => same.map(pick).reduce((a, b) => better(a, b));
  const times = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
  return [
    times(row.requestsPerSecond, best((f) => f.requestsPerSecond, Math.max)),
    times(row.cpuMicrosPerRequest, best((f) => f.cpuMicrosPerRequest, Math.min)),
    times(row.cpuMicrosPerRequestAtRate, best((f) => f.cpuMicrosPerRequestAtRate, Math.min)),
    times(row.peakRssMb, best((f) => f.peakRssMb, Math.min)),
    times(row.settledRssMb, best((f) => f.settledRssMb, Math.min)),
  ].join(' / ');
};
console.log('');
console.log(['server', 'req/s', 'CPU µs/req', `CPU µs/req @${FIXED_RATE}/s`, `p50 @${FIXED_RATE}/s`, `p99 @${FIXED_RATE}/s`, 'achieved/s', 'errors', 'peak RSS MB', 'settled RSS MB', `vs best peer: req/s / CPU / CPU @${FIXED_RATE}/s / peak / settled`].join(' | '));
for (const row of rows) {
  const path = row === mutate ? '/mutate' : '/validate';
  console.log([row.name, row.requestsPerSecond, row.cpuMicrosPerRequest, row.cpuMicrosPerRequestAtRate, `${row.p50AtRate} ms`, `${row.p99AtRate} ms`, row.achievedRate, row.errors, row.peakRssMb, row.settledRssMb, vsBest(row, path)].join(' | '));
}
const ratio = (a: Figures, b: Figures) => (a.requestsPerSecond / b.requestsPerSecond).toFixed(2);
console.log('');
console.log(`ratio webhook(/validate) / work floor: ${ratio(webhook, work)}x (target >= 0.8x)`);
console.log(`ratio webhook(/validate) / transport floor: ${ratio(webhook, transport)}x`);
console.log(`ratio work floor / transport floor: ${ratio(work, transport)}x`);
// Wall-clock req/s swings with whatever else runs on the machine; CPU per request less so.
console.log(`ratio by CPU per request, webhook(/validate) vs work floor: ${(work.cpuMicrosPerRequest / webhook.cpuMicrosPerRequest).toFixed(2)}x; /mutate: ${(work.cpuMicrosPerRequest / mutate.cpuMicrosPerRequest).toFixed(2)}x`);
const raw = (path: string) => peers.find((row) => row.mode === 'raw' && row.path === path);
const cpuVsRaw = [
  [webhook, raw('/validate')],
  [mutate, raw('/mutate')],
] as const;
type CpuFigure = 'cpuMicrosPerRequest' | 'cpuMicrosPerRequestAtRate';
const cpuLoads: Array<[CpuFigure, string]> = [
  ['cpuMicrosPerRequest', 'at maximum throughput'],
  ['cpuMicrosPerRequestAtRate', `at ${FIXED_RATE} req/s`],
];
const cpuWithinTarget = (figure: CpuFigure) => cpuVsRaw.every(([ours, go]) => ours[figure] <= 0.4 * go![figure]);
if (peer.binary) {
  for (const [figure, when] of cpuLoads) {
    console.log(
      `CPU per request ${when}, kaos / controller-runtime raw: ${cpuVsRaw.map(([ours, go]) => `${ours === webhook ? '/validate' : '/mutate'} ${(ours[figure] / go![figure]).toFixed(2)}×`).join(', ')} (target <= 0.4×)`,
    );
  }
} else {
  console.log('CPU per request vs controller-runtime raw: not measured (no peer; see above)');
}
console.log(`load average at the end: ${load1()} (2 cores; above ~1.5 other work competes with the servers)`);
const targets = [
  [`p99 at ${FIXED_RATE} req/s <= 5 ms`, webhook.p99AtRate <= 5 && mutate.p99AtRate <= 5],
  ['throughput >= 0.8x work floor', webhook.requestsPerSecond >= 0.8 * work.requestsPerSecond],
  ['peak RSS <= 100 MB', webhook.peakRssMb <= 100 && mutate.peakRssMb <= 100],
  ...(peer.binary ? cpuLoads.map(([figure, when]) => [`CPU per request ${when} <= 0.4x controller-runtime raw`, cpuWithinTarget(figure)] as const) : []),
  ['no errors', rows.every((row) => row.errors === 0)],
] as const;
for (const [target, met] of targets) console.log(`${met ? 'met    ' : 'MISSED '} ${target}`);
