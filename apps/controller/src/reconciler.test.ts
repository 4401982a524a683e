import { describe, expect, it } from '@jest/globals';
import type { Gateway, GatewayStatus, HTTPRoute, KaosResource } from '@kaos/api-types';
import { desiredRoute, type RoutingConfig } from '@kaos/routing';
import { GatewayApiMissingError, createReconciler, isOwnedBy, parseResourceKey, resourceKey, type Cluster } from './reconciler.js';

const config: RoutingConfig = {
  gatewayApiEnabled: true,
  gatewayName: 'kaos-gateway',
  gatewayNamespace: 'kaos-system',
  defaultTimeouts: { Agent: '120s', ModelAPI: '120s', MCPServer: '30s' },
};
const now = () => new Date('2026-11-26T10:00:00Z');

function agent(spec: Partial<Extract<KaosResource, { kind: 'Agent' }>['spec']> = {}, name = 'a'): KaosResource {
  return { apiVersion: 'kaos.tools/v1alpha1', kind: 'Agent', metadata: { name, namespace: 'prod', uid: 'uid-a', generation: 1 }, spec: { modelAPI: 'm', ...spec } };
}

/** An in-memory cluster that records every write. */
function fakeCluster(resource: KaosResource | undefined, options: { routes?: HTTPRoute[]; gatewayApi?: boolean; failApply?: boolean; gateway?: Gateway } = {}) {
  const routes = new Map((options.routes ?? []).map((route) => [`${route.metadata.namespace}/${route.metadata.name}`, route]));
  const writes: string[] = [];
  const events: string[] = [];
  let statusWritten: GatewayStatus | undefined | 'none' = 'none';
  const cluster: Cluster = {
    getResource: () => resource,
    getRoute: async (namespace, name) => {
      if (options.gatewayApi === false) throw new GatewayApiMissingError('no CRDs');
      return routes.get(`${namespace}/${name}`);
    },
    getGateway: async () => options.gateway,
    applyRoute: async (route) => {
      if (options.failApply) throw new Error('connection refused');
      writes.push(`apply ${route.metadata.name}`);
      const applied = { ...structuredClone(route), metadata: { ...route.metadata, uid: 'route-uid', generation: 1 } };
      routes.set(`${route.metadata.namespace}/${route.metadata.name}`, applied);
      return applied;
    },
    deleteRoute: async (namespace, name) => {
      writes.push(`delete ${name}`);
      routes.delete(`${namespace}/${name}`);
    },
    writeGatewayStatus: async (target, status) => {
      writes.push('status');
      statusWritten = status;
      if (resource) resource.status = { ...resource.status, ...(status ? { gateway: status } : {}) };
      if (resource && !status) delete resource.status?.gateway;
    },
    event: (_target, type, reason) => void events.push(`${type} ${reason}`),
  };
  return { cluster, routes, writes, events, status: () => statusWritten };
}

const ready = (status: GatewayStatus | undefined | 'none') => (status === 'none' ? undefined : status?.conditions?.find((c) => c.type === 'RouteReady'));

describe('keys', () => {
  it('round-trip and reject foreign keys', () => {
    expect(parseResourceKey(resourceKey('MCPServer', 'dev', 'echo'))).toEqual({ kind: 'MCPServer', namespace: 'dev', name: 'echo' });
    expect(parseResourceKey('Pod/dev/x')).toBeUndefined();
    expect(parseResourceKey('Agent/dev')).toBeUndefined();
    expect(parseResourceKey('Agent/dev/x/y')).toBeUndefined();
  });
});

describe('reconcile', () => {
  it('creates the route, reports Pending, and asks to look again', async () => {
    const fake = fakeCluster(agent());
    const result = await createReconciler(fake.cluster, config, now)('Agent/prod/a');
    expect(fake.writes).toEqual(['apply agent-a', 'status']);
    expect(fake.routes.get('prod/agent-a')!.spec).toEqual(desiredRoute(agent(), config)!.spec);
    expect(ready(fake.status())).toMatchObject({ status: 'Unknown', reason: 'Pending' });
    expect(fake.events).toEqual(['Normal RouteCreated']);
    expect(result).toEqual({ requeueAfterMs: 30_000 });
  });

  it('writes nothing when route and status are already right (no loops)', async () => {
    const fake = fakeCluster(agent());
    const reconcile = createReconciler(fake.cluster, config, now);
    await reconcile('Agent/prod/a');
    fake.writes.length = 0;
    await reconcile('Agent/prod/a');
    await reconcile('Agent/prod/a');
    expect(fake.writes).toEqual([]);
  });

  it('reverts a hand edit of its route', async () => {
    const edited = desiredRoute(agent(), config)!;
    edited.spec.rules![0]!.timeouts = { request: '1s' };
    const fake = fakeCluster(agent(), { routes: [edited] });
    await createReconciler(fake.cluster, config, now)('Agent/prod/a');
    expect(fake.writes[0]).toBe('apply agent-a');
    expect(fake.routes.get('prod/agent-a')!.spec.rules![0]!.timeouts).toEqual({ request: '120s' });
    expect(fake.events).toEqual(['Normal RouteUpdated']);
  });

  it('never touches a foreign route with its name, and says why on status', async () => {
    const foreign: HTTPRoute = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'agent-a', namespace: 'prod', uid: 'x' }, spec: { rules: [] } };
    const fake = fakeCluster(agent(), { routes: [foreign] });
    await createReconciler(fake.cluster, config, now)('Agent/prod/a');
    expect(fake.writes).toEqual(['status']);
    expect(ready(fake.status())).toMatchObject({ status: 'False', reason: 'RouteConflict' });
    expect(fake.events).toEqual(['Warning RouteConflict']);
  });

  it('deletes its route when the Agent stops being exposed', async () => {
    const fake = fakeCluster(agent({ agentNetwork: { expose: false } }), { routes: [desiredRoute(agent(), config)!] });
    await createReconciler(fake.cluster, config, now)('Agent/prod/a');
    expect(fake.writes).toEqual(['delete agent-a', 'status']);
    expect(ready(fake.status())).toMatchObject({ reason: 'Disabled' });
  });

  it('deletes its route and clears status.gateway when routing is disabled', async () => {
    const resource = agent();
    resource.status = { gateway: { routeName: 'agent-a' } };
    const fake = fakeCluster(resource, { routes: [desiredRoute(agent(), config)!] });
    await createReconciler(fake.cluster, { ...config, gatewayApiEnabled: false }, now)('Agent/prod/a');
    expect(fake.writes).toEqual(['delete agent-a', 'status']);
    expect(fake.status()).toBeUndefined();
    expect(fake.events).toEqual(['Normal RouteDeleted']);
  });

  it('needs no Gateway API CRDs while routing is disabled', async () => {
    const fake = fakeCluster(agent(), { gatewayApi: false });
    const result = await createReconciler(fake.cluster, { ...config, gatewayApiEnabled: false }, now)('Agent/prod/a');
    expect(fake.writes).toEqual([]);
    expect(result).toBeUndefined();
  });

  it('reports an invalid resource and removes the route it had', async () => {
    const long = agent({}, 'a'.repeat(58));
    const route = desiredRoute(agent(), config)!;
    route.metadata.name = `agent-${'a'.repeat(58)}`;
    const fake = fakeCluster(long, { routes: [route] });
    await createReconciler(fake.cluster, config, now)(`Agent/prod/${'a'.repeat(58)}`);
    expect(fake.writes).toEqual([`delete agent-${'a'.repeat(58)}`, 'status']);
    expect(ready(fake.status())).toMatchObject({ reason: 'InvalidRoute' });
    expect(ready(fake.status())!.message).toContain('a Agent name can have at most 57 characters');
  });

  it('keeps running without the Gateway API CRDs, says so, and looks again later', async () => {
    const fake = fakeCluster(agent(), { gatewayApi: false });
    const result = await createReconciler(fake.cluster, config, now)('Agent/prod/a');
    expect(ready(fake.status())).toMatchObject({ reason: 'GatewayAPIMissing' });
    expect(result).toEqual({ requeueAfterMs: 30_000 });
  });

  it('reports an API failure on status and throws so the queue backs off', async () => {
    const fake = fakeCluster(agent(), { failApply: true });
    await expect(createReconciler(fake.cluster, config, now)('Agent/prod/a')).rejects.toThrow('connection refused');
    expect(ready(fake.status())).toMatchObject({ reason: 'APIError', message: expect.stringContaining('connection refused') });
  });

  it('does nothing for a resource that is gone or being deleted', async () => {
    const deleting = agent();
    deleting.metadata.deletionTimestamp = '2026-11-26T09:00:00Z';
    for (const resource of [undefined, deleting]) {
      const fake = fakeCluster(resource);
      await createReconciler(fake.cluster, config, now)('Agent/prod/a');
      expect(fake.writes).toEqual([]);
    }
  });

  it('reports Ready with the Gateway address once the Gateway accepts the route', async () => {
    const route = { ...desiredRoute(agent(), config)!, metadata: { ...desiredRoute(agent(), config)!.metadata, generation: 1 } };
    route.status = {
      parents: [
        {
          parentRef: { name: 'kaos-gateway', namespace: 'kaos-system' },
          controllerName: 'example.com/gateway',
          conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: '', lastTransitionTime: '2026-11-26T09:00:00Z', observedGeneration: 1 }],
        },
      ],
    };
    const gateway: Gateway = {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: 'kaos-gateway', namespace: 'kaos-system' },
      spec: { gatewayClassName: 'x', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] },
      status: { addresses: [{ value: '127.0.0.10' }] },
    };
    const fake = fakeCluster(agent(), { routes: [route], gateway });
    const result = await createReconciler(fake.cluster, config, now)('Agent/prod/a');
    expect(fake.status()).toMatchObject({ url: 'http://127.0.0.10/prod/agent/a', accepted: true });
    expect(ready(fake.status())).toMatchObject({ status: 'True', reason: 'Ready' });
    expect(result).toBeUndefined();
  });
});

describe('isOwnedBy', () => {
  const route = desiredRoute(agent(), config)!;
  it.each<[string, HTTPRoute, boolean]>([
    ['our controller reference', route, true],
    ['a controller reference to another uid (an earlier incarnation)', { ...route, metadata: { ...route.metadata, ownerReferences: [{ ...route.metadata.ownerReferences![0]!, uid: 'old' }] } }, false],
    ['our labels and no controller reference', { ...route, metadata: { ...route.metadata, ownerReferences: [] } }, true],
    ['neither', { ...route, metadata: { name: 'agent-a', namespace: 'prod' } }, false],
  ])('%s → %s', (_name, candidate, owned) => {
    expect(isOwnedBy(candidate, agent())).toBe(owned);
  });
});
