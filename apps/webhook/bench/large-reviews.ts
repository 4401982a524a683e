// Diagnostic: does the webhook survive concurrent near-limit AdmissionReviews under the production
// V8 limits (BENCH_NODE_OPTIONS, default as in the chart), and what does its RSS peak at?
// BENCH_MAX_CONCURRENT_REVIEWS and BENCH_MAX_IN_FLIGHT_BYTES set the webhook's caps (its defaults
// otherwise); like the API server, the client retries a 429 after its Retry-After, so every review
// is eventually answered.
//   tsx apps/webhook/bench/large-reviews.ts [concurrency] [rounds]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { benchTls } from './fixtures.js';

const concurrency = Number(process.argv[2] ?? 16);
const rounds = Number(process.argv[3] ?? 5);
const NODE_OPTIONS = process.env.BENCH_NODE_OPTIONS ?? '--max-old-space-size=96 --max-semi-space-size=1';
const MALLOC_ARENA_MAX = process.env.BENCH_MALLOC_ARENA_MAX ?? '2';
const caps = Object.fromEntries(
  (['MAX_CONCURRENT_REVIEWS', 'MAX_IN_FLIGHT_BYTES'] as const).flatMap((name) => (process.env[`BENCH_${name}`] ? [[name, process.env[`BENCH_${name}`]!]] : [])),
);

// Object-heavy, not one long string: the worst case for the parsed size. object + oldObject ≈ 3.4 MB.
function largeReview(): string {
  const env = Array.from({ length: 20_000 }, (_, index) => ({ name: `VARIABLE_${index}`, value: `value-${index}-${'x'.repeat(40)}` }));
  const object = { apiVersion: 'kaos.tools/v1alpha1', kind: 'Agent', metadata: { name: 'big', namespace: 'prod' }, spec: { modelAPI: 'm', config: { env } } };
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid: 'u', kind: { group: 'kaos.tools', version: 'v1alpha1', kind: 'Agent' }, resource: { group: 'kaos.tools', version: 'v1alpha1', resource: 'agents' }, name: 'big', namespace: 'prod', operation: 'UPDATE', userInfo: { username: 'a' }, object, oldObject: object },
  });
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createNetServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });

const directory = mkdtempSync(join(tmpdir(), 'kaos-large-'));
const tls = await benchTls();
writeFileSync(join(directory, 'tls.crt'), tls.cert);
writeFileSync(join(directory, 'tls.key'), tls.key);
const port = await freePort();
const child = spawn(process.execPath, ['dist/apps/webhook/main.js'], {
  stdio: ['ignore', 'pipe', 'inherit'],
  env: { PATH: process.env.PATH, NODE_OPTIONS, MALLOC_ARENA_MAX, ...caps, METRICS_SECURE: 'false', TLS_MODE: 'files', TLS_CERT_DIR: directory, WEBHOOK_PORT: String(port), HEALTH_PORT: String(await freePort()), BIND_ADDRESS: '127.0.0.1', LOG_LEVEL: 'warn' },
});
let exited: number | null | undefined;
child.on('exit', (code, signal) => {
  exited = code;
  console.log(`webhook exited: code ${code}, signal ${signal}`);
});
await new Promise<void>((resolve) => {
  const lines = createInterface({ input: child.stdout! });
  const timer = setInterval(() => {
    // LOG_LEVEL=warn hides the "listening" line; poll the port instead.
    const req = request({ host: '127.0.0.1', port, path: '/', rejectUnauthorized: false }, (res) => {
      res.resume();
      clearInterval(timer);
      lines.close();
      resolve();
    });
    req.on('error', () => undefined);
    req.end();
  }, 200);
});
const body = largeReview();
const agent = new Agent({ keepAlive: true, maxSockets: concurrency, rejectUnauthorized: false });
const statuses = new Map<string, number>();
let retries = 0;
const count = (key: string) => statuses.set(key, (statuses.get(key) ?? 0) + 1);
function review(): Promise<void> {
  return new Promise<void>((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/validate', method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => {
        const retryAfter = Number(res.headers['retry-after']);
        if (res.statusCode === 429 && Number.isInteger(retryAfter)) {
          retries++;
          setTimeout(() => void review().then(resolve), retryAfter * 1000);
          return;
        }
        count(String(res.statusCode));
        resolve();
      });
    });
    req.on('error', (error) => {
      count(error.message);
      resolve();
    });
    req.end(body);
  });
}
for (let round = 0; round < rounds && exited === undefined; round++) {
  await Promise.all(Array.from({ length: concurrency }, review));
}
const hwm = exited === undefined ? Math.round(Number(readFileSync(`/proc/${child.pid}/status`, 'utf8').match(/VmHWM:\s+(\d+)/)![1]) / 1024) : NaN;
console.log(`${(body.length / 1048576).toFixed(2)} MiB reviews, ${concurrency} concurrent x ${rounds} rounds, NODE_OPTIONS="${NODE_OPTIONS}": caps ${JSON.stringify(caps)}: answers ${JSON.stringify(Object.fromEntries(statuses))} after ${retries} retried 429s, peak RSS ${hwm} MB, alive: ${exited === undefined}`);
agent.destroy();
child.kill('SIGTERM');
