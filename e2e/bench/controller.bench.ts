// npm run bench:controller — the controller on the local control plane, against a plain client and
// the controller-runtime (Go) peers (../shared/anchors/controller, built by scripts/bench/go-peers.ts
// when that folder and `go` are there; without them the bench says so and runs ours alone).
//   1. floor: a plain client creates N HTTPRoutes directly (same concurrency); time until done.
//   2. each controller (ours, controller-runtime with its default 1 worker per kind, with
//      BENCH_CONCURRENCY workers per kind; BENCH_CONTROLLERS=ours,go-default,go picks): create N
//      resources (mixed kinds) in its own namespace; time until all N routes exist and are correct
//      (route-convergence.ts: the moment the bench's watch of the routes sees the last one correct),
//      its CPU, API writes, RSS; API writes in an idle window (must be 0); then a restart over the N
//      correct resources: a fresh process, its writes during the first sync (must be 0) and the time
//      until it has reconciled every resource (cold start). The namespace is deleted before the next.
//   3. our controller's RSS with N_LARGE resources (after the table's runs).
// Ours also prints where the time goes: it writes a stage trace (STAGE_TRACE_FILE, one JSON line per
// stage of each key; BENCH_TRACE=0 turns it off), read back here into per-stage percentiles against
// the bench's own clock (same machine), and CPU seconds of each process.
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CustomObjectsApi, KubeConfig, KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node';
import type { HTTPRoute } from '@kaos/api-types';
import { MANAGED_ROUTE_SELECTOR, desiredRoute, routeDifferences, routeName, type RoutingConfig } from '@kaos/routing';
import { gatewayApiBundlePath, startControlPlane } from '../src/control-plane/index.js';
import { freePort } from '../src/control-plane/proc.js';
import { startApp, type AppProcess } from '../src/support/app-process.js';
// eslint-disable-next-line @nx/enforce-module-boundaries -- bench tooling shared by the webhook's and the controller's benches, not a library of the apps
import { goPeer } from '../../scripts/bench/go-peers.js';
// eslint-disable-next-line @nx/enforce-module-boundaries -- bench tooling shared by the webhook's and the controller's benches, not a library of the apps
import { residentParts } from '../../scripts/bench/resident-memory.js';
import { eventually, KAOS_CRD_DIR, mixedResource } from '../src/support/cluster.js';
import { ConvergenceTracker, watchConvergence, type RouteCheck } from './route-convergence.js';

const N = Number(process.env.BENCH_N ?? 1000);
const N_LARGE = Number(process.env.BENCH_N_LARGE ?? 10_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 60);
/** V8 limits the controller runs with (as in its container image); BENCH_NODE_OPTIONS overrides. */
const CONTROLLER_NODE_OPTIONS = process.env.BENCH_NODE_OPTIONS ?? '--max-old-space-size=160 --max-semi-space-size=2';
/** glibc malloc arenas of the controller process (fewer arenas, less fragmentation across threads). */
const CONTROLLER_MALLOC_ARENA_MAX = process.env.BENCH_MALLOC_ARENA_MAX ?? '2';
const TRACE = process.env.BENCH_TRACE !== '0';
/** Which controllers run, in order: ours, go-default (controller-runtime, 1 worker per kind), go (BENCH_CONCURRENCY workers per kind). */
const CONTROLLERS = (process.env.BENCH_CONTROLLERS ?? 'ours,go-default,go').split(',').filter(Boolean);
/** More controller environment for experiments, `NAME=value,NAME=value` (e.g. CONCURRENCY=48); the bench's settings otherwise. */
const CONTROLLER_ENV = Object.fromEntries((process.env.BENCH_CONTROLLER_ENV ?? '').split(',').filter(Boolean).map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
/** Kept after the run (the control plane's work dir is removed): the controller's stage trace. */
const TRACE_FILE = process.env.BENCH_TRACE_FILE ?? join(tmpdir(), `kaos-bench-controller-stages-${process.pid}.jsonl`);
const config: RoutingConfig = { gatewayApiEnabled: true, gatewayName: 'kaos-gateway', gatewayNamespace: 'kaos-system', defaultTimeouts: { Agent: '120s', ModelAPI: '120s', MCPServer: '30s' } };

const resource = mixedResource;

/** Runs `work` for 0..count-1 with at most `concurrency` at once. */
async function pool(count: number, concurrency: number, work: (index: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await work(next++);
    }),
  );
}

const seconds = (ms: number) => (ms / 1000).toFixed(1);
/** The bench's clock for the stage trace and the route watch: the controller's trace uses the same (performance.timeOrigin + performance.now()). */
const benchNow = () => performance.timeOrigin + performance.now();

/** CPU seconds (user + system) a process has used so far, from /proc; NaN once it is gone. */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after "pid (comm) ", in clock ticks (100 a second on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** The p-th percentile (0..100) of sorted values, nearest rank. */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** First time of each stage of each key in a stage trace file (the first reconcile is the one that creates the route). */
function readTrace(path: string): { first: Map<string, Map<string, number>>; counts: Map<string, number>; reconciles: number } {
  const first = new Map<string, Map<string, number>>();
  const counts = new Map<string, number>();
  let reconciles = 0;
  if (!existsSync(path)) return { first, counts, reconciles };
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line) continue;
    const { key, stage, t } = JSON.parse(line) as { key: string; stage: string; t: number };
    counts.set(stage, (counts.get(stage) ?? 0) + 1);
    if (stage === 'dequeued') reconciles++;
    let stages = first.get(key);
    if (!stages) first.set(key, (stages = new Map()));
    if (!stages.has(stage)) stages.set(stage, t);
  }
  return { first, counts, reconciles };
}
/** The controller-runtime peer as an AppProcess (same readiness protocol: GET /readyz on HEALTH_PORT). */
function startGoController(binary: string, env: Record<string, string>, logFile: string, healthPort: number): AppProcess {
  const log = createWriteStream(logFile);
  const child = spawn(binary, [], { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve((exitCode = code))));
  return {
    pid: child.pid!,
    logFile,
    signal: (signal) => child.kill(signal),
    async waitReady(timeoutMs = 60_000) {
      for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(200)) {
        if (exitCode !== undefined) throw new Error(`controller-runtime peer exited with ${exitCode}, log ${logFile}`);
        const status = await fetch(`http://127.0.0.1:${healthPort}/readyz`).then((response) => response.status, () => 0);
        if (status === 200) return;
      }
      throw new Error(`controller-runtime peer not ready after ${timeoutMs} ms, log ${logFile}`);
    },
    async stop() {
      if (exitCode === undefined) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** What the table shows of one controller. */
interface Row {
  name: string;
  settings: string;
  createdMs: number;
  convergedMs: number;
  cpuMsPerResource: number;
  writes: Record<string, number>;
  idleWrites: number;
  peakRss: number;
  settledRss: number;
  restart?: { coldStartMs: number; writes: number; reconciles: number; peakRss: number };
  load: string;
}

const load = () => loadavg().map((value) => value.toFixed(1)).join(' ');
const sum = (values: Iterable<number>) => [...values].reduce((total, value) => total + value, 0);
/** Sum of every sample of a counter or gauge (all label sets) in a Prometheus text page. */
const metricSum = (text: string, name: string) => sum([...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)`, 'gm'))].map((match) => Number(match[1])));

const plane = await startControlPlane({ crdPaths: [KAOS_CRD_DIR], gatewayApiBundle: gatewayApiBundlePath() });
try {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(plane.kubeconfigPath);
  const api = KubernetesObjectApi.makeApiClient(kubeConfig);
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const create = (object: unknown) => api.create(object as KubernetesObject);
  for (const namespace of ['bench-floor', 'kaos-system']) {
    await create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
  }
  const peer = CONTROLLERS.some((which) => which.startsWith('go')) ? goPeer('controller') : undefined;
  const controllers = CONTROLLERS.filter((which) => which === 'ours' || peer?.binary);
  console.log(`bench:controller — N=${N} (mixed kinds), concurrency ${CONCURRENCY}, local control plane (this 2-core machine), controllers ${controllers.join(' → ')}; ours with NODE_OPTIONS="${CONTROLLER_NODE_OPTIONS}" MALLOC_ARENA_MAX=${CONTROLLER_MALLOC_ARENA_MAX}${Object.keys(CONTROLLER_ENV).length > 0 ? ` ${Object.entries(CONTROLLER_ENV).map(([name, value]) => `${name}=${value}`).join(' ')}` : ''}`);
  if (peer) console.log(peer.note);
  console.log(`load average at the start: ${load()} (2 cores)`);

  // 1. Floor: the same number of HTTPRoutes, written directly.
  const started = Date.now();
  await pool(N, CONCURRENCY, (index) => {
    const route = desiredRoute({ ...resource(index, 'bench-floor'), metadata: { name: `r-${index}`, namespace: 'bench-floor' } }, config)!;
    return create(route);
  });
  const floorMs = Date.now() - started;
  console.log(`floor: ${N} HTTPRoutes created directly ${seconds(floorMs)} s (load ${load()})`);

  const rows: Row[] = [];
  const detail: string[] = [];
  let large: (() => Promise<void>) | undefined;
  for (const which of controllers) {
    const ours = which === 'ours';
    const namespace = ours ? 'bench' : `bench-${which}`;
    await create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
    const settings = ours
      ? `CONCURRENCY=${CONTROLLER_ENV.CONCURRENCY ?? CONCURRENCY} per kind`
      : `MaxConcurrentReconciles=${which === 'go' ? CONCURRENCY : 1} per kind`;
    /** Starts a fresh process of this controller; its metrics port. */
    const startController = async (run: string): Promise<{ process: AppProcess; metricsPort: number }> => {
      const healthPort = await freePort();
      const common = { KUBECONFIG: plane.kubeconfigPath, GATEWAY_API_ENABLED: 'true', GATEWAY_NAMESPACE: 'kaos-system', LEADER_ELECTION: 'false', HEALTH_PORT: String(healthPort), BIND_ADDRESS: '127.0.0.1', LOG_LEVEL: 'warn' };
      const logFile = join(plane.workDir, `controller-${which}-${run}.log`);
      if (ours) {
        const traceEnv: Record<string, string> = TRACE && run === 'first' ? { STAGE_TRACE_FILE: TRACE_FILE } : {};
        return { process: startApp('controller', { ...common, ...traceEnv, CONCURRENCY: String(CONCURRENCY), NODE_OPTIONS: CONTROLLER_NODE_OPTIONS, MALLOC_ARENA_MAX: CONTROLLER_MALLOC_ARENA_MAX, ...CONTROLLER_ENV }, logFile, healthPort), metricsPort: healthPort };
      }
      const metricsPort = await freePort();
      const workers: Record<string, string> = which === 'go' ? { CONCURRENCY: String(CONCURRENCY) } : {};
      return { process: startGoController(peer!.binary!, { ...common, METRICS_BIND_ADDRESS: `127.0.0.1:${metricsPort}`, ...workers }, logFile, healthPort), metricsPort };
    };
    let { process: controller, metricsPort } = await startController('first');
    await controller.waitReady();
    const metrics = async () => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const writesByVerb = async () => Object.fromEntries([...(await metrics()).matchAll(/^kaos_controller_api_writes_total\{verb="([a-z]+)"\} (\d+)/gm)].map((match) => [match[1]!, Number(match[2])]));
    const writesNow = async () => sum(Object.values(await writesByVerb()));
    const reads = async () => [...(await metrics()).matchAll(/^kaos_controller_api_reads_total\{resource="([a-z-]+)"\} (\d+)/gm)].map((match) => `${match[1]}=${match[2]}`).join(' ') || 'none';
    const rssMb = () => Math.round(Number(readFileSync(`/proc/${controller.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)![1]) / 1024);
    // The highest RSS seen, sampled every second: the figure at one instant can miss a spike.
    let peakRss = 0;
    // Open sockets of the controller (its API connections, watches included), sampled with the RSS.
    const sockets = () => readdirSync(`/proc/${controller.pid}/fd`).filter((fd) => {
      try {
        return readlinkSync(`/proc/${controller.pid}/fd/${fd}`).startsWith('socket:');
      } catch {
        return false;
      }
    }).length;
    let peakSockets = 0;
    const sampler = setInterval(() => {
      try {
        peakRss = Math.max(peakRss, rssMb());
        peakSockets = Math.max(peakSockets, sockets());
      } catch {
        // the controller is gone
      }
    }, 1000);
    const metricMb = (text: string, name: string) => Math.round(Number(text.match(new RegExp(`^${name} ([0-9.e+]+)`, 'm'))?.[1] ?? NaN) / 1048576);
    /** Where the memory is: resident parts (smaps), then for ours V8's heap by space and memory outside it (buffers); for Go its heap. */
    const memory = async () => {
      const text = await metrics();
      const resident = `resident: ${Object.entries(residentParts(controller.pid)).map(([name, mb]) => `${name} ${Math.round(mb)}`).join(', ')} MB`;
      const spaces = [...text.matchAll(/^nodejs_heap_space_size_(used|total)_bytes\{space="([a-z_]+)"\} ([0-9.e+]+)/gm)];
      const space = (name: string, which: string) => Number(spaces.find((match) => match[2] === name && match[1] === which)?.[3] ?? 0) / 1048576;
      const bySpace = [...new Set(spaces.map((match) => match[2]!))].filter((name) => space(name, 'total') >= 0.5).map((name) => `${name.replace(/_space$/, '')} ${space(name, 'used').toFixed(1)}/${space(name, 'total').toFixed(1)}`).join(', ');
      return ours
        ? `${resident}; V8 heap in use ${metricMb(text, 'nodejs_heap_size_used_bytes')} MB of ${metricMb(text, 'nodejs_heap_size_total_bytes')} MB reserved (used/reserved by space: ${bySpace}), external ${metricMb(text, 'nodejs_external_memory_bytes')} MB`
        : `${resident}; Go heap in use ${metricMb(text, 'go_memstats_heap_inuse_bytes')} MB, from the OS ${metricMb(text, 'go_memstats_sys_bytes')} MB`;
    };

    const resources = Array.from({ length: N }, (_, index) => resource(index, namespace));
    // The bench's clock for each resource: its create sent and answered (the controller's trace uses the same clock).
    const sentAt = new Map<string, number>();
    const ackedAt = new Map<string, number>();
    const keyOf = (item: (typeof resources)[number]) => `${item.kind}/${item.metadata.namespace}/${item.metadata.name}`;
    const pids = { controller: controller.pid, 'kube-apiserver': plane.pids['kube-apiserver'], etcd: plane.pids.etcd, bench: process.pid };
    const cpuNow = () => Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid)]));
    /** The API server's own time per request (sum and count of apiserver_request_duration_seconds) by verb, resource and subresource. */
    const serverDurations = async () => {
      const text = (await plane.kubectl(['get', '--raw', '/metrics'])).stdout;
      const totals = new Map<string, { sum: number; count: number }>();
      for (const match of text.matchAll(/^apiserver_request_duration_seconds_(sum|count)\{([^}]*)\} ([0-9.e+-]+)/gm)) {
        const labels = Object.fromEntries([...match[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((label) => [label[1], label[2]]));
        if (labels.verb === 'WATCH' || labels.verb === 'LIST' || labels.verb === 'GET') continue;
        const name = `${labels.verb} ${labels.resource}${labels.subresource ? `/${labels.subresource}` : ''}`;
        const entry = totals.get(name) ?? { sum: 0, count: 0 };
        entry[match[1] as 'sum' | 'count'] += Number(match[3]);
        totals.set(name, entry);
      }
      return totals;
    };
    // Each expected route, checked against the live one as the watch delivers it.
    const expected = new Map<string, RouteCheck>(
      resources.map((item) => [
        routeName(item),
        (live: HTTPRoute) => routeDifferences(desiredRoute({ ...item, metadata: { ...item.metadata, uid: live.metadata.ownerReferences?.[0]?.uid } }, config)!, live).length === 0,
      ]),
    );
    const tracker = new ConvergenceTracker(expected);
    const routeWatch = await watchConvergence({ kubeConfig, custom, namespace, labelSelector: MANAGED_ROUTE_SELECTOR, tracker, now: benchNow });
    const serverAtStart = await serverDurations();
    const cpuAtStart = cpuNow();
    // The bench's clock from here on, shared with the controller's stage trace and the route watch.
    const startedAt = benchNow();
    let convergedAt: number;
    let cpuAtCreated: ReturnType<typeof cpuNow>;
    try {
      await pool(N, CONCURRENCY, async (index) => {
        const item = resources[index]!;
        sentAt.set(keyOf(item), benchNow());
        await create(item);
        ackedAt.set(keyOf(item), benchNow());
      });
      cpuAtCreated = cpuNow();
      // The moment is the watch event's (benchNow); looking every 250 ms only delays what follows.
      convergedAt = await eventually(
        `${which}: all ${N} routes correct`,
        async () => {
          if (tracker.convergedAt === undefined) throw new Error(`${tracker.correctCount} of ${tracker.expectedCount} correct so far`);
          return tracker.convergedAt;
        },
        15 * 60_000,
      );
    } finally {
      await routeWatch.stop();
    }
    const lastCreatedAt = Math.max(...ackedAt.values());
    const createdMs = lastCreatedAt - startedAt;
    const watchFailures = routeWatch.failures();
    if (watchFailures.length > 0) {
      console.log(`${which}: the bench's route watch failed ${watchFailures.length} time(s) and was started again (last: ${watchFailures.at(-1)}): the convergence time may be late by as long as it was down`);
    }
    const controllerMs = convergedAt - startedAt;
    const cpuAtConverged = cpuNow();
    const serverAtConverged = await serverDurations();
    const socketsAtConverged = sockets();
    const loopLag = [...(await metrics()).matchAll(/^nodejs_eventloop_lag_(p50|p99|max)_seconds ([0-9.e+-]+)/gm)].map((match) => `${match[1]} ${(Number(match[2]) * 1000).toFixed(0)} ms`).join(', ');
    // API calls are what the API server spends its CPU on; unlike the times, they do not depend on machine load.
    const creationWrites = await writesByVerb();
    const creationReads = await reads();
    const rssAtN = rssMb();
    const memoryAtN = await memory();

    // Idle writes: let the status writes of the creation settle, then count.
    await sleep(10_000);
    const before = await writesNow();
    await sleep(IDLE_SECONDS * 1000);
    const idleWrites = (await writesNow()) - before;
    const settledRss = rssMb();
    const settledMemory = await memory();
    const peakAtN = Math.max(peakRss, rssAtN, settledRss);

    // Restart over the N correct resources: a fresh process; its writes until it has reconciled
    // every resource and 5 s more (must be 0), and how long that took from its start (cold start).
    await controller.stop();
    peakRss = 0;
    const restartedAt = Date.now();
    ({ process: controller, metricsPort } = await startController('restart'));
    pids.controller = controller.pid;
    let coldStartMs: number | undefined;
    let restartReconciles = 0;
    while (coldStartMs === undefined) {
      const text = await metrics().catch(() => '');
      restartReconciles = metricSum(text, ours ? 'kaos_controller_reconciles_total' : 'controller_runtime_reconcile_total');
      const depth = metricSum(text, ours ? 'kaos_controller_queue_depth' : 'workqueue_depth');
      if (text && restartReconciles >= N && depth === 0) coldStartMs = Date.now() - restartedAt;
      else await sleep(100);
      if (Date.now() - restartedAt > 10 * 60_000) throw new Error(`${which}: restarted controller reconciled ${restartReconciles} of ${N} in 10 minutes`);
    }
    await sleep(5000);
    const restart = { coldStartMs, writes: await writesNow(), reconciles: restartReconciles, peakRss: Math.max(peakRss, rssMb()) };
    const cpu = (from: Record<string, number>, to: Record<string, number>) => Object.keys(pids).map((name) => `${name} ${(to[name]! - from[name]!).toFixed(1)}`).join(', ');
    const row: Row = {
      name: ours ? 'ours' : which === 'go' ? `controller-runtime ${CONCURRENCY} workers` : 'controller-runtime default',
      settings,
      createdMs,
      convergedMs: controllerMs,
      cpuMsPerResource: ((cpuAtConverged.controller! - cpuAtStart.controller!) * 1000) / N,
      writes: creationWrites,
      idleWrites,
      peakRss: peakAtN,
      settledRss,
      restart,
      load: load(),
    };
    rows.push(row);
    console.log(
      `${row.name}: resources created in ${seconds(createdMs)} s, all routes correct ${seconds(controllerMs)} s, lag after the last create ${seconds(controllerMs - createdMs)} s; writes ${Object.entries(creationWrites).map(([verb, count]) => `${verb}=${count}`).join(' ')}, reads past the caches ${creationReads}; idle writes ${idleWrites}; RSS ${rssAtN} MB at N (${memoryAtN}), ${settledRss} MB settled (${settledMemory}); restart: ${restart.writes} writes, cold start ${seconds(coldStartMs)} s (${restart.reconciles} reconciles); CPU s while creating ${cpu(cpuAtStart, cpuAtCreated)}; until converged ${cpu(cpuAtCreated, cpuAtConverged)}; load ${row.load}`,
    );

    if (ours) {
      // Where the time went (the trace is flushed once the first process stopped): per-stage percentiles over the N resources.
      if (TRACE) {
        const trace = readTrace(TRACE_FILE);
        const at = (key: string, stage: string) => (stage === 'sent' ? sentAt.get(key) : stage === 'created' ? ackedAt.get(key) : trace.first.get(key)?.get(stage));
        const intervals: Array<[string, string, string]> = [
          ['create sent → created (bench: answer)', 'sent', 'created'],
          ['created → watch event in the controller', 'created', 'watch'],
          ['watch → enqueued', 'watch', 'enqueued'],
          ['enqueued → dequeued (waiting in the queue)', 'enqueued', 'dequeued'],
          ['dequeued → route create sent', 'dequeued', 'route-sent'],
          ['route create sent → answered', 'route-sent', 'route-acked'],
          ['route answered → status patch sent', 'route-acked', 'status-sent'],
          ['status patch sent → answered', 'status-sent', 'status-acked'],
          ['event sent → answered', 'event-sent', 'event-acked'],
          ['dequeued → reconcile done', 'dequeued', 'done'],
          ['created → route create answered (end to end)', 'created', 'route-acked'],
          ['created → status answered (end to end)', 'created', 'status-acked'],
        ];
        const ms = (value: number) => value.toFixed(0).padStart(6);
        detail.push(`stages of the ${N} resources' first reconcile (ours), ms (bench clock = controller clock): p50 p90 p99 max   [n]`);
        for (const [label, from, to] of intervals) {
          const values = resources.flatMap((item) => {
            const a = at(keyOf(item), from);
            const b = at(keyOf(item), to);
            return a === undefined || b === undefined ? [] : [b - a];
          });
          values.sort((x, y) => x - y);
          detail.push(`  ${label.padEnd(48)} ${ms(percentile(values, 50))} ${ms(percentile(values, 90))} ${ms(percentile(values, 99))} ${ms(values.at(-1) ?? Number.NaN)}   [${values.length}]`);
        }
        // After the last create: what the controller still had to do, and when it did the last of it.
        const lastOf = (stage: string) => Math.max(...resources.map((item) => at(keyOf(item), stage) ?? Number.NEGATIVE_INFINITY));
        const notYet = (stage: string) => resources.filter((item) => (at(keyOf(item), stage) ?? Number.POSITIVE_INFINITY) > lastCreatedAt).length;
        detail.push(`  at the last create's answer, not yet: watched ${notYet('watch')}, dequeued ${notYet('dequeued')}, route answered ${notYet('route-acked')}, status answered ${notYet('status-acked')}, event answered ${notYet('event-acked')}`);
        detail.push(
          `  last after the last create, s: watch ${seconds(lastOf('watch') - lastCreatedAt)}, dequeued ${seconds(lastOf('dequeued') - lastCreatedAt)}, route answered ${seconds(lastOf('route-acked') - lastCreatedAt)}, status answered ${seconds(lastOf('status-acked') - lastCreatedAt)}, event answered ${seconds(lastOf('event-acked') - lastCreatedAt)}; bench saw all correct ${seconds(convergedAt - lastCreatedAt)}`,
        );
        detail.push(`  marks until the end of the idle window: ${[...trace.counts].map(([stage, count]) => `${stage}=${count}`).join(' ')}`);
      }
      detail.push(`ours: sockets ${socketsAtConverged} when converged, peak ${peakSockets}; event loop delay (prom-client, at convergence): ${loopLag}`);
    }
    // The same for every controller: whether one waits longer per write because the API server takes longer to answer it.
    detail.push(`API server, from the first create until ${row.name} converged, its own time per write (apiserver_request_duration_seconds), mean ms [count]:`);
    for (const [name, end] of [...serverAtConverged].sort((a, b) => b[1].count - a[1].count)) {
      const begin = serverAtStart.get(name) ?? { sum: 0, count: 0 };
      const count = end.count - begin.count;
      if (count >= 10) detail.push(`  ${name.padEnd(32)} ${(((end.sum - begin.sum) / count) * 1000).toFixed(0).padStart(6)} [${count}]`);
    }

    if (ours && N_LARGE > N) {
      // RSS with N_LARGE resources in the caches, once the table's runs are done (the peers must not see them).
      const restarted = controller;
      large = async () => {
        peakRss = 0;
        await create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bench-large' } });
        await pool(N_LARGE - N, CONCURRENCY, (index) => create(resource(index, 'bench-large')));
        const waitStarted = Date.now();
        while ((await api.list('gateway.networking.k8s.io/v1', 'HTTPRoute', 'bench-large', undefined, undefined, undefined, undefined, MANAGED_ROUTE_SELECTOR)).items.length < N_LARGE - N) {
          await sleep(1000);
          if (Date.now() - waitStarted > 20 * 60_000) break;
        }
        const rssAtLarge = rssMb();
        const memoryAtLarge = await memory();
        // Once the status writes of the last routes are done, what a steady controller holds.
        await sleep(30_000);
        const settledAtLarge = rssMb();
        clearInterval(sampler);
        await restarted.stop();
        console.log(`ours, RSS with ${N_LARGE} resources: ${rssAtLarge} MB when the routes exist, ${settledAtLarge} MB 30 s later, peak ${peakRss} MB (target <= 200 MB; ${memoryAtLarge}) (load ${load()})`);
        console.log(`${rssAtLarge <= 200 ? 'met   ' : 'MISSED'} RSS <= 200 MB at ${N_LARGE}`);
      };
      continue;
    }
    clearInterval(sampler);
    await controller.stop();
    if (which === controllers.at(-1)) break;
    // A clean slate for the next controller: its caches must not start with this one's objects.
    const deleteStarted = Date.now();
    await api.delete({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } } as KubernetesObject);
    while (await api.read({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } } as KubernetesObject & { metadata: { name: string } }).then(() => true, () => false)) {
      // The namespace controller deletes the resources, then the garbage collector their routes: minutes at 10,000.
      if (Date.now() - deleteStarted > Math.max(5, N / 500) * 60_000) throw new Error(`namespace ${namespace} still there after ${Math.max(5, N / 500)} minutes`);
      await sleep(1000);
    }
  }

  console.log('');
  for (const line of detail) console.log(line);
  console.log('');
  // One table: the figures that compare controllers (the "ratio to floor" mostly measures how fast the bench creates while a controller writes).
  const writesPerResource = (row: Row) => sum(Object.values(row.writes)) / N;
  const columns: Array<[string, (row: Row) => number | undefined, (value: number) => string]> = [
    ['lag after last create s', (row) => row.convergedMs - row.createdMs, (value) => seconds(value)],
    ['CPU ms/resource', (row) => row.cpuMsPerResource, (value) => value.toFixed(1)],
    ['writes/resource', writesPerResource, (value) => value.toFixed(2)],
    ['peak RSS MB', (row) => row.peakRss, String],
    ['settled RSS MB', (row) => row.settledRss, String],
    ['restart writes', (row) => row.restart?.writes, String],
    ['cold start s', (row) => row.restart?.coldStartMs, (value) => seconds(value)],
  ];
  console.log(`N=${N}, concurrency ${CONCURRENCY}; floor ${seconds(floorMs)} s; load average at the end ${load()} (2 cores)`);
  console.log(['controller', 'settings', 'created s', 'converged s', ...columns.map(([label]) => label), `idle writes ${IDLE_SECONDS} s`, 'load at its end'].join(' | '));
  for (const row of rows) {
    console.log([row.name, row.settings, seconds(row.createdMs), seconds(row.convergedMs), ...columns.map(([, value, format]) => format(value(row) ?? Number.NaN)), row.idleWrites, row.load].join(' | '));
  }
  const ours = rows.find((row) => row.name === 'ours');
  const peers = rows.filter((row) => row !== ours);
  if (ours && peers.length > 0) {
    // Smaller is better in every column; the best peer is the one with the smallest figure.
    const ratios = columns.map(([, value]) => {
      const best = Math.min(...peers.map((row) => value(row) ?? Number.NaN));
      const mine = value(ours) ?? Number.NaN;
      return best > 0 ? (mine / best).toFixed(2) : `${mine} vs ${best}`;
    });
    console.log(['ours / best peer', '', '', '', ...ratios, '', ''].join(' | '));
  } else if (!peer?.binary) console.log(`(no controller-runtime peers: ${peer?.note ?? 'not asked for'})`);
  console.log('');
  console.log(`${ours && ours.idleWrites === 0 ? 'met   ' : 'MISSED'} idle writes = 0 (ours)`);
  if (ours) console.log(`${ours.restart?.writes === 0 ? 'met   ' : 'MISSED'} restart writes = 0 (ours)`);
  if (ours && peers.some((row) => row.name.endsWith('workers'))) {
    const tuned = peers.find((row) => row.name.endsWith('workers'))!;
    const lag = (row: Row) => row.convergedMs - row.createdMs;
    console.log(`${lag(ours) <= lag(tuned) ? 'met   ' : 'MISSED'} lag after the last create <= controller-runtime ${CONCURRENCY} workers' (${seconds(lag(ours))} vs ${seconds(lag(tuned))} s)`);
  }
  await large?.();
} finally {
  await plane.stop();
}
