// Entry point of the routing controller: configuration, informers feeding a work queue, leader
// election, the reconciler, and the ops endpoints. Decisions live in libs/routing and reconciler.ts.
import { AuthenticationV1Api, AuthorizationV1Api, KubeConfig, type V1SubjectAccessReview, type V1TokenReview } from '@kubernetes/client-node';
import {
  createLogger,
  createRequestAuthorizer,
  loadMetricsConfig,
  startOpsServers,
  subjectAccessReviewBody,
  subjectAccessReviewOutcome,
  tokenReviewBody,
  tokenReviewOutcome,
  type DelegatedAuthApi,
} from '@kaos/kube-runtime';
import { ConfigError } from '@kaos/routing';
import { loadControllerConfig } from './config.js';
import { reuseConnections } from './connections.js';
import { watchCrdCompatibility } from './crd-compat-watch.js';
import { createKubeCluster } from './kube-cluster.js';
import { startLeaderElection } from './leader-election.js';
import { createMetrics, instrumentReconcile } from './metrics.js';
import { WorkQueue } from './queue.js';
import { createReconciler, parseResourceKey } from './reconciler.js';
import { createStageTrace } from './stage-trace.js';

const logger = createLogger({ component: 'controller' });

try {
  const config = loadControllerConfig(process.env);
  const metricsConfig = loadMetricsConfig(process.env);
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromDefault();
  // One pool of kept-alive connections instead of a new TLS connection per request (see connections.ts).
  if (!reuseConnections(kubeConfig)) logger.warn('this @kubernetes/client-node has no per-request dispatcher hook; each API request may open its own connection');

  const metrics = createMetrics();
  const { readings } = metrics;
  // Off unless STAGE_TRACE_FILE is set: per-key stage timestamps for npm run bench:controller.
  const trace = createStageTrace(config.stageTraceFile);

  // Informers run on every replica (warm caches); only the leader's queue receives keys.
  const feed: { queue?: WorkQueue } = {};
  const kube = createKubeCluster(kubeConfig, config.routing, logger, (key) => feed.queue?.add(key), {
    write: (verb) => metrics.writes.inc({ verb }),
    read: (resource) => metrics.reads.inc({ resource }),
    watchRestarted: (watch, reason) => metrics.watchRestarts.inc({ watch, reason }),
  }, trace);
  // An installed KAOS CRD lacking what ours provides (upstream KAOS's, kept by Helm) is reported, not fatal.
  const crdWatch = watchCrdCompatibility(kubeConfig, logger, {
    onCompatible: () => kube.resyncAll(),
    registry: metrics.registry,
    observers: { write: (verb) => metrics.writes.inc({ verb }), watchRestarted: (watch, reason) => metrics.watchRestarts.inc({ watch, reason }) },
  });
  const reconcile = createReconciler(kube.cluster, config.routing, { logger, keepsGatewayStatus: crdWatch.keepsGatewayStatus });
  // CONCURRENCY reconciles per kind, as controller-runtime's MaxConcurrentReconciles per controller (ADR 0021).
  const queue = new WorkQueue(instrumentReconcile(reconcile, metrics, logger), {
    concurrency: config.concurrency,
    group: (key) => parseResourceKey(key)?.kind ?? '',
    baseDelayMs: 500,
    maxDelayMs: 300_000,
    observe: (key, event) => trace.mark(key, event),
  });
  readings.depth = () => queue.depth();

  // /metrics over HTTPS behind a TokenReview and a SubjectAccessReview (unless METRICS_SECURE=false).
  const authentication = kubeConfig.makeApiClient(AuthenticationV1Api);
  const authorization = kubeConfig.makeApiClient(AuthorizationV1Api);
  const delegatedAuth: DelegatedAuthApi = {
    tokenReview: async (token) => tokenReviewOutcome(await authentication.createTokenReview({ body: tokenReviewBody(token) as V1TokenReview })),
    subjectAccessReview: async (request) => subjectAccessReviewOutcome(await authorization.createSubjectAccessReview({ body: subjectAccessReviewBody(request) as V1SubjectAccessReview })),
  };
  const ops = await startOpsServers({
    healthPort: config.healthPort,
    bindAddress: config.bindAddress,
    metricsConfig,
    // An incompatible CRD is a detail, not a reason to be unready: routes still work, and only applying the CRDs fixes it.
    readiness: () => ({ checks: { cachesSynced: kube.synced() }, detail: { leader: readings.leader(), crds: crdWatch.tracker.readiness() } }),
    metrics: metrics.registry,
    ...(metricsConfig.secure ? { authorizer: createRequestAuthorizer({ api: delegatedAuth }) } : {}),
    logger,
  });

  logger.info('starting HTTPRoute controller', { routing: config.routing, healthPort: config.healthPort, leaderElection: config.leaderElection });
  void crdWatch.start();
  await kube.start();
  logger.info('caches synced');

  const lead = () => {
    feed.queue = queue;
    kube.resyncAll();
    crdWatch.tracker.lead();
    logger.info('reconciling as leader');
  };
  const election = config.leaderElection.enabled
    ? startLeaderElection({
        store: kube.leaseStore(config.leaderElection.namespace, config.leaderElection.leaseName),
        identity: config.leaderElection.identity,
        lease: `${config.leaderElection.namespace}/${config.leaderElection.leaseName}`,
        timing: config.leaderElection.timing,
        logger,
        onStartedLeading: lead,
        // A replica that lost the Lease may hold stale decisions in flight: restart as a follower.
        onStoppedLeading: () => {
          queue.stop();
          process.exit(1);
        },
      })
    : undefined;
  readings.leader = () => election?.isLeader() ?? true;
  if (!election) lead();

  const resync = setInterval(() => {
    if (feed.queue) kube.resyncAll();
  }, config.resyncSeconds * 1000);
  resync.unref();

  const stop = async (signal: string) => {
    logger.info('shutting down', { signal });
    clearInterval(resync);
    queue.stop();
    await queue.idle();
    await election?.release().catch((error: unknown) => logger.warn('could not release the Lease', { error: (error as Error).message }));
    await Promise.all([kube.stop(), crdWatch.stop()]);
    await trace.close();
    for (const server of ops.servers) server.close();
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
