import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repo root (this file lives at e2e/src/control-plane/paths.ts). */
export const repoRoot: string = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** The build script that produces the control-plane binaries. */
export const buildToolsScript: string = join(repoRoot, 'e2e/scripts/build-tools.sh');

/** Cache root shared with build-tools.sh: ${KAOS_E2E_CACHE:-${XDG_CACHE_HOME:-~/.cache}/kaos-e2e}. */
export function cacheRoot(): string {
  const explicit = process.env['KAOS_E2E_CACHE'];
  if (explicit) return explicit;
  const xdg = process.env['XDG_CACHE_HOME'];
  return join(xdg && xdg.length > 0 ? xdg : join(homedir(), '.cache'), 'kaos-e2e');
}

/** Directory for `cli.ts up` state files and work dirs. */
export function runDir(): string {
  return join(cacheRoot(), 'run');
}

/** Path of an extracted Gateway API CRD bundle (created by build-tools.sh). */
export function gatewayApiBundlePath(version = 'v1.3.0', channel: 'experimental' | 'standard' = 'experimental'): string {
  return join(cacheRoot(), 'gateway-api', version, `${channel}.yaml`);
}

// The node's binaries too: a cache built before they were added is completed by build-tools.sh.
export const REQUIRED_BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kubectl', 'kube-scheduler', 'kubelet', 'kube-proxy'] as const;

function runBuildScript(args: string[], log: (msg: string) => void): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = execFile('bash', [buildToolsScript, ...args], { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const lines = stdout.trim().split('\n');
      const last = lines[lines.length - 1] ?? '';
      if (err) {
        reject(new Error(`build-tools.sh ${args.join(' ')} failed: ${err.message}\n${stderr.split('\n').slice(-40).join('\n')}`));
        return;
      }
      resolvePromise(last.trim());
    });
    // Stream build progress (stderr) to the caller's log.
    child.stderr?.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) if (line.trim()) log(line);
    });
  });
}

/**
 * Resolve the directory holding the control-plane binaries:
 * explicit value, then $KAOS_E2E_BIN_DIR, then build-tools.sh (which builds whatever is
 * missing — slow the first time — and prints the bin dir).
 */
export async function resolveBinDir(explicit: string | undefined, log: (msg: string) => void): Promise<string> {
  const candidate = explicit ?? process.env['KAOS_E2E_BIN_DIR'];
  if (candidate) {
    const missing = REQUIRED_BINARIES.filter((b) => !existsSync(join(candidate, b)));
    if (missing.length > 0) throw new Error(`binDir ${candidate} lacks ${missing.join(', ')}; run e2e/scripts/build-tools.sh`);
    return candidate;
  }
  const binDir = await runBuildScript(['--print-bin-dir'], log);
  if (REQUIRED_BINARIES.every((b) => existsSync(join(binDir, b)))) return binDir;
  log(`control-plane binaries missing in ${binDir}; building them (first run is slow)`);
  try {
    await runBuildScript([], log);
  } catch (err) {
    // The script exits non-zero if any artefact failed (e.g. helm); the plane only needs these.
    const missing = REQUIRED_BINARIES.filter((b) => !existsSync(join(binDir, b)));
    if (missing.length > 0) throw err;
    log(`build-tools.sh reported a failure, but all control-plane binaries exist: ${(err as Error).message}`);
  }
  return binDir;
}
