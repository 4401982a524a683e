import { describe, expect, it } from '@jest/globals';
import { ApiException } from '@kubernetes/client-node';
import { supervise, type SupervisedInformer } from './kube-cluster.js';
import { silentLogger } from './logger.js';

type Callback = (arg?: unknown) => void;

/** An informer that does what the test says: fail to start, emit errors, or stay quiet. */
function fakeInformer(startFailures: unknown[] = []) {
  const callbacks = new Map<string, Callback[]>();
  let starts = 0;
  let stops = 0;
  const informer: SupervisedInformer = {
    on: ((verb: string, callback: Callback) => callbacks.set(verb, [...(callbacks.get(verb) ?? []), callback])) as SupervisedInformer['on'],
    start: async () => {
      starts++;
      const failure = startFailures.shift();
      if (failure) throw failure;
    },
    stop: async () => void stops++,
  };
  return {
    informer,
    emit: (verb: string, arg?: unknown) => callbacks.get(verb)?.forEach((callback) => callback(arg)),
    starts: () => starts,
    stops: () => stops,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  for (let waited = 0; !condition() && waited < timeoutMs; waited += 5) await sleep(5);
}
const fast = { watchdogMs: 60_000, baseBackoffMs: 10, maxBackoffMs: 40, random: () => 0.5 };

describe('supervise', () => {
  it('restarts a watch that stops on an error, and requeues everything after it', async () => {
    const fake = fakeInformer();
    let resyncs = 0;
    const supervisor = supervise('agents', fake.informer, silentLogger(), () => resyncs++, fast);
    await supervisor.start();
    expect(supervisor.synced()).toBe(true);
    fake.emit('error', new Error('connection reset'));
    await waitFor(() => fake.starts() === 2);
    expect(fake.starts()).toBe(2);
    expect(resyncs).toBe(1);
    await supervisor.stop();
  });

  it('backs off exponentially while the API server stays down, then recovers', async () => {
    const down = new Error('ECONNREFUSED');
    const fake = fakeInformer([down, down, down, down]);
    const supervisor = supervise('agents', fake.informer, silentLogger(), () => {}, fast);
    const began = Date.now();
    await supervisor.start();
    expect(supervisor.synced()).toBe(false);
    await waitFor(() => supervisor.synced());
    expect(fake.starts()).toBe(5);
    // 10 + 20 + 40 + 40 ms of backoff at least (capped at 40).
    expect(Date.now() - began).toBeGreaterThanOrEqual(100);
    await supervisor.stop();
  });

  it('reconnects a watch that has been quiet longer than the watchdog allows', async () => {
    const fake = fakeInformer();
    let resyncs = 0;
    const supervisor = supervise('agents', fake.informer, silentLogger(), () => resyncs++, { ...fast, watchdogMs: 80 });
    await supervisor.start();
    await waitFor(() => fake.starts() >= 2);
    expect(fake.stops()).toBeGreaterThanOrEqual(1);
    expect(resyncs).toBeGreaterThanOrEqual(1);
    await supervisor.stop();
  });

  it('does not reconnect a watch that keeps delivering', async () => {
    const fake = fakeInformer();
    const supervisor = supervise('agents', fake.informer, silentLogger(), () => {}, { ...fast, watchdogMs: 200 });
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
    const supervisor = supervise('httproutes', fake.informer, silentLogger(), () => {}, { ...fast, optional: true });
    await supervisor.start();
    expect(supervisor.synced()).toBe(true);
    await waitFor(() => fake.starts() === 3);
    expect(fake.starts()).toBe(3);
    await supervisor.stop();
    const required = supervise('agents', fakeInformer([notFound]).informer, silentLogger(), () => {}, fast);
    await required.start();
    expect(required.synced()).toBe(false);
    await required.stop();
  });

  it('stops restarting once stopped', async () => {
    const fake = fakeInformer();
    const supervisor = supervise('agents', fake.informer, silentLogger(), () => {}, fast);
    await supervisor.start();
    await supervisor.stop();
    fake.emit('error', new Error('late'));
    await sleep(60);
    expect(fake.starts()).toBe(1);
  });
});
