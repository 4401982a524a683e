import { exponentialBackoffMs } from '@kaos/kube-runtime';

/** Clock and timers the queue uses; tests inject fakes so nothing waits on real time. */
export interface QueueTimers {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const systemTimers: QueueTimers = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => {
    const handle = setTimeout(callback, ms);
    handle.unref();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** Jitter factor of retry delays: keys that failed together (an API outage) retry spread over 25 %. */
const QUEUE_JITTER = 0.25;

/** Options of a WorkQueue. */
export interface WorkQueueOptions {
  /** Reconciles running at once (different keys) per group of keys (see `group`). */
  concurrency: number;
  /**
   * The group of a key (unset: one group for all keys). Each group has its own `concurrency` slots,
   * as each controller of controller-runtime has its own MaxConcurrentReconciles workers: the
   * controller groups keys by kind, so a burst of one kind never waits for slots held by another.
   */
  group?: (key: string) => string;
  /** First retry delay after a failure; doubles per consecutive failure of the same key. */
  baseDelayMs: number;
  /** Longest retry delay. */
  maxDelayMs: number;
  timers?: QueueTimers;
  /** Jitter source in [0, 1). */
  random?: () => number;
  /** Told when a key starts waiting, is handed to a worker, and its reconcile returns (the stage trace). */
  observe?: (key: string, event: 'enqueued' | 'dequeued' | 'done') => void;
}

/** Outcome of one reconcile: done, or try again (after a failure, with backoff). */
export type ReconcileResult = { requeueAfterMs?: number } | void;

/**
 * A deduplicating work queue keyed by string (`kind/namespace/name`): a key waits at most once, is
 * processed by one worker at a time (an add while it runs queues it once more for afterwards), at
 * most `concurrency` keys run together, and a key that fails is retried with per-key exponential
 * backoff and jitter until it succeeds.
 */
export class WorkQueue {
  private readonly options: Required<Omit<WorkQueueOptions, 'timers' | 'random' | 'observe' | 'group'>>;
  private readonly group: (key: string) => string;
  private readonly observe: NonNullable<WorkQueueOptions['observe']>;
  private readonly timers: QueueTimers;
  private readonly random: () => number;
  /** Keys waiting, in order, per group (a group is dropped once it has none waiting). */
  private readonly waiting = new Map<string, string[]>();
  private readonly waitingSet = new Set<string>();
  private readonly running = new Set<string>();
  /** Reconciles running per group. */
  private readonly runningPerGroup = new Map<string, number>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly delayed = new Map<string, unknown>();
  private readonly idleWaiters: Array<() => void> = [];
  private stopped = false;
  private readonly worker: (key: string) => Promise<ReconcileResult>;

  constructor(worker: (key: string) => Promise<ReconcileResult>, options: WorkQueueOptions) {
    this.worker = worker;
    this.options = { concurrency: options.concurrency, baseDelayMs: options.baseDelayMs, maxDelayMs: options.maxDelayMs };
    this.timers = options.timers ?? systemTimers;
    this.random = options.random ?? Math.random;
    this.observe = options.observe ?? (() => {});
    this.group = options.group ?? (() => '');
  }

  /** Queues a key now (a pending delayed retry of it is replaced). */
  add(key: string): void {
    if (this.stopped) return;
    const timer = this.delayed.get(key);
    if (timer !== undefined) {
      this.timers.clearTimeout(timer);
      this.delayed.delete(key);
    }
    if (this.running.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.waitingSet.has(key)) return;
    this.waitingSet.add(key);
    const group = this.group(key);
    const waiting = this.waiting.get(group);
    if (waiting) waiting.push(key);
    else this.waiting.set(group, [key]);
    this.observe(key, 'enqueued');
    this.pump();
  }

  /** Queues a key after a delay, unless it is queued sooner. */
  addAfter(key: string, delayMs: number): void {
    if (this.stopped || this.waitingSet.has(key) || this.delayed.has(key)) return;
    this.delayed.set(
      key,
      this.timers.setTimeout(() => {
        this.delayed.delete(key);
        this.add(key);
      }, delayMs),
    );
  }

  /** Keys waiting, running or scheduled for retry (the queue-depth metric). */
  depth(): number {
    return this.waitingSet.size + this.running.size + this.delayed.size;
  }

  /** Consecutive failures of a key (0 after a success). */
  failuresOf(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /**
   * The retry delay after the n-th consecutive failure: base·2^(n-1) capped at the maximum
   * (client-go's ItemExponentialFailureRateLimiter), plus up to 25 % jitter (wait.Jitter).
   */
  backoffMs(failures: number): number {
    return exponentialBackoffMs(failures, { baseMs: this.options.baseDelayMs, maxMs: this.options.maxDelayMs, jitter: QUEUE_JITTER }, this.random);
  }

  /** Resolves when nothing is waiting or running (delayed retries may remain). */
  idle(): Promise<void> {
    if (this.waitingSet.size === 0 && this.running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops taking work and cancels scheduled retries; running reconciles finish. */
  stop(): void {
    this.stopped = true;
    for (const timer of this.delayed.values()) this.timers.clearTimeout(timer);
    this.delayed.clear();
    this.waiting.clear();
    this.waitingSet.clear();
  }

  private pump(): void {
    for (const [group, waiting] of this.waiting) {
      let running = this.runningPerGroup.get(group) ?? 0;
      while (!this.stopped && running < this.options.concurrency && waiting.length > 0) {
        const key = waiting.shift()!;
        this.waitingSet.delete(key);
        this.running.add(key);
        this.runningPerGroup.set(group, ++running);
        this.observe(key, 'dequeued');
        void this.process(key, group);
      }
      if (waiting.length === 0) this.waiting.delete(group);
    }
    if (this.waitingSet.size === 0 && this.running.size === 0) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  private async process(key: string, group: string): Promise<void> {
    let retryAfterMs: number | undefined;
    try {
      const result = await this.worker(key);
      this.failures.delete(key);
      retryAfterMs = result?.requeueAfterMs;
    } catch {
      // The worker logs and reports its own errors; the queue's job is to try again later.
      const failures = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, failures);
      retryAfterMs = this.backoffMs(failures);
    } finally {
      this.running.delete(key);
      const running = this.runningPerGroup.get(group)! - 1;
      if (running > 0) this.runningPerGroup.set(group, running);
      else this.runningPerGroup.delete(group);
      this.observe(key, 'done');
    }
    if (this.dirty.delete(key)) this.add(key);
    else if (retryAfterMs !== undefined) this.addAfter(key, retryAfterMs);
    this.pump();
  }
}
