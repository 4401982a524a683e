// npm run bench:controller — the controller on the local control plane, against a plain client.
//   1. floor: a plain client creates N HTTPRoutes directly (same concurrency); time until done.
//   2. controller: create N resources (mixed kinds); time until all N routes exist and are correct.
//   3. API writes by the controller in an idle window (must be 0).
//   4. controller RSS with N and with N_LARGE resources.
// Step 2 also prints where the time goes: the controller writes a stage trace (STAGE_TRACE_FILE,
// one JSON line per stage of each key; BENCH_TRACE=0 turns it off), read back here into per-stage
// percentiles against the bench's own clock (same machine), and CPU seconds of each process.
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig, KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node';
import type { HTTPRoute } from '@kaos/api-types';
import { MANAGED_ROUTE_SELECTOR, desiredRoute, routeDifferences, routeName, type RoutingConfig } from '@kaos/routing';
import { gatewayApiBundlePath, startControlPlane } from '../src/control-plane/index.js';
import { freePort } from '../src/control-plane/proc.js';
import { startApp } from '../src/support/app-process.js';
import { KAOS_CRD_DIR, mixedResource } from '../src/support/cluster.js';

const N = Number(process.env.BENCH_N ?? 1000);
const N_LARGE = Number(process.env.BENCH_N_LARGE ?? 10_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 60);
/** V8 limits the controller runs with (as in its container image); BENCH_NODE_OPTIONS overrides. */
const CONTROLLER_NODE_OPTIONS = process.env.BENCH_NODE_OPTIONS ?? '--max-old-space-size=160 --max-semi-space-size=2';
/** glibc malloc arenas of the controller process (fewer arenas, less fragmentation across threads). */
const CONTROLLER_MALLOC_ARENA_MAX = process.env.BENCH_MALLOC_ARENA_MAX ?? '2';
const TRACE = process.env.BENCH_TRACE !== '0';
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
const plane = await startControlPlane({ crdPaths: [KAOS_CRD_DIR], gatewayApiBundle: gatewayApiBundlePath() });
try {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(plane.kubeconfigPath);
  const api = KubernetesObjectApi.makeApiClient(kubeConfig);
  const create = (object: unknown) => api.create(object as KubernetesObject);
  for (const namespace of ['bench-floor', 'bench', 'bench-large', 'kaos-system']) {
    await create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
  }
  console.log(`bench:controller — N=${N} (mixed kinds), concurrency ${CONCURRENCY}, local control plane (this 2-core machine), controller NODE_OPTIONS="${CONTROLLER_NODE_OPTIONS}" MALLOC_ARENA_MAX=${CONTROLLER_MALLOC_ARENA_MAX}${Object.keys(CONTROLLER_ENV).length > 0 ? ` ${Object.entries(CONTROLLER_ENV).map(([name, value]) => `${name}=${value}`).join(' ')}` : ''}`);

  // 1. Floor: the same number of HTTPRoutes, written directly.
  let started = Date.now();
  await pool(N, CONCURRENCY, (index) => {
    const route = desiredRoute({ ...resource(index, 'bench-floor'), metadata: { name: `r-${index}`, namespace: 'bench-floor' } }, config)!;
    return create(route);
  });
  const floorMs = Date.now() - started;

  // 2. The controller.
  const healthPort = await freePort();
  const traceFile = TRACE_FILE;
  const controller = startApp(
    'controller',
    { ...(TRACE ? { STAGE_TRACE_FILE: traceFile } : {}), KUBECONFIG: plane.kubeconfigPath, GATEWAY_API_ENABLED: 'true', GATEWAY_NAMESPACE: 'kaos-system', LEADER_ELECTION: 'false', HEALTH_PORT: String(healthPort), BIND_ADDRESS: '127.0.0.1', LOG_LEVEL: 'warn', CONCURRENCY: String(CONCURRENCY), NODE_OPTIONS: CONTROLLER_NODE_OPTIONS, MALLOC_ARENA_MAX: CONTROLLER_MALLOC_ARENA_MAX, ...CONTROLLER_ENV },
    join(plane.workDir, 'controller.log'),
    healthPort,
  );
  await controller.waitReady();
  const metrics = async () => (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
  const writesByVerb = async () => Object.fromEntries([...(await metrics()).matchAll(/^kaos_controller_api_writes_total\{verb="([a-z]+)"\} (\d+)/gm)].map((match) => [match[1]!, Number(match[2])]));
  const writesNow = async () => Object.values(await writesByVerb()).reduce((sum, count) => sum + count, 0);
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
  const metricMb = (text: string, name: string) => Math.round(Number(text.match(new RegExp(`^${name} (\\d+)`, 'm'))?.[1] ?? NaN) / 1048576);
  /** Where the memory is: V8 heap in use and reserved, and memory outside the V8 heap (buffers). */
  const memory = async () => {
    const text = await metrics();
    return `V8 heap in use ${metricMb(text, 'nodejs_heap_size_used_bytes')} MB of ${metricMb(text, 'nodejs_heap_size_total_bytes')} MB reserved, external ${metricMb(text, 'nodejs_external_memory_bytes')} MB`;
  };

  const resources = Array.from({ length: N }, (_, index) => resource(index, 'bench'));
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
  const serverAtStart = await serverDurations();
  const cpuAtStart = cpuNow();
  started = Date.now();
  await pool(N, CONCURRENCY, async (index) => {
    const item = resources[index]!;
    sentAt.set(keyOf(item), performance.timeOrigin + performance.now());
    await create(item);
    ackedAt.set(keyOf(item), performance.timeOrigin + performance.now());
  });
  const createdMs = Date.now() - started;
  const lastCreatedAt = Math.max(...ackedAt.values());
  const cpuAtCreated = cpuNow();
  let correct = 0;
  while (correct < N) {
    const list = (await api.list('gateway.networking.k8s.io/v1', 'HTTPRoute', 'bench', undefined, undefined, undefined, undefined, MANAGED_ROUTE_SELECTOR)).items as unknown as HTTPRoute[];
    const byName = new Map(list.map((route) => [route.metadata.name, route]));
    correct = resources.filter((item) => {
      const live = byName.get(routeName(item));
      return live && routeDifferences(desiredRoute({ ...item, metadata: { ...item.metadata, uid: live.metadata.ownerReferences?.[0]?.uid } }, config)!, live).length === 0;
    }).length;
    if (correct < N) await new Promise((resolve) => setTimeout(resolve, 250));
    if (Date.now() - started > 15 * 60_000) throw new Error(`only ${correct}/${N} routes correct after 15 minutes`);
  }
  const controllerMs = Date.now() - started;
  const cpuAtConverged = cpuNow();
  const serverAtConverged = await serverDurations();
  const socketsAtConverged = sockets();
  const loopLag = [...(await metrics()).matchAll(/^nodejs_eventloop_lag_(p50|p99|max)_seconds ([0-9.e+-]+)/gm)].map((match) => `${match[1]} ${(Number(match[2]) * 1000).toFixed(0)} ms`).join(', ');
  // API calls are what the API server spends its CPU on; unlike the times, they do not depend on machine load.
  const creationWrites = await writesByVerb();
  const creationReads = await reads();
  const rssAtN = rssMb();
  const memoryAtN = await memory();
  const peakAtN = Math.max(peakRss, rssAtN);

  // 3. Idle writes: let the status writes of the creation settle, then count.
  await new Promise((resolve) => setTimeout(resolve, 10_000));
  const before = await writesNow();
  await new Promise((resolve) => setTimeout(resolve, IDLE_SECONDS * 1000));
  const idleWrites = (await writesNow()) - before;

  // Where the time went (the trace is flushed by now): per-stage percentiles over the N resources.
  const stageLines: string[] = [];
  if (TRACE) {
    const trace = readTrace(traceFile);
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
    stageLines.push(`stages of the ${N} resources' first reconcile, ms (bench clock = controller clock): p50 p90 p99 max   [n]`);
    for (const [label, from, to] of intervals) {
      const values = resources.flatMap((item) => {
        const a = at(keyOf(item), from);
        const b = at(keyOf(item), to);
        return a === undefined || b === undefined ? [] : [b - a];
      });
      values.sort((x, y) => x - y);
      stageLines.push(`  ${label.padEnd(48)} ${ms(percentile(values, 50))} ${ms(percentile(values, 90))} ${ms(percentile(values, 99))} ${ms(values.at(-1) ?? Number.NaN)}   [${values.length}]`);
    }
    // After the last create: what the controller still had to do, and when it did the last of it.
    const lastOf = (stage: string) => Math.max(...resources.map((item) => at(keyOf(item), stage) ?? Number.NEGATIVE_INFINITY));
    const notYet = (stage: string) => resources.filter((item) => (at(keyOf(item), stage) ?? Number.POSITIVE_INFINITY) > lastCreatedAt).length;
    stageLines.push(
      `  at the last create's answer, not yet: watched ${notYet('watch')}, dequeued ${notYet('dequeued')}, route answered ${notYet('route-acked')}, status answered ${notYet('status-acked')}, event answered ${notYet('event-acked')}`,
    );
    stageLines.push(
      `  last after the last create, s: watch ${seconds(lastOf('watch') - lastCreatedAt)}, dequeued ${seconds(lastOf('dequeued') - lastCreatedAt)}, route answered ${seconds(lastOf('route-acked') - lastCreatedAt)}, status answered ${seconds(lastOf('status-acked') - lastCreatedAt)}, event answered ${seconds(lastOf('event-acked') - lastCreatedAt)}; bench saw all correct ${seconds(started + controllerMs - lastCreatedAt)}`,
    );
    stageLines.push(`  marks until the end of the idle window: ${[...trace.counts].map(([stage, count]) => `${stage}=${count}`).join(' ')}`);
  }
  const cpu = (from: Record<string, number>, to: Record<string, number>) => Object.keys(pids).map((name) => `${name} ${(to[name]! - from[name]!).toFixed(1)}`).join(', ');

  // 4. RSS with N_LARGE resources in the caches.
  let rssAtLarge: number | undefined;
  let memoryAtLarge = '';
  let settledAtLarge: number | undefined;
  if (N_LARGE > N) {
    await pool(N_LARGE - N, CONCURRENCY, (index) => create(resource(index, 'bench-large')));
    const waitStarted = Date.now();
    while ((await api.list('gateway.networking.k8s.io/v1', 'HTTPRoute', 'bench-large', undefined, undefined, undefined, undefined, MANAGED_ROUTE_SELECTOR)).items.length < N_LARGE - N) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      if (Date.now() - waitStarted > 20 * 60_000) break;
    }
    rssAtLarge = rssMb();
    memoryAtLarge = await memory();
    // Once the status writes of the last routes are done, what a steady controller holds.
    await new Promise((resolve) => setTimeout(resolve, 30_000));
    settledAtLarge = rssMb();
  }
  clearInterval(sampler);
  await controller.stop();

  const ratio = controllerMs / floorMs;
  console.log('');
  // Other work on the machine slows the API server and the controller alike; the load says how much.
  console.log(`load average at the end: ${loadavg().map((load) => load.toFixed(1)).join(' ')} (2 cores)`);
  console.log(`floor: ${N} HTTPRoutes created directly        ${seconds(floorMs)} s`);
  console.log(`controller: ${N} resources created             ${seconds(createdMs)} s`);
  console.log(`controller: all ${N} routes exist and correct  ${seconds(controllerMs)} s (from the first create); lag after the last create ${seconds(controllerMs - createdMs)} s`);
  console.log(`ratio controller / floor: ${ratio.toFixed(2)} (target <= 1.5)`);
  const creationTotal = Object.values(creationWrites).reduce((sum, count) => sum + count, 0);
  console.log(`controller API writes until converged: ${Object.entries(creationWrites).map(([verb, count]) => `${verb}=${count}`).join(' ')} (${(creationTotal / N).toFixed(2)} per resource; the floor makes 1); reads past the caches: ${creationReads}`);
  console.log(`API writes by the controller in ${IDLE_SECONDS} s idle: ${idleWrites} (target 0)`);
  console.log(`CPU seconds while the resources were created (${seconds(createdMs)} s): ${cpu(cpuAtStart, cpuAtCreated)}; from then until converged (${seconds(controllerMs - createdMs)} s): ${cpu(cpuAtCreated, cpuAtConverged)}`);
  for (const line of stageLines) console.log(line);
  console.log(`controller sockets: ${socketsAtConverged} when converged, peak ${peakSockets}; its event loop delay (prom-client, at convergence): ${loopLag}`);
  console.log('API server, from the first create until converged, its own time per write (apiserver_request_duration_seconds), mean ms [count]:');
  for (const [name, end] of [...serverAtConverged].sort((a, b) => b[1].count - a[1].count)) {
    const begin = serverAtStart.get(name) ?? { sum: 0, count: 0 };
    const count = end.count - begin.count;
    if (count >= 10) console.log(`  ${name.padEnd(32)} ${(((end.sum - begin.sum) / count) * 1000).toFixed(0).padStart(6)} [${count}]`);
  }
  console.log(`controller RSS with ${N} resources: ${rssAtN} MB (peak ${peakAtN} MB; ${memoryAtN})`);
  if (rssAtLarge !== undefined) {
    console.log(`controller RSS with ${N_LARGE} resources: ${rssAtLarge} MB when the routes exist, ${settledAtLarge} MB 30 s later, peak ${peakRss} MB (target <= 200 MB; ${memoryAtLarge})`);
  }
  console.log('');
  console.log(`${ratio <= 1.5 ? 'met   ' : 'MISSED'} ratio <= 1.5`);
  console.log(`${idleWrites === 0 ? 'met   ' : 'MISSED'} idle writes = 0`);
  if (rssAtLarge !== undefined) console.log(`${rssAtLarge <= 200 ? 'met   ' : 'MISSED'} RSS <= 200 MB at ${N_LARGE}`);
} finally {
  await plane.stop();
}
