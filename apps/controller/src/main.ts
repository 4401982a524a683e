// Entry point of the routing controller: configuration, informers feeding a work queue, the
// reconciler, and the ops endpoints. Decisions live in libs/routing and reconciler.ts.
import { createServer } from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import { ConfigError, routingConfigFromEnv } from '@kaos/routing';
import express from 'express';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { createKubeCluster } from './kube-cluster.js';
import { createLogger } from './logger.js';
import { WorkQueue } from './queue.js';
import { createReconciler } from './reconciler.js';

const logger = createLogger();

function port(value: string | undefined, fallback: number, variable: string): number {
  const text = value?.trim() || String(fallback);
  const parsed = Number(text);
  if (!/^\d+$/.test(text) || parsed < 1 || parsed > 65535) {
    throw new ConfigError([{ field: variable, message: `must be a port number from 1 to 65535, not ${JSON.stringify(text)}` }]);
  }
  return parsed;
}

try {
  const routing = routingConfigFromEnv(process.env);
  const healthPort = port(process.env.HEALTH_PORT, 8082, 'HEALTH_PORT');
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromDefault();

  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const reconciles = new Counter({ name: 'kaos_controller_reconciles_total', help: 'Reconciles by result.', labelNames: ['result'], registers: [registry] });
  // Read at scrape time, so the gauge is never stale.
  let queueDepth = () => 0;
  new Gauge({
    name: 'kaos_controller_queue_depth',
    help: 'Keys waiting, running or scheduled for retry.',
    registers: [registry],
    collect() {
      this.set(queueDepth());
    },
  });

  // Informers feed the queue once started (below), after the queue exists.
  const feed: { queue?: WorkQueue } = {};
  const kube = createKubeCluster(kubeConfig, routing, logger, (key) => feed.queue?.add(key));
  const reconcile = createReconciler(kube.cluster, routing);
  const queue = new WorkQueue(
    async (key) => {
      try {
        const result = await reconcile(key);
        reconciles.inc({ result: 'success' });
        return result;
      } catch (error) {
        reconciles.inc({ result: 'error' });
        const [kind, namespace, name] = key.split('/');
        logger.error('reconcile failed; retrying with backoff', { kind, namespace, name, error: (error as Error).message });
        throw error;
      }
    },
    { concurrency: 4, baseDelayMs: 500, maxDelayMs: 300_000 },
  );
  feed.queue = queue;
  queueDepth = () => queue.depth();

  const ops = express();
  ops.disable('x-powered-by');
  ops.get('/healthz', (_request, response) => void response.json({ status: 'ok' }));
  ops.get('/readyz', (_request, response) => {
    const synced = kube.synced();
    response.status(synced ? 200 : 503).json({ status: synced ? 'ready' : 'not ready', checks: { cachesSynced: synced } });
  });
  ops.get('/metrics', async (_request, response) => void response.type(registry.contentType).send(await registry.metrics()));
  const opsServer = createServer(ops).listen(healthPort, process.env.BIND_ADDRESS || undefined);

  logger.info('starting HTTPRoute controller', { routing, healthPort });
  await kube.start();
  logger.info('caches synced; reconciling');

  const stop = async (signal: string) => {
    logger.info('shutting down', { signal });
    queue.stop();
    await kube.stop();
    opsServer.close();
    await queue.idle();
    logger.info('stopped');
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
} catch (error) {
  if (error instanceof ConfigError) logger.error(error.message, { problems: error.problems });
  else logger.error('controller failed to start', { error });
  process.exitCode = 1;
  setTimeout(() => process.exit(1), 100).unref();
}
