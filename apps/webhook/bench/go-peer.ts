// The controller-runtime (Go) peer of the webhook, for bench:webhook: the same AdmissionReviews,
// answered by a controller-runtime webhook.Server (../shared/anchors/webhook, see its README). Built
// with `go build` when that folder and `go` are there, into a cache outside the repository keyed by
// a hash of the peer's sources, so a second run starts at once; without them the bench runs alone.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort } from './harness.js';

/** Where the peers' sources are: ANCHORS_DIR, or ../shared/anchors next to the checkout. */
export const ANCHORS_DIR = resolve(process.env.ANCHORS_DIR ?? '../shared/anchors');
/** Where built peers are kept, one folder per source hash. */
export const ANCHORS_CACHE = process.env.ANCHORS_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'kaos-e2e', 'anchors');

/** The Go sources the webhook binary is built from: go.mod, go.sum and every .go file (the harness folder is TypeScript). */
function sourceFiles(directory: string): string[] {
  return readdirSync(directory)
    .sort()
    .flatMap((name) => {
      const path = join(directory, name);
      if (statSync(path).isDirectory()) return name === 'harness' || name.startsWith('.') ? [] : sourceFiles(path);
      return name.endsWith('.go') || name === 'go.mod' || name === 'go.sum' ? [path] : [];
    });
}

/** A hash of the peer's sources (paths and contents): the cache key. */
export function anchorsSourceHash(directory: string): string {
  const hash = createHash('sha256');
  for (const path of sourceFiles(directory)) hash.update(relative(directory, path)).update('\0').update(readFileSync(path)).update('\0');
  return hash.digest('hex').slice(0, 16);
}

function goVersion(): string | undefined {
  try {
    return execFileSync('go', ['version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

/** The peer binary, built or found in the cache, or why there is none (the bench then runs without it). */
export function goWebhookPeer(): { binary: string; note: string } | { binary?: undefined; note: string } {
  if (!existsSync(join(ANCHORS_DIR, 'go.mod'))) return { note: `no ${ANCHORS_DIR}/go.mod: running without the controller-runtime peer` };
  const go = goVersion();
  if (!go) return { note: `${ANCHORS_DIR} found but no \`go\` on PATH: running without the controller-runtime peer` };
  const key = anchorsSourceHash(ANCHORS_DIR);
  const binary = join(ANCHORS_CACHE, key, 'webhook');
  if (existsSync(binary)) return { binary, note: `controller-runtime peer from ${ANCHORS_DIR} (${go}), cached build ${binary}` };
  mkdirSync(join(ANCHORS_CACHE, key), { recursive: true });
  const partial = `${binary}.partial-${process.pid}`;
  const started = performance.now();
  try {
    execFileSync('go', ['build', '-trimpath', '-o', partial, './webhook'], { cwd: ANCHORS_DIR, stdio: ['ignore', 'inherit', 'inherit'] });
  } catch (error) {
    return { note: `building the controller-runtime peer in ${ANCHORS_DIR} failed (${(error as Error).message.split('\n')[0]}): running without it` };
  }
  renameSync(partial, binary);
  return { binary, note: `controller-runtime peer built from ${ANCHORS_DIR} (${go}) in ${((performance.now() - started) / 1000).toFixed(0)} s, cached as ${binary}` };
}

/**
 * Starts the peer in `mode` (raw: an admission.Handler; typed: the kubebuilder scaffold) serving the
 * bench's certificate on 127.0.0.1; resolves once it says it is listening.
 */
export async function startGoWebhook(binary: string, mode: 'raw' | 'typed', tlsDir: string): Promise<{ pid: number; port: number; stop(): void }> {
  const port = await freePort();
  // Its controller-runtime log (JSON on stderr, a few lines a start) is left out of the bench's output.
  const child = spawn(binary, [], {
    stdio: ['ignore', 'pipe', 'ignore'],
    env: { PATH: process.env.PATH, WEBHOOK_MODE: mode, TLS_CERT_DIR: tlsDir, WEBHOOK_PORT: String(port), BIND_ADDRESS: '127.0.0.1', GATEWAY_API_ENABLED: 'true', GATEWAY_NAMESPACE: 'kaos-system' },
  });
  return new Promise((resolvePeer, reject) => {
    child.once('exit', (code, signal) => reject(new Error(`controller-runtime peer (${mode}) exited with ${signal ?? code}`)));
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      if (line.includes('admission webhook listening')) {
        lines.close();
        child.stdout!.resume();
        resolvePeer({ pid: child.pid!, port, stop: () => child.kill('SIGTERM') });
      }
    });
  });
}
