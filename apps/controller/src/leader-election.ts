// Leader election on a coordination.k8s.io/v1 Lease, with client-go's semantics
// (k8s.io/client-go/tools/leaderelection/leaderelection.go; ADR 0015):
// - a follower never compares the holder's renewTime with its own clock: it records when *it* last
//   saw the Lease record change (client-go's observedTime) and treats the Lease as expired only once
//   leaseDuration has passed on its own monotonic clock since then, so clock skew between machines
//   does not matter (renewTime/acquireTime are written for humans and other tools only);
// - the leader must renew within the renew deadline: a timer, not the outcome of a request, ends
//   leadership, and the request in flight is aborted (client-go: PollUntilContextTimeout under a
//   context with the RenewDeadline timeout);
// - the identity is `<pod or host name>_<uuid>`, and followers retry every retryPeriod with
//   client-go's jitter (wait.JitterUntil, JitterFactor 1.2: [retry, 2.2 × retry]).
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Logger } from '@kaos/kube-runtime';

/** The Lease spec fields leader election uses (times are RFC 3339 MicroTime strings). */
export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

/** A Lease as read from the API server. */
export interface LeaseRecord {
  spec: LeaseSpec;
  resourceVersion: string;
}

/** What a replica should do with the Lease as it finds it. */
export type LeaseAction = 'create' | 'acquire' | 'renew' | 'follow';

/** client-go's observedRecord/observedTime: the record this replica last saw change, and when (its monotonic clock, ms). */
export interface LeaseObservation {
  record: string;
  holderIdentity: string | undefined;
  leaseDurationSeconds: number;
  observedAt: number;
}

/**
 * The observation after reading `current` at monotonic time `now`: the time is kept while the record
 * is unchanged (byte for byte, as client-go compares observedRawRecord) and reset when anything in it
 * changed — a renewal by the holder, a new holder, a release.
 */
export function observeLease(previous: LeaseObservation | undefined, current: LeaseRecord | undefined, now: number): LeaseObservation | undefined {
  if (!current) return undefined;
  const record = JSON.stringify(current.spec);
  if (previous?.record === record) return previous;
  return { record, holderIdentity: current.spec.holderIdentity || undefined, leaseDurationSeconds: current.spec.leaseDurationSeconds ?? 0, observedAt: now };
}

/**
 * The next step for `identity`: create a missing Lease, renew its own, take over a free one (no
 * holder: released, or created empty by the chart) or one whose record has not changed for its
 * lease duration as measured on this replica's monotonic clock since it saw the change, else follow.
 */
export function leaseAction(current: LeaseRecord | undefined, observed: LeaseObservation | undefined, identity: string, now: number): LeaseAction {
  if (!current || !observed) return 'create';
  if (observed.holderIdentity === identity) return 'renew';
  if (!observed.holderIdentity) return 'acquire';
  // client-go isLeaseValid: observedTime + leaseDuration after now.
  return observed.observedAt + observed.leaseDurationSeconds * 1000 > now ? 'follow' : 'acquire';
}

/** MicroTime (microsecond precision) of a wall-clock time. */
const microTime = (time: Date) => time.toISOString().replace('Z', '000Z');

/** The Lease spec after `action` by `identity`; `wall` is only written into the Lease, never compared. */
export function leaseSpecAfter(spec: LeaseSpec | undefined, action: Exclude<LeaseAction, 'follow'>, identity: string, wall: Date, durationSeconds: number): LeaseSpec {
  const time = microTime(wall);
  if (action === 'renew') return { ...spec, renewTime: time, leaseDurationSeconds: durationSeconds };
  return {
    holderIdentity: identity,
    leaseDurationSeconds: durationSeconds,
    acquireTime: time,
    renewTime: time,
    leaseTransitions: (spec?.leaseTransitions ?? 0) + (action === 'acquire' ? 1 : 0),
  };
}

/**
 * Reads and writes one Lease; `write` fails (HTTP 409) when resourceVersion is stale. `signal`
 * aborts a request in flight (the leader aborts its renewal at the renew deadline); a store that
 * ignores it is still cut off: the election stops waiting for it.
 */
export interface LeaseStore {
  read(signal?: AbortSignal): Promise<LeaseRecord | undefined>;
  create(spec: LeaseSpec, signal?: AbortSignal): Promise<void>;
  write(spec: LeaseSpec, resourceVersion: string, signal?: AbortSignal): Promise<void>;
}

/** Lease timing, as client-go's defaults. */
export interface LeaderElectionTiming {
  leaseDurationSeconds: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

/** client-go's defaults: 15 s lease, 10 s renew deadline, 2 s retry period. */
export const DEFAULT_TIMING: LeaderElectionTiming = { leaseDurationSeconds: 15, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

/** client-go's leaderelection JitterFactor: followers wait retryPeriod × (1 + 1.2 × random). */
export const JITTER_FACTOR = 1.2;

/** client-go's wait.Jitter: `period` plus up to `factor` × period at random. */
export function jittered(periodMs: number, random: () => number = Math.random): number {
  return periodMs * (1 + JITTER_FACTOR * random());
}

/** client-go's convention for a unique identity (controller-runtime: hostname + "_" + uuid). */
export function leaderIdentity(base: string, uuid: string = randomUUID()): string {
  return `${base}_${uuid}`;
}

/** The clocks of one replica: monotonic for every decision, wall only for what is written. */
export interface LeaderElectionClock {
  /** Milliseconds on a monotonic clock (performance.now()). */
  monotonic(): number;
  /** Wall-clock time, written as acquireTime/renewTime. */
  wall(): Date;
}

const systemClock: LeaderElectionClock = { monotonic: () => performance.now(), wall: () => new Date() };

/** The HTTP status of an API error (client-node's ApiException has `code`). */
function httpStatus(error: unknown): number | undefined {
  const value = error as { code?: unknown; statusCode?: unknown } | undefined;
  const code = value?.code ?? value?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

/** `promise`, or a rejection as soon as `signal` aborts (whether or not the request honours it). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error as Error);
      },
    );
  });
}

/** How often a missing Lease we may not create is logged as an error (it is retried every retry period). */
const FORBIDDEN_LOG_INTERVAL_MS = 60_000;

/**
 * Runs leader election until stopped: calls `onStartedLeading` when this replica becomes leader and
 * `onStoppedLeading` when it did not renew within the renew deadline or saw another holder (the
 * caller then exits, so a fresh process starts as a follower). `isLeader()` turns false at the
 * deadline itself, even while a renewal hangs. `release()` gives the Lease up at once on shutdown.
 */
export function startLeaderElection(options: {
  store: LeaseStore;
  identity: string;
  timing?: LeaderElectionTiming;
  logger: Logger;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
  /** `namespace/name` of the Lease, for messages. */
  lease?: string;
  clock?: LeaderElectionClock;
  random?: () => number;
}) {
  const { store, identity, logger } = options;
  const timing = options.timing ?? DEFAULT_TIMING;
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const leaseName = options.lease ?? 'the leader-election Lease';
  let leading = false;
  let stopped = false;
  let observed: LeaseObservation | undefined;
  let timer: NodeJS.Timeout | undefined;
  let deadline: NodeJS.Timeout | undefined;
  let inFlight: AbortController | undefined;
  let forbiddenLoggedAt: number | undefined;
  const retryDelays: number[] = [];

  /** Ends leadership at once: no more attempts, the request in flight aborted, the caller told. */
  function stopLeading(reason: string, details: Record<string, unknown> = {}): void {
    if (!leading) return;
    leading = false;
    stopped = true;
    clearTimeout(timer);
    clearTimeout(deadline);
    inFlight?.abort(new Error(reason));
    logger.error(`lost leadership: ${reason}`, { identity, lease: leaseName, ...details });
    options.onStoppedLeading();
  }

  /** One client-go tryAcquireOrRenew; true when this replica holds the Lease after it. */
  async function attempt(signal: AbortSignal): Promise<boolean> {
    const current = await abortable(store.read(signal), signal);
    const now = clock.monotonic();
    observed = observeLease(observed, current, now);
    const action = leaseAction(current, observed, identity, now);
    // A leader that finds the record naming someone else (or no one) stops at once; a deleted Lease
    // it re-creates, as client-go does.
    if (action === 'follow' || (leading && action === 'acquire')) {
      if (leading) stopLeading('the Lease has another holder', { holder: observed?.holderIdentity ?? null });
      return false;
    }
    const spec = leaseSpecAfter(current?.spec, action, identity, clock.wall(), timing.leaseDurationSeconds);
    if (action === 'create') await abortable(store.create(spec, signal), signal);
    else await abortable(store.write(spec, current!.resourceVersion, signal), signal);
    return true;
  }

  function reportFailure(error: unknown): void {
    const message = (error as Error).message;
    if (httpStatus(error) === 403 && !observed) {
      // The chart creates the Lease and its Role grants get/update on it by name only (create cannot
      // be limited by name): a missing Lease means someone deleted it, or the chart does not manage it.
      const now = clock.monotonic();
      if (forbiddenLoggedAt === undefined || now - forbiddenLoggedAt >= FORBIDDEN_LOG_INTERVAL_MS) {
        forbiddenLoggedAt = now;
        logger.error(
          `${leaseName} does not exist and this controller may not create it; no replica can lead until it exists. Fix: run helm upgrade for the release (the chart creates the Lease), or create an empty Lease with that name; retrying`,
          { identity, lease: leaseName, error: message },
        );
      }
      return;
    }
    logger.debug('leader election attempt failed', { identity, lease: leaseName, error: message });
  }

  async function tick(): Promise<void> {
    if (stopped) return;
    const controller = new AbortController();
    inFlight = controller;
    const startedAt = clock.monotonic();
    // A follower's attempt is bounded by the renew deadline too; a leader's by its deadline timer.
    const bound = leading ? undefined : setTimeout(() => controller.abort(new Error('leader election attempt timed out')), timing.renewDeadlineMs);
    try {
      const holds = await attempt(controller.signal);
      if (stopped) return;
      if (holds) {
        // Stricter than client-go's renew loop (deadline per poll window): the deadline runs from the
        // start of the last successful request, which is before the API server stored the renewal and
        // so before any follower saw it: the leader stops before a follower's lease duration ends.
        const validUntil = startedAt + timing.renewDeadlineMs;
        clearTimeout(deadline);
        deadline = setTimeout(() => stopLeading('could not renew the Lease within the renew deadline', { renewDeadlineMs: timing.renewDeadlineMs }), Math.max(0, validUntil - clock.monotonic()));
        if (!leading) {
          leading = true;
          logger.info('became leader', { identity, lease: leaseName });
          options.onStartedLeading();
        }
      }
    } catch (error) {
      if (stopped) return;
      reportFailure(error);
    } finally {
      clearTimeout(bound);
      if (inFlight === controller) inFlight = undefined;
    }
    if (stopped) return;
    // client-go: acquire with wait.JitterUntil(RetryPeriod, JitterFactor 1.2); renew with wait.Until(RetryPeriod).
    const delay = leading ? timing.retryPeriodMs : jittered(timing.retryPeriodMs, random);
    retryDelays.push(delay);
    if (retryDelays.length > 100) retryDelays.shift();
    timer = setTimeout(() => void tick(), delay);
  }
  void tick();

  return {
    isLeader: () => leading,
    /** The last retry delays (ms), for tests. */
    retryDelays: () => [...retryDelays],
    /** Stops trying; as leader, releases the Lease (client-go ReleaseOnCancel) so another replica takes over at once. */
    async release(): Promise<void> {
      stopped = true;
      clearTimeout(timer);
      clearTimeout(deadline);
      inFlight?.abort(new Error('released'));
      if (!leading) return;
      leading = false;
      const current = await store.read();
      if (current?.spec.holderIdentity !== identity) return;
      // As client-go's release: no holder, a 1 s duration, transitions kept.
      await store.write({ ...current.spec, holderIdentity: undefined, leaseDurationSeconds: 1, acquireTime: microTime(clock.wall()), renewTime: microTime(clock.wall()) }, current.resourceVersion);
      logger.info('released the Lease', { identity, lease: leaseName });
    },
  };
}
