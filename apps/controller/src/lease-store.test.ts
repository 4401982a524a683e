import { describe, expect, it } from '@jest/globals';
import { ApiException } from '@kubernetes/client-node';
import { createLeaseStore, type LeaseApi } from './lease-store.js';

type Options = Parameters<LeaseApi['getNamespacedCustomObject']>[1];

/** A fake Lease API: records each call with its options and answers `answer` (an Error is thrown). */
function fakeApi(answer: unknown = undefined) {
  const calls: Array<[string, Record<string, unknown>, Options]> = [];
  const call = (method: string) => async (request: Record<string, unknown>, options: Options) => {
    calls.push([method, request, options]);
    if (answer instanceof Error) throw answer;
    return answer;
  };
  const api = { getNamespacedCustomObject: call('get'), createNamespacedCustomObject: call('create'), replaceNamespacedCustomObject: call('replace') } as unknown as LeaseApi;
  return { api, calls };
}

const path = { group: 'coordination.k8s.io', version: 'v1', namespace: 'kaos-system', plural: 'leases', name: 'kaos-routing' };
const spec = { holderIdentity: 'pod-1_abc', leaseDurationSeconds: 15, renewTime: '2026-11-30T10:00:00.000000Z' };

describe('createLeaseStore', () => {
  it.each<[string, unknown, unknown]>([
    ['a Lease', { metadata: { resourceVersion: '42' }, spec }, { spec, resourceVersion: '42' }],
    ['a Lease without a spec', { metadata: { resourceVersion: '7' } }, { spec: {}, resourceVersion: '7' }],
    ['no Lease yet', new ApiException(404, 'not found', {}, {}), undefined],
  ])('reads %s', async (_name, answer, record) => {
    const fake = fakeApi(answer);
    expect(await createLeaseStore(fake.api, 'kaos-system', 'kaos-routing').read()).toEqual(record);
    expect(fake.calls).toEqual([['get', path, undefined]]);
  });

  it('passes on other read failures', async () => {
    const fake = fakeApi(new ApiException(403, 'forbidden', {}, {}));
    await expect(createLeaseStore(fake.api, 'kaos-system', 'kaos-routing').read()).rejects.toBeInstanceOf(ApiException);
  });

  it('creates the Lease, and replaces it at the resourceVersion read (optimistic concurrency)', async () => {
    const fake = fakeApi({});
    const store = createLeaseStore(fake.api, 'kaos-system', 'kaos-routing');
    await store.create(spec);
    await store.write(spec, '42');
    expect(fake.calls).toEqual([
      ['create', { ...path, body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'kaos-routing', namespace: 'kaos-system' }, spec } }, undefined],
      ['replace', { ...path, body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'kaos-routing', namespace: 'kaos-system', resourceVersion: '42' }, spec } }, undefined],
    ]);
  });

  it.each(['read', 'create', 'write'] as const)('%s hands the renew deadline\'s signal to the request', async (operation) => {
    const fake = fakeApi({ metadata: { resourceVersion: '1' } });
    const store = createLeaseStore(fake.api, 'kaos-system', 'kaos-routing');
    const signal = new AbortController().signal;
    if (operation === 'read') await store.read(signal);
    if (operation === 'create') await store.create(spec, signal);
    if (operation === 'write') await store.write(spec, '1', signal);
    const options = fake.calls[0]![2];
    expect((options as { middlewareMergeStrategy?: string } | undefined)?.middlewareMergeStrategy).toBe('append');
    const signals: AbortSignal[] = [];
    const context = { setSignal: (given: AbortSignal) => void signals.push(given) };
    await options!.middleware![0]!.pre(context as never).toPromise();
    expect(signals).toEqual([signal]);
    const response = { httpStatusCode: 200 };
    expect(await options!.middleware![0]!.post(response as never).toPromise()).toBe(response);
  });
});
