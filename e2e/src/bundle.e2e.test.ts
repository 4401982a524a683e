// The container images ship only dist/apps/<app>/ (see apps/*/Dockerfile). Run each bundle from a
// copy outside the repository, with no node_modules in reach, the way the image's ENTRYPOINT does.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { cp, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
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
  ['webhook', { TLS_MODE: 'sometimes' }, 'TLS_MODE: must be "generate" or "files", not "sometimes"', ['review-worker']],
  ['controller', { LEADER_ELECTION: 'maybe' }, 'LEADER_ELECTION: must be "true" or "false", not "maybe"', []],
])('the %s image contents', (app, env, message, workers) => {
  it('are the bundle (and its worker threads\' bundles), their source maps and an ESM package.json, nothing else', async () => {
    const bundles = ['main', ...workers].flatMap((name) => [`${name}.js`, `${name}.js.map`]);
    expect((await readdir(join(repoRoot, 'dist/apps', app))).sort()).toEqual([...bundles, 'package.json'].sort());
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

describe('the webhook image\'s review worker', () => {
  it('runs from the bundle directory alone and decides a review', async () => {
    const directory = join(scratch, 'webhook-worker');
    await cp(join(repoRoot, 'dist/apps/webhook'), directory, { recursive: true });
    // The message protocol of apps/webhook/src/review-offload.ts, driven by a plain script.
    const review = JSON.stringify({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: { uid: 'u-1', kind: { group: 'kaos.tools', version: 'v1alpha1', kind: 'Agent' }, operation: 'CREATE', namespace: 'prod', name: 'a', object: { apiVersion: 'kaos.tools/v1alpha1', kind: 'Agent', metadata: { name: 'a', namespace: 'prod' }, spec: { modelAPI: 'm' } } },
    });
    const driver = `
      import { Worker } from 'node:worker_threads';
      const config = { gatewayApiEnabled: true, gatewayName: 'kaos-gateway', gatewayNamespace: 'kaos-system', defaultTimeouts: { Agent: '120s', ModelAPI: '120s', MCPServer: '30s' } };
      const worker = new Worker(new URL('./review-worker.js', import.meta.url), { workerData: { config, nice: 10 } });
      worker.on('message', (reply) => { if ('decision' in reply || 'failure' in reply) { console.log(JSON.stringify(reply)); process.exit(0); } });
      worker.postMessage({ id: 1, webhook: 'mutate', body: new TextEncoder().encode(${JSON.stringify(review)}) });
    `;
    // A file, not --eval: a worker inherits the parent's execArgv, and --input-type is refused there.
    await writeFile(join(directory, 'driver.mjs'), driver);
    const result = spawnSync(process.execPath, ['driver.mjs'], { cwd: directory, env: { PATH: '/usr/bin:/bin', HOME: directory }, encoding: 'utf8', timeout: 30_000 });
    expect(result.stderr).toBe('');
    const reply = JSON.parse(result.stdout.trim()) as { id: number; decision: { answer: string; summary: { result: string } } };
    expect(reply.id).toBe(1);
    expect(reply.decision.summary.result).toBe('patched');
    expect(JSON.parse(reply.decision.answer)).toMatchObject({ kind: 'AdmissionReview', response: { uid: 'u-1', allowed: true, patchType: 'JSONPatch' } });
  });
});
