import { describe, expect, it } from '@jest/globals';
import { WorkQueue, type QueueTimers } from './queue.js';

/** Timers that only fire when the test advances the clock. */
function fakeTimers() {
  let now = 0;
  let nextId = 1;
  const pending = new Map<number, { at: number; callback: () => void }>();
  const timers: QueueTimers = {
    now: () => now,
    setTimeout: (callback, ms) => {
      const id = nextId++;
      pending.set(id, { at: now + ms, callback });
      return id;
    },
    clearTimeout: (handle) => void pending.delete(handle as number),
  };
  return {
    timers,
    pendingDelays: () => [...pending.values()].map((timer) => timer.at - now).sort((a, b) => a - b),
    advance(ms: number) {
      now += ms;
      for (const [id, timer] of [...pending.entries()].sort((a, b) => a[1].at - b[1].at)) {
        if (timer.at <= now) {
          pending.delete(id);
          timer.callback();
        }
      }
    },
  };
}

/** A promise with its resolve function, to hold a worker mid-reconcile. */
function gate() {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('WorkQueue', () => {
  it('deduplicates a key that is added while it waits', async () => {
    const seen: string[] = [];
    const hold = gate();
    const queue = new WorkQueue(
      async (key) => {
        seen.push(key);
        if (key === 'first') await hold.promise;
      },
      { concurrency: 1, baseDelayMs: 10, maxDelayMs: 100, timers: fakeTimers().timers },
    );
    queue.add('first');
    queue.add('a');
    queue.add('a');
    queue.add('a');
    expect(queue.depth()).toBe(2);
    hold.open();
    await queue.idle();
    expect(seen).toEqual(['first', 'a']);
  });

  it('runs one reconcile per key at a time, and once more for an add during it', async () => {
    let running = 0;
    let maxRunning = 0;
    const seen: string[] = [];
    const hold = gate();
    const queue = new WorkQueue(
      async (key) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        seen.push(key);
        if (seen.length === 1) await hold.promise;
        running--;
      },
      { concurrency: 4, baseDelayMs: 10, maxDelayMs: 100, timers: fakeTimers().timers },
    );
    queue.add('k');
    await flush();
    queue.add('k');
    queue.add('k');
    hold.open();
    await queue.idle();
    expect(seen).toEqual(['k', 'k']);
    expect(maxRunning).toBe(1);
  });

  it('bounds concurrency across keys', async () => {
    let running = 0;
    let maxRunning = 0;
    const queue = new WorkQueue(
      async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await flush();
        running--;
      },
      { concurrency: 3, baseDelayMs: 10, maxDelayMs: 100, timers: fakeTimers().timers },
    );
    for (let i = 0; i < 20; i++) queue.add(`k${i}`);
    await queue.idle();
    expect(maxRunning).toBe(3);
  });

  it('gives each group of keys its own slots (MaxConcurrentReconciles per kind): a backlog of one kind does not hold back another', async () => {
    const running = new Map<string, number>();
    const maxRunning = new Map<string, number>();
    const holds = new Map<string, ReturnType<typeof gate>>();
    const queue = new WorkQueue(
      async (key) => {
        const kind = key.split('/')[0]!;
        running.set(kind, (running.get(kind) ?? 0) + 1);
        maxRunning.set(kind, Math.max(maxRunning.get(kind) ?? 0, running.get(kind)!));
        const hold = gate();
        holds.set(key, hold);
        await hold.promise;
        running.set(kind, running.get(kind)! - 1);
      },
      { concurrency: 2, group: (key) => key.split('/')[0]!, baseDelayMs: 10, maxDelayMs: 100, timers: fakeTimers().timers },
    );
    for (let i = 0; i < 5; i++) queue.add(`Agent/ns/a${i}`);
    queue.add('ModelAPI/ns/m0');
    queue.add('MCPServer/ns/s0');
    queue.add('MCPServer/ns/s1');
    await flush();
    // Two Agents, and the other kinds at once although three Agents still wait.
    expect([...holds.keys()].sort()).toEqual(['Agent/ns/a0', 'Agent/ns/a1', 'MCPServer/ns/s0', 'MCPServer/ns/s1', 'ModelAPI/ns/m0']);
    expect(queue.depth()).toBe(8);
    holds.get('Agent/ns/a0')!.open();
    await flush();
    expect(holds.has('Agent/ns/a2')).toBe(true);
    expect(holds.has('Agent/ns/a3')).toBe(false);
    // Release everything as it starts.
    while (queue.depth() > 0) {
      for (const hold of holds.values()) hold.open();
      await flush();
    }
    await queue.idle();
    expect(Object.fromEntries(maxRunning)).toEqual({ Agent: 2, ModelAPI: 1, MCPServer: 2 });
  });

  it('retries a failing key with exponential backoff, capped, and forgets failures after a success', async () => {
    const clock = fakeTimers();
    let attempts = 0;
    const queue = new WorkQueue(
      async () => {
        attempts++;
        if (attempts <= 6) throw new Error('API down');
      },
      { concurrency: 1, baseDelayMs: 100, maxDelayMs: 1_000, timers: clock.timers, random: () => 0 },
    );
    queue.add('k');
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      await queue.idle();
      await flush();
      delays.push(clock.pendingDelays()[0]!);
      clock.advance(delays[delays.length - 1]!);
    }
    await queue.idle();
    expect(delays).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    expect(attempts).toBe(7);
    expect(queue.failuresOf('k')).toBe(0);
    expect(clock.pendingDelays()).toEqual([]);
  });

  it('adds up to 25 % jitter to the delay, never less (the arithmetic itself is tested in kube-runtime)', () => {
    const backoffWith = (random: number) => new WorkQueue(async () => {}, { concurrency: 1, baseDelayMs: 100, maxDelayMs: 1_000, random: () => random }).backoffMs(1);
    expect([backoffWith(0), backoffWith(0.999)]).toEqual([100, 125]);
  });

  it('requeues after the delay a reconcile asks for, and an earlier add replaces it', async () => {
    const clock = fakeTimers();
    const seen: number[] = [];
    const queue = new WorkQueue(
      async () => {
        seen.push(clock.timers.now());
        return { requeueAfterMs: 60_000 };
      },
      { concurrency: 1, baseDelayMs: 10, maxDelayMs: 100, timers: clock.timers },
    );
    queue.add('k');
    await queue.idle();
    await flush();
    expect(clock.pendingDelays()).toEqual([60_000]);
    clock.advance(1_000);
    queue.add('k');
    await queue.idle();
    await flush();
    expect(seen).toEqual([0, 1_000]);
    expect(clock.pendingDelays()).toEqual([60_000]);
  });

  it('takes no work after stop and cancels retries', async () => {
    const clock = fakeTimers();
    const seen: string[] = [];
    const queue = new WorkQueue(
      async (key) => {
        seen.push(key);
        throw new Error('x');
      },
      { concurrency: 1, baseDelayMs: 10, maxDelayMs: 100, timers: clock.timers },
    );
    queue.add('a');
    await queue.idle();
    await flush();
    queue.stop();
    clock.advance(1_000);
    queue.add('b');
    await flush();
    expect(seen).toEqual(['a']);
    expect(queue.depth()).toBe(0);
  });

  it('tells its observer when a key starts waiting, is handed to a worker and is done (a deduplicated add is not told)', async () => {
    const events: string[] = [];
    const hold = gate();
    const queue = new WorkQueue(
      async (key) => {
        if (key === 'a') await hold.promise;
      },
      { concurrency: 1, baseDelayMs: 10, maxDelayMs: 100, timers: fakeTimers().timers, observe: (key, event) => events.push(`${event} ${key}`) },
    );
    queue.add('a');
    queue.add('b');
    queue.add('b');
    hold.open();
    await queue.idle();
    expect(events).toEqual(['enqueued a', 'dequeued a', 'enqueued b', 'done a', 'dequeued b', 'done b']);
  });
});
