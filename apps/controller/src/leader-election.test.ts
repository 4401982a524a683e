import { describe, expect, it } from '@jest/globals';
import { leaseAction, leaseSpecAfter, startLeaderElection, type LeaseSpec, type LeaseStore } from './leader-election.js';
import { silentLogger } from './logger.js';

const t0 = new Date('2026-11-26T10:00:00.000Z');
const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);
const held = (holder: string | undefined, renewedAt: Date, duration = 15): LeaseSpec => ({ holderIdentity: holder, leaseDurationSeconds: duration, renewTime: renewedAt.toISOString() });

describe('leaseAction', () => {
  it.each<[string, LeaseSpec | undefined, Date, string]>([
    ['no Lease', undefined, t0, 'create'],
    ['our own Lease', held('me', t0), at(100), 'renew'],
    ['a released Lease', held(undefined, t0), at(1), 'acquire'],
    ['a fresh Lease of another', held('other', t0), at(10), 'follow'],
    ['a Lease of another at its last valid moment', held('other', t0), at(15), 'follow'],
    ['an expired Lease of another', held('other', t0), at(15.001), 'acquire'],
    ['a Lease without times', { holderIdentity: 'other' }, t0, 'acquire'],
  ])('%s → %s', (_name, spec, now, action) => {
    expect(leaseAction(spec, 'me', now)).toBe(action);
  });
});

describe('leaseSpecAfter', () => {
  it('counts transitions on takeover and keeps acquireTime on renewal', () => {
    const acquired = leaseSpecAfter({ ...held('other', t0), leaseTransitions: 2 }, 'acquire', 'me', at(20), 15);
    expect(acquired).toEqual({ holderIdentity: 'me', leaseDurationSeconds: 15, acquireTime: '2026-11-26T10:00:20.000000Z', renewTime: '2026-11-26T10:00:20.000000Z', leaseTransitions: 3 });
    const renewed = leaseSpecAfter(acquired, 'renew', 'me', at(22), 15);
    expect(renewed).toEqual({ ...acquired, renewTime: '2026-11-26T10:00:22.000000Z' });
    expect(leaseSpecAfter(undefined, 'create', 'me', t0, 15).leaseTransitions).toBe(0);
  });
});

/** A Lease in memory with optimistic concurrency; each replica gets its own view, which can be cut off. */
function memoryLease() {
  let stored: { spec: LeaseSpec; resourceVersion: string } | undefined;
  let version = 0;
  const view = () => {
    let cutOff = false;
    const check = () => {
      if (cutOff) throw new Error('API unavailable');
    };
    const store: LeaseStore = {
      read: async () => {
        check();
        return stored && structuredClone(stored);
      },
      create: async (spec) => {
        check();
        if (stored) throw new Error('409 AlreadyExists');
        stored = { spec, resourceVersion: String(++version) };
      },
      write: async (spec, resourceVersion) => {
        check();
        if (stored?.resourceVersion !== resourceVersion) throw new Error('409 Conflict');
        stored = { spec, resourceVersion: String(++version) };
      },
    };
    return { store, cut: (value: boolean) => (cutOff = value) };
  };
  return { view, holder: () => stored?.spec.holderIdentity };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Polls a condition (these tests use real timers at 20 ms retry periods). */
async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  for (let waited = 0; !condition() && waited < timeoutMs; waited += 10) await sleep(10);
}
const timing = { leaseDurationSeconds: 1, renewDeadlineMs: 300, retryPeriodMs: 20 };

describe('startLeaderElection', () => {
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
    crashed.cut(true);
    const cutAt = Date.now();
    await sleep(200);
    expect(second.isLeader()).toBe(false);
    await waitFor(() => second.isLeader());
    expect(second.isLeader()).toBe(true);
    // Not before the old Lease expired (1 s after its last renewal), and soon after (generous for a loaded CI).
    expect(started[0]! - cutAt).toBeGreaterThanOrEqual(700);
    expect(started[0]! - cutAt).toBeLessThan(3_000);
    expect(first.isLeader()).toBe(false);
    expect(stoppedLeading).toBe(1);
    await first.release();
    await second.release();
  });

  it('gives up leadership when it cannot renew within the renew deadline', async () => {
    const lease = memoryLease();
    const view = lease.view();
    let stopped = 0;
    const leader = startLeaderElection({ store: view.store, identity: 'a', timing, logger: silentLogger(), onStartedLeading: () => {}, onStoppedLeading: () => stopped++ });
    await waitFor(() => leader.isLeader());
    expect(leader.isLeader()).toBe(true);
    view.cut(true);
    await waitFor(() => !leader.isLeader());
    expect(leader.isLeader()).toBe(false);
    expect(stopped).toBe(1);
    view.cut(false);
    await leader.release();
  });
});
