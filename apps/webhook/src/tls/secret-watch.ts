// Watches the certificate Secret by name, so a deleted or rewritten Secret is noticed within a
// second instead of at the next periodic check (10 minutes): the replica that sees it deleted
// recreates it, and the other replicas adopt the new certificate as soon as it is written.
// RBAC allows a watch restricted to one name when the request carries the field selector
// metadata.name=<name> (k8s.io/apiserver endpoints/request/requestinfo.go takes the name from it).
// The watch is re-opened whenever it ends; every re-open counts as a change, because events between
// two watches are not replayed (no resourceVersion is kept), and a check is cheap.
import { exponentialBackoffMs, type BackoffPolicy, type Logger } from '@kaos/kube-runtime';
import { TLS_RETRY_JITTER, systemTimers, type Timers } from './cert-manager.js';
import { describeError } from './kubernetes-errors.js';

/** One event of a Kubernetes watch stream. */
export interface WatchEvent {
  readonly type: string;
  readonly object: unknown;
}

/** The streaming call the watcher makes (kube-rest.ts implements it over HTTPS; a fake in tests). */
export interface SecretWatchApi {
  /** Streams events of the Secret `name` until the server ends the watch (resolves) or it fails (rejects); `signal` ends it early. */
  watchNamespacedSecret(params: { name: string; namespace: string }, onEvent: (event: WatchEvent) => void, signal: AbortSignal): Promise<void>;
}

/** What to watch and whom to tell. */
export interface SecretWatchOptions {
  readonly api: SecretWatchApi;
  readonly name: string;
  readonly namespace: string;
  readonly logger: Logger;
  /** Called on every event and on every re-opened watch; `reason` is for logs. */
  readonly onChange: (reason: string) => void;
  readonly timers?: Timers;
  readonly random?: () => number;
  /** Retry bounds; the jitter is always TLS_RETRY_JITTER. */
  readonly backoff?: Pick<BackoffPolicy, 'baseMs' | 'maxMs'>;
}

/** Backoff of a failing watch: from 1 s to 30 s, so a recreated Secret is not missed for long. */
export const DEFAULT_WATCH_BACKOFF = { baseMs: 1000, maxMs: 30_000 } as const satisfies BackoffPolicy;

// A watch the server ends sooner than this is treated as a failure, so a broken proxy cannot make it spin.
const MIN_HEALTHY_WATCH_MS = 1000;

/** Starts watching; returns the function that stops it. */
export function watchSecretChanges(options: SecretWatchOptions): () => void {
  const { api, name, namespace, onChange } = options;
  const timers = options.timers ?? systemTimers;
  const random = options.random ?? Math.random;
  const backoff = options.backoff ?? DEFAULT_WATCH_BACKOFF;
  const log = options.logger.child({ subsystem: 'tls', secret: `${namespace}/${name}` });
  let stopped = false;
  let controller: AbortController | undefined;
  let sleeper: { handle: unknown; wake: () => void } | undefined;

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        sleeper = undefined;
        resolve();
      };
      sleeper = { handle: timers.setTimeout(wake, ms), wake };
    });
  }

  async function loop(): Promise<void> {
    let failures = 0;
    for (let opened = 0; !stopped; opened++) {
      controller = new AbortController();
      // The first watch starts right after the manager's own first check; later ones may have missed events.
      if (opened > 0) onChange('watch re-opened');
      const started = timers.now();
      let failure: unknown;
      try {
        await api.watchNamespacedSecret({ name, namespace }, (event) => onChange(event.type), controller.signal);
        if (timers.now() - started < MIN_HEALTHY_WATCH_MS) failure = new Error('the watch ended at once');
      } catch (error) {
        failure = error;
      }
      if (stopped) return;
      if (failure === undefined) {
        failures = 0;
        continue;
      }
      failures++;
      const retryInMs = exponentialBackoffMs(failures, { ...backoff, ...TLS_RETRY_JITTER }, random);
      log.warn('watching the certificate Secret failed; will retry', { error: describeError(failure), attempt: failures, retryInMs });
      await sleep(retryInMs);
    }
  }

  loop().catch((error: unknown) => log.error('the certificate Secret watch stopped unexpectedly', { error: describeError(error) }));

  return () => {
    stopped = true;
    controller?.abort();
    if (sleeper !== undefined) {
      timers.clearTimeout(sleeper.handle);
      sleeper.wake();
    }
  };
}
