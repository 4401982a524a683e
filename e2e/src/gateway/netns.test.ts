// The netns helpers leave nothing behind: removal takes the namespace, the veth pair and the
// backend with it; a namespace of a dead test process is swept; an orphaned backend exits.
import { afterAll, describe, expect, it } from '@jest/globals';
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

import { isAlive } from '../control-plane/proc.js';
import type { EchoBody } from './backend.js';
import { BACKEND_SCRIPT, createNetns, NETNS_PREFIX, releaseNetnsDir, removeNetns, startBackendInNetns, sweepStaleNetns } from './netns.js';

const run = promisify(execFile);
const ipOut = async (args: string[]): Promise<string> => (await run('ip', args)).stdout;

describe('network namespace backends', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  it('serves the backend on the namespace address and removes namespace, veth and process', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kaos-netns-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const ns = await createNetns();
    cleanups.push(ns.remove);
    expect(ns.address).toMatch(/^10\.213\.\d+\.\d+$/);
    const backend = await startBackendInNetns(ns, { name: 'probe', logFile: join(dir, 'backend.log') });
    cleanups.push(backend.stop);

    const res = await fetch(`${backend.url}/.well-known/agent`, { signal: AbortSignal.timeout(5_000) });
    expect(res.headers.get('x-kaos-backend')).toBe('probe');
    expect(((await res.json()) as EchoBody).path).toBe('/.well-known/agent');
    // Bound to the namespace address only, so nothing answers on loopback in the root namespace.
    expect(await ipOut(['-n', ns.name, '-o', '-4', 'addr', 'show'])).toContain(`${ns.address}/30`);

    await backend.stop();
    await ns.remove();
    expect(isAlive(backend.pid, process.execPath)).toBe(false);
    expect(await ipOut(['netns', 'list'])).not.toContain(ns.name);
    expect(await ipOut(['-o', 'link', 'show'])).not.toContain(`${ns.hostInterface}@`);
  });

  it('sweeps a namespace left by a test process that is gone, and keeps live ones', async () => {
    const gone = spawn(process.execPath, ['-e', '0']);
    await new Promise((resolve) => gone.once('exit', resolve));
    const stale = `${NETNS_PREFIX}${gone.pid!}-0`;
    await run('ip', ['netns', 'add', stale]);
    cleanups.push(() => removeNetns(stale));
    const live = await createNetns();
    cleanups.push(live.remove);

    expect(await sweepStaleNetns()).toContain(stale);
    const listed = await ipOut(['netns', 'list']);
    expect(listed).not.toContain(stale);
    expect(listed).toContain(live.name);
  });

  it('stops an orphaned backend: it exits when its parent dies', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kaos-netns-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const ns = await createNetns();
    cleanups.push(ns.remove);
    // A shell starts the backend in the background watching the shell's PID, prints the
    // backend's PID and exits, orphaning it.
    const log = join(dir, 'orphan.log');
    const { stdout } = await run('sh', [
      '-c',
      `ip netns exec ${ns.name} "${process.execPath}" "${BACKEND_SCRIPT}" --host ${ns.address} --port 8080 --name orphan --parent-pid $$ >"${log}" 2>&1 & echo $!`,
    ]);
    const pid = Number(stdout.trim());
    cleanups.push(async () => {
      if (isAlive(pid, process.execPath)) process.kill(pid, 'SIGKILL');
    });
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && isAlive(pid)) await sleep(100);
    expect(isAlive(pid)).toBe(false);
    // It did start (and so left by itself), rather than failing to start.
    expect(await readFile(log, 'utf8')).toContain('backend orphan listening');
  });
});

describe('releaseNetnsDir (what ip netns add leaves: a directory bind-mounted onto itself)', () => {
  const isMountPoint = (dir: string): boolean => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((line) => line.split(' ')[4] === dir);

  it('unmounts and removes the directory once it is empty', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'kaos-netnsdir-')), 'netns');
    await mkdir(dir);
    await run('mount', ['--bind', dir, dir]);
    expect(isMountPoint(dir)).toBe(true);
    await releaseNetnsDir(dir);
    expect(isMountPoint(dir)).toBe(false);
    expect(existsSync(dir)).toBe(false);
    await rm(join(dir, '..'), { recursive: true, force: true });
  });

  it('leaves it while another namespace is in it', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'kaos-netnsdir-'));
    const dir = join(parent, 'netns');
    await mkdir(dir);
    await run('mount', ['--bind', dir, dir]);
    try {
      await writeFile(join(dir, 'someone-elses'), '');
      await releaseNetnsDir(dir);
      expect(isMountPoint(dir)).toBe(true);
      expect(existsSync(join(dir, 'someone-elses'))).toBe(true);
    } finally {
      await run('umount', [dir]).catch(() => undefined);
      await rm(parent, { recursive: true, force: true });
    }
  });
});
