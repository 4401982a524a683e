import { describe, expect, it } from '@jest/globals';
import { silentLogger } from '@kaos/kube-runtime';
import { StaleBundleError, WebhookConfigurationNotFoundError, caBundlePatch, createCaInjector } from './ca-injector.js';
import { FakeWebhookApi, apiError } from './tls.test-helpers.js';

const BUNDLE = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
const BUNDLE_B64 = Buffer.from(BUNDLE).toString('base64');

function injector(api: FakeWebhookApi, names: { mutating?: string; validating?: string } = { mutating: 'kaos-mutating', validating: 'kaos-validating' }) {
  return createCaInjector({
    api,
    logger: silentLogger(),
    ...(names.mutating === undefined ? {} : { mutatingWebhookConfiguration: names.mutating }),
    ...(names.validating === undefined ? {} : { validatingWebhookConfiguration: names.validating }),
  });
}

describe('caBundlePatch', () => {
  it.each<[string, (string | undefined)[], string[]]>([
    ['all webhooks already current', [BUNDLE_B64, BUNDLE_B64], []],
    ['an unset caBundle', [undefined], ['/webhooks/0/clientConfig/caBundle']],
    ['only the stale one of two', [BUNDLE_B64, 'b2xk'], ['/webhooks/1/clientConfig/caBundle']],
    ['no webhooks at all', [], []],
  ])('with %s', (_name, bundles, paths) => {
    const patch = caBundlePatch(
      { metadata: { resourceVersion: '7' }, webhooks: bundles.map((caBundle) => ({ clientConfig: caBundle === undefined ? {} : { caBundle } })) },
      BUNDLE_B64,
    );
    expect(patch.filter((op) => op.op === 'add').map((op) => op.path)).toEqual(paths);
    if (paths.length > 0) expect(patch[0]).toEqual({ op: 'test', path: '/metadata/resourceVersion', value: '7' });
  });
});

describe('createCaInjector', () => {
  it('patches every webhook of both configurations, then nothing once they match', async () => {
    const api = new FakeWebhookApi();
    api.put(api.mutating, 'kaos-mutating', [undefined, '']);
    api.put(api.validating, 'kaos-validating', [undefined, undefined, 'b2xk']);
    expect(await injector(api).inject(BUNDLE)).toEqual({
      changed: true,
      patched: ['MutatingWebhookConfiguration/kaos-mutating', 'ValidatingWebhookConfiguration/kaos-validating'],
    });
    for (const configuration of [api.mutating.get('kaos-mutating')!, api.validating.get('kaos-validating')!]) {
      for (const webhook of configuration.webhooks!) expect(webhook.clientConfig.caBundle).toBe(BUNDLE_B64);
    }
    const patchesBefore = api.patches.length;
    expect(await injector(api).inject(BUNDLE)).toEqual({ changed: false, patched: [] });
    expect(api.patches).toHaveLength(patchesBefore);
  });

  it('patches only the webhooks that differ', async () => {
    const api = new FakeWebhookApi();
    api.put(api.mutating, 'kaos-mutating', [BUNDLE_B64, 'b2xk']);
    await injector(api, { mutating: 'kaos-mutating' }).inject(BUNDLE);
    expect(api.patches).toEqual([
      {
        kind: 'Mutating',
        name: 'kaos-mutating',
        body: [
          { op: 'test', path: '/metadata/resourceVersion', value: expect.any(String) },
          { op: 'add', path: '/webhooks/1/clientConfig/caBundle', value: BUNDLE_B64 },
        ],
      },
    ]);
  });

  it('re-reads and retries when the configuration changed between read and patch', async () => {
    const api = new FakeWebhookApi();
    api.put(api.validating, 'kaos-validating', [undefined]);
    api.raceNextPatches = 2;
    expect(await injector(api, { validating: 'kaos-validating' }).inject(BUNDLE)).toMatchObject({ changed: true });
    expect(api.patches).toHaveLength(3);
    expect(api.validating.get('kaos-validating')!.webhooks![0]!.clientConfig.caBundle).toBe(BUNDLE_B64);
  });

  it('gives up after too many concurrent changes', async () => {
    const api = new FakeWebhookApi();
    api.put(api.validating, 'kaos-validating', [undefined]);
    api.raceNextPatches = 100;
    await expect(
      createCaInjector({ api, logger: silentLogger(), validatingWebhookConfiguration: 'kaos-validating', maxAttempts: 2 }).inject(BUNDLE),
    ).rejects.toThrow(/kept changing/);
  });

  it.each([
    ['mutating', { mutating: 'missing-m', validating: 'kaos-validating' }, /MutatingWebhookConfiguration "missing-m" not found/],
    ['validating', { validating: 'missing-v' }, /ValidatingWebhookConfiguration "missing-v" not found/],
  ])('reports a missing %s configuration clearly', async (_name, names, message) => {
    const api = new FakeWebhookApi();
    api.put(api.validating, 'kaos-validating', [undefined]);
    const failure = injector(api, names).inject(BUNDLE);
    await expect(failure).rejects.toThrow(WebhookConfigurationNotFoundError);
    await expect(failure).rejects.toThrow(message);
  });

  it('propagates other API errors', async () => {
    const api = new FakeWebhookApi();
    api.readMutatingWebhookConfiguration = async () => {
      throw apiError(403, 'Forbidden');
    };
    await expect(injector(api, { mutating: 'kaos-mutating' }).inject(BUNDLE)).rejects.toMatchObject({ code: 403 });
  });

  it('confirms the bundle with its source after reading each configuration, and only when it has something to write', async () => {
    const api = new FakeWebhookApi();
    api.put(api.mutating, 'kaos-mutating', [BUNDLE_B64]);
    api.put(api.validating, 'kaos-validating', [undefined]);
    const calls: string[] = [];
    const read = api.readValidatingWebhookConfiguration.bind(api);
    api.readValidatingWebhookConfiguration = async (params) => {
      calls.push('read');
      return read(params);
    };
    const patch = api.patchValidatingWebhookConfiguration.bind(api);
    api.patchValidatingWebhookConfiguration = async (params) => {
      calls.push('patch');
      return patch(params);
    };
    const stillCurrent = async (): Promise<boolean> => {
      calls.push('stillCurrent');
      return true;
    };
    expect(await injector(api).inject(BUNDLE, { stillCurrent })).toEqual({ changed: true, patched: ['ValidatingWebhookConfiguration/kaos-validating'] });
    // The mutating one already matched: no check, no patch.
    expect(calls).toEqual(['read', 'stillCurrent', 'patch']);
  });

  it('writes nothing when the source no longer holds the bundle', async () => {
    const api = new FakeWebhookApi();
    api.put(api.mutating, 'kaos-mutating', ['b2xk']);
    api.put(api.validating, 'kaos-validating', ['b2xk']);
    await expect(injector(api).inject(BUNDLE, { stillCurrent: async () => false })).rejects.toThrow(StaleBundleError);
    expect(api.patches).toEqual([]);
  });

  it('does nothing without configured names', async () => {
    const api = new FakeWebhookApi();
    expect(await injector(api, {}).inject(BUNDLE)).toEqual({ changed: false, patched: [] });
  });
});
