// Diagnostic, not part of bench:webhook: where one server process's memory goes, by phase (started,
// after max load, after a fixed rate, idle again): VmRSS/VmHWM, process.memoryUsage() and V8's heap
// spaces from inside the process. Same settings as the bench (BENCH_NODE_OPTIONS,
// BENCH_MALLOC_ARENA_MAX; production values by default). Build first (npm run bench:webhook does).
//   tsx apps/webhook/bench/memory-probe.ts <webhook|work|transport|empty>
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { benchTls, realisticAgentReview } from './fixtures.js';
import { freePort, MALLOC_ARENA_MAX, NODE_OPTIONS, WEBHOOK_BUNDLE } from './harness.js';
import { largeReview, sendReview } from './large-review.js';
// eslint-disable-next-line @nx/enforce-module-boundaries -- bench tooling shared by the webhook's and the controller's benches, not a library of the apps
import { residentParts } from '../../../scripts/bench/resident-memory.js';
import { pacedLoad } from './paced-load.js';

const kind = process.argv[2] ?? 'webhook';
const body = realisticAgentReview();
const PROBE = join(mkdtempSync(join(tmpdir(), 'kaos-probe-')), 'probe.mjs');
// Prints memoryUsage on SIGUSR2 as one stderr line.
writeFileSync(
  PROBE,
  [
    "import { getHeapSpaceStatistics } from 'node:v8';",
    'const mb = (v) => Math.round((v / 1048576) * 10) / 10;',
    "process.on('SIGUSR2', () => {",
    '  const usage = Object.fromEntries(Object.entries(process.memoryUsage()).map(([k, v]) => [k, mb(v)]));',
    "  const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name.replace('_space', ''), mb(s.physical_space_size)]));",
    "  process.stderr.write('MEM ' + JSON.stringify(usage) + ' spaces(physical) ' + JSON.stringify(spaces) + '\\n');",
    '});',
  ].join('\n'),
);

async function start(): Promise<{ child: ChildProcess; port: number }> {
  const directory = mkdtempSync(join(tmpdir(), 'kaos-probe-tls-'));
  const tls = await benchTls();
  writeFileSync(join(directory, 'tls.crt'), tls.cert);
  writeFileSync(join(directory, 'tls.key'), tls.key);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    // The probe is preloaded through NODE_OPTIONS too, so argv stays as in production.
    NODE_OPTIONS: `${NODE_OPTIONS} --import ${PROBE}`,
    ...(MALLOC_ARENA_MAX ? { MALLOC_ARENA_MAX } : {}),
    BENCH_TLS_DIR: directory,
  };
  if (kind === 'webhook' || kind === 'empty') {
    const port = await freePort();
    const script = kind === 'webhook' ? [WEBHOOK_BUNDLE] : ['-e', 'setInterval(() => {}, 1000); console.log("admission webhook listening")'];
    const child = spawn(process.execPath, script, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...env, METRICS_SECURE: 'false', TLS_MODE: 'files', TLS_CERT_DIR: directory, WEBHOOK_PORT: String(port), HEALTH_PORT: String(await freePort()), BIND_ADDRESS: '127.0.0.1', GATEWAY_API_ENABLED: 'true', GATEWAY_NAMESPACE: 'kaos-system' },
    });
    return new Promise((resolve) => {
      const lines = createInterface({ input: child.stdout! });
      lines.on('line', (line) => {
        if (line.includes('admission webhook listening')) resolve({ child, port });
      });
    });
  }
  const child = spawn(process.execPath, ['dist/bench/webhook-server.js', kind], { stdio: ['ignore', 'pipe', 'pipe'], env });
  return new Promise((resolve) => createInterface({ input: child.stdout! }).once('line', (line) => resolve({ child, port: Number(line) })));
}

const { child, port } = await start();
const memLines = createInterface({ input: child.stderr! });
let waiting: ((line: string) => void) | undefined;
memLines.on('line', (line) => {
  if (line.startsWith('MEM ') && waiting) waiting(line.slice(4));
  else if (!line.startsWith('MEM ')) process.stderr.write(`[child] ${line}\n`);
});
/** Where the RSS is (scripts/bench/resident-memory.ts), MB to one decimal, in this probe's words: the binary, other files, malloc ([heap]), other anon. */
function smapsSplit(pid: number): string {
  const parts = residentParts(pid);
  const named: Array<[string, number]> = [['binary', parts.binary], ['other files', parts.files], ['malloc', parts['brk heap']], ['other anon', parts.anonymous]];
  return named.map(([name, mb]) => `${name} ${Math.round(mb * 10) / 10}`).join(', ');
}
const status = (field: string) => Math.round(Number(readFileSync(`/proc/${child.pid}/status`, 'utf8').match(new RegExp(`${field}:\\s+(\\d+)`))![1]) / 1024);
async function report(phase: string): Promise<void> {
  const usage = await new Promise<string>((resolve) => {
    waiting = resolve;
    child.kill('SIGUSR2');
  });
  console.log(`${phase.padEnd(16)} VmRSS ${status('VmRSS')} MB (anon ${status('RssAnon')}, file ${status('RssFile')}; smaps MB: ${smapsSplit(child.pid!)}), VmHWM ${status('VmHWM')} MB, ${usage}`);
}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const path = kind === 'webhook' ? '/validate' : '/';
console.log(`probe ${kind}: NODE_OPTIONS="${NODE_OPTIONS}" MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX || '(glibc default)'}${kind === 'webhook' ? `, ${WEBHOOK_BUNDLE} ${(statSync(WEBHOOK_BUNDLE).size / 1048576).toFixed(2)} MiB` : ''}`);
await sleep(1000);
await report('started');
if (kind !== 'empty') {
  await autocannon({ url: `https://127.0.0.1:${port}${path}`, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections: 16, duration: Number(process.env.PROBE_DURATION ?? 10) });
  await report('after max load');
  await pacedLoad({ port, path, body, rate: 1000, durationS: 5, connections: 16 });
  await report('after 1000/s');
  await sleep(3000);
  await report('idle 3s');
  // The largest legal reviews (large-review.ts): one at a time, then PROBE_LARGE_CONCURRENCY at once
  // (429s retried, as the API server does).
  const large = largeReview();
  const agent = new Agent({ keepAlive: true, maxSockets: 16, rejectUnauthorized: false });
  for (let round = 0; round < 3; round++) await sendReview({ agent, port, path, body: large, timeoutMs: Infinity, maxRetries: Infinity });
  await report('3 large, serial');
  const concurrency = Number(process.env.PROBE_LARGE_CONCURRENCY ?? 16);
  await Promise.all(Array.from({ length: concurrency }, () => sendReview({ agent, port, path, body: large, timeoutMs: Infinity, maxRetries: Infinity })));
  await report(`${concurrency} large at once`);
  agent.destroy();
}
child.kill('SIGTERM');
