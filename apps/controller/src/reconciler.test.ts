import { describe, expect, it } from '@jest/globals';
import type { Gateway, GatewayStatus, HTTPRoute, KaosResource } from '@kaos/api-types';
import { desiredRoute, type RoutingConfig } from '@kaos/routing';
import { GatewayApiMissingError, STATUS_REWRITE_BACKOFF, createReconciler, parseResourceKey, resourceKey, type Cluster } from './reconciler.js';

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

/**
 * An in-memory cluster that records every read and write. `routes` are on the API server; the cache
 * holds those labelled as ours (the informer's label selector) unless `uncached` says otherwise.
 * An apply behaves like a forced server-side apply: it sets what it sends and leaves what it does
 * not send (other writers' labels, owner references and spec fields) as it was.
 */
function fakeCluster(
  resource: KaosResource | undefined,
  options: {
    routes?: HTTPRoute[];
    uncached?: boolean;
    gatewayApi?: boolean;
    failApply?: boolean;
    failCreate?: boolean;
    failRemove?: boolean;
    goneOnRead?: boolean;
    gateway?: Gateway;
    /** Another writer acting on the resource right after each status write (the KAOS operator replacing the status). */
    afterStatusWrite?: (resource: KaosResource) => void;
    /** status.gateway as the API server has it, when the cache (the resource) shows something else. */
    serverGateway?: () => GatewayStatus | undefined;
    /** The API server prunes status.gateway from what it stores (a CRD schema without it) and answers 200. */
    prunesStatusGateway?: () => boolean;
  } = {},
) {
  const routes = new Map((options.routes ?? []).map((route) => [`${route.metadata.namespace}/${route.metadata.name}`, route]));
  const writes: string[] = [];
  const reads: string[] = [];
  const events: string[] = [];
  const refusedCreates: string[] = [];
  let statusWritten: GatewayStatus | undefined | 'none' = 'none';
  let uids = 0;
  const store = (route: HTTPRoute) => {
    const stored = { ...structuredClone(route), metadata: { ...structuredClone(route.metadata), uid: `route-uid-${++uids}`, generation: 1 } };
    routes.set(`${route.metadata.namespace}/${route.metadata.name}`, stored);
    return stored;
  };
  const cached = (namespace: string, name: string) => {
    const route = routes.get(`${namespace}/${name}`);
    return route?.metadata.labels?.['app.kubernetes.io/managed-by'] === 'kaos-routing' && !options.uncached ? route : undefined;
  };
  const cluster: Cluster = {
    getResource: () => resource,
    cachedRoute: cached,
    getRoute: async (namespace, name) => {
      if (options.gatewayApi === false) throw new GatewayApiMissingError('no CRDs');
      const hit = cached(namespace, name);
      if (hit) return hit;
      reads.push(`get ${name}`);
      if (options.goneOnRead) routes.delete(`${namespace}/${name}`);
      return routes.get(`${namespace}/${name}`);
    },
    createRoute: async (route) => {
      if (options.gatewayApi === false) throw new GatewayApiMissingError('no CRDs');
      if (options.failCreate) throw new Error('connection refused');
      if (routes.has(`${route.metadata.namespace}/${route.metadata.name}`)) {
        refusedCreates.push(route.metadata.name ?? '');
        return undefined;
      }
      writes.push(`create ${route.metadata.name}`);
      return store(route);
    },
    getGateway: async () => options.gateway,
    applyRoute: async (route, uid) => {
      if (options.failApply) throw new Error('connection refused');
      const live = routes.get(`${route.metadata.namespace}/${route.metadata.name}`);
      if (!live || live.metadata.uid !== uid) throw new Error(`uid precondition: ${uid} is not ${live?.metadata.uid}`);
      writes.push(`apply ${route.metadata.name}`);
      const sent = structuredClone(route);
      const owners = [...(live.metadata.ownerReferences ?? []).filter((ref) => !sent.metadata.ownerReferences?.some((mine) => mine.uid === ref.uid)), ...(sent.metadata.ownerReferences ?? [])];
      const applied: HTTPRoute = {
        ...live,
        metadata: { ...live.metadata, labels: { ...live.metadata.labels, ...sent.metadata.labels }, ownerReferences: owners, generation: (live.metadata.generation ?? 1) + 1 },
        spec: { ...live.spec, ...sent.spec },
      };
      routes.set(`${route.metadata.namespace}/${route.metadata.name}`, applied);
      return applied;
    },
    removeRouteFields: async (route, paths) => {
      if (options.failRemove) throw new Error('connection refused');
      const live = routes.get(`${route.metadata.namespace}/${route.metadata.name}`);
      if (!live || live.metadata.uid !== route.metadata.uid) throw new Error(`test failed: uid ${route.metadata.uid} is not ${live?.metadata.uid}`);
      writes.push(`patch ${route.metadata.name} ${paths.join(',')}`);
      const patched = structuredClone(live);
      for (const path of paths) delete (patched.spec as Record<string, unknown>)[path.replace(/^spec\./, '')];
      routes.set(`${route.metadata.namespace}/${route.metadata.name}`, patched);
      return patched;
    },
    deleteRoute: async (namespace, name) => {
      writes.push(`delete ${name}`);
      routes.delete(`${namespace}/${name}`);
    },
    readGatewayStatus: async () => {
      reads.push('get status');
      return resource && { gateway: options.serverGateway ? options.serverGateway() : resource.status?.gateway };
    },
    writeGatewayStatus: async (target, status) => {
      writes.push('status');
      if (status && options.prunesStatusGateway?.()) return false;
      statusWritten = status;
      if (resource) resource.status = { ...resource.status, ...(status ? { gateway: status } : {}) };
      if (resource && !status) delete resource.status?.gateway;
      if (resource) options.afterStatusWrite?.(resource);
      return true;
    },
    event: (_target, type, reason) => void events.push(`${type} ${reason}`),
  };
  return { cluster, routes, writes, reads, events, refusedCreates, status: () => statusWritten };
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
  it('creates the route without reading it first, reports Pending, and sets no timer (the route informer reports the Gateway\'s verdict)', async () => {
    const fake = fakeCluster(agent());
    const result = await createReconciler(fake.cluster, config, { now })('Agent/prod/a');
    expect(fake.writes).toEqual(['create agent-a', 'status']);
    expect(fake.reads).toEqual([]);
    expect(fake.routes.get('prod/agent-a')!.spec).toEqual(desiredRoute(agent(), config)!.spec);
    expect(ready(fake.status())).toMatchObject({ status: 'Unknown', reason: 'Pending' });
    expect(fake.events).toEqual(['Normal RouteCreated']);
    expect(result).toBeUndefined();
  });

  it('writes nothing when route and status are already right (no loops)', async () => {
    const fake = fakeCluster(agent());
    const reconcile = createReconciler(fake.cluster, config, { now });
    await reconcile('Agent/prod/a');
    fake.writes.length = 0;
    await reconcile('Agent/prod/a');
    await reconcile('Agent/prod/a');
    expect(fake.writes).toEqual([]);
  });

  it('reverts a hand edit of its route', async () => {
    const edited = desiredRoute(agent(), config)!;
    edited.spec.rules![0]!.timeouts = { request: '1s' };
    edited.metadata.uid = 'live-uid';
    const fake = fakeCluster(agent(), { routes: [edited] });
    await createReconciler(fake.cluster, config, { now })('Agent/prod/a');
    expect(fake.writes[0]).toBe('apply agent-a');
    expect(fake.reads).toEqual([]);
    expect(fake.routes.get('prod/agent-a')!.spec.rules![0]!.timeouts).toEqual({ request: '120s' });
    expect(fake.events).toEqual(['Normal RouteUpdated']);
  });

  it.each([
    ['the write\'s watch event has not arrived: the cache still shows the version it wrote over', (live: HTTPRoute) => live, 1],
    ['another writer edits it again after our write', (live: HTTPRoute) => ({ ...live, metadata: { ...live.metadata, resourceVersion: '9' } }), 2],
  ])('writes a reverted edit once more only when the cache has moved on (%s)', async (_case, cacheAfterWrite, applies) => {
    const edited = desiredRoute(agent(), config)!;
    edited.spec.rules![0]!.timeouts = { request: '1s' };
    edited.metadata.resourceVersion = '5';
    const fake = fakeCluster(agent(), { routes: [edited] });
    const before = structuredClone(fake.cluster.cachedRoute('prod', 'agent-a')!);
    let cache = before;
    const reconcile = createReconciler({ ...fake.cluster, cachedRoute: () => cache }, config, { now });
    await reconcile('Agent/prod/a');
    // The API server has our write; the cache (the informer) shows `cacheAfterWrite` of the edited route, which is still different.
    cache = cacheAfterWrite(before);
    await reconcile('Agent/prod/a');
    expect(fake.writes.filter((write) => write.startsWith('apply'))).toHaveLength(applies);
  });

  it('never touches a foreign route with its name, and says why on status', async () => {
    const foreign: HTTPRoute = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'agent-a', namespace: 'prod', uid: 'x' }, spec: { rules: [] } };
    const fake = fakeCluster(agent(), { routes: [foreign] });
    await createReconciler(fake.cluster, config, { now })('Agent/prod/a');
    expect(fake.writes).toEqual(['status']);
    // Not in the cache (not labelled as ours): the create refused, the read found it.
    expect(fake.reads).toEqual(['get agent-a']);
    expect(fake.routes.get('prod/agent-a')).toEqual(foreign);
    expect(ready(fake.status())).toMatchObject({ status: 'False', reason: 'RouteConflict' });
    expect(fake.events).toEqual(['Warning RouteConflict']);
  });

  it('after a foreign route refused its create, reads instead of creating again, and creates once the foreign route is gone', async () => {
    const foreign: HTTPRoute = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'agent-a', namespace: 'prod', uid: 'x' }, spec: { rules: [] } };
    const fake = fakeCluster(agent(), { routes: [foreign] });
    const reconcile = createReconciler(fake.cluster, config, { now });
    await reconcile('Agent/prod/a');
    await reconcile('Agent/prod/a');
    expect(fake.refusedCreates).toEqual(['agent-a']);
    expect(fake.reads).toEqual(['get agent-a', 'get agent-a']);
    fake.routes.delete('prod/agent-a');
    // The release requeues the resource (the cluster watches every route's metadata): one read, then the create, no failed attempt.
    fake.writes.length = 0;
    expect(await reconcile('Agent/prod/a')).toBeUndefined();
    expect(fake.reads).toEqual(['get agent-a', 'get agent-a', 'get agent-a']);
    expect(fake.writes).toEqual(['create agent-a', 'status']);
    expect(ready(fake.status())).not.toMatchObject({ reason: 'RouteConflict' });
  });

  it('deletes its route when the Agent stops being exposed', async () => {
    const fake = fakeCluster(agent({ agentNetwork: { expose: false } }), { routes: [desiredRoute(agent(), config)!] });
    await createReconciler(fake.cluster, config, { now })('Agent/prod/a');
    expect(fake.writes).toEqual(['delete agent-a', 'status']);
    expect(ready(fake.status())).toMatchObject({ reason: 'Disabled' });
  });

  it('deletes its route and clears status.gateway when routing is disabled', async () => {
    const resource = agent();
    resource.status = { gateway: { routeName: 'agent-a' } };
    const fake = fakeCluster(resource, { routes: [desiredRoute(agent(), config)!] });
    await createReconciler(fake.cluster, { ...config, gatewayApiEnabled: false }, { now })('Agent/prod/a');
    expect(fake.writes).toEqual(['delete agent-a', 'status']);
    expect(fake.status()).toBeUndefined();
    expect(fake.events).toEqual(['Normal RouteDeleted']);
  });

  it('needs no Gateway API CRDs while routing is disabled', async () => {
    const fake = fakeCluster(agent(), { gatewayApi: false });
    const result = await createReconciler(fake.cluster, { ...config, gatewayApiEnabled: false }, { now })('Agent/prod/a');
    expect(fake.writes).toEqual([]);
    expect(result).toBeUndefined();
  });

  it('reports an invalid resource and removes the route it had', async () => {
    const long = agent({}, 'a'.repeat(58));
    const route = desiredRoute(agent(), config)!;
    route.metadata.name = `agent-${'a'.repeat(58)}`;
    const fake = fakeCluster(long, { routes: [route] });
    await createReconciler(fake.cluster, config, { now })(`Agent/prod/${'a'.repeat(58)}`);
    expect(fake.writes).toEqual([`delete agent-${'a'.repeat(58)}`, 'status']);
    expect(ready(fake.status())).toMatchObject({ reason: 'InvalidRoute' });
    expect(ready(fake.status())!.message).toContain('a Agent name can have at most 57 characters');
  });

  it('keeps running without the Gateway API CRDs, says so, and looks again later', async () => {
    const fake = fakeCluster(agent(), { gatewayApi: false });
    const result = await createReconciler(fake.cluster, config, { now })('Agent/prod/a');
    expect(ready(fake.status())).toMatchObject({ reason: 'GatewayAPIMissing' });
    expect(result).toEqual({ requeueAfterMs: 30_000 });
  });

  it.each<[string, { failCreate?: boolean; failApply?: boolean }, HTTPRoute[]]>([
    ['creating', { failCreate: true }, []],
    ['updating', { failApply: true }, [{ ...desiredRoute(agent(), config)!, spec: { rules: [] } }]],
  ])('reports an API failure %s the route on status and throws so the queue backs off', async (_what, failure, routes) => {
    const fake = fakeCluster(agent(), { ...failure, routes });
    await expect(createReconciler(fake.cluster, config, { now })('Agent/prod/a')).rejects.toThrow('connection refused');
    expect(ready(fake.status())).toMatchObject({ reason: 'APIError', message: expect.stringContaining('connection refused') });
  });

  it('updates its own route the cache has not seen yet, only if it is still the route it read', async () => {
    const stale = { ...desiredRoute(agent(), config)!, spec: { rules: [] } };
    stale.metadata.uid = 'live-uid';
    const fake = fakeCluster(agent(), { routes: [stale], uncached: true });
    await createReconciler(fake.cluster, config, { now })('Agent/prod/a');
    expect(fake.reads).toEqual(['get agent-a']);
    expect(fake.writes).toEqual(['apply agent-a', 'status']);
    expect(fake.events).toEqual(['Normal RouteUpdated']);
  });

  it('reads the route it created when the cache has not shown it yet, instead of a create the API server would refuse (a write)', async () => {
    // uncached: the route informer has not delivered the route yet when the status patch's event requeues the resource.
    const fake = fakeCluster(agent(), { uncached: true });
    const reconcile = createReconciler(fake.cluster, config, { now });
    await reconcile('Agent/prod/a');
    expect(fake.writes).toEqual(['create agent-a', 'status']);
    fake.writes.length = 0;
    await reconcile('Agent/prod/a');
    expect(fake.refusedCreates).toEqual([]);
    expect(fake.reads).toEqual(['get agent-a']);
    expect(fake.writes).toEqual([]);
  });

  it('creates the route again when the one it created is gone before the cache showed it', async () => {
    const fake = fakeCluster(agent(), { uncached: true });
    const reconcile = createReconciler(fake.cluster, config, { now });
    await reconcile('Agent/prod/a');
    fake.routes.delete('prod/agent-a');
    fake.writes.length = 0;
    await reconcile('Agent/prod/a');
    expect(fake.reads).toEqual(['get agent-a']);
    // The status (Pending, the route just created) is already right.
    expect(fake.writes).toEqual(['create agent-a']);
  });

  it('writes nothing when a route that refused the create is gone when read, and retries', async () => {
    const fake = fakeCluster(agent(), { routes: [{ ...desiredRoute(agent(), config)!, spec: { rules: [] } }], uncached: true, goneOnRead: true });
    await expect(createReconciler(fake.cluster, config, { now })('Agent/prod/a')).rejects.toThrow('gone when read');
    expect(fake.writes).toEqual([]);
  });

  it('does nothing for a resource that is gone or being deleted', async () => {
    const deleting = agent();
    deleting.metadata.deletionTimestamp = '2026-11-26T09:00:00Z';
    for (const resource of [undefined, deleting]) {
      const fake = fakeCluster(resource);
      await createReconciler(fake.cluster, config, { now })('Agent/prod/a');
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
    const result = await createReconciler(fake.cluster, config, { now })('Agent/prod/a');
    expect(fake.status()).toMatchObject({ url: 'http://127.0.0.10/prod/agent/a', accepted: true });
    expect(ready(fake.status())).toMatchObject({ status: 'True', reason: 'Ready' });
    expect(result).toBeUndefined();
  });
});

/**
 * The route the upstream KAOS operator creates for Agent a with its Gateway API option on: same
 * name, a controller owner reference to the Agent, its own labels (not ours), server defaults
 * left out; here with a hostname and another timeout, as an older configuration could leave it.
 */
function upstreamRoute(edit: (route: HTTPRoute) => void = () => {}): HTTPRoute {
  const route: HTTPRoute = {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: {
      name: 'agent-a',
      namespace: 'prod',
      uid: 'upstream-uid',
      generation: 1,
      labels: { app: 'agent', agent: 'a' },
      ownerReferences: [{ apiVersion: 'kaos.tools/v1alpha1', kind: 'Agent', name: 'a', uid: 'uid-a', controller: true, blockOwnerDeletion: true }],
    },
    spec: {
      hostnames: ['agents.example.com'],
      parentRefs: [{ name: 'kaos-gateway', namespace: 'kaos-system' }],
      rules: [
        {
          matches: [{ path: { type: 'PathPrefix', value: '/prod/agent/a' } }],
          filters: [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/' } } }],
          backendRefs: [{ name: 'agent-a', port: 8000 }],
          timeouts: { request: '30s' },
        },
      ],
    },
  };
  edit(route);
  return route;
}

describe('adopting the KAOS operator\'s routes', () => {
  it('takes the route over: our labels, the desired spec, the hostname removed; then writes nothing', async () => {
    const log = recordingLogger();
    const fake = fakeCluster(agent(), { routes: [upstreamRoute()] });
    const reconcile = createReconciler(fake.cluster, config, { now, logger: log.logger });
    await reconcile('Agent/prod/a');
    // Not labelled as ours, so not in the cache: the create is refused, the read finds it.
    expect(fake.refusedCreates).toEqual(['agent-a']);
    expect(fake.reads).toEqual(['get agent-a']);
    expect(fake.writes).toEqual(['apply agent-a', 'patch agent-a spec.hostnames', 'status']);
    const adopted = fake.routes.get('prod/agent-a')!;
    expect(adopted.metadata.uid).toBe('upstream-uid');
    expect(adopted.metadata.labels).toEqual({ app: 'agent', agent: 'a', ...desiredRoute(agent(), config)!.metadata.labels });
    expect(adopted.metadata.ownerReferences).toEqual(desiredRoute(agent(), config)!.metadata.ownerReferences);
    expect(adopted.spec).toEqual(desiredRoute(agent(), config)!.spec);
    expect(fake.events).toEqual(['Normal RouteAdopted']);
    expect(ready(fake.status())).toMatchObject({ status: 'Unknown', reason: 'Pending' });
    expect(log.routeLines()).toEqual([
      {
        level: 'info',
        message: 'HTTPRoute adopted',
        fields: expect.objectContaining({ route: 'agent-a', differences: ['metadata.labels["app.kubernetes.io/managed-by"]', 'metadata.labels["kaos.tools/owner-kind"]', 'metadata.labels["kaos.tools/owner-name"]', 'spec.rules', 'spec.hostnames'] }),
      },
    ]);

    fake.writes.length = 0;
    for (let resync = 0; resync < 5; resync++) await reconcile('Agent/prod/a');
    expect(fake.writes).toEqual([]);
    expect(fake.refusedCreates).toEqual(['agent-a']);
    expect(fake.reads).toEqual(['get agent-a']);
  });

  it('adopts with one apply when nothing is left for another writer to own', async () => {
    const fake = fakeCluster(agent(), { routes: [upstreamRoute((route) => delete route.spec.hostnames)] });
    await createReconciler(fake.cluster, config, { now })('Agent/prod/a');
    expect(fake.writes).toEqual(['apply agent-a', 'status']);
    expect(fake.routes.get('prod/agent-a')!.spec).toEqual(desiredRoute(agent(), config)!.spec);
  });

  it('removes a hostname added by hand to its own route without re-applying, and does not loop', async () => {
    const fake = fakeCluster(agent());
    const reconcile = createReconciler(fake.cluster, config, { now });
    await reconcile('Agent/prod/a');
    fake.routes.get('prod/agent-a')!.spec.hostnames = ['evil.example.com'];
    fake.writes.length = 0;
    await reconcile('Agent/prod/a');
    await reconcile('Agent/prod/a');
    expect(fake.writes).toEqual(['patch agent-a spec.hostnames']);
    expect(fake.routes.get('prod/agent-a')!.spec.hostnames).toBeUndefined();
  });

  it.each<[string, (route: HTTPRoute) => void]>([
    ['a sectionName on the parentRef', (route) => (route.spec.parentRefs![0]!.sectionName = 'https')],
    ['a header match', (route) => (route.spec.rules![0]!.matches![0]!.headers = [{ name: 'x-user', value: 'me' }])],
    ['a hostname rewrite', (route) => (route.spec.rules![0]!.filters![0]!.urlRewrite!.hostname = 'evil.example.com')],
    ['a backend request timeout', (route) => (route.spec.rules![0]!.timeouts!.backendRequest = '5s')],
    ['filters on the backend', (route) => (route.spec.rules![0]!.backendRefs![0]!.filters = [{ type: 'RequestHeaderModifier' }])],
    ['an extra rule', (route) => route.spec.rules!.push({ matches: [{ path: { type: 'PathPrefix', value: '/x' } }] })],
  ])('reverts %s added by hand inside what it applies, with one apply, then writes nothing', async (_name, edit) => {
    const fake = fakeCluster(agent());
    const reconcile = createReconciler(fake.cluster, config, { now });
    await reconcile('Agent/prod/a');
    edit(fake.routes.get('prod/agent-a')!);
    fake.writes.length = 0;
    await reconcile('Agent/prod/a');
    await reconcile('Agent/prod/a');
    expect(fake.writes).toEqual(['apply agent-a']);
    expect(fake.routes.get('prod/agent-a')!.spec).toEqual(desiredRoute(agent(), config)!.spec);
  });

  it('does not write again a route its write could not change, until the route or the desired route changes', async () => {
    const fake = fakeCluster(agent());
    const warnings: string[] = [];
    const logger = { info: () => {}, warn: (message: string) => void warnings.push(message), error: () => {} };
    const reconcile = createReconciler(fake.cluster, config, { now, logger });
    await reconcile('Agent/prod/a');
    // Something the apply cannot take back, as a mutating webhook or a default of a newer Gateway API would put it back.
    const original = fake.cluster.applyRoute;
    fake.cluster.applyRoute = async (route, uid) => {
      const applied = await original(route, uid);
      applied.spec.rules![0]!.timeouts = { request: '120s', backendRequest: '1s' };
      return applied;
    };
    fake.routes.get('prod/agent-a')!.spec.rules![0]!.timeouts = { request: '120s', backendRequest: '1s' };
    fake.writes.length = 0;
    for (let resync = 0; resync < 3; resync++) await reconcile('Agent/prod/a');
    expect(fake.writes).toEqual(['apply agent-a']);
    expect(warnings).toEqual(['HTTPRoute still differs after writing it; not writing it again until it changes']);
    // Changed by someone: worth one more try.
    fake.routes.get('prod/agent-a')!.spec.rules![0]!.timeouts = { request: '1s' };
    await reconcile('Agent/prod/a');
    await reconcile('Agent/prod/a');
    expect(fake.writes).toEqual(['apply agent-a', 'apply agent-a']);
  });

  it.each<[string, HTTPRoute, string]>([
    ['no owner reference', upstreamRoute((route) => delete route.metadata.ownerReferences), 'no controller owner reference to this Agent and not our labels'],
    ['an owner reference to something else', upstreamRoute((route) => (route.metadata.ownerReferences = [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'routes', uid: 'cm', controller: true }])), 'controlled by ConfigMap routes (uid cm)'],
    ['an owner reference to an earlier Agent a', upstreamRoute((route) => (route.metadata.ownerReferences![0]!.uid = 'uid-old')), 'an earlier Agent a (uid uid-old)'],
  ])('leaves a route with the right name and %s alone, as a conflict', async (_name, foreign, why) => {
    const fake = fakeCluster(agent(), { routes: [foreign] });
    const reconcile = createReconciler(fake.cluster, config, { now });
    await reconcile('Agent/prod/a');
    await reconcile('Agent/prod/a');
    expect(fake.writes).toEqual(['status']);
    expect(fake.routes.get('prod/agent-a')).toEqual(foreign);
    expect(ready(fake.status())).toMatchObject({ status: 'False', reason: 'RouteConflict', message: expect.stringContaining(why) });
  });

  it('leaves a route it has not adopted while routing is disabled', async () => {
    const fake = fakeCluster(agent(), { routes: [upstreamRoute()] });
    await createReconciler(fake.cluster, { ...config, gatewayApiEnabled: false }, { now })('Agent/prod/a');
    expect(fake.writes).toEqual([]);
    expect(fake.routes.get('prod/agent-a')).toEqual(upstreamRoute());
  });

  it('deletes a route it would adopt when the Agent is not exposed while routing is enabled', async () => {
    const fake = fakeCluster(agent({ agentNetwork: { expose: false } }), { routes: [upstreamRoute()] });
    await createReconciler(fake.cluster, config, { now })('Agent/prod/a');
    expect(fake.writes).toEqual(['delete agent-a', 'status']);
  });

  it('reports a failed removal as an API error and throws so the queue retries', async () => {
    const fake = fakeCluster(agent(), { routes: [upstreamRoute()], failRemove: true });
    await expect(createReconciler(fake.cluster, config, { now })('Agent/prod/a')).rejects.toThrow('connection refused');
    expect(fake.writes).toEqual(['apply agent-a', 'status']);
    expect(ready(fake.status())).toMatchObject({ reason: 'APIError', message: expect.stringContaining('writing HTTPRoute agent-a failed') });
  });
});

describe('status.gateway pruned by the API server', () => {
  const statusWrites = (writes: string[]) => writes.filter((write) => write === 'status').length;

  it('fails, so the queue retries, while the API server still serves the previous schema of a CRD that now keeps it (found in CI: status.gateway never appeared after the CRD fix)', async () => {
    let switched = false;
    const resource = { ...agent(), metadata: { ...agent().metadata, resourceVersion: '1' } };
    const fake = fakeCluster(resource, { prunesStatusGateway: () => !switched });
    const reconcile = createReconciler(fake.cluster, config, { now, keepsGatewayStatus: (kind) => kind === 'Agent' });
    await expect(reconcile('Agent/prod/a')).rejects.toThrow('status.gateway of Agent prod/a was pruned by the API server, although its CRD now keeps it');
    expect(resource.status?.gateway).toBeUndefined();
    switched = true;
    await reconcile('Agent/prod/a');
    expect(resource.status?.gateway?.routeName).toBe('agent-a');
    expect(statusWrites(fake.writes)).toBe(2);
    await reconcile('Agent/prod/a');
    expect(statusWrites(fake.writes)).toBe(2);
    expect(fake.reads).toEqual([]);
  });

  it('is left alone while the CRD lacks status.gateway (the CRD watch reports that): no error, and never taken for a removal later', async () => {
    const resource = { ...agent(), metadata: { ...agent().metadata, resourceVersion: '1' } };
    const fake = fakeCluster(resource, { prunesStatusGateway: () => true });
    const log = recordingLogger();
    const reconcile = createReconciler(fake.cluster, config, { now, logger: log.logger, keepsGatewayStatus: () => false });
    await expect(reconcile('Agent/prod/a')).resolves.toBeUndefined();
    // The KAOS operator writes its status: the resource changed, and the cache has no status.gateway.
    resource.status = { phase: 'Ready' };
    resource.metadata.resourceVersion = '2';
    await expect(reconcile('Agent/prod/a')).resolves.toBeUndefined();
    expect(statusWrites(fake.writes)).toBe(2);
    expect(fake.reads).toEqual([]);
    expect(fake.events).toEqual(['Normal RouteCreated']);
    expect(log.lines.filter((line) => line.level !== 'info')).toEqual([]);
  });
});

describe('status.gateway removed by another writer', () => {
  /** Upstream KAOS's operator: every event makes it PUT the status its types know, without gateway. */
  const operatorReplacesStatus = (resource: KaosResource) => {
    resource.status = { phase: 'Ready', ready: true };
    resource.metadata.resourceVersion = String(Number(resource.metadata.resourceVersion ?? '0') + 1);
  };
  const statusWrites = (writes: string[]) => writes.filter((write) => write === 'status').length;

  it('is written back at once the first time, then only after a doubling backoff', async () => {
    let clock = Date.parse('2026-11-26T10:00:00Z');
    const resource = { ...agent(), metadata: { ...agent().metadata, resourceVersion: '1' } };
    const fake = fakeCluster(resource, { afterStatusWrite: operatorReplacesStatus });
    const log = recordingLogger();
    const reconcile = createReconciler(fake.cluster, config, { now: () => new Date(clock), logger: log.logger });
    await reconcile('Agent/prod/a'); // creates the route and writes status; the operator removes it
    await reconcile('Agent/prod/a'); // the first removal: written back at once; removed again
    expect(statusWrites(fake.writes)).toBe(2);
    expect(await reconcile('Agent/prod/a')).toEqual({ requeueAfterMs: 30_000 }); // the second: held back 30 s
    clock += 10_000;
    expect(await reconcile('Agent/prod/a')).toEqual({ requeueAfterMs: 20_000 });
    expect(statusWrites(fake.writes)).toBe(2);
    expect(fake.events).toEqual(['Normal RouteCreated', 'Warning StatusGatewayRemoved']);
    clock += 20_000;
    await reconcile('Agent/prod/a'); // written back; removed again
    await reconcile('Agent/prod/a'); // the third removal: held back 60 s
    expect(statusWrites(fake.writes)).toBe(3);
    clock += 30_000;
    await reconcile('Agent/prod/a'); // still held back
    expect(statusWrites(fake.writes)).toBe(3);
    clock += 30_000;
    await reconcile('Agent/prod/a');
    await reconcile('Agent/prod/a');
    expect(statusWrites(fake.writes)).toBe(4);
    expect(log.lines.filter((line) => line.level === 'warn').map((line) => [line.message.replace(/ \d+ times.*/, ''), line.fields.rewriteInMs])).toEqual([
      ['status.gateway was removed by another writer', 30_000],
      ['status.gateway was removed by another writer', 60_000],
      ['status.gateway was removed by another writer', 120_000],
    ]);
  });

  it('caps the backoff, and starts over once removals stop for the window', async () => {
    let clock = 0;
    const resource = { ...agent(), metadata: { ...agent().metadata, resourceVersion: '1' } };
    const fake = fakeCluster(resource, { afterStatusWrite: operatorReplacesStatus });
    const log = recordingLogger();
    const reconcile = createReconciler(fake.cluster, config, { now: () => new Date(clock), logger: log.logger, statusBackoff: { baseMs: 100, maxMs: 300, windowMs: 1_000 } });
    // Every 400 ms: write, removal held back, write, ... (the held-back time is always over by the next round).
    for (let round = 0; round < 9; round++) {
      await reconcile('Agent/prod/a');
      clock += 400;
    }
    expect(statusWrites(fake.writes)).toBe(5);
    // Quiet for longer than the window (the operator stopped for a while): the next removal counts as the first again.
    clock += 5_000;
    await reconcile('Agent/prod/a');
    clock += 400;
    await reconcile('Agent/prod/a');
    expect(statusWrites(fake.writes)).toBe(7);
    expect(log.lines.filter((line) => line.level === 'warn').map((line) => line.fields.rewriteInMs)).toEqual([100, 200, 300, 300]);
  });

  it('stays at the cap with the default backoff while the operator keeps removing it (found in review: it started over after each capped wait)', async () => {
    let clock = 0;
    const resource = { ...agent(), metadata: { ...agent().metadata, resourceVersion: '1' } };
    const fake = fakeCluster(resource, { afterStatusWrite: operatorReplacesStatus });
    const log = recordingLogger();
    const reconcile = createReconciler(fake.cluster, config, { now: () => new Date(clock), logger: log.logger, statusBackoff: STATUS_REWRITE_BACKOFF });
    // The operator answers every write within a second; the controller looks again when the held-back time is over.
    for (let round = 0; round < 24; round++) {
      const result = await reconcile('Agent/prod/a');
      clock += (result?.requeueAfterMs ?? 0) + 1_000;
    }
    const delays = log.lines.filter((line) => line.level === 'warn').map((line) => line.fields.rewriteInMs);
    expect(delays.slice(0, 6)).toEqual([30_000, 60_000, 120_000, 240_000, 480_000, 600_000]);
    expect(delays.slice(6).length).toBeGreaterThanOrEqual(3);
    expect(new Set(delays.slice(5))).toEqual(new Set([600_000]));
  });

  it('is not a removal when the API server still has it (a watch under an older CRD schema delivered it pruned)', async () => {
    let written: GatewayStatus | undefined;
    const resource = { ...agent(), metadata: { ...agent().metadata, resourceVersion: '1' } };
    // The cache gets our write pruned (resourceVersion moved on, no status.gateway); the API server has it.
    const fake = fakeCluster(resource, {
      afterStatusWrite: (target) => {
        written = target.status?.gateway;
        delete target.status?.gateway;
        target.metadata.resourceVersion = String(Number(target.metadata.resourceVersion) + 1);
      },
      serverGateway: () => written,
    });
    const reconcile = createReconciler(fake.cluster, config, { now });
    await reconcile('Agent/prod/a');
    await reconcile('Agent/prod/a');
    // One write, then a read that finds it on the API server: nothing held back, nothing rewritten.
    expect(statusWrites(fake.writes)).toBe(1);
    expect(fake.reads).toEqual(['get status']);
    expect(fake.events).toEqual(['Normal RouteCreated']);
    // The watch relisted under the new schema: the cache has it, nothing more happens.
    resource.status = { gateway: written! };
    await reconcile('Agent/prod/a');
    expect(statusWrites(fake.writes)).toBe(1);
    expect(fake.reads).toEqual(['get status']);
  });

  it('writes a changed status even when the API server still has an older one', async () => {
    const stale = { url: '/prod/agent/a', routeName: 'agent-a', accepted: false, conditions: [] };
    let written: GatewayStatus | undefined;
    const resource = { ...agent(), metadata: { ...agent().metadata, resourceVersion: '1' } };
    const fake = fakeCluster(resource, {
      afterStatusWrite: (target) => {
        written = target.status?.gateway;
        delete target.status?.gateway;
        target.metadata.resourceVersion = String(Number(target.metadata.resourceVersion) + 1);
      },
      serverGateway: () => (written ? stale : undefined),
    });
    const reconcile = createReconciler(fake.cluster, config, { now });
    await reconcile('Agent/prod/a');
    await reconcile('Agent/prod/a');
    expect(statusWrites(fake.writes)).toBe(2);
  });

  it('writes nothing for a resource gone from the API server', async () => {
    const resource = { ...agent(), metadata: { ...agent().metadata, resourceVersion: '1' } };
    const fake = fakeCluster(resource, { afterStatusWrite: operatorReplacesStatus });
    const reconcile = createReconciler(fake.cluster, config, { now });
    await reconcile('Agent/prod/a');
    fake.cluster.readGatewayStatus = async () => undefined;
    await reconcile('Agent/prod/a');
    expect(statusWrites(fake.writes)).toBe(1);
  });

  it('is not a removal when the cache has not seen our write yet (same resourceVersion)', async () => {
    const resource = { ...agent(), metadata: { ...agent().metadata, resourceVersion: '1' } };
    const fake = fakeCluster(resource, { afterStatusWrite: (target) => delete target.status?.gateway });
    const reconcile = createReconciler(fake.cluster, config, { now });
    for (let round = 0; round < 4; round++) await reconcile('Agent/prod/a');
    expect(statusWrites(fake.writes)).toBe(4);
    expect(fake.events).toEqual(['Normal RouteCreated']);
  });
});

/** A logger that keeps every line, so tests can check what `kubectl logs … | grep HTTPRoute` shows. */
function recordingLogger() {
  const lines: Array<{ level: string; message: string; fields: Record<string, unknown> }> = [];
  const at = (level: string) => (message: string, fields: Record<string, unknown>) => void lines.push({ level, message, fields });
  return { logger: { info: at('info'), warn: at('warn'), error: at('error') }, lines, routeLines: () => lines.filter((line) => line.message.includes('HTTPRoute')) };
}

describe('route log lines', () => {
  const foreign: HTTPRoute = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'agent-a', namespace: 'prod', uid: 'x' }, spec: { rules: [] } };
  const edited = () => ({ ...desiredRoute(agent(), config)!, spec: { rules: [] } });
  const ours = { kind: 'Agent', namespace: 'prod', name: 'a', route: 'agent-a' };
  it.each<[string, KaosResource, Parameters<typeof fakeCluster>[1], RoutingConfig, { level: string; message: string | RegExp; fields: Record<string, unknown> }]>([
    ['a created route', agent(), {}, config, { level: 'info', message: 'HTTPRoute created', fields: ours }],
    ['an updated route, with what differed', agent(), { routes: [edited()] }, config, { level: 'info', message: 'HTTPRoute updated', fields: { ...ours, differences: ['spec.parentRefs', 'spec.rules'] } }],
    ['a route deleted because the Agent is not exposed', agent({ agentNetwork: { expose: false } }), { routes: [desiredRoute(agent(), config)!] }, config, { level: 'info', message: 'HTTPRoute deleted', fields: { ...ours, reason: 'spec.agentNetwork.expose is false' } }],
    ['a route deleted because routing is disabled', agent(), { routes: [desiredRoute(agent(), config)!] }, { ...config, gatewayApiEnabled: false }, { level: 'info', message: 'HTTPRoute deleted', fields: { ...ours, reason: 'Gateway API routing is disabled' } }],
    ['a foreign route with our name', agent(), { routes: [foreign] }, config, { level: 'warn', message: /^HTTPRoute not created: route conflict: HTTPRoute prod\/agent-a exists/, fields: { ...ours, reason: 'RouteConflict' } }],
    ['missing Gateway API CRDs', agent(), { gatewayApi: false }, config, { level: 'warn', message: /^HTTPRoute not created: the Gateway API CRDs/, fields: { ...ours, reason: 'GatewayAPIMissing' } }],
    ['an API failure creating', agent(), { failCreate: true }, config, { level: 'error', message: 'HTTPRoute not created: API error: connection refused', fields: { ...ours, reason: 'APIError' } }],
    ['an API failure updating', agent(), { failApply: true, routes: [edited()] }, config, { level: 'error', message: 'HTTPRoute not updated: API error: connection refused', fields: { ...ours, reason: 'APIError' } }],
  ])('%s', async (_name, resource, options, routingConfig, expected) => {
    const log = recordingLogger();
    const fake = fakeCluster(resource, options);
    await createReconciler(fake.cluster, routingConfig, { now, logger: log.logger })('Agent/prod/a').catch(() => undefined);
    expect(log.routeLines()).toEqual([{ level: expected.level, message: typeof expected.message === 'string' ? expected.message : expect.stringMatching(expected.message), fields: expect.objectContaining(expected.fields) }]);
  });

  it('logs an invalid route with the problems, and the deletion of the route it had', async () => {
    const long = 'a'.repeat(58);
    const route = { ...desiredRoute(agent(), config)!, metadata: { ...desiredRoute(agent(), config)!.metadata, name: `agent-${long}` } };
    const log = recordingLogger();
    await createReconciler(fakeCluster(agent({}, long), { routes: [route] }).cluster, config, { now, logger: log.logger })(`Agent/prod/${long}`);
    expect(log.routeLines()).toEqual([
      { level: 'info', message: 'HTTPRoute deleted', fields: expect.objectContaining({ name: long, route: `agent-${long}`, reason: 'the resource cannot have a valid route' }) },
      { level: 'warn', message: expect.stringContaining('HTTPRoute not created: invalid route: '), fields: expect.objectContaining({ kind: 'Agent', name: long, reason: 'InvalidRoute' }) },
    ]);
    expect(log.lines[1]!.message).toContain('at most 57 characters');
  });

  it('logs a lasting problem once, and again after the route was fine in between', async () => {
    const log = recordingLogger();
    const options = { gatewayApi: false };
    const fake = fakeCluster(agent(), options);
    const reconcile = createReconciler(fake.cluster, config, { now, logger: log.logger });
    await reconcile('Agent/prod/a');
    await reconcile('Agent/prod/a');
    options.gatewayApi = true;
    await reconcile('Agent/prod/a');
    options.gatewayApi = false;
    fake.routes.clear();
    await reconcile('Agent/prod/a');
    expect(log.routeLines().map((line) => line.fields.reason ?? line.message)).toEqual(['GatewayAPIMissing', 'HTTPRoute created', 'GatewayAPIMissing']);
  });

  it('logs nothing when the route is already right', async () => {
    const log = recordingLogger();
    const fake = fakeCluster(agent());
    const reconcile = createReconciler(fake.cluster, config, { now, logger: log.logger });
    await reconcile('Agent/prod/a');
    await reconcile('Agent/prod/a');
    expect(log.routeLines().map((line) => line.message)).toEqual(['HTTPRoute created']);
  });
});
