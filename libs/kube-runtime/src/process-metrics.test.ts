import { describe, expect, it } from '@jest/globals';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { collectProcessMetrics } from './process-metrics.js';

const names = async (registry: Registry) => (await registry.getMetricsAsJSON()).map((metric) => metric.name).sort();

describe('collectProcessMetrics', () => {
  it("registers prom-client's default process metrics except the per-GC histogram", async () => {
    const ours = new Registry();
    collectProcessMetrics(ours);
    const defaults = new Registry();
    collectDefaultMetrics({ register: defaults });
    expect(await names(ours)).toEqual((await names(defaults)).filter((name) => name !== 'nodejs_gc_duration_seconds'));
    expect(await names(ours)).not.toContain('nodejs_gc_duration_seconds');
    const text = await ours.metrics();
    expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_p99_seconds \d/m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes \d/m);
  });
});
