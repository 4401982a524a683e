// Entry point of the admission webhook: wires configuration, certificates, the HTTPS admission
// server and the ops server together. All decisions live in libs/routing; this file only starts,
// connects and stops things.
import type { Server as HttpsServer } from 'node:https';
import { ResourceValidator } from '@kaos/api-types';
import { expressOpsDispatcher } from './ops-express.js';
import { createLogger, createRequestAuthorizer, delegatedAuthApi, loadMetricsConfig, startOpsServers, type Logger, type MetricsConfig } from '@kaos/kube-runtime';
import { ConfigError } from '@kaos/routing';
import { createAdmissionHandler } from './admission-handler.js';
import { loadWebhookConfig, type WebhookConfig } from './config.js';
import { loadKubeCredentials, type KubeCredentials } from './kube-credentials.js';
import { kubernetesRequest, restSecretWatchApi, restSecretsApi, restWebhookConfigurationsApi } from './kube-rest.js';
import { DEFAULT_IDLE_CLOSE_MS, trackConnections, type ConnectionTracker } from './drain.js';
import { createMetrics, type WebhookMetrics } from './metrics.js';
import { createReviewWorker } from './review-offload.js';
import { createWebhookServer, listen, reloadCertificate, shutdown } from './server.js';
import { createCaInjector } from './tls/ca-injector.js';
import { propagationDelayFromEnvironment, startCertificateManager, type CertificateManager } from './tls/cert-manager.js';
import { webhookSubjectAltNames } from './tls/certificates.js';
import { DEFAULT_ROTATION_POLICY, type TlsMaterial } from './tls/rotation.js';
import { createSecretStore } from './tls/secret-store.js';
import { watchSecretChanges } from './tls/secret-watch.js';

// Loaded once, on first need: certificate generation and authenticated metrics both use them.
let credentialsLoading: Promise<KubeCredentials> | undefined;
function kubeCredentials(logger: Logger): Promise<KubeCredentials> {
  credentialsLoading ??= loadKubeCredentials().then(
    (credentials) => {
      logger.info('Kubernetes API credentials loaded', { source: credentials.source, server: credentials.server });
      return credentials;
    },
    (error: unknown) => {
      // Not remembered: the next caller (a later scrape) tries again.
      credentialsLoading = undefined;
      throw error;
    },
  );
  return credentialsLoading;
}

async function startCertificates(config: WebhookConfig, logger: Logger, onCertificate: (material: TlsMaterial) => void): Promise<CertificateManager> {
  if (config.tlsMode === 'files') {
    return startCertificateManager({ mode: 'files', directory: config.tlsCertDir, logger, onCertificate });
  }
  const credentials = await kubeCredentials(logger);
  const injector =
    config.mutatingWebhookConfiguration || config.validatingWebhookConfiguration
      ? createCaInjector({
          api: restWebhookConfigurationsApi(credentials),
          ...(config.mutatingWebhookConfiguration ? { mutatingWebhookConfiguration: config.mutatingWebhookConfiguration } : {}),
          ...(config.validatingWebhookConfiguration ? { validatingWebhookConfiguration: config.validatingWebhookConfiguration } : {}),
          logger,
        })
      : undefined;
  if (!injector) logger.warn('no webhook configuration names given: the CA bundle is not injected (set MUTATING_/VALIDATING_WEBHOOK_CONFIGURATION)');
  return startCertificateManager({
    mode: 'generate',
    store: createSecretStore({
      api: restSecretsApi(credentials),
      name: config.secretName,
      namespace: config.namespace,
      policy: DEFAULT_ROTATION_POLICY,
      logger,
      ...(config.secretLabels === undefined ? {} : { labels: config.secretLabels }),
    }),
    changes: (onChange) =>
      watchSecretChanges({ api: restSecretWatchApi(credentials), name: config.secretName, namespace: config.namespace, logger, onChange }),
    sans: webhookSubjectAltNames({
      service: config.serviceName,
      namespace: config.namespace,
      extraDnsNames: config.extraDnsNames,
      extraIpAddresses: config.extraIpAddresses,
    }),
    ...(injector ? { injector } : {}),
    ...propagationDelayFromEnvironment(process.env),
    logger,
    onCertificate,
  });
}

async function run(config: WebhookConfig, metricsConfig: MetricsConfig, logger: Logger, metrics: WebhookMetrics): Promise<void> {
  // Filled in once the first certificate is loaded; certificate callbacks before that only record it.
  const serving: { server?: HttpsServer; connections?: ConnectionTracker } = {};
  let stopping = false;
  const certificates = await startCertificates(config, logger, (material) => {
    metrics.certificateExpiry.set(material.notAfter.getTime() / 1000);
    if (serving.server) {
      reloadCertificate(serving.server, material);
      logger.info('serving certificate reloaded', { fingerprint: material.fingerprint, notAfter: material.notAfter.toISOString() });
    }
  });

  // The ops ports come up first so that /healthz answers while certificates are being prepared.
  const ops = await startOpsServers({
    healthPort: config.healthPort,
    bindAddress: config.bindAddress,
    metricsConfig,
    readiness: () => {
      const state = certificates.state();
      return {
        checks: {
          certificateLoaded: state.certificateLoaded,
          caBundleInjected: state.caBundleInjected,
          serving: serving.server?.listening ?? false,
          // Unready from the first moment of a shutdown, so nothing new is routed here while draining.
          notShuttingDown: !stopping,
        },
      };
    },
    metrics: metrics.registry,
    ...(metricsConfig.secure
      ? { authorizer: createRequestAuthorizer({ api: delegatedAuthApi(async (path, body) => kubernetesRequest(await kubeCredentials(logger), 'POST', path, body)) }) }
      : {}),
    logger,
    dispatcher: expressOpsDispatcher,
  });

  // By the time SIGTERM arrives the chart's preStop sleep has let every kube-proxy drop this pod, but
  // kept-alive connections from the API server still reach it: drain them (drain.ts), then stop.
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down: draining connections', {
      signal,
      drainSeconds: config.shutdownDrainSeconds,
      graceSeconds: config.shutdownGraceSeconds,
      ...serving.connections?.counts(),
    });
    certificates.stop();
    if (serving.connections) {
      // Idle connections are not closed during the drain: each close can cross a review the API server
      // starts writing on it (EOF, not retried); unused, they are picked less and less and end at the
      // drain's end. Busy ones end on an answer with Connection: close.
      const drainMs = config.shutdownDrainSeconds * 1000;
      const drained = await serving.connections.drain({ maxMs: drainMs, idleCloseMs: Math.max(DEFAULT_IDLE_CLOSE_MS, drainMs) });
      logger.info('drain finished; no longer accepting connections', drained);
    }
    await shutdown([...(serving.server ? [serving.server] : []), ...ops.servers], logger, config.shutdownGraceSeconds * 1000);
    logger.info('stopped');
    // Leftovers such as an API call of the certificate manager must not outlive the pod's grace period.
    setTimeout(() => process.exit(0), 100).unref();
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  // SIGHUP rotates the CA and the serving certificate now (say, after a suspected key leak).
  process.on('SIGHUP', () => {
    logger.info('SIGHUP: rotating the CA and serving certificate now');
    certificates.refresh('ca').catch((error: unknown) => logger.error('forced rotation failed; will retry', { error }));
  });

  const material = await certificates.ready;
  const handler = createAdmissionHandler({
    config: config.routing,
    validator: new ResourceValidator(),
    logger,
    metrics,
    maxBodyBytes: config.maxBodyBytes,
    maxConcurrentReviews: config.maxConcurrentReviews,
    maxInFlightBytes: config.maxInFlightBytes,
    // The worker's bundle sits next to main.js (scripts/bundle-app.mjs); it starts on the first large review.
    offload: createReviewWorker({ url: new URL('./review-worker.js', import.meta.url), config: config.routing, logger }),
  });
  const webhookServer = createWebhookServer(material, handler);
  serving.connections = trackConnections(webhookServer);
  serving.server = webhookServer;
  webhookServer.on('tlsClientError', (error) => logger.debug('TLS handshake failed', { error: error.message }));
  const port = await listen(webhookServer, config.webhookPort, config.bindAddress);
  logger.info('admission webhook listening', {
    port,
    tlsMode: config.tlsMode,
    certificate: { fingerprint: material.fingerprint, notAfter: material.notAfter.toISOString(), dnsNames: material.dnsNames },
    routing: config.routing,
  });
}

const logger = createLogger({ component: 'webhook' });
try {
  const config = loadWebhookConfig(process.env);
  await run(config, loadMetricsConfig(process.env), logger, createMetrics());
} catch (error) {
  if (error instanceof ConfigError) {
    logger.error(error.message, { problems: error.problems });
  } else {
    logger.error('webhook failed to start', { error });
  }
  process.exitCode = 1;
  // Let winston flush before the process ends.
  setTimeout(() => process.exit(1), 100).unref();
}
