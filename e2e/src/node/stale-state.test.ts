// A node recorded before a reboot is forgotten, never "restored": its snapshot describes another
// boot's host. The state here is built so that even a wrong implementation could not change the host.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WATCHED_PATHS } from './host-state.js';
import { readNodeState, stopNodeFromState, type NodeState } from './index.js';

describe('a node recorded before the last reboot', () => {
  let cache: string;
  const previous = process.env.KAOS_E2E_CACHE;

  beforeAll(async () => {
    cache = await mkdtemp(join(tmpdir(), 'kaos-stale-node-'));
    process.env.KAOS_E2E_CACHE = cache;
  });
  afterAll(async () => {
    if (previous === undefined) delete process.env.KAOS_E2E_CACHE;
    else process.env.KAOS_E2E_CACHE = previous;
    await rm(cache, { recursive: true, force: true });
  });

  it('is forgotten: its work directory and state go, the host is not touched', async () => {
    const workDir = join(cache, 'plane', 'node');
    await mkdir(join(workDir, 'containerd'), { recursive: true });
    let netns: string[] = [];
    try {
      netns = readdirSync('/var/run/netns');
    } catch {
      // none
    }
    const state: NodeState = {
      owner: { plane: 'old', pid: null },
      workDir,
      containerdSocket: join(workDir, 'containerd', 'containerd.sock'),
      components: [{ name: 'kubelet', pid: 999_999_999, bin: '/nonexistent/kubelet', logFile: join(workDir, 'kubelet.log') }],
      snapshot: { bootId: 'an-earlier-boot', sysctls: {}, iptables: {}, netns, existingPaths: [...WATCHED_PATHS] },
      cgroupsBefore: [],
      bridgeCreated: false,
      startedAt: new Date(0).toISOString(),
    };
    await mkdir(join(cache, 'run'), { recursive: true });
    await writeFile(join(cache, 'run', 'node.json'), JSON.stringify(state));
    expect(readNodeState()?.owner.plane).toBe('old');

    const lines: string[] = [];
    await stopNodeFromState(state, undefined, (line) => lines.push(line));

    expect(lines.join('\n')).toMatch(/forgetting a node recorded before the last reboot/);
    expect(lines.join('\n')).not.toMatch(/host restored/);
    expect(existsSync(workDir)).toBe(false);
    expect(readNodeState()).toBeUndefined();
  });
});
