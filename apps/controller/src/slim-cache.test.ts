import { describe, expect, it, jest } from '@jest/globals';
import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { LeanWatch } from './lean-watch.js';
import { LAST_APPLIED_ANNOTATION, listAllPages, makeSlimInformer, slimForCache, type RawList } from './slim-cache.js';

const full = () => ({
  apiVersion: 'kaos.tools/v1alpha1',
  kind: 'Agent',
  metadata: {
    name: 'a',
    namespace: 'prod',
    uid: 'u',
    generation: 3,
    resourceVersion: '42',
    deletionTimestamp: '2026-11-26T10:00:00Z',
    labels: { team: 'x' },
    ownerReferences: [{ apiVersion: 'v1', kind: 'X', name: 'x', uid: 'o' }],
    annotations: { [LAST_APPLIED_ANNOTATION]: '{"huge":true}', note: 'kept' },
    managedFields: [{ manager: 'kubectl', operation: 'Apply', fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': {} } }],
  },
  spec: { modelAPI: 'm' },
  status: { gateway: { routeName: 'agent-a' }, phase: 'Running', conditions: [{ type: 'Ready' }] },
});

describe('slimForCache', () => {
  it('drops managedFields and the last-applied annotation, keeps everything a decision reads', () => {
    const slim = slimForCache(full() as unknown as KubernetesObject, ['gateway']);
    const { managedFields: _m, annotations: _a, ...metadata } = full().metadata;
    expect(slim).toEqual({ ...full(), metadata: { ...metadata, annotations: { note: 'kept' } }, status: { gateway: { routeName: 'agent-a' } } });
  });

  it.each<[string, Record<string, unknown> | undefined, readonly string[] | 'all', unknown]>([
    ['keeps the whole status when asked to', { parents: [{ x: 1 }] }, 'all', { parents: [{ x: 1 }] }],
    ['keeps only the named status keys', { gateway: { url: '/' }, phase: 'Running' }, ['gateway'], { gateway: { url: '/' } }],
    ['leaves no empty status behind', { phase: 'Running' }, ['gateway'], undefined],
    ['leaves a missing status missing', undefined, ['gateway'], undefined],
  ])('%s', (_name, status, kept, expected) => {
    const object = { ...full(), status } as unknown as KubernetesObject;
    expect((slimForCache(object, kept) as { status?: unknown }).status).toEqual(expected);
  });

  it('drops annotations entirely when only last-applied was there, and leaves the input alone', () => {
    const input = full();
    input.metadata.annotations = { [LAST_APPLIED_ANNOTATION]: '{}' } as typeof input.metadata.annotations;
    const slim = slimForCache(input as unknown as KubernetesObject);
    expect(slim.metadata).not.toHaveProperty('annotations');
    expect(input.metadata.managedFields).toHaveLength(1);
  });

  it('passes objects without metadata through (watch ERROR and BOOKMARK payloads)', () => {
    const status = { kind: 'Status', code: 410 } as unknown as KubernetesObject;
    expect(slimForCache(status)).toBe(status);
  });
});

describe('listAllPages', () => {
  const item = (name: string) => ({ metadata: { name, managedFields: [{}] } }) as KubernetesObject;
  it('follows continue tokens, slims each item, and returns the snapshot resourceVersion', async () => {
    const pages: Record<string, RawList> = {
      first: { metadata: { continue: 'p2', resourceVersion: '7' }, items: [item('a'), item('b')] },
      p2: { metadata: { continue: 'p3', resourceVersion: '7' }, items: [item('c')] },
      p3: { metadata: { continue: '', resourceVersion: '7' }, items: [item('d')] },
    };
    const calls: Array<[string | undefined, number]> = [];
    const list = await listAllPages(
      async (token, limit) => {
        calls.push([token, limit]);
        return pages[token ?? 'first']!;
      },
      (object) => slimForCache(object),
      2,
    );
    expect(calls).toEqual([[undefined, 2], ['p2', 2], ['p3', 2]]);
    expect(list).toEqual({ metadata: { resourceVersion: '7' }, items: ['a', 'b', 'c', 'd'].map((name) => ({ metadata: { name } })) });
  });

  it('fails when a page fails (the informer reports it and is restarted)', async () => {
    const failing = listAllPages(async (token) => {
      if (token) throw new Error('410 Expired');
      return { metadata: { continue: 'next' }, items: [] };
    }, (object) => object);
    await expect(failing).rejects.toThrow('410 Expired');
  });
});

describe('makeSlimInformer', () => {
  it('watches through LeanWatch (no fetch) and slims what the watch delivers', async () => {
    const config = new KubeConfig();
    config.loadFromOptions({ clusters: [{ name: 'c', server: 'https://127.0.0.1:6443' }], users: [{ name: 'u' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
    const informer = makeSlimInformer(config, '/apis/kaos.tools/v1alpha1/agents', async () => ({ items: [] }), (object) => slimForCache(object, ['gateway']));
    const watch = (informer as unknown as { watch: LeanWatch }).watch;
    expect(watch).toBeInstanceOf(LeanWatch);
    // The slimming wraps the callback: run the watch's parent with a fake to see what arrives.
    const seen: unknown[] = [];
    const parent = jest.spyOn(LeanWatch.prototype, 'watch').mockImplementation(async (_path, _query, callback) => {
      callback('ADDED', full());
      return new AbortController();
    });
    try {
      await watch.watch('/x', {}, (_phase, object) => seen.push(object), () => {});
    } finally {
      parent.mockRestore();
    }
    expect(seen).toEqual([slimForCache(full() as unknown as KubernetesObject, ['gateway'])]);
  });
});
