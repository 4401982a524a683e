import { describe, expect, it } from '@jest/globals';
import { ApiException } from '@kubernetes/client-node';
import { silentLogger, type Logger } from '@kaos/kube-runtime';
import { DEFAULT_SUPERVISION, restartDelayMs, supervise, type SupervisedInformer } from './watch-supervisor.js';

type Callback = (arg?: unknown) => void;

/**
 * An informer that does what the test says: fail to start, emit errors, or stay quiet. A start
 * failure is thrown, or with `viaEvent` reported the way client-node does it: an 'error' event
 * while start() still resolves.
 */
function fakeInformer(startFailures: unknown[] = [], viaEvent = false) {
  const callbacks = new Map<string, Callback[]>();
  let starts = 0;
  let stops = 0;
  const emit = (verb: string, arg?: unknown) => callbacks.get(verb)?.forEach((callback) => callback(arg));
  const informer: SupervisedInformer = {
    on: ((verb: string, callback: Callback) => callbacks.set(verb, [...(callbacks.get(verb) ?? []), callback])) as SupervisedInformer['on'],
    start: async () => {
      starts++;
      const failure = startFailures.shift();
      if (failure && viaEvent) emit('error', failure);
      else if (failure) throw failure;
    },
    stop: async () => void stops++,
  };
  return {
    informer,
    emit,
    starts: () => starts,
    stops: () => stops,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  for (let waited = 0; !condition() && waited < timeoutMs; waited += 5) await sleep(5);
}
const fast = { watchdogMs: 60_000, baseBackoffMs: 10, maxBackoffMs: 40, random: () => 0.5 };

/** Hooks that record resyncs and restart reasons. */
function recorder() {
  const reasons: string[] = [];
  let resyncs = 0;
  return { hooks: { resync: () => void resyncs++, restarted: (reason: string) => void reasons.push(reason) }, reasons, resyncs: () => resyncs };
}

describe('supervise', () => {
  it('restarts a watch that stops on an error, and requeues everything after it', async () => {
    const fake = fakeInformer();
    const record = recorder();
    const supervisor = supervise('agents', fake.informer, silentLogger(), record.hooks, fast);
    expect(supervisor.cacheFilled()).toBe(false);
    await supervisor.start();
    expect(supervisor.synced()).toBe(true);
    expect(supervisor.cacheFilled()).toBe(true);
    expect(record.resyncs()).toBe(0);
    fake.emit('error', new Error('connection reset'));
    await waitFor(() => record.resyncs() === 1);
    expect(fake.starts()).toBe(2);
    expect(record.resyncs()).toBe(1);
    expect(record.reasons).toEqual(['error']);
    await supervisor.stop();
  });

  it.each([
    ['thrown by start()', false],
    ['reported as an error event while start() resolves (client-node)', true],
  ])('backs off exponentially while the API server stays down, then recovers and resyncs once: failure %s', async (_how, viaEvent) => {
    const down = new Error('ECONNREFUSED');
    const fake = fakeInformer([down, down, down, down], viaEvent);
    const record = recorder();
    const supervisor = supervise('agents', fake.informer, silentLogger(), record.hooks, fast);
    const began = Date.now();
    await supervisor.start();
    expect(supervisor.synced()).toBe(false);
    await waitFor(() => supervisor.synced());
    expect(supervisor.synced()).toBe(true);
    expect(fake.starts()).toBe(5);
    // 10 + 20 + 40 + 40 ms of backoff at least (capped at 40).
    expect(Date.now() - began).toBeGreaterThanOrEqual(100);
    expect(record.reasons).toEqual(['error', 'error', 'error', 'error']);
    // Requeueing while the API server is still down would only fail: once, after it is back.
    expect(record.resyncs()).toBe(1);
    expect(supervisor.restarts()).toBe(4);
    await supervisor.stop();
  });

  it('reconnects a watch that has been quiet longer than the watchdog allows', async () => {
    const fake = fakeInformer();
    const record = recorder();
    const supervisor = supervise('agents', fake.informer, silentLogger(), record.hooks, { ...fast, watchdogMs: 80 });
    await supervisor.start();
    await waitFor(() => record.resyncs() >= 1);
    expect(fake.starts()).toBeGreaterThanOrEqual(2);
    expect(fake.stops()).toBeGreaterThanOrEqual(1);
    expect(record.resyncs()).toBeGreaterThanOrEqual(1);
    expect(record.reasons[0]).toBe('watchdog');
    expect(new Set(record.reasons)).toEqual(new Set(['watchdog']));
    await supervisor.stop();
  });

  it('does not reconnect a watch that keeps delivering', async () => {
    const fake = fakeInformer();
    const supervisor = supervise('agents', fake.informer, silentLogger(), { resync: () => {} }, { ...fast, watchdogMs: 200 });
    await supervisor.start();
    for (let i = 0; i < 10; i++) {
      fake.emit('update', {});
      await sleep(40);
    }
    expect(fake.starts()).toBe(1);
    await supervisor.stop();
  });

  it('counts an optional watch of a missing resource type as synced, and keeps trying', async () => {
    const notFound = new ApiException(404, 'the server could not find the requested resource', {}, {});
    const fake = fakeInformer([notFound, notFound]);
    const supervisor = supervise('httproutes', fake.informer, silentLogger(), { resync: () => {} }, { ...fast, optional: true });
    await supervisor.start();
    expect(supervisor.synced()).toBe(true);
    // Synced, but nothing listed: a miss in its cache says nothing.
    expect(supervisor.cacheFilled()).toBe(false);
    await waitFor(() => fake.starts() === 3);
    expect(fake.starts()).toBe(3);
    await supervisor.stop();
    const required = supervise('agents', fakeInformer([notFound], true).informer, silentLogger(), { resync: () => {} }, fast);
    await required.start();
    expect(required.synced()).toBe(false);
    await required.stop();
  });

  it('ignores the abort its own stop causes', async () => {
    const fake = fakeInformer();
    const record = recorder();
    const supervisor = supervise('agents', fake.informer, silentLogger(), record.hooks, fast);
    await supervisor.start();
    fake.emit('error', new DOMException('This operation was aborted', 'AbortError'));
    await sleep(60);
    expect(fake.starts()).toBe(1);
    expect(record.reasons).toEqual([]);
    await supervisor.stop();
  });

  it.each([
    // random, delay after the first error with base 100 ms: 100 ms ± 25 %
    [0, 75],
    [0.5, 100],
    [0.999, 125],
  ])('jitters the restart delay by ±25 %% (random %d: %d ms)', async (random, retryInMs) => {
    const warnings: Array<Record<string, unknown>> = [];
    const logger = { warn: (_message: string, fields: Record<string, unknown>) => void warnings.push(fields), info: () => {} } as unknown as Logger;
    const fake = fakeInformer();
    const supervisor = supervise('agents', fake.informer, logger, { resync: () => {} }, { ...fast, baseBackoffMs: 100, maxBackoffMs: 1_000, random: () => random });
    await supervisor.start();
    fake.emit('error', new Error('connection reset'));
    expect(warnings).toEqual([expect.objectContaining({ watch: 'agents', retryInMs, failures: 1 })]);
    await supervisor.stop();
  });

  it('stops restarting once stopped', async () => {
    const fake = fakeInformer();
    const supervisor = supervise('agents', fake.informer, silentLogger(), { resync: () => {} }, fast);
    await supervisor.start();
    await supervisor.stop();
    fake.emit('error', new Error('late'));
    await sleep(60);
    expect(fake.starts()).toBe(1);
  });
});

describe('restartDelayMs with the production supervision', () => {
  // A standby replica may take the Lease over 15 s (the chart's lease duration) after the API is
  // back: its watches must be running again before that, however long the outage was.
  const leaseDurationMs = 15_000;
  it.each([
    { failures: 1, random: 0.5, expected: 500 },
    { failures: 2, random: 0.5, expected: 1_000 },
    { failures: 5, random: 0.5, expected: 8_000 },
    { failures: 6, random: 0.5, expected: 8_000 },
    { failures: 60, random: 0.5, expected: 8_000 },
    { failures: 1, random: 0, expected: 375 },
    { failures: 1, random: 1, expected: 625 },
    { failures: 60, random: 1, expected: 10_000 },
  ])('restart $failures after consecutive errors waits $expected ms (random $random)', ({ failures, random, expected }) => {
    expect(restartDelayMs(failures, DEFAULT_SUPERVISION, () => random)).toBe(expected);
  });

  it('never waits as long as a lease duration, so a watch is back before a standby can lead', () => {
    for (let failures = 1; failures <= 100; failures++) {
      for (const random of [0, 0.5, 0.999]) expect(restartDelayMs(failures, DEFAULT_SUPERVISION, () => random)).toBeLessThan(leaseDurationMs);
    }
  });
});
