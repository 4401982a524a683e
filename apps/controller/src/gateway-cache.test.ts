import { describe, expect, it } from '@jest/globals';
import { ApiException, KubeConfig } from '@kubernetes/client-node';
import type { Gateway } from '@kaos/api-types';
import { silentLogger } from '@kaos/kube-runtime';
import { createGatewayCache, GATEWAY_CACHE_MS, gatewayChangeHandler, gatewayReader } from './gateway-cache.js';

const gateway = (address: string, extra: Record<string, unknown> = {}) =>
  ({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name: 'kaos-gateway', namespace: 'kaos-system' },
    spec: { gatewayClassName: 'eg', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] },
    status: { addresses: [{ type: 'IPAddress', value: address }], ...extra },
  }) as unknown as Gateway;

const deferred = <T>() => {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => (resolve = done));
  return { promise, resolve };
};

describe('gatewayReader', () => {
  it('answers from the watch when it has the Gateway, without a read', async () => {
    let reads = 0;
    const watched = gateway('10.0.0.1');
    const get = gatewayReader({ watched: () => watched, read: async () => (reads++, undefined) });
    expect(await get()).toBe(watched);
    expect(reads).toBe(0);
  });

  it('answers no Gateway without a read once the watch has filled its cache without one', async () => {
    let reads = 0;
    let filled = false;
    let clock = 0;
    // Every get comes after the 5 s reuse of a read: only the filled cache spares the reads.
    const get = gatewayReader({ watched: () => undefined, read: async () => (reads++, undefined), now: () => (clock += GATEWAY_CACHE_MS), cacheFilled: () => filled });
    await get();
    expect(reads).toBe(1);
    filled = true;
    for (let i = 0; i < 3; i++) expect(await get()).toBeUndefined();
    expect(reads).toBe(1);
  });

  it.each([
    // ms since the read, reads after the second get
    [0, 1],
    [GATEWAY_CACHE_MS - 1, 1],
    [GATEWAY_CACHE_MS, 2],
  ])('reuses a read for 5 s (second get after %d ms: %d reads)', async (elapsed, reads) => {
    let clock = 1_000_000;
    let count = 0;
    const get = gatewayReader({ watched: () => undefined, read: async () => (count++, gateway('10.0.0.1')), now: () => clock });
    await get();
    clock += elapsed;
    await get();
    expect(count).toBe(reads);
  });

  it('shares one read in flight among concurrent callers', async () => {
    const answer = deferred<Gateway | undefined>();
    let reads = 0;
    const get = gatewayReader({ watched: () => undefined, read: () => (reads++, answer.promise) });
    const both = Promise.all([get(), get()]);
    answer.resolve(gateway('10.0.0.1'));
    const [first, second] = await both;
    expect(first).toBe(second);
    expect(reads).toBe(1);
  });

  it('does not reuse a failed read', async () => {
    let fail = true;
    let reads = 0;
    const get = gatewayReader({
      watched: () => undefined,
      read: async () => {
        reads++;
        if (fail) throw new Error('HTTP 503');
        return gateway('10.0.0.1');
      },
    });
    await expect(get()).rejects.toThrow('HTTP 503');
    fail = false;
    expect(await get()).toEqual(gateway('10.0.0.1'));
    expect(reads).toBe(2);
  });
});

describe('gatewayChangeHandler', () => {
  it.each<[string, Array<Gateway | undefined>, number]>([
    ['the first sighting', [gateway('10.0.0.1')], 1],
    ['the same addresses and listeners again', [gateway('10.0.0.1'), gateway('10.0.0.1')], 1],
    ['only its conditions changed', [gateway('10.0.0.1'), gateway('10.0.0.1', { conditions: [{ type: 'Programmed', status: 'True' }] })], 1],
    ['a new address', [gateway('10.0.0.1'), gateway('10.0.0.2')], 2],
    ['deleted, then deleted again', [gateway('10.0.0.1'), undefined, undefined], 2],
  ])('%s: %d requeues', (_name, sightings, changes) => {
    let requeues = 0;
    const lines: unknown[] = [];
    const onGateway = gatewayChangeHandler('kaos-system/kaos-gateway', { info: ((message: string, fields: unknown) => void lines.push([message, fields])) as never }, () => void requeues++);
    for (const sighting of sightings) onGateway(sighting as never);
    expect(requeues).toBe(changes);
    expect(lines[0]).toEqual(['Gateway changed; requeueing every resource', { gateway: 'kaos-system/kaos-gateway', addresses: [{ type: 'IPAddress', value: '10.0.0.1' }] }]);
  });
});

describe('createGatewayCache', () => {
  const config = { gatewayNamespace: 'kaos-system', gatewayName: 'kaos-gateway' };
  const hooks = (reads: string[]) => ({ changed: () => {}, read: () => void reads.push('gateways'), restarted: () => () => {} });

  it.each<[string, unknown, Gateway | undefined]>([
    ['the Gateway', gateway('10.0.0.1'), gateway('10.0.0.1')],
    ['no Gateway of that name', new ApiException(404, 'not found', {}, {}), undefined],
  ])('without the Gateway API watch, reads %s by name', async (_name, answer, expected) => {
    const requests: unknown[] = [];
    const reads: string[] = [];
    const custom = {
      listNamespacedCustomObject: async () => ({ items: [] }),
      getNamespacedCustomObject: async (request: unknown) => {
        requests.push(request);
        if (answer instanceof Error) throw answer;
        return answer;
      },
    };
    const cache = createGatewayCache(new KubeConfig(), custom as never, { ...config, gatewayApiEnabled: false }, silentLogger(), hooks(reads));
    expect(cache.supervisor).toBeUndefined();
    expect(await cache.get()).toEqual(expected);
    expect(requests).toEqual([{ group: 'gateway.networking.k8s.io', version: 'v1', namespace: 'kaos-system', plural: 'gateways', name: 'kaos-gateway' }]);
    expect(reads).toEqual(['gateways']);
  });

  it('passes on other API failures', async () => {
    const custom = { listNamespacedCustomObject: async () => ({ items: [] }), getNamespacedCustomObject: async () => Promise.reject(new ApiException(403, 'forbidden', {}, {})) };
    const cache = createGatewayCache(new KubeConfig(), custom as never, { ...config, gatewayApiEnabled: false }, silentLogger(), hooks([]));
    await expect(cache.get()).rejects.toBeInstanceOf(ApiException);
  });

  it('with the Gateway API, watches the Gateway under a supervisor (not started)', () => {
    const cache = createGatewayCache(new KubeConfig(), {} as never, { ...config, gatewayApiEnabled: true }, silentLogger(), hooks([]));
    expect(cache.supervisor?.synced()).toBe(false);
    expect(cache.supervisor?.restarts()).toBe(0);
  });
});
