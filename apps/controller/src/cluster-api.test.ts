import { describe, expect, it } from '@jest/globals';
import { ApiException } from '@kubernetes/client-node';
import type { HTTPRoute, KaosResource } from '@kaos/api-types';
import { FIELD_MANAGER } from '@kaos/routing';
import type { ApiRequest } from '@kaos/kube-runtime';
import { createClusterApi, GATEWAY_API_CHECK_MS, removalPatch, type ClusterApis } from './cluster-api.js';
import { GatewayApiMissingError } from './reconciler.js';

const notFound = () => new ApiException(404, 'not found', {}, {});
const conflict = () => new ApiException(409, 'already exists', {}, {});
const route: HTTPRoute = {
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'HTTPRoute',
  metadata: { name: 'agent-a', namespace: 'prod', uid: 'route-uid' },
  spec: { parentRefs: [{ name: 'kaos-gateway', namespace: 'kaos-system' }] },
} as HTTPRoute;
const agent = { apiVersion: 'kaos.tools/v1alpha1', kind: 'Agent', metadata: { name: 'a', namespace: 'prod', uid: 'u' }, spec: { modelAPI: 'm' } } as KaosResource;

type Call = [string, ...unknown[]];

/** Fake client-node APIs: each method records its call and answers with `answers[method]` (a value, or an Error to throw). */
function fakeApis(answers: Record<string, unknown> = {}) {
  const calls: Call[] = [];
  const answer = (method: string) => async (...args: unknown[]) => {
    calls.push([method, ...args]);
    const value = typeof answers[method] === 'function' ? (answers[method] as () => unknown)() : answers[method];
    if (value instanceof Error) throw value;
    return value;
  };
  const apis = {
    custom: {
      getNamespacedCustomObject: answer('getNamespacedCustomObject'),
      listClusterCustomObject: answer('listClusterCustomObject'),
    },
    // Writes go to `send` as requests; answered by `answers[method]`, recorded as [method, request].
    send: (request: ApiRequest, options?: unknown) => answer(request.method)(request, ...(options === undefined ? [] : [options])),
  } as unknown as ClusterApis;
  return { apis, calls, methods: () => calls.map(([method]) => method) };
}

function observed() {
  const seen: string[] = [];
  return { seen, observers: { write: (verb: string) => void seen.push(`write:${verb}`), read: (what: string) => void seen.push(`read:${what}`) } };
}

describe('removalPatch', () => {
  it('carries the uid as a precondition and nulls each field', () => {
    expect(removalPatch('u-1', ['spec.hostnames'])).toEqual({ metadata: { uid: 'u-1' }, spec: { hostnames: null } });
  });

  it('nests several paths under one object', () => {
    expect(removalPatch('u', ['spec.hostnames', 'spec.extra', 'metadata.annotations'])).toEqual({ metadata: { uid: 'u', annotations: null }, spec: { hostnames: null, extra: null } });
  });
});

describe('createClusterApi', () => {
  describe('readRoute', () => {
    it.each<[string, unknown, unknown, 'route' | 'undefined' | 'missing-crds' | 'throws', string[]]>([
      ['a route', route, undefined, 'route', ['getNamespacedCustomObject']],
      ['no such route, the CRDs installed', notFound, { items: [] }, 'undefined', ['getNamespacedCustomObject', 'listClusterCustomObject']],
      ['no such route, no CRDs', notFound, notFound, 'missing-crds', ['getNamespacedCustomObject', 'listClusterCustomObject']],
      ['an API failure', () => new ApiException(500, 'etcd', {}, {}), undefined, 'throws', ['getNamespacedCustomObject']],
    ])('%s', async (_name, get, list, outcome, methods) => {
      const fake = fakeApis({ getNamespacedCustomObject: get, listClusterCustomObject: list });
      const read = createClusterApi(fake.apis).readRoute('prod', 'agent-a');
      if (outcome === 'route') await expect(read).resolves.toBe(route);
      if (outcome === 'undefined') await expect(read).resolves.toBeUndefined();
      if (outcome === 'missing-crds') await expect(read).rejects.toBeInstanceOf(GatewayApiMissingError);
      if (outcome === 'throws') await expect(read).rejects.toThrow('etcd');
      expect(fake.methods()).toEqual(methods);
      expect(fake.calls[0]![1]).toEqual({ group: 'gateway.networking.k8s.io', version: 'v1', namespace: 'prod', plural: 'httproutes', name: 'agent-a' });
    });

    it('asks whether the CRDs are installed at most every 10 s', async () => {
      let clock = 1_000_000;
      const fake = fakeApis({ getNamespacedCustomObject: notFound, listClusterCustomObject: { items: [] } });
      const api = createClusterApi(fake.apis, {}, () => clock);
      await api.readRoute('prod', 'a');
      clock += GATEWAY_API_CHECK_MS - 1;
      await api.readRoute('prod', 'b');
      expect(fake.methods().filter((method) => method === 'listClusterCustomObject')).toHaveLength(1);
      clock += 1;
      await api.readRoute('prod', 'c');
      expect(fake.methods().filter((method) => method === 'listClusterCustomObject')).toHaveLength(2);
    });
  });

  const routePath = '/apis/gateway.networking.k8s.io/v1/namespaces/prod/httproutes';

  describe('createRoute', () => {
    it.each<[string, unknown, unknown, 'created' | 'undefined' | 'missing-crds' | 'throws']>([
      ['created', () => route, undefined, 'created'],
      ['AlreadyExists (ours not cached yet, or foreign): undefined, never touched', conflict, undefined, 'undefined'],
      ['404 without the CRDs', notFound, notFound, 'missing-crds'],
      ['an answer without an object (never read as refused)', undefined, undefined, 'throws'],
    ])('%s', async (_name, create, list, outcome) => {
      const fake = fakeApis({ POST: create, listClusterCustomObject: list });
      const created = createClusterApi(fake.apis).createRoute(route);
      if (outcome === 'created') await expect(created).resolves.toBe(route);
      if (outcome === 'undefined') await expect(created).resolves.toBeUndefined();
      if (outcome === 'missing-crds') await expect(created).rejects.toBeInstanceOf(GatewayApiMissingError);
      if (outcome === 'throws') await expect(created).rejects.toThrow('without an object');
      expect(fake.calls[0]).toEqual(['POST', { method: 'POST', path: routePath, query: { fieldManager: FIELD_MANAGER }, body: route, contentType: 'application/json' }]);
    });

    it('passes on a 404 when the CRDs are installed (the namespace is gone)', async () => {
      const fake = fakeApis({ POST: notFound, listClusterCustomObject: { items: [] } });
      await expect(createClusterApi(fake.apis).createRoute(route)).rejects.toBeInstanceOf(ApiException);
    });

    it.each([422, 429, 500])('passes on a %i (the reconciler reports it and retries with backoff)', async (code) => {
      const fake = fakeApis({ POST: () => new ApiException(code, 'refused', {}, {}) });
      await expect(createClusterApi(fake.apis).createRoute(route)).rejects.toMatchObject({ code });
      expect(fake.methods()).toEqual(['POST']);
    });
  });

  it.each<[string, string | undefined, Record<string, unknown>]>([
    ['with the uid as a precondition', 'live-uid', { ...route.metadata, uid: 'live-uid' }],
    ['without a uid for a route not read yet', undefined, route.metadata],
  ])('server-side applies with our field manager, forced, %s', async (_name, uid, metadata) => {
    const fake = fakeApis({ PATCH: route });
    expect(await createClusterApi(fake.apis).applyRoute(route, uid)).toBe(route);
    expect(fake.calls).toEqual([
      ['PATCH', { method: 'PATCH', path: `${routePath}/agent-a`, query: { fieldManager: FIELD_MANAGER, force: 'true' }, body: { ...route, metadata }, contentType: 'application/apply-patch+yaml' }],
    ]);
  });

  it.each<[string, unknown]>([
    ['a conflict (the uid precondition failed)', conflict],
    ['an invalid route', () => new ApiException(422, 'invalid', {}, {})],
  ])('passes on a refused apply: %s', async (_name, answer) => {
    const fake = fakeApis({ PATCH: answer });
    await expect(createClusterApi(fake.apis).applyRoute(route, 'u')).rejects.toBeInstanceOf(ApiException);
  });

  it('removes fields with a merge patch carrying the uid', async () => {
    const fake = fakeApis({ PATCH: route });
    expect(await createClusterApi(fake.apis).removeRouteFields(route, ['spec.hostnames'])).toBe(route);
    expect(fake.calls).toEqual([
      [
        'PATCH',
        {
          method: 'PATCH',
          path: `${routePath}/agent-a`,
          query: { fieldManager: FIELD_MANAGER },
          body: { metadata: { uid: 'route-uid' }, spec: { hostnames: null } },
          contentType: 'application/merge-patch+json',
        },
      ],
    ]);
  });

  it.each<[string, unknown, string | undefined, 'resolves' | 'rejects', Record<string, unknown>]>([
    ['deleted, with the uid as a precondition', undefined, 'u-1', 'resolves', { body: { preconditions: { uid: 'u-1' } }, contentType: 'application/json' }],
    ['already gone', notFound, 'u-1', 'resolves', { body: { preconditions: { uid: 'u-1' } }, contentType: 'application/json' }],
    ['refused', conflict, undefined, 'rejects', {}],
    ['an empty uid is no precondition', undefined, '', 'resolves', {}],
  ])('deleteRoute: %s', async (_name, answer, uid, outcome, body) => {
    const fake = fakeApis({ DELETE: answer });
    const deleted = createClusterApi(fake.apis).deleteRoute('prod', 'agent-a', uid);
    if (outcome === 'resolves') await expect(deleted).resolves.toBeUndefined();
    else await expect(deleted).rejects.toBeInstanceOf(ApiException);
    // Nothing reads a delete's answer: not parsed.
    expect(fake.calls).toEqual([['DELETE', { method: 'DELETE', path: `${routePath}/agent-a`, ...body }, { answer: false }]]);
  });

  it.each<[string, unknown, { gateway: unknown } | undefined]>([
    ['with status.gateway', { ...agent, status: { phase: 'Ready', gateway: { url: 'http://x' } } }, { gateway: { url: 'http://x' } }],
    ['without it', agent, { gateway: undefined }],
    ['of a resource gone', notFound, undefined],
  ])('reads status.gateway past the cache: %s', async (_name, answer, status) => {
    const fake = fakeApis({ getNamespacedCustomObject: answer });
    expect(await createClusterApi(fake.apis).readGatewayStatus(agent)).toEqual(status);
    expect(fake.calls[0]![1]).toEqual({ group: 'kaos.tools', version: 'v1alpha1', namespace: 'prod', plural: 'agents', name: 'a' });
  });

  const statusPatch = (gateway: unknown) => ({ method: 'PATCH', path: '/apis/kaos.tools/v1alpha1/namespaces/prod/agents/a/status', query: { fieldManager: FIELD_MANAGER }, body: { status: { gateway } }, contentType: 'application/merge-patch+json' });

  it.each<[string, unknown, boolean]>([
    ['kept: the answer has it', { ...agent, status: { phase: 'Ready', gateway: { url: 'http://x' } } }, true],
    ['pruned by the CRD schema: 200, and the answer lacks it', { ...agent, status: { phase: 'Ready' } }, false],
    ['pruned, on an object without any status', { ...agent }, false],
  ])('writes status.gateway alone, with our field manager, and reads the answer: %s', async (_name, answer, kept) => {
    const fake = fakeApis({ PATCH: answer });
    expect(await createClusterApi(fake.apis).writeGatewayStatus(agent, { url: 'http://x' } as never)).toBe(kept);
    expect(fake.calls).toEqual([['PATCH', statusPatch({ url: 'http://x' })]]);
  });

  it('removes status.gateway without parsing the answer', async () => {
    const fake = fakeApis();
    expect(await createClusterApi(fake.apis).writeGatewayStatus(agent, undefined)).toBe(true);
    expect(fake.calls).toEqual([['PATCH', statusPatch(null), { answer: false }]]);
  });

  it('tells the observers of each read and write before it is made', async () => {
    const fake = fakeApis({ getNamespacedCustomObject: notFound, listClusterCustomObject: { items: [] }, PATCH: route, POST: route });
    const { seen, observers } = observed();
    const api = createClusterApi(fake.apis, observers);
    await api.readRoute('prod', 'a');
    await api.createRoute(route);
    await api.applyRoute(route, undefined);
    await api.removeRouteFields(route, ['spec.hostnames']);
    await api.deleteRoute('prod', 'a', undefined);
    await api.readGatewayStatus(agent);
    await api.writeGatewayStatus(agent, undefined);
    expect(seen).toEqual(['read:httproutes', 'read:crd-check', 'write:create', 'write:apply', 'write:patch', 'write:delete', 'read:kaos-resources', 'write:status']);
  });

  it('works without observers', async () => {
    const fake = fakeApis({ POST: () => route });
    await expect(createClusterApi(fake.apis).createRoute(route)).resolves.toBe(route);
  });
});
