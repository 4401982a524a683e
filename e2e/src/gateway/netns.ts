/**
 * Test backends behind a real Gateway need a non-loopback address: the API server rejects
 * loopback addresses in EndpointSlices, and there is no kubelet to run pods. Each backend runs
 * inside a network namespace made here, joined to the root namespace by a veth pair with a
 * 10.213.x.y/30 address on each side (needs root and iproute2).
 *
 *   const ns = await createNetns();
 *   const backend = await startBackendInNetns(ns, { name: 'agent-x', logFile });
 *   // ... http://{ns.address}:{backend.port}/health answers from inside the namespace
 *   await backend.stop(); await ns.remove();
 *
 * Names carry the creating process's PID (`kaos-e2e-<pid>-<n>`), so sweepStaleNetns() can
 * remove what a killed test run left behind.
 */
import { execFile, spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { isAlive, tail, terminate } from '../control-plane/proc.js';

const run = promisify(execFile);

/** The backend program (run by Node 22 directly, types stripped). */
export const BACKEND_SCRIPT: string = join(dirname(fileURLToPath(import.meta.url)), 'backend.ts');

/** Prefix of every network namespace this module creates. */
export const NETNS_PREFIX = 'kaos-e2e-';

/** A network namespace joined to the root namespace by a veth pair. */
export interface Netns {
  /** `ip netns` name. */
  name: string;
  /** The address inside the namespace (what an EndpointSlice points at). */
  address: string;
  /** The root namespace's side of the veth pair. */
  hostAddress: string;
  hostInterface: string;
  /** Deletes the namespace and the veth pair; safe to call twice. */
  remove(): Promise<void>;
}

/** A backend process running inside a namespace. */
export interface NetnsBackend {
  name: string;
  pid: number;
  address: string;
  port: number;
  /** http://{address}:{port} */
  url: string;
  logFile: string;
  /** SIGTERM (SIGKILL after a grace period); safe to call twice. */
  stop(): Promise<void>;
}

async function ip(args: string[]): Promise<string> {
  try {
    return (await run('ip', args, { timeout: 15_000 })).stdout;
  } catch (error) {
    const e = error as Error & { stderr?: string };
    throw new Error(`ip ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`, { cause: error });
  }
}

let counter = 0;

/** Picks a /30 block in 10.213.0.0/16 that no interface in the root namespace uses yet. */
async function freeBlock(): Promise<{ hostAddress: string; address: string }> {
  const used = await ip(['-o', '-4', 'addr', 'show']);
  for (let i = 0; i < 100; i++) {
    const base = (1 + Math.floor(Math.random() * 16383)) * 4; // block 0 is never used
    const host = `10.213.${base >> 8}.${(base & 255) + 1}`;
    if (used.includes(` ${host}/`)) continue;
    return { hostAddress: host, address: `10.213.${base >> 8}.${(base & 255) + 2}` };
  }
  throw new Error('no free /30 block in 10.213.0.0/16');
}

/** Deletes one namespace (and so the veth end inside it, which takes its peer along); ignores a missing one. */
export async function removeNetns(name: string, hostInterface?: string): Promise<void> {
  try {
    await ip(['netns', 'del', name]);
  } catch (error) {
    if (!/No such file|Invalid argument|not found/i.test((error as Error).message)) throw error;
  }
  if (hostInterface) {
    // Normally gone with its peer; a half-made pair (setup failed before the move) is not.
    await ip(['link', 'del', hostInterface]).catch(() => undefined);
  }
  await releaseNetnsDir();
}

/**
 * `ip netns add` turns /run/netns into a shared bind mount of itself and never undoes it: once the
 * last namespace is gone, unmount it and remove the directory, so the host is left as found. Another
 * program's namespace created meanwhile keeps it (rmdir fails on a non-empty directory).
 */
export async function releaseNetnsDir(dir = '/run/netns'): Promise<void> {
  try {
    if (readdirSync(dir).length > 0) return;
  } catch {
    return; // no such directory
  }
  await run('umount', [dir]).catch(() => undefined);
  await run('rmdir', [dir]).catch(() => undefined);
}

/** Creates a namespace with a veth pair and a /30 address on each side; cleans up after itself if a step fails. */
export async function createNetns(opts: { name?: string } = {}): Promise<Netns> {
  const n = counter++;
  // A given name (npm run up's long-lived namespace) is outside NETNS_PREFIX, so no sweep takes it.
  const name = opts.name ?? `${NETNS_PREFIX}${process.pid}-${n}`;
  // Interface names are limited to 15 characters.
  const id = opts.name ? opts.name.replace(/[^a-z0-9]/g, '').slice(-8) : `${process.pid.toString(36)}${n.toString(36)}`.slice(-8);
  const hostInterface = `kh${id}`;
  const nsInterface = `kn${id}`;
  const { hostAddress, address } = await freeBlock();
  await ip(['netns', 'add', name]);
  try {
    await ip(['link', 'add', hostInterface, 'type', 'veth', 'peer', 'name', nsInterface]);
    await ip(['link', 'set', nsInterface, 'netns', name]);
    await ip(['addr', 'add', `${hostAddress}/30`, 'dev', hostInterface]);
    await ip(['link', 'set', hostInterface, 'up']);
    await ip(['-n', name, 'addr', 'add', `${address}/30`, 'dev', nsInterface]);
    await ip(['-n', name, 'link', 'set', nsInterface, 'up']);
    await ip(['-n', name, 'link', 'set', 'lo', 'up']);
  } catch (error) {
    await removeNetns(name, hostInterface).catch(() => undefined);
    throw error;
  }
  let removed = false;
  return {
    name,
    address,
    hostAddress,
    hostInterface,
    async remove() {
      if (removed) return;
      removed = true;
      await removeNetns(name, hostInterface);
    },
  };
}

/** Removes namespaces left by test processes that are gone (a killed run); returns their names. */
export async function sweepStaleNetns(): Promise<string[]> {
  const listed = await ip(['netns', 'list']);
  const stale: string[] = [];
  for (const line of listed.split('\n')) {
    const match = new RegExp(`^(${NETNS_PREFIX}(\\d+)-\\d+)\\b`).exec(line.trim());
    if (!match || isAlive(Number(match[2]))) continue;
    await removeNetns(match[1]!);
    stale.push(match[1]!);
  }
  return stale;
}

/** Starts the test backend inside `ns` and waits until its /health answers from the root namespace. */
export async function startBackendInNetns(
  ns: Netns,
  opts: { name: string; logFile: string; port?: number; readyTimeoutMs?: number; detached?: boolean },
): Promise<NetnsBackend> {
  const port = opts.port ?? 8080;
  const fd = openSync(opts.logFile, 'a');
  let child;
  try {
    // `ip netns exec` execs node, so the PID is the backend's own.
    child = spawn('ip', ['netns', 'exec', ns.name, process.execPath, BACKEND_SCRIPT, '--host', ns.address, '--port', String(port), '--name', opts.name, '--parent-pid', opts.detached ? '0' : String(process.pid)], {
      stdio: ['ignore', fd, fd],
      // Detached backends outlive this process (npm run up) and stop only by signal.
      detached: opts.detached ?? false,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/' },
    });
  } finally {
    closeSync(fd);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`failed to spawn backend ${opts.name}`);
  if (opts.detached) child.unref();
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  const url = `http://${ns.address}:${port}`;
  const stop = async (): Promise<void> => {
    if (!exited) await terminate(pid, process.execPath, 5_000);
  };
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 15_000);
  for (;;) {
    if (exited) throw new Error(`backend ${opts.name} exited before it was ready:\n${tail(opts.logFile)}`);
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1_000) });
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`backend ${opts.name} not ready at ${url} after ${opts.readyTimeoutMs ?? 15_000} ms:\n${tail(opts.logFile)}`);
    }
    await sleep(100);
  }
  return { name: opts.name, pid, address: ns.address, port, url, logFile: opts.logFile, stop };
}
