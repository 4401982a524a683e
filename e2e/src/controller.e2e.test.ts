// The controller against a real API server and kube-controller-manager: one HTTPRoute per
// resource, kept right through edits, deletions and foreign objects, with status the user can read.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { HTTPRoute, KaosResource } from '@kaos/api-types';
import type { ControlPlane } from './control-plane/index.js';
import { freePort } from './control-plane/proc.js';
import { startApp, type AppProcess } from './support/app-process.js';
import { getJson as kubectlJson, createNamespace, eventually, kubectlOk, startTestCluster } from './support/cluster.js';

let plane: ControlPlane;
let controller: AppProcess;

const controllerEnv = (name: string, healthPort: number) => ({
  KUBECONFIG: plane.kubeconfigPath,
  GATEWAY_API_ENABLED: 'true',
  GATEWAY_NAMESPACE: 'kaos-system',
  POD_NAMESPACE: 'kaos-system',
  POD_NAME: name,
  HEALTH_PORT: String(healthPort),
  BIND_ADDRESS: '127.0.0.1',
  // Short lease so the hand-over test is quick; the rules (renew < lease, retry < renew) still hold.
  LEASE_DURATION_SECONDS: '4',
  RENEW_DEADLINE_SECONDS: '3',
  RETRY_PERIOD_SECONDS: '1',
});
let namespace: string;

beforeAll(async () => {
  plane = await startTestCluster();
  await kubectlOk(plane, ['create', 'namespace', 'kaos-system']);
  const healthPort = await freePort();
  controller = startApp(
    'controller',
    controllerEnv('controller-1', healthPort),
    join(plane.workDir, 'controller.log'),
    healthPort,
  );
  await controller.waitReady();
  namespace = await createNamespace(plane, 'ctrl');
});
afterAll(async () => {
  await controller?.stop();
  await plane?.stop();
});

const getJson = <T>(args: string[]) => kubectlJson<T>(plane, args);

const route = (name: string) => getJson<HTTPRoute>(['get', 'httproute', name, '-n', namespace]);
const resource = (kind: string, name: string) => getJson<KaosResource>(['get', kind, name, '-n', namespace]);
const apply = (kind: string, name: string, spec: Record<string, unknown>) =>
  kubectlOk(plane, ['apply'], { apiVersion: 'kaos.tools/v1alpha1', kind, metadata: { name, namespace }, spec });

describe('one HTTPRoute per resource', () => {
  it.each([
    ['Agent', 'coordinator', { modelAPI: 'm' }, 'agent-coordinator', 'agent', 'agent-coordinator', 8000, '120s'],
    ['ModelAPI', 'ollama', { mode: 'Hosted', hostedConfig: { model: 'smollm2' } }, 'modelapi-ollama', 'modelapi', 'modelapi-ollama', 11434, '120s'],
    ['MCPServer', 'echo-server', { runtime: 'python-string', gatewayRoute: { timeout: '0ms' } }, 'mcp-echo-server', 'mcp', 'mcpserver-echo-server', 8000, '0s'],
  ] as const)('creates the route of a %s', async (kind, name, spec, routeName, segment, service, port, timeout) => {
    await apply(kind, name, spec);
    const live = await eventually(`HTTPRoute ${routeName}`, () => route(routeName));
    const owner = await resource(kind.toLowerCase(), name);
    expect(live.metadata.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'kaos-routing', 'kaos.tools/owner-kind': kind, 'kaos.tools/owner-name': name });
    expect(live.metadata.ownerReferences).toEqual([{ apiVersion: 'kaos.tools/v1alpha1', kind, name, uid: owner!.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    expect(live.spec.parentRefs).toEqual([{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'kaos-gateway', namespace: 'kaos-system' }]);
    const rule = live.spec.rules![0]!;
    expect(rule.matches).toEqual([{ path: { type: 'PathPrefix', value: `/${namespace}/${segment}/${name}` } }]);
    expect(rule.filters).toEqual([{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/' } } }]);
    expect(rule.backendRefs).toEqual([{ group: '', kind: 'Service', name: service, port, weight: 1 }]);
    expect(rule.timeouts).toEqual({ request: timeout });
    const status = await eventually('status.gateway', async () => (await resource(kind.toLowerCase(), name))?.status?.gateway);
    expect(status).toMatchObject({ routeName, url: `/${namespace}/${segment}/${name}`, accepted: false });
  });

  it('updates the route when the timeout changes', async () => {
    await apply('Agent', 'tuned', { modelAPI: 'm', gatewayRoute: { timeout: '60s' } });
    await eventually('route with 60s', async () => ((await route('agent-tuned'))?.spec.rules?.[0]?.timeouts?.request === '60s' ? true : undefined));
    await apply('Agent', 'tuned', { modelAPI: 'm', gatewayRoute: { timeout: '300s' } });
    await eventually('route with 300s', async () => ((await route('agent-tuned'))?.spec.rules?.[0]?.timeouts?.request === '300s' ? true : undefined));
  });

  it('reverts a hand edit and recreates a deleted route', async () => {
    await apply('Agent', 'guarded', { modelAPI: 'm' });
    await eventually('route', () => route('agent-guarded'));
    await kubectlOk(plane, ['patch', 'httproute', 'agent-guarded', '-n', namespace, '--type=json', '-p', '[{"op":"replace","path":"/spec/rules/0/timeouts/request","value":"1s"}]']);
    await eventually('reverted timeout', async () => ((await route('agent-guarded'))?.spec.rules?.[0]?.timeouts?.request === '120s' ? true : undefined));
    const before = (await route('agent-guarded'))!.metadata.uid;
    await kubectlOk(plane, ['delete', 'httproute', 'agent-guarded', '-n', namespace]);
    await eventually('recreated route', async () => {
      const live = await route('agent-guarded');
      return live && live.metadata.uid !== before ? live : undefined;
    });
  });

  it('deletes the route when an Agent stops being exposed', async () => {
    await apply('Agent', 'private', { modelAPI: 'm' });
    await eventually('route', () => route('agent-private'));
    await apply('Agent', 'private', { modelAPI: 'm', agentNetwork: { expose: false } });
    await eventually('route deleted', async () => ((await route('agent-private')) ? undefined : true));
    const status = await eventually('Disabled status', async () => {
      const ready = (await resource('agent', 'private'))?.status?.gateway?.conditions?.find((c) => c.type === 'RouteReady');
      return ready?.reason === 'Disabled' ? ready : undefined;
    });
    expect(status.message).toContain('expose is false');
  });

  it('lets the garbage collector remove the route with its resource', async () => {
    await apply('MCPServer', 'short-lived', { runtime: 'r' });
    await eventually('route', () => route('mcp-short-lived'));
    await kubectlOk(plane, ['delete', 'mcpserver', 'short-lived', '-n', namespace]);
    await eventually('route garbage-collected', async () => ((await route('mcp-short-lived')) ? undefined : true), 30_000);
  });

  it('leaves a foreign route with its name alone and says so on status', async () => {
    const foreign = {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'agent-squatted', namespace },
      spec: { parentRefs: [{ name: 'other-gateway' }], rules: [{ backendRefs: [{ name: 'mine', port: 80 }] }] },
    };
    await kubectlOk(plane, ['apply'], foreign);
    await apply('Agent', 'squatted', { modelAPI: 'm' });
    const ready = await eventually('RouteConflict', async () => {
      const condition = (await resource('agent', 'squatted'))?.status?.gateway?.conditions?.find((c) => c.type === 'RouteReady');
      return condition?.reason === 'RouteConflict' ? condition : undefined;
    });
    expect(ready.message).toContain('is not managed by KAOS');
    expect((await route('agent-squatted'))!.spec.parentRefs).toEqual([{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'other-gateway' }]);
    const events = await kubectlOk(plane, ['get', 'events', '-n', namespace, '--field-selector', 'involvedObject.name=squatted', '-o', 'jsonpath={.items[*].reason}']);
    expect(events).toContain('RouteConflict');
  });

  it('mirrors the status a Gateway implementation writes onto the route', async () => {
    await apply('Agent', 'mirrored', { modelAPI: 'm' });
    const live = await eventually('route', () => route('agent-mirrored'));
    const parents = [
      {
        parentRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'kaos-gateway', namespace: 'kaos-system' },
        controllerName: 'example.com/fake-gateway',
        conditions: [
          { type: 'Accepted', status: 'True', reason: 'Accepted', message: 'ok', observedGeneration: live.metadata.generation, lastTransitionTime: new Date().toISOString() },
          { type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs', message: 'ok', observedGeneration: live.metadata.generation, lastTransitionTime: new Date().toISOString() },
        ],
      },
    ];
    await kubectlOk(plane, ['patch', 'httproute', 'agent-mirrored', '-n', namespace, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { parents } })]);
    const gateway = await eventually('accepted status', async () => {
      const status = (await resource('agent', 'mirrored'))?.status?.gateway;
      return status?.accepted ? status : undefined;
    });
    expect(gateway.conditions!.map((c) => `${c.type}=${c.status}/${c.reason}`)).toEqual(['Accepted=True/Accepted', 'ResolvedRefs=True/ResolvedRefs', 'RouteReady=True/Ready']);
    const table = await kubectlOk(plane, ['get', 'agent', 'mirrored', '-n', namespace]);
    expect(table).toMatch(/mirrored\s+m\s+.*Ready/);
  });
});

describe('two replicas', () => {
  it('have exactly one leader, and the other takes over when it stops', async () => {
    const healthPort = await freePort();
    const second = startApp('controller', controllerEnv('controller-2', healthPort), join(plane.workDir, 'controller-2.log'), healthPort);
    try {
      await second.waitReady();
      const lease = async () => JSON.parse(await kubectlOk(plane, ['get', 'lease', 'kaos-routing-controller', '-n', 'kaos-system', '-o', 'jsonpath={.spec}'])) as { holderIdentity?: string };
      // The identity is `<POD_NAME>_<uuid>`, as client-go's convention (ADR 0015).
      expect((await lease()).holderIdentity).toMatch(/^controller-1_[0-9a-f-]{36}$/);
      const leaderFlag = async (port: number) => ((await (await fetch(`http://127.0.0.1:${port}/readyz`)).json()) as { leader: boolean }).leader;
      expect(await leaderFlag(healthPort)).toBe(false);

      expect(await controller.stop()).toBe(0);
      await eventually('controller-2 leads', async () => ((await lease()).holderIdentity?.startsWith('controller-2_') ? true : undefined), 15_000);
      await apply('Agent', 'after-handover', { modelAPI: 'm' });
      await eventually('route from the new leader', () => route('agent-after-handover'));
    } finally {
      await second.stop();
    }
  });
});
