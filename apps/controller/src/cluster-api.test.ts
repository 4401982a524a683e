import { describe, expect, it } from '@jest/globals';
import { ApiException, PatchStrategy, type KubernetesObject } from '@kubernetes/client-node';
import type { HTTPRoute, KaosResource } from '@kaos/api-types';
import { FIELD_MANAGER } from '@kaos/routing';
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
      patchNamespacedCustomObject: answer('patchNamespacedCustomObject'),
      patchNamespacedCustomObjectStatus: answer('patchNamespacedCustomObjectStatus'),
    },
    objects: { create: answer('create'), patch: answer('patch'), delete: answer('delete') },
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

  describe('createRoute', () => {
    it.each<[string, unknown, unknown, 'created' | 'undefined' | 'missing-crds']>([
      ['created', () => route, undefined, 'created'],
      ['AlreadyExists (ours not cached yet, or foreign): undefined, never touched', conflict, undefined, 'undefined'],
      ['404 without the CRDs', notFound, notFound, 'missing-crds'],
    ])('%s', async (_name, create, list, outcome) => {
      const fake = fakeApis({ create, listClusterCustomObject: list });
      const created = createClusterApi(fake.apis).createRoute(route);
      if (outcome === 'created') await expect(created).resolves.toBe(route);
      if (outcome === 'undefined') await expect(created).resolves.toBeUndefined();
      if (outcome === 'missing-crds') await expect(created).rejects.toBeInstanceOf(GatewayApiMissingError);
      expect(fake.calls[0]).toEqual(['create', route, undefined, undefined, FIELD_MANAGER]);
    });

    it('passes on a 404 when the CRDs are installed (the namespace is gone)', async () => {
      const fake = fakeApis({ create: notFound, listClusterCustomObject: { items: [] } });
      await expect(createClusterApi(fake.apis).createRoute(route)).rejects.toBeInstanceOf(ApiException);
    });
  });

  it.each<[string, string | undefined, Record<string, unknown>]>([
    ['with the uid as a precondition', 'live-uid', { ...route.metadata, uid: 'live-uid' }],
    ['without a uid for a route not read yet', undefined, route.metadata],
  ])('server-side applies with our field manager, forced, %s', async (_name, uid, metadata) => {
    const fake = fakeApis({ patch: route });
    expect(await createClusterApi(fake.apis).applyRoute(route, uid)).toBe(route);
    expect(fake.calls).toEqual([['patch', { ...route, metadata }, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply]]);
  });

  it('removes fields with a merge patch carrying the uid', async () => {
    const fake = fakeApis({ patchNamespacedCustomObject: route });
    expect(await createClusterApi(fake.apis).removeRouteFields(route, ['spec.hostnames'])).toBe(route);
    const [[method, request, options]] = fake.calls as [[string, Record<string, unknown>, unknown]];
    expect(method).toBe('patchNamespacedCustomObject');
    expect(request).toEqual({
      group: 'gateway.networking.k8s.io',
      version: 'v1',
      namespace: 'prod',
      plural: 'httproutes',
      name: 'agent-a',
      body: { metadata: { uid: 'route-uid' }, spec: { hostnames: null } },
      fieldManager: FIELD_MANAGER,
    });
    expect(options).toBeDefined();
  });

  it.each<[string, unknown, string | undefined, 'resolves' | 'rejects']>([
    ['deleted, with the uid as a precondition', undefined, 'u-1', 'resolves'],
    ['already gone', notFound, 'u-1', 'resolves'],
    ['refused', conflict, undefined, 'rejects'],
  ])('deleteRoute: %s', async (_name, answer, uid, outcome) => {
    const fake = fakeApis({ delete: answer });
    const deleted = createClusterApi(fake.apis).deleteRoute('prod', 'agent-a', uid);
    if (outcome === 'resolves') await expect(deleted).resolves.toBeUndefined();
    else await expect(deleted).rejects.toBeInstanceOf(ApiException);
    const options = uid ? { preconditions: { uid } } : undefined;
    expect(fake.calls).toEqual([
      ['delete', { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'agent-a', namespace: 'prod' } }, undefined, undefined, undefined, undefined, undefined, options],
    ]);
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

  it.each<[string, { url: string } | undefined, unknown]>([
    ['writes', { url: 'http://x' }, { url: 'http://x' }],
    ['removes', undefined, null],
  ])('%s status.gateway alone, with our field manager', async (_name, gateway, sent) => {
    const fake = fakeApis();
    await createClusterApi(fake.apis).writeGatewayStatus(agent, gateway as never);
    expect(fake.calls[0]![1]).toEqual({ group: 'kaos.tools', version: 'v1alpha1', namespace: 'prod', plural: 'agents', name: 'a', body: { status: { gateway: sent } }, fieldManager: FIELD_MANAGER });
  });

  it('tells the observers of each read and write before it is made', async () => {
    const fake = fakeApis({ getNamespacedCustomObject: notFound, listClusterCustomObject: { items: [] }, patch: route, patchNamespacedCustomObject: route, create: route });
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
    const fake = fakeApis({ create: (): KubernetesObject => route as unknown as KubernetesObject });
    await expect(createClusterApi(fake.apis).createRoute(route)).resolves.toBe(route);
  });
});
