// The admission webhook in front of a real kube-apiserver: TLS it generated itself, CA bundle it
// injected, defaults and denials as kubectl users see them, the shared-Gateway path guard, and a
// forced CA rotation under load without a single failed request.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ControlPlane } from './control-plane/index.js';
import { createNamespace, kubectlOk, kubectlWithManifest, startTestCluster } from './support/cluster.js';
import { startWebhook, type RunningWebhook } from './support/webhook.js';

let plane: ControlPlane;
let webhook: RunningWebhook;
let namespace: string;

beforeAll(async () => {
  plane = await startTestCluster();
  webhook = await startWebhook(plane);
  await webhook.waitReady();
  namespace = await createNamespace(plane, 'webhook');
});
afterAll(async () => {
  await webhook?.stop();
  await plane?.stop();
});

const resource = (kind: string, name: string, spec: Record<string, unknown>) => ({ apiVersion: 'kaos.tools/v1alpha1', kind, metadata: { name, namespace }, spec });
const storedTimeout = async (kind: string, name: string) =>
  (await kubectlOk(plane, ['get', kind, name, '-n', namespace, '-o', 'jsonpath={.spec.gatewayRoute.timeout}'])).trim();

describe('defaulting', () => {
  it('stores an Agent without timeout with 120s and an MCPServer with 30s', async () => {
    await kubectlOk(plane, ['apply'], resource('Agent', 'my-agent', { modelAPI: 'my-model', config: { description: 'Example agent' } }));
    await kubectlOk(plane, ['apply'], resource('MCPServer', 'echo-server', { runtime: 'python-string' }));
    await kubectlOk(plane, ['apply'], resource('ModelAPI', 'my-model', { mode: 'Proxy', proxyConfig: { models: ['gpt-4o'] } }));
    expect(await storedTimeout('agent', 'my-agent')).toBe('120s');
    expect(await storedTimeout('mcpserver', 'echo-server')).toBe('30s');
    expect(await storedTimeout('modelapi', 'my-model')).toBe('120s');
  });

  it('keeps an explicit timeout', async () => {
    await kubectlOk(plane, ['apply'], resource('Agent', 'long-running-agent', { modelAPI: 'my-model', gatewayRoute: { timeout: '300s' } }));
    expect(await storedTimeout('agent', 'long-running-agent')).toBe('300s');
  });

  it('shows the default on a server-side dry run and stores nothing', async () => {
    const output = await kubectlOk(plane, ['apply', '--dry-run=server', '-o', 'json'], resource('Agent', 'dry', { modelAPI: 'm' }));
    expect(JSON.parse(output).spec.gatewayRoute).toEqual({ timeout: '120s' });
    expect((await plane.kubectl(['get', 'agent', 'dry', '-n', namespace])).code).not.toBe(0);
  });
});

describe('validation', () => {
  it('rejects a name too long for its Service with the reason, before anything is stored', async () => {
    // A timeout the CRD accepts but the route rules refuse: a name too long for its Service.
    const result = await kubectlWithManifest(plane, ['apply'], resource('Agent', 'a'.repeat(58), { modelAPI: 'm' }));
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('admission webhook "validate.kaos.tools" denied the request');
    expect(result.stderr).toContain(`metadata.name: Service name "agent-${'a'.repeat(58)}" must be at most 63 characters (is 64); a Agent name can have at most 57 characters`);
  });

  it('rejects a bad duration (the CRD says so first, with its CEL message)', async () => {
    const result = await kubectlWithManifest(plane, ['apply'], resource('Agent', 'bad-timeout', { modelAPI: 'm', gatewayRoute: { timeout: '5 minutes' } }));
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('spec.gatewayRoute.timeout');
    expect(result.stderr).toMatch(/Gateway API duration/);
  });

  it('warns about a timeout over an hour but stores it', async () => {
    const result = await kubectlWithManifest(plane, ['apply'], resource('MCPServer', 'slow', { runtime: 'r', gatewayRoute: { timeout: '2h' } }));
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('Warning: spec.gatewayRoute.timeout: 2h is longer than an hour');
  });
});

describe('the shared-Gateway path guard', () => {
  const route = (routeNamespace: string, path: string, gateway = 'kaos-gateway') => ({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: 'mine', namespace: routeNamespace },
    spec: {
      parentRefs: [{ name: gateway, namespace: 'kaos-system' }],
      rules: [{ matches: [{ path: { type: 'PathPrefix', value: path } }], backendRefs: [{ name: 'svc', port: 80 }] }],
    },
  });

  it('rejects a foreign HTTPRoute claiming /other-ns/agent/x', async () => {
    const result = await kubectlWithManifest(plane, ['apply'], route(namespace, '/other-ns/agent/x'));
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('admission webhook "routes.kaos.tools" denied the request');
    expect(result.stderr).toContain(`spec.rules[0].matches[0].path: claims "/other-ns/agent/x", outside this namespace's paths`);
  });

  it('allows a route inside its own namespace, and ignores routes on other Gateways', async () => {
    await kubectlOk(plane, ['apply'], route(namespace, `/${namespace}/dashboard`));
    await kubectlOk(plane, ['apply'], { ...route(namespace, '/other-ns/agent/x', 'private-gateway'), metadata: { name: 'private', namespace } });
  });
});

describe('TLS', () => {
  it('serves a certificate it generated, from a Secret, with the CA bundle injected', async () => {
    const data = JSON.parse(await kubectlOk(plane, ['get', 'secret', webhook.secretName, '-n', webhook.namespace, '-o', 'jsonpath={.data}']));
    expect(Object.keys(data)).toEqual(expect.arrayContaining(['ca.crt', 'ca.key', 'tls.crt', 'tls.key', 'ca-bundle.crt']));
    const bundles = await kubectlOk(plane, ['get', 'validatingwebhookconfiguration', 'kaos-e2e-validating', '-o', 'jsonpath={.webhooks[*].clientConfig.caBundle}']);
    expect(bundles.trim().split(' ')).toEqual([data['ca-bundle.crt'], data['ca-bundle.crt']]);
  });

  it('rotates the CA under load with zero failed admissions', async () => {
    const before = JSON.parse(await kubectlOk(plane, ['get', 'secret', webhook.secretName, '-n', webhook.namespace, '-o', 'jsonpath={.data}']));
    const stopAt = Date.now() + 25_000;
    let sent = 0;
    const failures: string[] = [];
    const worker = async (id: number) => {
      while (Date.now() < stopAt) {
        const name = `load-${id}-${sent++}`;
        const result = await kubectlWithManifest(plane, ['create', '--dry-run=server', '-o', 'jsonpath={.spec.gatewayRoute.timeout}'], resource('Agent', name, { modelAPI: 'm' }));
        if (result.code !== 0 || result.stdout.trim() !== '120s') failures.push(`${name}: ${result.code} ${result.stderr.trim()} ${result.stdout}`);
      }
    };
    const load = Promise.all([0, 1, 2].map(worker));
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    webhook.signal('SIGHUP');
    await load;

    const after = JSON.parse(await kubectlOk(plane, ['get', 'secret', webhook.secretName, '-n', webhook.namespace, '-o', 'jsonpath={.data}']));
    expect(after['ca.crt']).not.toBe(before['ca.crt']);
    expect(after['tls.crt']).not.toBe(before['tls.crt']);
    // The old CA stays trusted until the certificates it issued have expired.
    const bundle = Buffer.from(after['ca-bundle.crt'], 'base64').toString();
    expect(bundle.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    expect(failures).toEqual([]);
    expect(sent).toBeGreaterThan(30);
  });
});

describe('shutdown', () => {
  it('stops cleanly on SIGTERM', async () => {
    expect(await webhook.stop()).toBe(0);
  });
});

describe('load shedding through the API server', () => {
  it('refuses large reviews over the byte cap without reading them, and the API server retries each until it is stored', async () => {
    // The shutdown test stopped the first webhook; this one admits two of these reviews at once.
    webhook = await startWebhook(plane, { MAX_IN_FLIGHT_BYTES: String(700 * 1024) });
    await webhook.waitReady();
    // Over the 256 KiB above which a refused review is answered unread and its connection closed.
    const instructions = 'x'.repeat(320 * 1024);
    const names = Array.from({ length: 6 }, (_, index) => `large-${index}`);
    const results = await Promise.all(names.map((name) => kubectlWithManifest(plane, ['create', '-o', 'jsonpath={.spec.gatewayRoute.timeout}'], resource('Agent', name, { modelAPI: 'm', config: { instructions } }))));
    expect(results.map((result) => `${result.code} ${result.stdout.trim()} ${result.stderr.trim()}`)).toEqual(names.map(() => '0 120s '));
    const metrics = await (await fetch(`http://127.0.0.1:${webhook.healthPort}/metrics`)).text();
    const shed = [...metrics.matchAll(/^kaos_webhook_reviews_shed_total\{[^}]*reason="bytes"[^}]*\} (\d+)$/gm)].reduce((sum, match) => sum + Number(match[1]), 0);
    // Each create meets the mutating and the validating webhook: at least 2 x 6 reviews, 2 at a time.
    expect(shed).toBeGreaterThan(0);
    for (const name of names) expect((await kubectlOk(plane, ['get', 'agent', name, '-n', namespace, '-o', 'jsonpath={.spec.config.instructions}'])).length).toBe(instructions.length);
  }, 60_000);
});
