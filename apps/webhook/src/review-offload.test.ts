import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ResourceValidator } from '@kaos/api-types';
import { silentLogger, type Logger } from '@kaos/kube-runtime';
import { testRoutingConfig } from './handler.test-helpers.js';
import { decideReview, type WebhookName } from './review-decision.js';
import { createReviewWorker, REVIEW_WORKER_NICE, ReviewWorkerError, type ReviewOffload } from './review-offload.js';

// The real worker, bundled exactly as the image ships it (scripts/bundle-app.mjs), into a directory of
// this test's own.
const repositoryRoot = fileURLToPath(new URL('../../../', import.meta.url));
let bundleDir: string;
let workerUrl: URL;
const offloads: ReviewOffload[] = [];

beforeAll(() => {
  bundleDir = mkdtempSync(join(tmpdir(), 'review-worker-'));
  execFileSync(process.execPath, ['scripts/bundle-app.mjs', 'webhook', '--outdir', bundleDir], { cwd: repositoryRoot, stdio: 'ignore' });
  workerUrl = pathToFileURL(join(bundleDir, 'review-worker.js'));
}, 60_000);

afterAll(async () => {
  await Promise.all(offloads.map((offload) => offload.close()));
  rmSync(bundleDir, { recursive: true, force: true });
});

function started(options: Partial<Parameters<typeof createReviewWorker>[0]> = {}): ReviewOffload {
  const offload = createReviewWorker({ url: workerUrl, config: testRoutingConfig, logger: silentLogger(), ...options });
  offloads.push(offload);
  return offload;
}

/** A review padded to `bytes` with an annotation, the way users' large resources are large. */
function review(bytes: number, spec: Record<string, unknown> = { modelAPI: 'm' }): Buffer {
  const object = { apiVersion: 'kaos.tools/v1alpha1', kind: 'Agent', metadata: { name: 'big', namespace: 'prod', annotations: { padding: '' } }, spec };
  const envelope = (padding: string) =>
    JSON.stringify({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: { uid: 'u-big', kind: { group: 'kaos.tools', version: 'v1alpha1', kind: 'Agent' }, operation: 'CREATE', namespace: 'prod', name: 'big', object: { ...object, metadata: { ...object.metadata, annotations: { padding } } } },
    });
  return Buffer.from(envelope('x'.repeat(Math.max(0, bytes - envelope('').length))));
}

const validator = new ResourceValidator();

describe('review worker', () => {
  it.each<[string, WebhookName, Buffer]>([
    ['a defaulting patch', 'mutate', review(1024 * 1024)],
    ['an allowed review', 'validate', review(1024 * 1024)],
    ['a denial naming the field', 'validate', review(512 * 1024, { modelAPI: 'm', gatewayRoute: { timeout: '5 minutes' } })],
    ['a refusal of malformed JSON', 'validate', Buffer.from('{"apiVersion":')],
    ['a refusal of a non-review', 'mutate', Buffer.from('{"kind":"Pod"}')],
  ])('decides %s exactly as the serving thread would', async (_name, webhook, body) => {
    const expected = decideReview(body, webhook, testRoutingConfig, validator);
    await expect(started().decide(Buffer.from(body), webhook)).resolves.toEqual(expected);
  });

  it('moves the body to the worker instead of copying it', async () => {
    const body = review(3 * 1024 * 1024);
    const own = new Uint8Array(body.length);
    own.set(body);
    const decision = started().decide(own, 'validate');
    // Transferred: the caller's view is detached at once.
    expect(own.byteLength).toBe(0);
    await expect(decision).resolves.toMatchObject({ summary: { result: 'allowed', uid: 'u-big' } });
  });

  it('runs its thread at a lower priority than the serving thread (a higher nice value)', async () => {
    const notices: unknown[] = [];
    const logger = { ...silentLogger(), info: (message: string, meta: unknown) => notices.push({ message, meta }) } as unknown as Logger;
    const servingBefore = Number(readFileSync(`/proc/${process.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[16]);
    const offload = started({ logger });
    await offload.decide(review(300 * 1024), 'validate');
    const notice = notices.find((entry) => (entry as { message: string }).message.startsWith('review worker started')) as { meta: { threadId: number; nice: number } };
    // The kernel's view: field 19 of /proc/<pid>/task/<tid>/stat is a thread's nice value. The test
    // may itself run niced (say `nice -n 19 npm test`): the worker goes REVIEW_WORKER_NICE lower, at most to 19.
    const niceOf = (path: string) => {
      const stat = readFileSync(path, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
    };
    const serving = niceOf(`/proc/${process.pid}/stat`);
    expect(notice.meta.nice).toBe(Math.min(19, serving + REVIEW_WORKER_NICE));
    expect(niceOf(`/proc/${process.pid}/task/${notice.meta.threadId}/stat`)).toBe(Math.min(19, serving + REVIEW_WORKER_NICE));
    // The serving thread keeps its own.
    expect(serving).toBe(servingBefore);
  });

  it('starts on demand and stops after its idle time', async () => {
    const offload = started({ idleStopMs: 100 });
    expect(offload.running()).toBe(false);
    await offload.decide(review(300 * 1024), 'mutate');
    expect(offload.running()).toBe(true);
    // Stopped by its idle timer, which a loaded machine may run late: poll, bounded.
    const deadline = Date.now() + 10_000;
    while (offload.running() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(offload.running()).toBe(false);
    // The next review starts a new one.
    await expect(offload.decide(review(300 * 1024), 'mutate')).resolves.toMatchObject({ summary: { result: 'patched' } });
  });

  it('fails the reviews a dying worker held, and the next review gets a new worker', async () => {
    // A worker that exits on a /mutate review and answers /validate ones as the real worker would.
    const script = join(bundleDir, 'dying-worker.mjs');
    writeFileSync(
      script,
      `import { parentPort } from 'node:worker_threads';
       parentPort.on('message', ({ id, webhook }) => {
         if (webhook === 'mutate') process.exit(7);
         parentPort.postMessage({ id, decision: { refusal: { status: 400, reason: 'test', message: 'answered by a new worker' } } });
       });`,
    );
    const offload = started({ url: pathToFileURL(script) });
    const dying = offload.decide(Buffer.from('{}'), 'mutate');
    await expect(dying).rejects.toBeInstanceOf(ReviewWorkerError);
    await expect(dying).rejects.toThrow('exited with code 7');
    expect(offload.running()).toBe(false);
    await expect(offload.decide(Buffer.from('{}'), 'validate')).resolves.toEqual({ refusal: { status: 400, reason: 'test', message: 'answered by a new worker' } });
  });

  it('fails a pending review when closed', async () => {
    // A worker that never answers, so the review is surely pending when close() comes.
    const script = join(bundleDir, 'silent-worker.mjs');
    writeFileSync(script, `import { parentPort } from 'node:worker_threads'; parentPort.on('message', () => undefined);`);
    const offload = started({ url: pathToFileURL(script) });
    const pending = offload.decide(review(2 * 1024 * 1024), 'validate').catch((error: unknown) => error);
    await offload.close();
    expect(await pending).toBeInstanceOf(ReviewWorkerError);
    expect(String(await pending)).toContain('shutting down');
    expect(offload.pending()).toBe(0);
  });
});
