import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { collectProcessMetrics, type Logger } from '@kaos/kube-runtime';
import type { ReconcileResult } from './queue.js';

/** Why a supervised watch was restarted: it failed, or it was quiet for longer than the watchdog allows. */
export type WatchRestartReason = 'error' | 'watchdog';

/** Values read at scrape time, so the gauges are never stale; main wires them once the parts exist. */
export interface MetricReadings {
  depth: () => number;
  leader: () => boolean;
}

/** Prometheus metrics of the controller, in their own registry (no global state between tests). */
export interface ControllerMetrics {
  registry: Registry;
  readings: MetricReadings;
  writes: Counter<'verb'>;
  reads: Counter<'resource'>;
  reconciles: Counter<'result'>;
  reconcileSeconds: Histogram<'result'>;
  watchRestarts: Counter<'watch' | 'reason'>;
}

/** Creates the controller's metrics; `withProcessMetrics` adds Node's process metrics (prom-client's defaults without the per-GC histogram). */
export function createMetrics(withProcessMetrics = true): ControllerMetrics {
  const registry = new Registry();
  if (withProcessMetrics) collectProcessMetrics(registry);
  const readings: MetricReadings = { depth: () => 0, leader: () => false };
  new Gauge({ name: 'kaos_controller_queue_depth', help: 'Keys waiting, running or scheduled for retry.', registers: [registry], collect() { this.set(readings.depth()); } });
  new Gauge({ name: 'kaos_controller_leader', help: '1 while this replica holds the Lease and writes.', registers: [registry], collect() { this.set(readings.leader() ? 1 : 0); } });
  return {
    registry,
    readings,
    writes: new Counter({ name: 'kaos_controller_api_writes_total', help: 'Writes to the API server by verb (create, apply, patch, delete, status, event).', labelNames: ['verb'], registers: [registry] }),
    reads: new Counter({ name: 'kaos_controller_api_reads_total', help: 'Reads reconciles make from the API server past the caches, by resource (httproutes, gateways, crd-check, kaos-resources).', labelNames: ['resource'], registers: [registry] }),
    reconciles: new Counter({ name: 'kaos_controller_reconciles_total', help: 'Reconciles by result.', labelNames: ['result'], registers: [registry] }),
    reconcileSeconds: new Histogram({
      name: 'kaos_controller_reconcile_duration_seconds',
      help: 'Time one reconcile took, API calls included, by result (success/error).',
      labelNames: ['result'],
      // A cache hit with nothing to write takes well under a millisecond; a write is a few API round trips.
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    watchRestarts: new Counter({
      name: 'kaos_controller_watch_restarts_total',
      help: 'Informer restarts by watched resource and reason (error: the watch failed; watchdog: it was quiet too long).',
      labelNames: ['watch', 'reason'],
      registers: [registry],
    }),
  };
}

/**
 * Wraps the reconcile function for the work queue: counts and times every reconcile by result and
 * logs failures (the queue retries them with backoff, so they are rethrown).
 */
export function instrumentReconcile(
  reconcile: (key: string) => Promise<ReconcileResult>,
  metrics: Pick<ControllerMetrics, 'reconciles' | 'reconcileSeconds'>,
  logger: Logger,
): (key: string) => Promise<ReconcileResult> {
  return async (key) => {
    const endTimer = metrics.reconcileSeconds.startTimer();
    try {
      const result = await reconcile(key);
      metrics.reconciles.inc({ result: 'success' });
      endTimer({ result: 'success' });
      return result;
    } catch (error) {
      metrics.reconciles.inc({ result: 'error' });
      endTimer({ result: 'error' });
      const [kind, namespace, name] = key.split('/');
      logger.error('reconcile failed; retrying with backoff', { kind, namespace, name, error: (error as Error).message });
      throw error;
    }
  };
}
