import { isIP } from 'node:net';
import type { FieldProblem } from '@kaos/api-types';
import {
  ConfigError,
  dns1035LabelProblem,
  dns1123LabelProblem,
  dns1123SubdomainProblem,
  envValue,
  envWholeNumber,
  readRoutingConfig,
  type Environment,
  type RoutingConfig,
} from '@kaos/routing';
import { DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_CONCURRENT_REVIEWS, DEFAULT_MAX_IN_FLIGHT_BYTES } from './admission-handler.js';

/** Where the serving certificate comes from. */
export type TlsMode = 'generate' | 'files';

/** Everything the webhook process reads from its environment. */
export interface WebhookConfig {
  routing: RoutingConfig;
  /** HTTPS port of the admission endpoints (`WEBHOOK_PORT`, 9443). */
  webhookPort: number;
  /** Plain-HTTP port of /healthz, /readyz, /metrics (`HEALTH_PORT`, 8081). */
  healthPort: number;
  /** Address to bind (`BIND_ADDRESS`, all interfaces). */
  bindAddress: string | undefined;
  /** `generate` (default): the webhook keeps a CA and certificate in a Secret; `files`: serve mounted tls.crt/tls.key. */
  tlsMode: TlsMode;
  /** Directory with tls.crt and tls.key in files mode (`TLS_CERT_DIR`). */
  tlsCertDir: string;
  /** Namespace the webhook runs in (`POD_NAMESPACE`). */
  namespace: string;
  /** Service in front of the webhook (`WEBHOOK_SERVICE_NAME`); its DNS names go into the certificate. */
  serviceName: string;
  /** Secret holding the generated CA and certificate (`WEBHOOK_SECRET_NAME`, `{service}-tls`). */
  secretName: string;
  /** Labels of that Secret if the webhook has to create it without having seen it (`WEBHOOK_SECRET_LABELS`, a JSON object). */
  secretLabels: Record<string, string> | undefined;
  /** More certificate names and IPs for local runs (`TLS_EXTRA_DNS_NAMES`, `TLS_EXTRA_IPS`, comma-separated). */
  extraDnsNames: string[];
  extraIpAddresses: string[];
  /** Webhook configurations that get the CA bundle (`MUTATING_WEBHOOK_CONFIGURATION`, `VALIDATING_WEBHOOK_CONFIGURATION`). */
  mutatingWebhookConfiguration: string | undefined;
  validatingWebhookConfiguration: string | undefined;
  /** Largest AdmissionReview body accepted (`MAX_BODY_BYTES`). */
  maxBodyBytes: number;
  /** Reviews handled at once; more are answered 429 with Retry-After (`MAX_CONCURRENT_REVIEWS`, 64). */
  maxConcurrentReviews: number;
  /** Declared body bytes handled at once, one review always admitted (`MAX_IN_FLIGHT_BYTES`, 14 MiB). */
  maxInFlightBytes: number;
  /**
   * Longest drain after SIGTERM (`SHUTDOWN_DRAIN_SECONDS`, 5): still accepting, every response closes
   * its connection, idle connections are closed; ends earlier once no connection is left.
   */
  shutdownDrainSeconds: number;
  /** After the drain, how long in-flight reviews may take before connections are cut (`SHUTDOWN_GRACE_SECONDS`, 10). */
  shutdownGraceSeconds: number;
}

// A JSON object of strings, as the chart renders its labels with toJson.
function labels(env: Environment, name: string, problems: FieldProblem[]): Record<string, string> | undefined {
  const text = envValue(env, name);
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed) || !Object.values(parsed).every((value) => typeof value === 'string')) {
    problems.push({ field: name, message: `must be a JSON object of strings, e.g. {"app.kubernetes.io/name":"kaos-operator"}, not ${JSON.stringify(text)}` });
    return undefined;
  }
  return parsed as Record<string, string>;
}

function list(env: Environment, name: string): string[] {
  return (envValue(env, name) ?? '').split(',').map((item) => item.trim()).filter(Boolean);
}

/** Reads and validates the webhook configuration; throws ConfigError naming every bad variable. */
export function loadWebhookConfig(env: Environment): WebhookConfig {
  const problems: FieldProblem[] = [];
  const routing = readRoutingConfig(env, problems);

  const webhookPort = envWholeNumber(env, 'WEBHOOK_PORT', 9443, 1, 65535, problems);
  const healthPort = envWholeNumber(env, 'HEALTH_PORT', 8081, 1, 65535, problems);
  if (webhookPort === healthPort) problems.push({ field: 'HEALTH_PORT', message: `must differ from WEBHOOK_PORT (${webhookPort})` });
  const maxBodyBytes = envWholeNumber(env, 'MAX_BODY_BYTES', DEFAULT_MAX_BODY_BYTES, 1024, 64 * 1024 * 1024, problems);
  const maxConcurrentReviews = envWholeNumber(env, 'MAX_CONCURRENT_REVIEWS', DEFAULT_MAX_CONCURRENT_REVIEWS, 1, 10_000, problems);
  const maxInFlightBytes = envWholeNumber(env, 'MAX_IN_FLIGHT_BYTES', DEFAULT_MAX_IN_FLIGHT_BYTES, 1024, 1024 * 1024 * 1024, problems);
  const shutdownDrainSeconds = envWholeNumber(env, 'SHUTDOWN_DRAIN_SECONDS', 5, 0, 600, problems);
  const shutdownGraceSeconds = envWholeNumber(env, 'SHUTDOWN_GRACE_SECONDS', 10, 0, 600, problems);

  const tlsModeText = envValue(env, 'TLS_MODE') ?? 'generate';
  if (tlsModeText !== 'generate' && tlsModeText !== 'files') {
    problems.push({ field: 'TLS_MODE', message: `must be "generate" or "files", not ${JSON.stringify(tlsModeText)}` });
  }
  const tlsMode: TlsMode = tlsModeText === 'files' ? 'files' : 'generate';

  const namespace = envValue(env, 'POD_NAMESPACE') ?? '';
  const serviceName = envValue(env, 'WEBHOOK_SERVICE_NAME') ?? '';
  const secretName = envValue(env, 'WEBHOOK_SECRET_NAME') ?? (serviceName ? `${serviceName}-tls` : '');
  if (tlsMode === 'generate') {
    const checks: Array<[string, string, (name: string) => string | undefined]> = [
      ['POD_NAMESPACE', namespace, dns1123LabelProblem],
      ['WEBHOOK_SERVICE_NAME', serviceName, dns1035LabelProblem],
      ['WEBHOOK_SECRET_NAME', secretName, dns1123SubdomainProblem],
    ];
    for (const [field, name, check] of checks) {
      if (!name) problems.push({ field, message: 'is required when TLS_MODE is generate' });
      else {
        const problem = check(name);
        if (problem) problems.push({ field, message: `${JSON.stringify(name)} ${problem}` });
      }
    }
  }

  const secretLabels = labels(env, 'WEBHOOK_SECRET_LABELS', problems);
  const extraIpAddresses = list(env, 'TLS_EXTRA_IPS');
  for (const address of extraIpAddresses) {
    if (isIP(address) === 0) problems.push({ field: 'TLS_EXTRA_IPS', message: `${JSON.stringify(address)} is not an IP address` });
  }
  const extraDnsNames = list(env, 'TLS_EXTRA_DNS_NAMES');
  for (const name of extraDnsNames) {
    const problem = dns1123SubdomainProblem(name);
    if (problem) problems.push({ field: 'TLS_EXTRA_DNS_NAMES', message: `${JSON.stringify(name)} ${problem}` });
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    routing,
    webhookPort,
    healthPort,
    bindAddress: envValue(env, 'BIND_ADDRESS'),
    tlsMode,
    tlsCertDir: envValue(env, 'TLS_CERT_DIR') ?? '/tmp/k8s-webhook-server/serving-certs',
    namespace,
    serviceName,
    secretName,
    secretLabels,
    extraDnsNames,
    extraIpAddresses,
    mutatingWebhookConfiguration: envValue(env, 'MUTATING_WEBHOOK_CONFIGURATION'),
    validatingWebhookConfiguration: envValue(env, 'VALIDATING_WEBHOOK_CONFIGURATION'),
    maxBodyBytes,
    maxConcurrentReviews,
    maxInFlightBytes,
    shutdownDrainSeconds,
    shutdownGraceSeconds,
  };
}
