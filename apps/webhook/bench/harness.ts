// What the webhook benches share: the production bundle started as in the chart (mounted
// certificates, production NODE_OPTIONS and MALLOC_ARENA_MAX unless overridden), free ports and
// /proc memory figures.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { REQUIRE_BANNER } from '../../../scripts/bundle-options.mjs';
import { benchTls } from './fixtures.js';

/** V8 limits of the production container (ADR 0008; the chart sets them); BENCH_NODE_OPTIONS overrides, '' for Node's defaults. */
export const NODE_OPTIONS = process.env.BENCH_NODE_OPTIONS ?? '--max-old-space-size=96 --max-semi-space-size=1';
/** glibc malloc arenas of the production container; BENCH_MALLOC_ARENA_MAX overrides, '' for glibc's default. */
export const MALLOC_ARENA_MAX = process.env.BENCH_MALLOC_ARENA_MAX ?? '2';
/** The webhook container's memory limit in the chart: 256Mi. */
export const MEMORY_LIMIT_MIB = 256;

/** The webhook bundle the benches start; BENCH_WEBHOOK_BUNDLE runs another build (say, a copy of the previous commit's) instead. */
export const WEBHOOK_BUNDLE = process.env.BENCH_WEBHOOK_BUNDLE ?? 'dist/apps/webhook/main.js';

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createNetServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A directory with a throwaway tls.crt and tls.key for 127.0.0.1, as the webhook gets them mounted. */
export async function benchTlsDir(): Promise<string> {
  const directory = mkdtempSync(join(tmpdir(), 'kaos-bench-tls-'));
  const tls = await benchTls();
  writeFileSync(join(directory, 'tls.crt'), tls.cert);
  writeFileSync(join(directory, 'tls.key'), tls.key);
  return directory;
}

/** VmRSS or VmHWM (peak RSS) of a process in MiB (the other benches' "MB"); NaN once it is gone. */
export function memoryMiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const match = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`${field}:\\s+(\\d+) kB`));
    return match ? Math.round(Number(match[1]) / 1024) : NaN;
  } catch {
    return NaN;
  }
}

/**
 * CPU seconds (user + system) of all threads of a process so far: /proc/<pid>/stat fields 14 and 15,
 * in clock ticks. Unlike `cpuSeconds` (the main thread's schedstat) this counts V8's and libuv's
 * helper threads and every thread of a Go server, so processes of different runtimes compare.
 */
export function processCpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/**
 * CPU seconds a process has run, and seconds it was ready to run but waited for a CPU
 * (/proc/<pid>/schedstat, in ns): the second shows when other load on the machine, not the process
 * itself, delayed it.
 */
export function cpuSeconds(pid: number): { ran: number; waited: number } {
  try {
    const [ran, waited] = readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ').map(Number);
    return { ran: ran! / 1e9, waited: waited! / 1e9 };
  } catch {
    return { ran: NaN, waited: NaN };
  }
}

export interface StartedWebhook {
  child: ChildProcess;
  port: number;
  /** Plain-HTTP port of /healthz, /readyz and /metrics. */
  healthPort: number;
  /** Resolves with the exit code or signal when the process ends (an OOM kill shows here). */
  exited: Promise<string>;
  stop(): void;
}

/**
 * The production bundle (WEBHOOK_BUNDLE; build it first) serving mounted certificates on
 * 127.0.0.1, with plain metrics; `env` adds or overrides variables (caps, LOG_LEVEL). Resolves once
 * the admission port answers.
 */
export async function startWebhook(tlsDir: string, env: NodeJS.ProcessEnv = {}): Promise<StartedWebhook> {
  const port = await freePort();
  const healthPort = await freePort();
  const child = spawn(process.execPath, [WEBHOOK_BUNDLE], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      PATH: process.env.PATH,
      ...(NODE_OPTIONS ? { NODE_OPTIONS } : {}),
      ...(MALLOC_ARENA_MAX ? { MALLOC_ARENA_MAX } : {}),
      METRICS_SECURE: 'false',
      TLS_MODE: 'files',
      TLS_CERT_DIR: tlsDir,
      WEBHOOK_PORT: String(port),
      HEALTH_PORT: String(healthPort),
      BIND_ADDRESS: '127.0.0.1',
      GATEWAY_API_ENABLED: 'true',
      GATEWAY_NAMESPACE: 'kaos-system',
      LOG_LEVEL: 'warn',
      ...env,
    },
  });
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? String(code))));
  let dead: string | undefined;
  void exited.then((how) => (dead = how));
  // LOG_LEVEL=warn hides the "listening" line; poll the port instead.
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (dead !== undefined) {
        clearInterval(timer);
        reject(new Error(`webhook exited (${dead}) before listening`));
        return;
      }
      const req = request({ host: '127.0.0.1', port, path: '/', rejectUnauthorized: false }, (res) => {
        res.resume();
        clearInterval(timer);
        resolve();
      });
      req.on('error', () => undefined);
      req.end();
    }, 100);
  });
  return { child, port, healthPort, exited, stop: () => child.kill('SIGTERM') };
}

/** Bundles a bench entry point into one ESM file run by plain node (no loaders inflating RSS), with a `require` for CommonJS dependencies. */
export async function bundleBenchEntry(entryPoint: string, outfile: string): Promise<string> {
  await build({
    entryPoints: [entryPoint],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    tsconfig: 'apps/webhook/tsconfig.json',
    banner: { js: REQUIRE_BANNER },
    logLevel: 'warning',
  });
  return outfile;
}
