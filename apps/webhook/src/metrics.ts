import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { collectProcessMetrics } from '@kaos/kube-runtime';

/** Prometheus metrics of the webhook, in their own registry (no global state between tests). */
export interface WebhookMetrics {
  registry: Registry;
  admissions: Counter<'webhook' | 'kind' | 'operation' | 'result'>;
  admissionSeconds: Histogram<'webhook'>;
  badRequests: Counter<'reason'>;
  reviewsShed: Counter<'webhook' | 'reason'>;
  reviewsInFlight: Gauge;
  reviewBytesInFlight: Gauge;
  certificateExpiry: Gauge;
}

/** Creates the webhook's metrics; `withProcessMetrics` adds Node's process metrics (prom-client's defaults without the per-GC histogram). */
export function createMetrics(withProcessMetrics = true): WebhookMetrics {
  const registry = new Registry();
  if (withProcessMetrics) collectProcessMetrics(registry);
  return {
    registry,
    admissions: new Counter({
      name: 'kaos_webhook_admissions_total',
      help: 'Admission reviews answered, by webhook (mutate/validate), kind, operation and result (allowed/patched/denied/warned).',
      labelNames: ['webhook', 'kind', 'operation', 'result'],
      registers: [registry],
    }),
    admissionSeconds: new Histogram({
      name: 'kaos_webhook_admission_duration_seconds',
      help: 'Time from request received to response written.',
      labelNames: ['webhook'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
    badRequests: new Counter({
      name: 'kaos_webhook_bad_requests_total',
      help: 'Requests refused before any admission decision, by reason: a 4xx, or worker_failed (503) when the review worker died holding the review.',
      labelNames: ['reason'],
      registers: [registry],
    }),
    reviewsShed: new Counter({
      name: 'kaos_webhook_reviews_shed_total',
      help: 'Reviews answered 429 with Retry-After before being read (the API server retries them), by webhook and the cap reached (reviews: MAX_CONCURRENT_REVIEWS, bytes: MAX_IN_FLIGHT_BYTES).',
      labelNames: ['webhook', 'reason'],
      registers: [registry],
    }),
    reviewsInFlight: new Gauge({
      name: 'kaos_webhook_reviews_in_flight',
      help: 'Reviews being read, decided or answered right now.',
      registers: [registry],
    }),
    reviewBytesInFlight: new Gauge({
      name: 'kaos_webhook_review_bytes_in_flight',
      help: 'Declared body bytes of the reviews in flight.',
      registers: [registry],
    }),
    certificateExpiry: new Gauge({
      name: 'kaos_webhook_certificate_expiry_timestamp_seconds',
      help: 'Unix time at which the serving certificate expires.',
      registers: [registry],
    }),
  };
}
