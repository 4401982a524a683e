import { describe, expect, it, jest } from '@jest/globals';
import { HttpMethod, KubeConfig, RequestContext } from '@kubernetes/client-node';
import { reuseConnections, sameSettings, watchDispatcher } from './connections.js';

const ca = Buffer.from('-----BEGIN CERTIFICATE-----\nnot parsed until a connection is made\n-----END CERTIFICATE-----\n').toString('base64');

function kubeConfig(user: { token?: string; certData?: string; keyData?: string }): KubeConfig {
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:6443', caData: ca }],
    users: [{ name: 'u', ...user }],
    contexts: [{ name: 'ctx', cluster: 'c', user: 'u' }],
    currentContext: 'ctx',
  });
  return config;
}

/** The dispatcher (connection pool) one request would use. */
async function dispatcherOf(config: KubeConfig): Promise<unknown> {
  const context = new RequestContext('https://127.0.0.1:6443/api', HttpMethod.GET);
  await config.applySecurityAuthentication(context);
  return context.getDispatcher();
}

describe('reuseConnections', () => {
  it('stock client-node gives every request its own dispatcher (the reason for this module)', async () => {
    const config = kubeConfig({ token: 't' });
    expect(await dispatcherOf(config)).not.toBe(await dispatcherOf(config));
  });

  it('makes requests share one dispatcher, and keeps sending the credentials', async () => {
    const config = kubeConfig({ token: 't' });
    expect(reuseConnections(config)).toBe(true);
    const first = await dispatcherOf(config);
    expect(first).toBeDefined();
    expect(await dispatcherOf(config)).toBe(first);
    const context = new RequestContext('https://127.0.0.1:6443/api', HttpMethod.GET);
    await config.applySecurityAuthentication(context);
    expect(context.getHeaders()).toMatchObject({ Authorization: 'Bearer t' });
  });

  it('gives the watches a pool of their own with the same settings, made once (answers to writes never wait behind watch events)', async () => {
    const config = kubeConfig({ token: 't' });
    reuseConnections(config);
    const shared = await dispatcherOf(config);
    const watches = watchDispatcher(shared);
    expect(watches).toBeDefined();
    expect(watches).not.toBe(shared);
    expect(watchDispatcher(await dispatcherOf(config))).toBe(watches);
    // Not one of ours (stock client-node, or no TLS settings): used as it is.
    const other = {};
    expect(watchDispatcher(other)).toBe(other);
    expect(watchDispatcher(undefined)).toBeUndefined();
  });

  it('switches to a new dispatcher when the TLS settings change, closing the old one after a grace period', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    try {
      const config = kubeConfig({ certData: Buffer.from('cert-1').toString('base64'), keyData: Buffer.from('key').toString('base64') });
      reuseConnections(config);
      const first = (await dispatcherOf(config)) as { closed: boolean };
      (config.users[0] as { certData?: string }).certData = Buffer.from('cert-2').toString('base64');
      const second = await dispatcherOf(config);
      expect(second).not.toBe(first);
      expect(await dispatcherOf(config)).toBe(second);
      // Requests that already chose the old pool can still use it.
      await new Promise((resolve) => setImmediate(resolve));
      expect(first.closed).toBe(false);
      jest.advanceTimersByTime(60_000);
      await new Promise((resolve) => setImmediate(resolve));
      expect(first.closed).toBe(true);
    } finally {
      jest.useRealTimers();
    }
  });
});

describe('sameSettings', () => {
  const tls = (cert: string, extra: Record<string, unknown> = {}) => ({ type: 'agent', connect: { ca: Buffer.from('ca'), cert: Buffer.from(cert), key: Buffer.from('k'), keepAlive: true, keepAliveInitialDelay: 30000, ...extra } });
  it.each<[string, unknown, unknown, boolean]>([
    ['the same settings read afresh (new Buffers, same bytes)', tls('c'), tls('c'), true],
    ['a rotated client certificate', tls('c'), tls('d'), false],
    ['a flag added', tls('c'), tls('c', { rejectUnauthorized: false }), false],
    ['a flag changed', tls('c', { servername: 'a' }), tls('c', { servername: 'b' }), false],
    ['an undefined field is no field (as JSON)', tls('c', { passphrase: undefined }), tls('c'), true],
    ['a Buffer against a string of the same bytes', { ca: Buffer.from('x') }, { ca: 'x' }, false],
    ['no TLS settings', { type: 'none' }, { type: 'none' }, true],
    ['an array against an object', { a: [1] }, { a: { 0: 1 } }, false],
    ['null against an object', { a: null }, { a: {} }, false],
  ])('%s', (_name, a, b, same) => {
    expect(sameSettings(a, b)).toBe(same);
    expect(sameSettings(b, a)).toBe(same);
  });
});
