import { describe, expect, it } from '@jest/globals';
import { silentLogger } from '@kaos/kube-runtime';
import { createMetrics, instrumentReconcile } from './metrics.js';

/** One sample's value from the registry, or undefined when the series does not exist. */
async function sample(metrics: ReturnType<typeof createMetrics>, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((entry) => entry.name === name.replace(/_(count|sum|bucket)$/, ''));
  const values = (metric?.values ?? []) as Array<{ metricName?: string; labels: Record<string, string | number>; value: number }>;
  return values.find((value) => (value.metricName ?? metric?.name) === name && Object.entries(labels).every(([key, wanted]) => String(value.labels[key]) === wanted))?.value;
}

describe('controller metrics', () => {
  it.each([
    ['success', async () => ({ requeueAfterMs: 5 }), { requeueAfterMs: 5 }],
    ['error', async () => Promise.reject(new Error('API down')), undefined],
  ] as const)('counts and times a reconcile that ends in %s', async (result, reconcile, expected) => {
    const metrics = createMetrics(false);
    const worker = instrumentReconcile(async (key) => {
      expect(key).toBe('Agent/ns/a');
      await new Promise((resolve) => setTimeout(resolve, 20));
      return reconcile();
    }, metrics, silentLogger());
    if (result === 'success') await expect(worker('Agent/ns/a')).resolves.toEqual(expected);
    else await expect(worker('Agent/ns/a')).rejects.toThrow('API down');

    expect(await sample(metrics, 'kaos_controller_reconciles_total', { result })).toBe(1);
    expect(await sample(metrics, 'kaos_controller_reconcile_duration_seconds_count', { result })).toBe(1);
    expect(await sample(metrics, 'kaos_controller_reconcile_duration_seconds_sum', { result })).toBeGreaterThanOrEqual(0.015);
    // 20 ms lands above the 10 ms bucket and inside the 25 ms one.
    expect(await sample(metrics, 'kaos_controller_reconcile_duration_seconds_bucket', { result, le: '0.01' })).toBe(0);
    expect(await sample(metrics, 'kaos_controller_reconcile_duration_seconds_count', { result: result === 'success' ? 'error' : 'success' })).toBeUndefined();
  });

  it('exposes watch restarts by watch and reason in the text format', async () => {
    const metrics = createMetrics(false);
    metrics.watchRestarts.inc({ watch: 'agents', reason: 'error' });
    metrics.watchRestarts.inc({ watch: 'agents', reason: 'error' });
    metrics.watchRestarts.inc({ watch: 'httproutes', reason: 'watchdog' });
    const text = await metrics.registry.metrics();
    expect(text).toContain('kaos_controller_watch_restarts_total{watch="agents",reason="error"} 2');
    expect(text).toContain('kaos_controller_watch_restarts_total{watch="httproutes",reason="watchdog"} 1');
  });

  it('reads the gauges at scrape time', async () => {
    const metrics = createMetrics(false);
    let depth = 3;
    metrics.readings.depth = () => depth;
    metrics.readings.leader = () => true;
    expect(await metrics.registry.metrics()).toContain('kaos_controller_queue_depth 3');
    depth = 7;
    const text = await metrics.registry.metrics();
    expect(text).toContain('kaos_controller_queue_depth 7');
    expect(text).toContain('kaos_controller_leader 1');
  });
});
