// prom-client's default process metrics without `nodejs_gc_duration_seconds`. That one observes
// every garbage collection through a perf_hooks 'gc' PerformanceObserver: Node then builds a
// PerformanceEntry and runs a JS callback per GC, and with the chart's 1 MiB semi-space a busy
// webhook collects hundreds of times a second. Measured on bench:webhook's load (16 connections,
// one review of 7.6 KB each): 341–353 µs of CPU per review with it, 258–275 without (README,
// "Webhook CPU"). The other collectors read their values when /metrics is scraped, or sample the
// event loop with libuv's histogram, and stay. prom-client (pinned) has no switch for one
// default metric, so they are imported one by one, in collectDefaultMetrics' order.
// The declarations of these untyped modules must reach every project that compiles this file.
// eslint-disable-next-line @typescript-eslint/triple-slash-reference
/// <reference path="./prom-client-metrics.d.ts" />
import type { Registry } from 'prom-client';
import eventLoopLag from 'prom-client/lib/metrics/eventLoopLag.js';
import heapSizeAndUsed from 'prom-client/lib/metrics/heapSizeAndUsed.js';
import heapSpacesSizeAndUsed from 'prom-client/lib/metrics/heapSpacesSizeAndUsed.js';
import osMemoryHeap from 'prom-client/lib/metrics/osMemoryHeap.js';
import processCpuTotal from 'prom-client/lib/metrics/processCpuTotal.js';
import processHandles from 'prom-client/lib/metrics/processHandles.js';
import processMaxFileDescriptors from 'prom-client/lib/metrics/processMaxFileDescriptors.js';
import processOpenFileDescriptors from 'prom-client/lib/metrics/processOpenFileDescriptors.js';
import processRequests from 'prom-client/lib/metrics/processRequests.js';
import processResources from 'prom-client/lib/metrics/processResources.js';
import processStartTime from 'prom-client/lib/metrics/processStartTime.js';
import version from 'prom-client/lib/metrics/version.js';

/** Registers prom-client's default process metrics, except the per-GC histogram, in `registry`. */
export function collectProcessMetrics(registry: Registry): void {
  // collectDefaultMetrics' own default precision (ms) of the event-loop delay histogram.
  const config = { eventLoopMonitoringPrecision: 10 };
  for (const collect of [
    processCpuTotal,
    processStartTime,
    osMemoryHeap,
    processOpenFileDescriptors,
    processMaxFileDescriptors,
    eventLoopLag,
    processResources,
    processHandles,
    processRequests,
    heapSizeAndUsed,
    heapSpacesSizeAndUsed,
    version,
  ]) {
    collect(registry, config);
  }
}
