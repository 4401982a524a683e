import { describe, expect, it } from '@jest/globals';
import type { KaosResource } from '@kaos/api-types';
import { removalPatch, routeGoneHandler } from './kube-cluster.js';

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

describe('removalPatch', () => {
  it('carries the uid as a precondition and nulls each field', () => {
    expect(removalPatch('u-1', ['spec.hostnames'])).toEqual({ metadata: { uid: 'u-1' }, spec: { hostnames: null } });
  });

  it('nests several paths under one object', () => {
    expect(removalPatch('u', ['spec.hostnames', 'spec.extra', 'metadata.annotations'])).toEqual({ metadata: { uid: 'u', annotations: null }, spec: { hostnames: null, extra: null } });
  });
});
