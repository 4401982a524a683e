import { describe, expect, it } from '@jest/globals';
import type { KaosResource } from '@kaos/api-types';
import { MANAGED_ROUTE_SELECTOR } from '@kaos/routing';
import { FOREIGN_ROUTE_SELECTOR, routeEventKeys, routeGoneHandler, routeIdentity } from './cluster-watches.js';

const route = { metadata: { name: 'agent-a', namespace: 'prod', labels: { 'kaos.tools/owner-kind': 'Agent', 'kaos.tools/owner-name': 'a' } } };
const agent = (deleting = false): KaosResource => ({
  apiVersion: 'kaos.tools/v1alpha1',
  kind: 'Agent',
  metadata: { name: 'a', namespace: 'prod', uid: 'u', ...(deleting ? { deletionTimestamp: '2026-11-26T10:00:00Z' } : {}) },
  spec: { modelAPI: 'm' },
});

describe('routeGoneHandler', () => {
  it.each<[string, KaosResource | undefined, boolean]>([
    ['the resource is gone: the garbage collector removed the route', undefined, true],
    ['the resource is being deleted', agent(true), true],
    ['the resource is still there: the route is recreated and that logs itself', agent(), false],
  ])('%s', (_name, resource, logged) => {
    const lines: Array<[string, Record<string, unknown>]> = [];
    const keys: string[] = [];
    routeGoneHandler(() => resource, { info: ((message: string, fields: Record<string, unknown>) => void lines.push([message, fields])) as never }, (key) => void keys.push(key))(route);
    expect(keys).toEqual(['Agent/prod/a']);
    expect(lines).toEqual(logged ? [['HTTPRoute deleted', expect.objectContaining({ kind: 'Agent', namespace: 'prod', name: 'a', route: 'agent-a', reason: expect.stringContaining('garbage collector') })]] : []);
  });

  it('ignores routes without our owner labels', () => {
    const keys: string[] = [];
    routeGoneHandler(() => undefined, { info: (() => undefined) as never }, (key) => void keys.push(key))({ metadata: { name: 'x', namespace: 'prod', labels: { 'kaos.tools/owner-kind': 'Pod', 'kaos.tools/owner-name': 'x' } } });
    expect(keys).toEqual([]);
  });
});

describe('routeEventKeys', () => {
  const exists = (...present: string[]) => (kind: string, namespace: string, name: string) => present.includes(`${kind}/${namespace}/${name}`);
  it.each<[string, { name: string; labels?: Record<string, string> }, string[], string[]]>([
    ['our route: its owner labels', { name: 'agent-a', labels: route.metadata.labels }, ['Agent/prod/a'], ['Agent/prod/a']],
    ['our route whose owner label was edited: the resource its name belongs to as well', { name: 'agent-a', labels: { 'kaos.tools/owner-kind': 'Agent', 'kaos.tools/owner-name': 'b' } }, ['Agent/prod/a'], ['Agent/prod/b', 'Agent/prod/a']],
    ['a foreign route with the name of an existing resource\'s route', { name: 'mcp-tools' }, ['MCPServer/prod/tools'], ['MCPServer/prod/tools']],
    ['a foreign route whose name fits no existing resource', { name: 'mcp-tools' }, [], []],
    ['a route of another application', { name: 'web', labels: { app: 'web' } }, ['Agent/prod/web'], []],
  ])('%s', (_name, metadata, present, keys) => {
    expect(routeEventKeys({ metadata: { namespace: 'prod', ...metadata } }, exists(...present))).toEqual(keys);
  });
});

describe('the foreign-route watch', () => {
  it('selects exactly the routes the managed-route watch does not', () => {
    expect(MANAGED_ROUTE_SELECTOR).toBe('app.kubernetes.io/managed-by=kaos-routing');
    expect(FOREIGN_ROUTE_SELECTOR).toBe('app.kubernetes.io/managed-by!=kaos-routing');
  });

  it('keeps only which route it is', () => {
    const full = {
      apiVersion: 'meta.k8s.io/v1',
      kind: 'PartialObjectMetadata',
      metadata: { name: 'agent-a', namespace: 'prod', uid: 'u', resourceVersion: '7', labels: { app: 'x' }, annotations: { a: 'b' }, managedFields: [{ manager: 'm' }], ownerReferences: [] },
    };
    expect(routeIdentity(full)).toEqual({ apiVersion: 'meta.k8s.io/v1', kind: 'PartialObjectMetadata', metadata: { name: 'agent-a', namespace: 'prod', uid: 'u', resourceVersion: '7' } });
  });
});
