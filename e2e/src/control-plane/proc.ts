import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { basename } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A child process whose stdout+stderr go to a log file. */
export interface Component {
  name: string;
  pid: number;
  bin: string;
  logFile: string;
  /** Set once the process has exited. */
  exit: ExitInfo | undefined;
  /** Resolves when the process exits (never rejects). */
  exited: Promise<ExitInfo>;
}

export function startComponent(name: string, bin: string, args: string[], logFile: string, detached: boolean): Component {
  const fd = openSync(logFile, 'a');
  let child;
  try {
    child = spawn(bin, args, { stdio: ['ignore', fd, fd], detached, env: process.env });
  } finally {
    closeSync(fd); // the child holds its own copy
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`failed to spawn ${name} (${bin})`);
  const comp: Component = {
    name, pid, bin, logFile, exit: undefined,
    exited: new Promise<ExitInfo>((resolve) => {
      child.once('exit', (code, signal) => {
        comp.exit = { code, signal };
        resolve(comp.exit);
      });
      child.once('error', () => {
        comp.exit = { code: -1, signal: null };
        resolve(comp.exit);
      });
    }),
  };
  // Detached children (for `cli.ts up`) must not keep the CLI's event loop alive.
  if (detached) child.unref();
  return comp;
}

/** Last `n` lines of a log file ('' if unreadable). */
export function tail(file: string, n = 40): string {
  try {
    const lines = readFileSync(file, 'utf8').split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    return lines.slice(-n).join('\n');
  } catch {
    return '';
  }
}

// Ports handed out by this process recently; avoids giving the same port to two instances
// started side by side in one process before either has bound it.
const handedOut = new Set<number>();

/** A free TCP port on 127.0.0.1 (bind port 0, read it, close). */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.unref();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const addr = srv.address();
        const p = typeof addr === 'object' && addr ? addr.port : 0;
        srv.close(() => resolve(p));
      });
    });
    if (port > 0 && !handedOut.has(port)) {
      handedOut.add(port);
      if (handedOut.size > 1000) handedOut.clear();
      return port;
    }
  }
  throw new Error('could not find a free loopback port');
}

/** Is `pid` a live (non-zombie) process? If `bin` is given, also require that its executable name matches (guards against PID reuse). */
export function isAlive(pid: number, bin?: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
    if (bin) {
      const argv0 = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '';
      if (basename(argv0) !== basename(bin)) return false;
    }
  } catch {
    // no /proc (not Linux) or the process just vanished: rely on kill(0)
  }
  return true;
}

/** SIGTERM, wait up to `graceMs`, then SIGKILL and wait again. Only signals `pid` if it still runs `bin`. */
export async function terminate(pid: number, bin: string | undefined, graceMs = 10_000): Promise<void> {
  if (!isAlive(pid, bin)) return;
  const signal = (sig: NodeJS.Signals): void => {
    try {
      process.kill(pid, sig);
    } catch {
      /* already gone */
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid, bin)) return;
    await sleep(50);
  }
  signal('SIGKILL');
  const killDeadline = Date.now() + 5_000;
  while (Date.now() < killDeadline) {
    if (!isAlive(pid, bin)) return;
    await sleep(50);
  }
  throw new Error(`process ${pid} (${bin ?? '?'}) did not exit after SIGKILL`);
}
