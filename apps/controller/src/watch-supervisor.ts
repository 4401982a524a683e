// Keeps client-node informers running: client-node's informer stops for good on most errors and
// nothing notices a watch that silently stalls, so every watch of the controller runs under supervise.
import type { Informer, KubernetesObject } from '@kubernetes/client-node';
import { exponentialBackoffMs, type BackoffPolicy, type Logger } from '@kaos/kube-runtime';
import { apiStatus } from './kube-boundary.js';
import type { WatchRestartReason } from './metrics.js';

/** ±25 % around each restart delay: replicas that lost their watches together (an API server restart) come back apart. */
const RESTART_JITTER = { jitter: 0.25, jitterShape: 'symmetric' } as const satisfies Partial<BackoffPolicy>;

/** What supervise needs of an informer (a fake implements it in tests). */
export type SupervisedInformer = Pick<Informer<KubernetesObject>, 'on' | 'start' | 'stop'>;

/** Supervision settings; tests shrink the times. */
export interface SupervisionOptions {
  /** Restart a watch that has delivered nothing (not even a reconnect) for this long: it may be silently dead. */
  watchdogMs: number;
  /** First restart delay after an error; doubles per consecutive error up to maxBackoffMs (±25 % jitter). */
  baseBackoffMs: number;
  maxBackoffMs: number;
  /** A watch whose resource type does not exist (404) counts as synced: the Gateway API may be installed later. */
  optional?: boolean;
  random?: () => number;
}

/** What supervise tells its owner. */
export interface SupervisionHooks {
  /** After a restarted watch is running again: requeue everything, so events missed while it was down are repaired. */
  resync: () => void;
  /** Each time the watch is restarted (the restart metric). */
  restarted?: (reason: WatchRestartReason) => void;
}

/**
 * Production supervision: restart after 5 quiet minutes; back off from 0.5 s to 8 s (±25 %). The cap
 * is below client-go's reflector (0.8 s to 30 s, jitter up to +100 %) on purpose: after an API
 * outage every watch is back within 10 s, before a standby replica may take the Lease over (15 s
 * lease duration), so the new leader starts from warm caches. A 60 s cap left watches down for up
 * to 40 s after a 30 s outage (faults.e2e, ADR 0019). Nine watches per replica retrying every 8 s
 * are no load on an API server, and one that sheds load answers 429 quickly.
 */
export const DEFAULT_SUPERVISION: SupervisionOptions = { watchdogMs: 5 * 60_000, baseBackoffMs: 500, maxBackoffMs: 8_000 };

/** The delay before restart number `failures` (1 for the first) after consecutive errors. */
export function restartDelayMs(failures: number, options: Pick<SupervisionOptions, 'baseBackoffMs' | 'maxBackoffMs'>, random: () => number = Math.random): number {
  return exponentialBackoffMs(failures, { baseMs: options.baseBackoffMs, maxMs: options.maxBackoffMs, ...RESTART_JITTER }, random);
}

/**
 * Keeps an informer running. client-node's informer relists on 410 Gone and reconnects after a
 * normal close, but stops for good on any other error, and nothing notices a watch that silently
 * stalls. So: restart after errors with exponential backoff and jitter, restart a watch that has
 * been quiet for `watchdogMs`, and once a restarted watch runs again call `hooks.resync` (requeue
 * everything) so events missed while it was down are repaired.
 */
export function supervise(name: string, informer: SupervisedInformer, logger: Logger, hooks: SupervisionHooks, options: SupervisionOptions = DEFAULT_SUPERVISION) {
  const random = options.random ?? Math.random;
  let failures = 0;
  // Errors seen so far: client-node reports a failed list or watch through the 'error' event while
  // start() still resolves, so a start attempt succeeded only if no error arrived during it.
  let errors = 0;
  let stopped = false;
  let synced = false;
  let missing = false;
  let restarts = 0;
  let resyncDue = false;
  let lastActivity = Date.now();
  let restartTimer: NodeJS.Timeout | undefined;
  let restartPending = false;
  const touch = () => {
    lastActivity = Date.now();
  };
  for (const verb of ['add', 'update', 'delete', 'change'] as const) informer.on(verb, touch);
  informer.on('connect', touch);

  const start = async (): Promise<void> => {
    const errorsBefore = errors;
    try {
      await informer.start();
    } catch (error) {
      scheduleRestart(error);
      return;
    }
    // A failed attempt has already scheduled the next one; resetting here would defeat the backoff.
    if (stopped || errors !== errorsBefore) return;
    touch();
    synced = true;
    missing = false;
    failures = 0;
    if (resyncDue) {
      resyncDue = false;
      hooks.resync();
    }
  };
  const restart = (reason: WatchRestartReason) => {
    restartPending = false;
    if (stopped) return;
    restarts++;
    resyncDue = true;
    hooks.restarted?.(reason);
    void start();
  };
  const scheduleRestart = (error: unknown) => {
    if (stopped) return;
    // Our own informer.stop() aborts the request and client-node reports that as an error too.
    if ((error as Error | undefined)?.name === 'AbortError') return;
    errors++;
    failures++;
    missing = apiStatus(error) === 404;
    const delay = restartDelayMs(failures, options, random);
    logger.warn('watch failed; restarting', { watch: name, error: (error as Error)?.message ?? String(error), retryInMs: delay, failures });
    clearTimeout(restartTimer);
    restartPending = true;
    restartTimer = setTimeout(() => restart('error'), delay);
  };
  informer.on('error', (error) => scheduleRestart(error));
  const watchdog = setInterval(
    () => {
      if (stopped || restartPending || Date.now() - lastActivity < options.watchdogMs) return;
      logger.info('watch quiet for too long; reconnecting', { watch: name, quietMs: Date.now() - lastActivity });
      touch();
      restartPending = true;
      void informer.stop().then(() => restart('watchdog'));
    },
    Math.max(10, Math.floor(options.watchdogMs / 4)),
  );
  watchdog.unref();
  return {
    start,
    async stop() {
      stopped = true;
      clearTimeout(restartTimer);
      clearInterval(watchdog);
      await informer.stop();
    },
    synced: () => synced || (options.optional === true && missing),
    /**
     * Whether a list has filled the informer's cache and the resource type still exists: a miss in
     * the cache is then an answer (controller-runtime's cached client answers NotFound from it),
     * not a reason to ask the API server. An optional watch of a missing type is synced but not filled.
     */
    cacheFilled: () => synced && !missing,
    restarts: () => restarts,
  };
}

/** A running supervision: start it once, ask whether its cache is synced, stop it on shutdown. */
export type Supervisor = ReturnType<typeof supervise>;
