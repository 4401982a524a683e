import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import {
  jittered,
  leaderIdentity,
  leaseAction,
  leaseSpecAfter,
  observeLease,
  startLeaderElection,
  type LeaderElectionClock,
  type LeaseRecord,
  type LeaseSpec,
  type LeaseStore,
} from './leader-election.js';
import { silentLogger, type Logger } from '@kaos/kube-runtime';

const t0 = new Date('2026-11-26T10:00:00.000Z');
const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);
const held = (holder: string | undefined, renewedAt: Date, duration = 15): LeaseSpec => ({ holderIdentity: holder, leaseDurationSeconds: duration, renewTime: renewedAt.toISOString() });
const record = (spec: LeaseSpec, resourceVersion = '1'): LeaseRecord => ({ spec, resourceVersion });

describe('leaseAction (client-go: expiry measured from when this replica saw the record change, on its own clock)', () => {
  // `seen` is when this replica observed the record (monotonic s); `now` the monotonic time of the decision.
  it.each<[string, LeaseSpec | undefined, number, number, string]>([
    ['no Lease', undefined, 0, 0, 'create'],
    ['our own Lease', held('me', t0), 0, 100, 'renew'],
    ['a released Lease', held(undefined, t0), 0, 0, 'acquire'],
    ['a Lease the chart created empty', {}, 0, 0, 'acquire'],
    ['a fresh Lease of another', held('other', t0), 0, 10, 'follow'],
    ['a Lease of another just before it expires', held('other', t0), 0, 14.999, 'follow'],
    ['a Lease of another seen unchanged for its duration', held('other', t0), 0, 15, 'acquire'],
    ["a Lease whose renewTime is 60 s old by our clock (skew) but just seen changing", held('other', at(-60)), 100, 100.5, 'follow'],
    ["a Lease whose renewTime is 60 s ahead of our clock (skew), unchanged for 16 s", held('other', at(60)), 100, 116, 'acquire'],
    ['a Lease of another without a duration (expires at once, as in client-go)', { holderIdentity: 'other' }, 5, 5, 'acquire'],
  ])('%s → %s', (_name, spec, seen, now, action) => {
    const current = spec && record(spec);
    const observed = observeLease(undefined, current, seen * 1000);
    expect(leaseAction(current, observed, 'me', now * 1000)).toBe(action);
  });

  it('keeps the observation time while the record is unchanged and resets it on any change', () => {
    const first = observeLease(undefined, record(held('other', t0)), 1_000);
    expect(observeLease(first, record(held('other', t0), '2'), 5_000)).toBe(first);
    expect(observeLease(first, record(held('other', at(2))), 5_000)?.observedAt).toBe(5_000);
    expect(observeLease(first, record({ ...held('other', t0), leaseTransitions: 1 }), 6_000)?.observedAt).toBe(6_000);
    expect(observeLease(first, undefined, 7_000)).toBeUndefined();
  });
});

describe('leaseSpecAfter', () => {
  it('counts transitions on takeover and keeps acquireTime on renewal', () => {
    const acquired = leaseSpecAfter({ ...held('other', t0), leaseTransitions: 2 }, 'acquire', 'me', at(20), 15);
    expect(acquired).toEqual({ holderIdentity: 'me', leaseDurationSeconds: 15, acquireTime: '2026-11-26T10:00:20.000000Z', renewTime: '2026-11-26T10:00:20.000000Z', leaseTransitions: 3 });
    const renewed = leaseSpecAfter(acquired, 'renew', 'me', at(22), 15);
    expect(renewed).toEqual({ ...acquired, renewTime: '2026-11-26T10:00:22.000000Z' });
    expect(leaseSpecAfter(undefined, 'create', 'me', t0, 15).leaseTransitions).toBe(0);
    expect(leaseSpecAfter({}, 'acquire', 'me', t0, 15)).toMatchObject({ holderIdentity: 'me', leaseTransitions: 1 });
  });
});

describe('identity and jitter', () => {
  it('suffixes the identity with a random UUID, as client-go callers do (hostname_uuid)', () => {
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
    const first = leaderIdentity('kaos-operator-controller-7c8-abcde');
    const second = leaderIdentity('kaos-operator-controller-7c8-abcde');
    expect(first).toMatch(/^kaos-operator-controller-7c8-abcde_/);
    expect(first.split('_')[1]).toMatch(uuid);
    expect(first).not.toBe(second);
  });

  it.each([
    [0, 2_000],
    [0.5, 3_200],
    [0.999_999, 4_399.9976],
  ])('random %d → %d ms: retryPeriod × (1 + 1.2 × random)', (random, delay) => {
    expect(jittered(2_000, () => random)).toBeCloseTo(delay, 3);
  });
});

/** A Lease in memory with optimistic concurrency; each replica gets its own view, which can be cut off or made to hang. */
function memoryLease() {
  let stored: LeaseRecord | undefined;
  let version = 0;
  const view = () => {
    let mode: 'ok' | 'cut' | 'hang' = 'ok';
    const aborted: AbortSignal[] = [];
    const hung: AbortSignal[] = [];
    /** Runs `operation` unless cut off; a hanging view never answers, but records the abort of the signal. */
    const call = <T>(operation: () => T, signal?: AbortSignal): Promise<T> => {
      if (mode === 'cut') return Promise.reject(new Error('API unavailable'));
      if (mode === 'hang') {
        if (signal) {
          hung.push(signal);
          signal.addEventListener('abort', () => aborted.push(signal), { once: true });
        }
        return new Promise<T>(() => {});
      }
      try {
        return Promise.resolve(operation());
      } catch (error) {
        return Promise.reject(error as Error);
      }
    };
    const store: LeaseStore = {
      read: (signal) => call(() => stored && structuredClone(stored), signal),
      create: (spec, signal) =>
        call(() => {
          if (stored) throw new Error('409 AlreadyExists');
          stored = { spec, resourceVersion: String(++version) };
        }, signal),
      write: (spec, resourceVersion, signal) =>
        call(() => {
          if (stored?.resourceVersion !== resourceVersion) throw new Error('409 Conflict');
          stored = { spec, resourceVersion: String(++version) };
        }, signal),
    };
    return { store, set: (value: typeof mode) => (mode = value), aborted, hung };
  };
  return {
    view,
    holder: () => stored?.spec.holderIdentity,
    stored: () => stored,
    put: (spec: LeaseSpec) => (stored = { spec, resourceVersion: String(++version) }),
    remove: () => (stored = undefined),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Polls a condition (these tests use real timers at 20 ms retry periods). */
async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  for (let waited = 0; !condition() && waited < timeoutMs; waited += 10) await sleep(10);
}
const timing = { leaseDurationSeconds: 1, renewDeadlineMs: 300, retryPeriodMs: 20 };

describe('startLeaderElection (real timers, short periods)', () => {
  it('makes exactly one of two replicas leader, and hands over on release', async () => {
    const lease = memoryLease();
    const started: string[] = [];
    const a = startLeaderElection({ store: lease.view().store, identity: 'a', timing, logger: silentLogger(), onStartedLeading: () => started.push('a'), onStoppedLeading: () => {} });
    await waitFor(() => a.isLeader());
    const b = startLeaderElection({ store: lease.view().store, identity: 'b', timing, logger: silentLogger(), onStartedLeading: () => started.push('b'), onStoppedLeading: () => {} });
    await sleep(150);
    expect(started).toEqual(['a']);
    expect([a.isLeader(), b.isLeader()]).toEqual([true, false]);
    await a.release();
    await waitFor(() => b.isLeader());
    expect(started).toEqual(['a', 'b']);
    expect(lease.holder()).toBe('b');
    await b.release();
  });

  it('takes over from a leader that is cut off, once the lease has expired; the old leader steps down', async () => {
    const lease = memoryLease();
    const crashed = lease.view();
    let stoppedLeading = 0;
    const first = startLeaderElection({ store: crashed.store, identity: 'a', timing, logger: silentLogger(), onStartedLeading: () => {}, onStoppedLeading: () => stoppedLeading++ });
    await waitFor(() => first.isLeader());
    const started: number[] = [];
    const second = startLeaderElection({ store: lease.view().store, identity: 'b', timing, logger: silentLogger(), onStartedLeading: () => started.push(Date.now()), onStoppedLeading: () => {} });
    await sleep(100); // b has seen a's renewals
    crashed.set('cut');
    const cutAt = Date.now();
    await sleep(200);
    expect(second.isLeader()).toBe(false);
    await waitFor(() => second.isLeader());
    expect(second.isLeader()).toBe(true);
    // Not before the old Lease expired (1 s after b last saw it change), and soon after (generous for a loaded CI).
    expect(started[0]! - cutAt).toBeGreaterThanOrEqual(700);
    expect(started[0]! - cutAt).toBeLessThan(3_000);
    expect(first.isLeader()).toBe(false);
    expect(stoppedLeading).toBe(1);
    await first.release();
    await second.release();
  });
});

// ---- Fake clocks: jest's fake timers drive setTimeout and Date.now(); each replica reads its wall
// clock with its own skew, and its monotonic clock with its own arbitrary origin.

function replicaClock(skewMs: number, monotonicOriginMs: number): LeaderElectionClock {
  return { monotonic: () => Date.now() - t0.getTime() + monotonicOriginMs, wall: () => new Date(Date.now() + skewMs) };
}

function recordingLogger(): Logger & { errors: { message: string; fields?: Record<string, unknown> }[] } {
  const errors: { message: string; fields?: Record<string, unknown> }[] = [];
  const logger = silentLogger();
  const error = ((message: string, fields?: Record<string, unknown>) => {
    errors.push({ message, fields });
    return logger;
  }) as unknown as Logger['error'];
  return Object.assign(logger, { error, errors });
}

const defaults = { leaseDurationSeconds: 15, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

describe('startLeaderElection with fake clocks', () => {
  beforeEach(() => {
    jest.useFakeTimers({ now: t0, doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  type Fault = 'none' | 'leader cut off' | 'leader hangs' | 'leader released';
  it.each<[number, Fault]>([
    [60, 'none'],
    [-60, 'none'],
    [60, 'leader cut off'],
    [-60, 'leader cut off'],
    [60, 'leader hangs'],
    [-60, 'leader hangs'],
    [60, 'leader released'],
    [-60, 'leader released'],
  ])('replica b %d s off: never both leaders (fault: %s), and a takeover within lease duration + jittered retry', async (skewSeconds, fault) => {
    const lease = memoryLease();
    const views = { a: lease.view(), b: lease.view() };
    const stopped: string[] = [];
    const start = (name: 'a' | 'b', skewMs: number, origin: number) =>
      startLeaderElection({ store: views[name].store, identity: leaderIdentity(name), timing: defaults, clock: replicaClock(skewMs, origin), logger: silentLogger(), onStartedLeading: () => {}, onStoppedLeading: () => stopped.push(name) });
    const a = start('a', 0, 1_000_000);
    await jest.advanceTimersByTimeAsync(500);
    expect(a.isLeader()).toBe(true);
    const b = start('b', skewSeconds * 1000, 42);

    let both = 0;
    let samples = 0;
    const sample = async (ms: number) => {
      for (let step = 0; step < ms; step += 100) {
        await jest.advanceTimersByTimeAsync(100);
        samples++;
        if (a.isLeader() && b.isLeader()) both++;
      }
    };
    await sample(60_000);
    expect([a.isLeader(), b.isLeader()]).toEqual([true, false]);

    if (fault !== 'none') {
      const faultAt = Date.now();
      if (fault === 'leader cut off') views.a.set('cut');
      if (fault === 'leader hangs') views.a.set('hang');
      if (fault === 'leader released') await a.release().catch(() => {}); // released: handover at b's next retry
      let tookOverAt: number | undefined;
      for (let step = 0; step < 60_000; step += 100) {
        await sample(100);
        if (tookOverAt === undefined && b.isLeader()) tookOverAt = Date.now();
      }
      expect(tookOverAt).toBeDefined();
      const handover = tookOverAt! - faultAt;
      // a's last renewal was at most one retry period (2 s) before the fault; b saw it at its next
      // read (≤ one jittered retry, 4.4 s, later) and takes over once that record is 15 s old on its
      // own clock, at its next retry (≤ 4.4 s later): 13 s ≤ handover ≤ 23.8 s (+ sampling).
      if (fault === 'leader released') expect(handover).toBeLessThanOrEqual(4_500);
      else {
        expect(handover).toBeGreaterThanOrEqual(15_000 - 2_000 - 100);
        expect(handover).toBeLessThanOrEqual(15_000 + 2 * 4_400 + 200);
      }
      expect(a.isLeader()).toBe(false);
      if (fault !== 'leader released') expect(stopped).toEqual(['a']);
    }
    expect(samples).toBeGreaterThan(500);
    expect(both).toBe(0);
    await a.release().catch(() => {});
    await b.release();
  });

  it('a renewal that hangs ends leadership within the renew deadline and aborts the request in flight', async () => {
    const lease = memoryLease();
    const view = lease.view();
    let stoppedAt: number | undefined;
    const leader = startLeaderElection({ store: view.store, identity: 'a', timing: defaults, clock: replicaClock(0, 0), logger: silentLogger(), onStartedLeading: () => {}, onStoppedLeading: () => (stoppedAt = Date.now()) });
    await jest.advanceTimersByTimeAsync(100);
    expect(leader.isLeader()).toBe(true);
    await jest.advanceTimersByTimeAsync(5_950); // renewals at 2 s, 4 s, 6 s succeeded
    const lastRenewalStart = t0.getTime() + 6_000;
    view.set('hang');
    await jest.advanceTimersByTimeAsync(2_050); // the renewal at 8 s hangs
    expect(view.hung).toHaveLength(1);
    expect(leader.isLeader()).toBe(true);
    while (leader.isLeader() && Date.now() < t0.getTime() + 60_000) await jest.advanceTimersByTimeAsync(10);
    expect(leader.isLeader()).toBe(false);
    expect(stoppedAt! - lastRenewalStart).toBeLessThanOrEqual(defaults.renewDeadlineMs);
    expect(view.aborted).toEqual(view.hung); // the hung request was aborted
    // No further attempts after stepping down.
    await jest.advanceTimersByTimeAsync(30_000);
    expect(view.hung).toHaveLength(1);
    await leader.release();
  });

  it('jitters follower retries within [retry, 2.2 × retry] (client-go JitterFactor 1.2)', async () => {
    const lease = memoryLease();
    lease.put(held('someone', t0, 3_600));
    const follower = startLeaderElection({ store: lease.view().store, identity: 'b', timing: defaults, clock: replicaClock(0, 0), logger: silentLogger(), onStartedLeading: () => {}, onStoppedLeading: () => {} });
    await jest.advanceTimersByTimeAsync(600_000);
    const delays = follower.retryDelays();
    expect(delays.length).toBeGreaterThan(100 - 1);
    for (const delay of delays) {
      expect(delay).toBeGreaterThanOrEqual(2_000);
      expect(delay).toBeLessThanOrEqual(4_400);
    }
    expect(new Set(delays.map((delay) => Math.round(delay))).size).toBeGreaterThan(50); // not in lockstep
    expect(Math.max(...delays) - Math.min(...delays)).toBeGreaterThan(1_000);
    await follower.release();
  });

  it('takes a Lease the chart created empty; a missing Lease it may not create is logged by name, and retried', async () => {
    const lease = memoryLease();
    const view = lease.view();
    const forbidden = Object.assign(new Error('leases.coordination.k8s.io is forbidden'), { code: 403 });
    const store: LeaseStore = { ...view.store, create: () => Promise.reject(forbidden) };
    const logger = recordingLogger();
    const replica = startLeaderElection({ store, identity: 'a', lease: 'kaos-system/kaos-operator-controller-leader', timing: defaults, clock: replicaClock(0, 0), logger, onStartedLeading: () => {}, onStoppedLeading: () => {} });
    await jest.advanceTimersByTimeAsync(90_000);
    expect(replica.isLeader()).toBe(false);
    expect(logger.errors.length).toBeGreaterThanOrEqual(1);
    expect(logger.errors.length).toBeLessThanOrEqual(2); // once a minute, not every retry
    expect(logger.errors[0]!.message).toContain('kaos-system/kaos-operator-controller-leader does not exist and this controller may not create it');
    expect(logger.errors[0]!.message).toContain('helm upgrade');
    lease.put({}); // as the chart creates it: no spec fields
    await jest.advanceTimersByTimeAsync(5_000);
    expect(replica.isLeader()).toBe(true);
    expect(lease.stored()?.spec).toMatchObject({ holderIdentity: 'a', leaseDurationSeconds: 15, leaseTransitions: 1 });
    await replica.release();
    expect(lease.stored()?.spec.holderIdentity).toBeUndefined();
  });

  it('steps down at once when the Lease names another holder', async () => {
    const lease = memoryLease();
    const stopped: string[] = [];
    const leader = startLeaderElection({ store: lease.view().store, identity: 'a', timing: defaults, clock: replicaClock(0, 0), logger: silentLogger(), onStartedLeading: () => {}, onStoppedLeading: () => stopped.push('a') });
    await jest.advanceTimersByTimeAsync(100);
    expect(leader.isLeader()).toBe(true);
    lease.put(held('intruder', t0));
    await jest.advanceTimersByTimeAsync(2_100);
    expect(leader.isLeader()).toBe(false);
    expect(stopped).toEqual(['a']);
  });
});
