// Leader election on a coordination.k8s.io/v1 Lease, as client-go does it: one replica holds the
// Lease and renews it; the others take over once it has not been renewed for a lease duration.
import type { Logger } from './logger.js';

/** The Lease spec fields leader election uses (times are RFC 3339 MicroTime strings). */
export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

/** What a replica should do with the Lease as it finds it. */
export type LeaseAction = 'create' | 'acquire' | 'renew' | 'follow';

/** The next step for `identity`: create a missing Lease, renew its own, take over an expired or released one, or follow. */
export function leaseAction(spec: LeaseSpec | undefined, identity: string, now: Date): LeaseAction {
  if (!spec) return 'create';
  if (spec.holderIdentity === identity) return 'renew';
  if (!spec.holderIdentity) return 'acquire';
  const renewed = Date.parse(spec.renewTime ?? spec.acquireTime ?? '');
  const durationMs = (spec.leaseDurationSeconds ?? 0) * 1000;
  return Number.isNaN(renewed) || renewed + durationMs < now.getTime() ? 'acquire' : 'follow';
}

/** The Lease spec after `action` by `identity`. */
export function leaseSpecAfter(spec: LeaseSpec | undefined, action: Exclude<LeaseAction, 'follow'>, identity: string, now: Date, durationSeconds: number): LeaseSpec {
  const time = now.toISOString().replace('Z', '000Z'); // MicroTime: microsecond precision
  if (action === 'renew') return { ...spec, renewTime: time, leaseDurationSeconds: durationSeconds };
  return {
    holderIdentity: identity,
    leaseDurationSeconds: durationSeconds,
    acquireTime: time,
    renewTime: time,
    leaseTransitions: (spec?.leaseTransitions ?? 0) + (action === 'acquire' ? 1 : 0),
  };
}

/** Reads and writes one Lease; `write` fails (HTTP 409) when resourceVersion is stale. */
export interface LeaseStore {
  read(): Promise<{ spec: LeaseSpec; resourceVersion: string } | undefined>;
  create(spec: LeaseSpec): Promise<void>;
  write(spec: LeaseSpec, resourceVersion: string): Promise<void>;
}

/** Lease timing, as client-go's defaults. */
export interface LeaderElectionTiming {
  leaseDurationSeconds: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

/** client-go's defaults: 15 s lease, 10 s renew deadline, 2 s retry period. */
export const DEFAULT_TIMING: LeaderElectionTiming = { leaseDurationSeconds: 15, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

/**
 * Runs leader election until stopped: calls `onStartedLeading` when this replica becomes leader and
 * `onStoppedLeading` when it cannot renew within the renew deadline (the caller then exits, so a
 * fresh process starts as a follower). `release()` gives the Lease up at once on shutdown.
 */
export function startLeaderElection(options: {
  store: LeaseStore;
  identity: string;
  timing?: LeaderElectionTiming;
  logger: Logger;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
  now?: () => Date;
}) {
  const { store, identity, logger } = options;
  const timing = options.timing ?? DEFAULT_TIMING;
  const now = options.now ?? (() => new Date());
  let leading = false;
  let lastRenewal = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  async function attempt(): Promise<void> {
    const current = await store.read();
    const action = leaseAction(current?.spec, identity, now());
    if (action === 'follow') {
      if (leading) throw new Error(`lease taken over by ${current?.spec.holderIdentity}`);
      return;
    }
    const spec = leaseSpecAfter(current?.spec, action, identity, now(), timing.leaseDurationSeconds);
    if (action === 'create') await store.create(spec);
    else await store.write(spec, current!.resourceVersion);
    lastRenewal = now().getTime();
    if (!leading) {
      leading = true;
      logger.info('became leader', { identity, action });
      options.onStartedLeading();
    }
  }

  async function tick(): Promise<void> {
    try {
      await attempt();
    } catch (error) {
      if (leading && now().getTime() - lastRenewal > timing.renewDeadlineMs) {
        leading = false;
        logger.error('lost leadership: could not renew the Lease within the renew deadline', { identity, error: (error as Error).message });
        options.onStoppedLeading();
        return;
      }
      logger.debug('leader election attempt failed', { identity, error: (error as Error).message });
    }
    if (!stopped) timer = setTimeout(() => void tick(), timing.retryPeriodMs);
  }
  void tick();

  return {
    isLeader: () => leading,
    /** Stops trying; as leader, releases the Lease so another replica takes over at once. */
    async release(): Promise<void> {
      stopped = true;
      clearTimeout(timer);
      if (!leading) return;
      leading = false;
      const current = await store.read();
      if (current?.spec.holderIdentity !== identity) return;
      await store.write({ ...current.spec, holderIdentity: undefined, leaseDurationSeconds: 1, renewTime: now().toISOString().replace('Z', '000Z') }, current.resourceVersion);
      logger.info('released the Lease', { identity });
    },
  };
}
