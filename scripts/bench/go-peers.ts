// The controller-runtime (Go) peers of the benchmarks (../shared/anchors, see its README): the
// webhook for bench:webhook, the controller for bench:controller. Built with `go build` when that
// folder and `go` are there, into a cache outside the repository keyed by a hash of the peers'
// sources, so a second run starts at once; without them a bench runs alone and says why.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, relative, resolve } from 'node:path';

/** Where the peers' sources are: ANCHORS_DIR, or ../shared/anchors next to the checkout. */
export const ANCHORS_DIR = resolve(process.env.ANCHORS_DIR ?? '../shared/anchors');
/** Where built peers are kept, one folder per source hash. */
export const ANCHORS_CACHE = process.env.ANCHORS_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'kaos-e2e', 'anchors');

/** The Go sources the peer binaries are built from: go.mod, go.sum and every .go file (the harness folder is TypeScript). */
function sourceFiles(directory: string): string[] {
  return readdirSync(directory)
    .sort()
    .flatMap((name) => {
      const path = join(directory, name);
      if (statSync(path).isDirectory()) return name === 'harness' || name.startsWith('.') ? [] : sourceFiles(path);
      return name.endsWith('.go') || name === 'go.mod' || name === 'go.sum' ? [path] : [];
    });
}

/** A hash of the peers' sources (paths and contents): the cache key. */
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

/** A peer binary, built or found in the cache, or why there is none (the bench then runs without it). */
export type GoPeer = { binary: string; note: string } | { binary?: undefined; note: string };

/** The binary of the peer in `<ANCHORS_DIR>/<peer>` (a Go main package), built or from the cache. */
export function goPeer(peer: 'webhook' | 'controller'): GoPeer {
  const without = `running without the controller-runtime ${peer} peer`;
  if (!existsSync(join(ANCHORS_DIR, 'go.mod'))) return { note: `no ${ANCHORS_DIR}/go.mod: ${without}` };
  const go = goVersion();
  if (!go) return { note: `${ANCHORS_DIR} found but no \`go\` on PATH: ${without}` };
  const key = anchorsSourceHash(ANCHORS_DIR);
  const binary = join(ANCHORS_CACHE, key, peer);
  if (existsSync(binary)) return { binary, note: `controller-runtime ${peer} peer from ${ANCHORS_DIR} (${go}), cached build ${binary}` };
  mkdirSync(join(ANCHORS_CACHE, key), { recursive: true });
  const partial = `${binary}.partial-${process.pid}`;
  const started = performance.now();
  try {
    execFileSync('go', ['build', '-trimpath', '-o', partial, `./${peer}`], { cwd: ANCHORS_DIR, stdio: ['ignore', 'inherit', 'inherit'] });
  } catch (error) {
    return { note: `building the controller-runtime ${peer} peer in ${ANCHORS_DIR} failed (${(error as Error).message.split('\n')[0]}): ${without}` };
  }
  renameSync(partial, binary);
  return { binary, note: `controller-runtime ${peer} peer built from ${ANCHORS_DIR} (${go}) in ${((performance.now() - started) / 1000).toFixed(0)} s, cached as ${binary}` };
}
