// The controller across configuration and cluster changes: started before the Gateway API CRDs
// exist, restarted with new defaults, and with routing switched off.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { HTTPRoute, KaosResource } from '@kaos/api-types';
import { gatewayApiBundlePath, startControlPlane, type ControlPlane } from './control-plane/index.js';
import { freePort } from './control-plane/proc.js';
import { startApp, type AppProcess } from './support/app-process.js';
import { KAOS_CRD_DIR, createNamespace, eventually, kubectlOk } from './support/cluster.js';

let plane: ControlPlane;
let controller: AppProcess | undefined;
let namespace: string;

async function startController(env: Record<string, string> = {}): Promise<void> {
  await controller?.stop();
  const healthPort = await freePort();
  controller = startApp(
    'controller',
    { KUBECONFIG: plane.kubeconfigPath, GATEWAY_API_ENABLED: 'true', GATEWAY_NAMESPACE: 'kaos-system', LEADER_ELECTION: 'false', HEALTH_PORT: String(healthPort), BIND_ADDRESS: '127.0.0.1', ...env },
    join(plane.workDir, `controller-${healthPort}.log`),
    healthPort,
  );
  await controller.waitReady();
}

beforeAll(async () => {
  plane = await startControlPlane({ crdPaths: [KAOS_CRD_DIR] }); // no Gateway API yet
  namespace = await createNamespace(plane, 'life');
  await startController();
});
afterAll(async () => {
  await controller?.stop();
  await plane?.stop();
});

const json = async <T>(args: string[]) => {
  const result = await plane.kubectl([...args, '-o', 'json']);
  return result.code === 0 ? (JSON.parse(result.stdout) as T) : undefined;
};
const route = (name: string) => json<HTTPRoute>(['get', 'httproute', name, '-n', namespace]);
const agent = (name: string) => json<KaosResource>(['get', 'agent', name, '-n', namespace]);
const routeReady = async (name: string) => (await agent(name))?.status?.gateway?.conditions?.find((c) => c.type === 'RouteReady');

describe('controller lifecycle', () => {
  it('runs without the Gateway API CRDs, says so, and routes once they are installed', async () => {
    await kubectlOk(plane, ['apply'], { apiVersion: 'kaos.tools/v1alpha1', kind: 'Agent', metadata: { name: 'early', namespace }, spec: { modelAPI: 'm' } });
    await eventually('GatewayAPIMissing', async () => ((await routeReady('early'))?.reason === 'GatewayAPIMissing' ? true : undefined));

    await kubectlOk(plane, ['apply', '--server-side', '--force-conflicts', '-f', gatewayApiBundlePath()]);
    await kubectlOk(plane, ['wait', '--for', 'condition=established', '--timeout=60s', 'crd/httproutes.gateway.networking.k8s.io']);
    const live = await eventually('route after the CRDs appear', () => route('agent-early'), 90_000);
    expect(live.spec.rules![0]!.timeouts).toEqual({ request: '120s' });
  });

  it('updates routes that use a default when restarted with a new default', async () => {
    await kubectlOk(plane, ['apply'], { apiVersion: 'kaos.tools/v1alpha1', kind: 'Agent', metadata: { name: 'explicit', namespace }, spec: { modelAPI: 'm', gatewayRoute: { timeout: '300s' } } });
    await eventually('explicit route', () => route('agent-explicit'));
    await startController({ GATEWAY_DEFAULT_AGENT_TIMEOUT: '45s' });
    await eventually('route with the new default', async () => ((await route('agent-early'))?.spec.rules?.[0]?.timeouts?.request === '45s' ? true : undefined));
    expect((await route('agent-explicit'))!.spec.rules![0]!.timeouts).toEqual({ request: '300s' });
  });

  it('removes every route and clears status.gateway when restarted with routing disabled', async () => {
    await startController({ GATEWAY_API_ENABLED: 'false' });
    await eventually('routes removed', async () => ((await route('agent-early')) || (await route('agent-explicit')) ? undefined : true));
    await eventually('status.gateway cleared', async () => ((await agent('early'))?.status?.gateway === undefined ? true : undefined));
  });

  it('converges after being killed mid-batch, with exactly one route per resource', async () => {
    await startController();
    const batch = 120;
    const manifests = Array.from({ length: batch }, (_, index) => ({
      apiVersion: 'kaos.tools/v1alpha1',
      kind: index % 2 ? 'MCPServer' : 'Agent',
      metadata: { name: `batch-${index}`, namespace },
      spec: index % 2 ? { runtime: 'r' } : { modelAPI: 'm' },
    }));
    await kubectlOk(plane, ['apply'], { apiVersion: 'v1', kind: 'List', items: manifests });
    await new Promise((resolve) => setTimeout(resolve, 500));
    controller!.signal('SIGKILL');
    await controller!.stop();
    await startController();
    const routes = await eventually(
      `${batch} routes`,
      async () => {
        const list = (await json<{ items: HTTPRoute[] }>(['get', 'httproutes', '-n', namespace, '-l', 'app.kubernetes.io/managed-by=kaos-routing']))?.items ?? [];
        const batchRoutes = list.filter((item) => item.metadata.labels?.['kaos.tools/owner-name']?.startsWith('batch-'));
        return batchRoutes.length === batch ? batchRoutes : undefined;
      },
      90_000,
    );
    const owners = routes.map((item) => `${item.metadata.labels!['kaos.tools/owner-kind']}/${item.metadata.labels!['kaos.tools/owner-name']}`);
    expect(new Set(owners).size).toBe(batch);
  });

  it('refuses to start with a bad configuration, naming the variable', async () => {
    await controller?.stop();
    const healthPort = await freePort();
    const bad = startApp('controller', { KUBECONFIG: plane.kubeconfigPath, GATEWAY_DEFAULT_MCP_TIMEOUT: 'fast', LEADER_ELECTION: 'false', HEALTH_PORT: String(healthPort) }, join(plane.workDir, 'bad.log'), healthPort);
    await expect(bad.waitReady(10_000)).rejects.toThrow('GATEWAY_DEFAULT_MCP_TIMEOUT: \\"fast\\" is not a Gateway API duration');
    controller = undefined;
  });
});
