// npm run bench:controller — the controller on the local control plane, against a plain client.
//   1. floor: a plain client creates N HTTPRoutes directly (same concurrency); time until done.
//   2. controller: create N resources (mixed kinds); time until all N routes exist and are correct.
//   3. API writes by the controller in an idle window (must be 0).
//   4. controller RSS with N and with N_LARGE resources.
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
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
const plane = await startControlPlane({ crdPaths: [KAOS_CRD_DIR], gatewayApiBundle: gatewayApiBundlePath() });
try {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(plane.kubeconfigPath);
  const api = KubernetesObjectApi.makeApiClient(kubeConfig);
  const create = (object: unknown) => api.create(object as KubernetesObject);
  for (const namespace of ['bench-floor', 'bench', 'bench-large', 'kaos-system']) {
    await create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
  }
  console.log(`bench:controller — N=${N} (mixed kinds), concurrency ${CONCURRENCY}, local control plane (this 2-core machine), controller NODE_OPTIONS="${CONTROLLER_NODE_OPTIONS}" MALLOC_ARENA_MAX=${CONTROLLER_MALLOC_ARENA_MAX}`);

  // 1. Floor: the same number of HTTPRoutes, written directly.
  let started = Date.now();
  await pool(N, CONCURRENCY, (index) => {
    const route = desiredRoute({ ...resource(index, 'bench-floor'), metadata: { name: `r-${index}`, namespace: 'bench-floor' } }, config)!;
    return create(route);
  });
  const floorMs = Date.now() - started;

  // 2. The controller.
  const healthPort = await freePort();
  const controller = startApp(
    'controller',
    { KUBECONFIG: plane.kubeconfigPath, GATEWAY_API_ENABLED: 'true', GATEWAY_NAMESPACE: 'kaos-system', LEADER_ELECTION: 'false', HEALTH_PORT: String(healthPort), BIND_ADDRESS: '127.0.0.1', LOG_LEVEL: 'warn', CONCURRENCY: String(CONCURRENCY), NODE_OPTIONS: CONTROLLER_NODE_OPTIONS, MALLOC_ARENA_MAX: CONTROLLER_MALLOC_ARENA_MAX },
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
  const sampler = setInterval(() => {
    try {
      peakRss = Math.max(peakRss, rssMb());
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
  started = Date.now();
  await pool(N, CONCURRENCY, (index) => create(resources[index]));
  const createdMs = Date.now() - started;
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
  console.log(`controller: all ${N} routes exist and correct  ${seconds(controllerMs)} s (from the first create)`);
  console.log(`ratio controller / floor: ${ratio.toFixed(2)} (target <= 1.5)`);
  const creationTotal = Object.values(creationWrites).reduce((sum, count) => sum + count, 0);
  console.log(`controller API writes until converged: ${Object.entries(creationWrites).map(([verb, count]) => `${verb}=${count}`).join(' ')} (${(creationTotal / N).toFixed(2)} per resource; the floor makes 1); reads past the caches: ${creationReads}`);
  console.log(`API writes by the controller in ${IDLE_SECONDS} s idle: ${idleWrites} (target 0)`);
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
