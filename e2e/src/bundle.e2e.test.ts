// The container images ship only dist/apps/<app>/ (see apps/*/Dockerfile). Run each bundle from a
// copy outside the repository, with no node_modules in reach, the way the image's ENTRYPOINT does.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './control-plane/index.js';

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'kaos-bundle-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe.each([
  ['webhook', { TLS_MODE: 'sometimes' }, 'TLS_MODE: must be "generate" or "files", not "sometimes"'],
  ['controller', { LEADER_ELECTION: 'maybe' }, 'LEADER_ELECTION: must be "true" or "false", not "maybe"'],
])('the %s image contents', (app, env, message) => {
  it('are the bundle, its source map and an ESM package.json, nothing else', async () => {
    expect((await readdir(join(repoRoot, 'dist/apps', app))).sort()).toEqual(['main.js', 'main.js.map', 'package.json']);
  });

  it('start without node_modules and reject bad configuration naming the variable', async () => {
    const directory = join(scratch, app);
    await cp(join(repoRoot, 'dist/apps', app), directory, { recursive: true });
    const result = spawnSync(process.execPath, ['main.js'], { cwd: directory, env: { PATH: '/usr/bin:/bin', HOME: directory, ...env }, encoding: 'utf8', timeout: 30_000 });
    expect(result.status).toBe(1);
    const line = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as { level: string; message: string };
    expect(line.level).toBe('error');
    expect(line.message).toContain(message);
  });
});
