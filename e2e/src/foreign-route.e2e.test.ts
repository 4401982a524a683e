// A foreign HTTPRoute (same name, not ours) blocks a resource's route. When it is deleted, the
// controller hears it through its metadata-only watch of the routes not labelled as ours and
// creates ours within seconds, not at the next resync (10 minutes). And nothing is reconciled on a
// timer: routes not Accepted yet are looked at again only when their status changes (the route
// informer), so an idle window with such routes has no reconcile at all.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { HTTPRoute, KaosResource } from '@kaos/api-types';
import type { ControlPlane } from './control-plane/index.js';
import { freePort } from './control-plane/proc.js';
import { startTestController, type AppProcess } from './support/app-process.js';
import { getJson as kubectlJson, createNamespace, eventually, kubectlOk, runCleanup, startTestCluster } from './support/cluster.js';

/** The production resync period: recovery must not wait for it. */
const RESYNC_SECONDS = 600;
/** Longer than the 30 s re-reconcile timer the controller used to set for routes not Accepted. */
const IDLE_SECONDS = 35;
const PENDING = ['pending-1', 'pending-2', 'pending-3'];

let plane: ControlPlane;
let controller: AppProcess;
let healthPort: number;
let namespace: string;

const getJson = <T>(args: string[]) => kubectlJson<T>(plane, args);
const route = (name: string) => getJson<HTTPRoute>(['get', 'httproute', name, '-n', namespace]);
const agent = (name: string) => getJson<KaosResource>(['get', 'agent', name, '-n', namespace]);
const routeReady = async (name: string) => (await agent(name))?.status?.gateway?.conditions?.find((c) => c.type === 'RouteReady');

async function counter(name: string, label?: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
  return [...text.matchAll(new RegExp(`^${name}(\\{[^}]*\\})? (\\d+)`, 'gm'))].filter((match) => !label || (match[1] ?? '').includes(label)).reduce((sum, match) => sum + Number(match[2]), 0);
}
/** Reconciles, writes and reads past the caches so far. */
const activity = async () => ({
  reconciles: await counter('kaos_controller_reconciles_total'),
  writes: await counter('kaos_controller_api_writes_total'),
  reads: await counter('kaos_controller_api_reads_total'),
});

/** A route someone else made, with the name the Agent `blocked` would get. */
const foreignRoute = () => ({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'HTTPRoute',
  metadata: { name: 'agent-blocked', namespace, labels: { app: 'web' } },
  spec: { parentRefs: [{ name: 'kaos-gateway', namespace: 'kaos-system' }], rules: [{ backendRefs: [{ name: 'web', port: 80 }] }] },
});

beforeAll(async () => {
  plane = await startTestCluster();
  await kubectlOk(plane, ['create', 'namespace', 'kaos-system']);
  namespace = await createNamespace(plane, 'foreign');
  healthPort = await freePort();
  controller = await startTestController(plane, 'foreign', healthPort, RESYNC_SECONDS);
  await kubectlOk(plane, ['create', '--field-manager=someone'], foreignRoute());
  for (const name of ['blocked', ...PENDING]) await kubectlOk(plane, ['apply'], { apiVersion: 'kaos.tools/v1alpha1', kind: 'Agent', metadata: { name, namespace }, spec: { modelAPI: 'm' } });
});
afterAll(async () => {
  await runCleanup([
    ['controller', () => controller?.stop() ?? Promise.resolve()],
    ['control plane', () => plane?.stop() ?? Promise.resolve()],
  ]);
});

describe('a foreign route holding our route name', () => {
  it('blocks the route, reported as RouteConflict; routes not Accepted are Pending', async () => {
    await eventually('RouteConflict', async () => ((await routeReady('blocked'))?.reason === 'RouteConflict' ? true : undefined));
    for (const name of PENDING) await eventually(`${name} pending`, async () => ((await routeReady(name))?.reason === 'Pending' ? true : undefined));
    expect((await route('agent-blocked'))!.metadata.labels).toEqual({ app: 'web' });
  });

  it(`no reconcile at all over ${IDLE_SECONDS} s of nothing happening (no timer while routes are not Accepted)`, async () => {
    // Let the watch events of the last writes (status of each Agent) be reconciled first.
    await sleep(2000);
    const before = await activity();
    await sleep(IDLE_SECONDS * 1000);
    const after = await activity();
    process.stderr.write(`[foreign-route] idle ${IDLE_SECONDS} s with ${PENDING.length} routes not Accepted and 1 blocked: ${after.reconciles - before.reconciles} reconciles, ${after.writes - before.writes} writes, ${after.reads - before.reads} reads\n`);
    expect(after).toEqual(before);
  });

  it('once deleted, our route is created within seconds, not at the resync', async () => {
    const started = Date.now();
    await kubectlOk(plane, ['delete', 'httproute', 'agent-blocked', '-n', namespace]);
    const ours = await eventually(
      'our route',
      async () => {
        const live = await route('agent-blocked');
        return live?.metadata.labels?.['app.kubernetes.io/managed-by'] === 'kaos-routing' ? live : undefined;
      },
      30_000,
    );
    const createdMs = Date.now() - started;
    await eventually('RouteReady no longer RouteConflict', async () => ((await routeReady('blocked'))?.reason === 'Pending' ? true : undefined));
    const reportedMs = Date.now() - started;
    process.stderr.write(`[foreign-route] foreign route deleted: ours created after ${createdMs} ms, status.gateway Pending after ${reportedMs} ms (resync period ${RESYNC_SECONDS} s)\n`);
    expect(ours.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'Agent', name: 'blocked', controller: true });
    expect(createdMs).toBeLessThan(5000);
  });

  it('a route status change (the Gateway accepting it) reaches status.gateway without a timer', async () => {
    const live = (await route('agent-pending-1'))!;
    const now = new Date().toISOString();
    const parents = [
      {
        parentRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'kaos-gateway', namespace: 'kaos-system' },
        controllerName: 'example.com/fake-gateway',
        conditions: [
          { type: 'Accepted', status: 'True', reason: 'Accepted', message: 'ok', observedGeneration: live.metadata.generation, lastTransitionTime: now },
          { type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs', message: 'ok', observedGeneration: live.metadata.generation, lastTransitionTime: now },
        ],
      },
    ];
    const started = Date.now();
    await kubectlOk(plane, ['patch', 'httproute', 'agent-pending-1', '-n', namespace, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { parents } })]);
    await eventually('accepted', async () => ((await agent('pending-1'))?.status?.gateway?.accepted ? true : undefined), 10_000);
    process.stderr.write(`[foreign-route] route Accepted by the Gateway: status.gateway.accepted after ${Date.now() - started} ms\n`);
  });
});
