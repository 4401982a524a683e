// The controller through API server outages: kube-apiserver killed mid-batch and restarted, and
// restarted gracefully (every watch cut). The controller process must ride them out: same PID,
// nothing lost, watches restarted by its supervision.
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { HTTPRoute } from '@kaos/api-types';
import type { RoutingConfig } from '@kaos/routing';
import { isAlive, type ControlPlane } from './control-plane/index.js';
import { freePort } from './control-plane/proc.js';
import { startApp, type AppProcess } from './support/app-process.js';
import { routeProblems as checkRoutes } from './support/route-check.js';
import { getJson as kubectlJson, mixedResource, createNamespace, eventually, kubectlOk, startTestCluster } from './support/cluster.js';

let plane: ControlPlane;
let controller: AppProcess;
let healthPort: number;
const config: RoutingConfig = { gatewayApiEnabled: true, gatewayName: 'kaos-gateway', gatewayNamespace: 'kaos-system', defaultTimeouts: { Agent: '120s', ModelAPI: '120s', MCPServer: '30s' } };

beforeAll(async () => {
  plane = await startTestCluster();
  await kubectlOk(plane, ['create', 'namespace', 'kaos-system']);
  healthPort = await freePort();
  controller = startApp(
    'controller',
    {
      KUBECONFIG: plane.kubeconfigPath,
      GATEWAY_API_ENABLED: 'true',
      GATEWAY_NAMESPACE: 'kaos-system',
      POD_NAMESPACE: 'kaos-system',
      POD_NAME: 'faults',
      HEALTH_PORT: String(healthPort),
      BIND_ADDRESS: '127.0.0.1',
      // Leader election stays on, as deployed, with a renew deadline longer than the outages here:
      // a leader that cannot renew in time exits on purpose, which is not what these tests are about.
      LEASE_DURATION_SECONDS: '90',
      RENEW_DEADLINE_SECONDS: '75',
      RETRY_PERIOD_SECONDS: '2',
    },
    join(plane.workDir, 'controller.log'),
    healthPort,
  );
  await controller.waitReady();
});
afterAll(async () => {
  await controller?.stop();
  await plane?.stop();
});

const getJson = <T>(args: string[]) => kubectlJson<T>(plane, args);

/** kubectl that retries while the API server is away (each attempt bounded), until `timeoutMs`. */
async function kubectlRetrying(args: string[], input: unknown, timeoutMs = 90_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (let attempts = 1; ; attempts++) {
    const result = await plane.kubectl([...args, '-f', '-'], { input: JSON.stringify(input), timeoutMs: 15_000 });
    if (result.code === 0) return attempts;
    if (Date.now() > deadline) throw new Error(`kubectl ${args.join(' ')} kept failing: ${result.stderr}`);
    await sleep(500);
  }
}

/** Sum of a counter's samples on the controller's /metrics. */
async function counter(name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
  return [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, 'gm'))].reduce((sum, match) => sum + Number(match[1]), 0);
}


const routeProblems = (namespace: string) => checkRoutes(plane, config, namespace);

const converged = (namespace: string) => async () => ((await routeProblems(namespace)).length === 0 ? true : undefined);

describe('controller through API server faults', () => {
  it('converges with nothing lost when kube-apiserver is killed and restarted mid-batch, without restarting', async () => {
    const namespace = await createNamespace(plane, 'kill');
    const pid = controller.pid;
    const restartsBefore = await counter('kaos_controller_watch_restarts_total');
    const apiServerPid = plane.pids['kube-apiserver'];
    const total = 60;
    const batchSize = 4;

    // Create in small batches; the batches that hit the outage are retried until the API server is back.
    let batchesDone = 0;
    let retried = 0;
    const creating = (async () => {
      for (let first = 0; first < total; first += batchSize) {
        const items = Array.from({ length: Math.min(batchSize, total - first) }, (_, offset) => mixedResource(first + offset, namespace));
        retried += (await kubectlRetrying(['apply'], { apiVersion: 'v1', kind: 'List', items })) - 1;
        batchesDone++;
      }
    })();
    await eventually('a few batches created', async () => (batchesDone >= 3 ? true : undefined), 60_000);
    await plane.stopComponent('kube-apiserver', { signal: 'SIGKILL' });
    // Stopped on purpose: not a crash.
    expect(() => plane.assertHealthy()).not.toThrow();
    expect(isAlive(apiServerPid)).toBe(false);
    await sleep(3_000);
    await plane.startComponent('kube-apiserver');
    expect(plane.pids['kube-apiserver']).not.toBe(apiServerPid);
    await creating;
    expect(batchesDone).toBe(total / batchSize);
    expect(retried).toBeGreaterThan(0); // the outage really fell in the middle of the batch

    await eventually(`one correct route per resource: ${namespace}`, converged(namespace), 120_000).catch(async (error: Error) => {
      throw new Error(`${error.message}\n${(await routeProblems(namespace)).slice(0, 10).join('\n')}`);
    });
    expect(await routeProblems(namespace)).toEqual([]);
    expect(controller.pid).toBe(pid);
    expect(isAlive(pid)).toBe(true);
    expect((await fetch(`http://127.0.0.1:${healthPort}/readyz`)).status).toBe(200);
    expect(await counter('kaos_controller_watch_restarts_total')).toBeGreaterThan(restartsBefore);
    expect(plane.components.every((component) => isAlive(component.pid, component.bin))).toBe(true);
  }, 240_000);

  it('picks up changes after a graceful kube-apiserver restart cuts every watch, without restarting', async () => {
    const namespace = await createNamespace(plane, 'cut');
    const pid = controller.pid;
    await kubectlOk(plane, ['apply'], mixedResource(0, namespace));
    const before = await eventually('route before the restart', () => getJson<HTTPRoute>(['get', 'httproute', 'agent-r-0', '-n', namespace]));
    const apiServerPid = plane.pids['kube-apiserver'];

    await plane.restartComponent('kube-apiserver'); // SIGTERM: the API server closes its watches and exits
    expect(plane.pids['kube-apiserver']).not.toBe(apiServerPid);
    expect(() => plane.assertHealthy()).not.toThrow();

    // Only the watches can bring these to the controller in time (its resync period is 10 minutes).
    await kubectlOk(plane, ['apply'], mixedResource(2, namespace));
    await kubectlOk(plane, ['patch', 'httproute', 'agent-r-0', '-n', namespace, '--type=json', '-p', '[{"op":"replace","path":"/spec/rules/0/timeouts/request","value":"1s"}]']);
    const created = await eventually('route of an MCPServer created after the restart', () => getJson<HTTPRoute>(['get', 'httproute', 'mcp-r-2', '-n', namespace]), 60_000);
    expect(created.spec.rules![0]!.timeouts).toEqual({ request: '30s' });
    const reverted = await eventually(
      'hand edit reverted',
      async () => {
        const live = await getJson<HTTPRoute>(['get', 'httproute', 'agent-r-0', '-n', namespace]);
        return live?.spec.rules?.[0]?.timeouts?.request === '120s' && live.metadata.generation! > before.metadata.generation! ? live : undefined;
      },
      60_000,
    );
    expect(reverted.metadata.uid).toBe(before.metadata.uid);
    await eventually('converged', converged(namespace), 60_000);
    expect(controller.pid).toBe(pid);
    expect(isAlive(pid)).toBe(true);
  }, 180_000);
});
