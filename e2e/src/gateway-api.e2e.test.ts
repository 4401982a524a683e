// The HTTPRoutes libs/routing builds, in a real API server with the Gateway API CRDs our users
// install (v1.3.0 experimental) and the newest served release (v1.6.3 standard): accepted as
// built, and, once the API server has defaulted them, compared as unchanged (no write loops).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { HTTPRoute, KaosResource } from '@kaos/api-types';
import { desiredRoute, routeDifferences, type RoutingConfig } from '@kaos/routing';
import { gatewayApiBundlePath, type ControlPlane } from './control-plane/index.js';
import { createNamespace, kubectlOk, kubectlWithManifest, startTestCluster } from './support/cluster.js';

const config: RoutingConfig = {
  gatewayApiEnabled: true,
  gatewayName: 'kaos-gateway',
  gatewayNamespace: 'kaos-system',
  defaultTimeouts: { Agent: '120s', ModelAPI: '120s', MCPServer: '30s' },
};

describe.each([
  ['v1.3.0', 'experimental'],
  ['v1.6.3', 'standard'],
] as const)('Gateway API %s %s', (version, channel) => {
  let plane: ControlPlane;
  let namespace: string;

  beforeAll(async () => {
    plane = await startTestCluster(gatewayApiBundlePath(version, channel));
    namespace = await createNamespace(plane, 'routes');
  });
  afterAll(async () => {
    await plane?.stop();
  });

  const resources = (): KaosResource[] => [
    { apiVersion: 'kaos.tools/v1alpha1', kind: 'Agent', metadata: { name: 'coordinator', namespace }, spec: { modelAPI: 'm' } },
    { apiVersion: 'kaos.tools/v1alpha1', kind: 'ModelAPI', metadata: { name: 'ollama', namespace }, spec: { mode: 'Hosted', hostedConfig: { model: 'x' }, gatewayRoute: { timeout: '0ms' } } },
    { apiVersion: 'kaos.tools/v1alpha1', kind: 'MCPServer', metadata: { name: 'echo-server', namespace }, spec: { runtime: 'r', gatewayRoute: { timeout: '1h30m' } } },
  ];

  it('accepts each desired route and sees no difference after defaulting', async () => {
    for (const resource of resources()) {
      const desired = desiredRoute(resource, config)!;
      await kubectlOk(plane, ['create'], desired);
      const live = JSON.parse(await kubectlOk(plane, ['get', 'httproute', desired.metadata.name!, '-n', namespace, '-o', 'json'])) as HTTPRoute;
      expect(routeDifferences(desired, live)).toEqual([]);
      expect(live.spec.rules?.[0]?.timeouts?.request).toBe(desired.spec.rules![0]!.timeouts!.request);
    }
  });

  it('lists the routes with kubectl get httproutes -A', async () => {
    const table = await kubectlOk(plane, ['get', 'httproutes', '-A']);
    expect(table).toMatch(/NAMESPACE\s+NAME\s+HOSTNAMES\s+AGE/);
    for (const name of ['agent-coordinator', 'modelapi-ollama', 'mcp-echo-server']) expect(table).toMatch(new RegExp(`${namespace}\\s+${name}\\s`));
  });

  it('sees a hand edit of a live route as a difference', async () => {
    const desired = desiredRoute(resources()[0]!, config)!;
    await kubectlOk(plane, ['patch', 'httproute', desired.metadata.name!, '-n', namespace, '--type=json', '-p', '[{"op":"replace","path":"/spec/rules/0/timeouts/request","value":"5s"}]']);
    const live = JSON.parse(await kubectlOk(plane, ['get', 'httproute', desired.metadata.name!, '-n', namespace, '-o', 'json'])) as HTTPRoute;
    expect(routeDifferences(desired, live)).toEqual(['spec.rules']);
  });

  it('rejects what Gateway API rejects, as routeProblems predicts', async () => {
    const route = desiredRoute(resources()[0]!, config)!;
    route.metadata.name = 'bad-path';
    route.spec.rules![0]!.matches = [{ path: { type: 'PathPrefix', value: `/${namespace}/agent/a//b` } }];
    const result = await kubectlWithManifest(plane, ['create', '--dry-run=server'], route);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('//');
  });
});
