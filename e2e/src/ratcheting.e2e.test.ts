// Validation ratcheting (ADR 0012) on a real API server: objects stored before the webhook existed
// — one under upstream KAOS's looser CRD, others under ours but invalid by the webhook's rules, one
// an HTTPRoute that trespasses on another namespace's KAOS path — each holding a finalizer. After
// the chart is installed (local mode) they can still be labelled, edited where they are not wrong,
// unblocked (finalizer removed) and deleted with their namespaces; only changing what is wrong to
// something else wrong is refused.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { gatewayApiBundlePath, startControlPlane, type ControlPlane, type KubectlResult } from './control-plane/index.js';
import { freePort } from './control-plane/proc.js';
import type { AppProcess } from './support/app-process.js';
import { KAOS_CRD_DIR, eventually, getJson, kubectlOk, kubectlWithManifest } from './support/cluster.js';
import { UPSTREAM_CRD_DIR, applyCrds } from './support/crds.js';
import { installLocalRelease, startLocalApps, type LocalRelease } from './support/release.js';

/** Upstream KAOS's CRDs (commit 43f4851), as a cluster that ran KAOS has them. */
const NAMESPACE = 'legacy';
const ROUTE_NAMESPACE = 'legacy-routes';
const HOLD = 'example.com/hold';
const RATCHETED = '(already invalid before this update; allowed unchanged)';

/** Stored under upstream's CRD: its timeout pattern allows any number of digits, ours (Gateway API's) 1–5. */
const LOOSE_TIMEOUT_AGENT = 'loose-timeout';
/** 58 characters: its Service `agent-{name}` would have 64, one more than a DNS label may. */
const LONG_NAME_AGENT = `long-name-${'x'.repeat(48)}`;
/** Valid, stored without the webhook's timeout default. */
const PLAIN_MCP = 'plain';
/** Stored under upstream's CRD, which has no cross-field rules: mode Proxy without proxyConfig, no timeout. */
const PROXY_WITHOUT_CONFIG = 'proxy-without-config';
/** Stored under upstream's CRD, which requires nothing at the root: an Agent without spec. */
const AGENT_WITHOUT_SPEC = 'no-spec';
const SQUATTER = 'squatter';

let plane: ControlPlane;
let release: LocalRelease;
const apps: { webhook?: AppProcess; controller?: AppProcess } = {};

const kubectl = (args: string[]): Promise<KubectlResult> => plane.kubectl(args);
const agent = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: 'kaos.tools/v1alpha1',
  kind: 'Agent',
  metadata: { name, namespace: NAMESPACE, finalizers: [HOLD] },
  spec: { modelAPI: 'm', model: 'gpt-4o', config: { description: 'stored before the webhook' }, ...spec },
});
const squatterRoute = (path: string) => ({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'HTTPRoute',
  metadata: { name: SQUATTER, namespace: ROUTE_NAMESPACE, finalizers: [HOLD] },
  spec: {
    parentRefs: [{ name: 'kaos-gateway', namespace: 'kaos-system' }],
    rules: [{ matches: [{ path: { type: 'PathPrefix', value: path } }], backendRefs: [{ name: 'ui', port: 80 }] }],
  },
});
const removeFinalizers = (kind: string, name: string, namespace: string) =>
  kubectl(['patch', kind, name, '-n', namespace, '--type=json', '-p', '[{"op":"remove","path":"/metadata/finalizers"}]']);
const gone = (args: string[]) => eventually(`${args.join(' ')} to be gone`, async () => ((await kubectl(['get', ...args])).stderr.includes('NotFound') ? true : undefined), 60_000);

/** A server-side dry run of an Agent with upstream's timeout: refused once the API server serves our CRD. */
const looseTimeoutRefused = async () =>
  (await kubectlWithManifest(plane, ['create', '--dry-run=server'], { ...agent('probe', { gatewayRoute: { timeout: '100000s' } }), metadata: { name: 'probe', namespace: NAMESPACE } })).code !== 0;

beforeAll(async () => {
  plane = await startControlPlane({ gatewayApiBundle: gatewayApiBundlePath() });
  release = { release: 'kaos-operator', namespace: 'kaos-system', webhookPort: await freePort() };
  await kubectlOk(plane, ['create', 'namespace', NAMESPACE]);
  await kubectlOk(plane, ['create', 'namespace', ROUTE_NAMESPACE]);

  // 1. A cluster that ran upstream KAOS: an Agent with a timeout only upstream's pattern allows.
  await applyCrds(plane, UPSTREAM_CRD_DIR);
  await kubectlOk(plane, ['create'], agent(LOOSE_TIMEOUT_AGENT, { gatewayRoute: { timeout: '100000s' } }));
  await kubectlOk(plane, ['create'], { apiVersion: 'kaos.tools/v1alpha1', kind: 'ModelAPI', metadata: { name: PROXY_WITHOUT_CONFIG, namespace: NAMESPACE, finalizers: [HOLD] }, spec: { mode: 'Proxy' } });
  await kubectlOk(plane, ['create'], { apiVersion: 'kaos.tools/v1alpha1', kind: 'Agent', metadata: { name: AGENT_WITHOUT_SPEC, namespace: NAMESPACE, finalizers: [HOLD] } });

  // 2. Our CRDs replace upstream's; the API server's own ratcheting keeps the stored timeout updatable.
  await applyCrds(plane, KAOS_CRD_DIR);
  await eventually('the API server to serve our CRD schema', async () => ((await looseTimeoutRefused()) ? true : undefined), 60_000);

  // 3. Before the webhook: objects the CRDs accept but the webhook's rules do not, and a valid one without a default.
  await kubectlOk(plane, ['create'], agent(LONG_NAME_AGENT, {}));
  await kubectlOk(plane, ['create'], { apiVersion: 'kaos.tools/v1alpha1', kind: 'MCPServer', metadata: { name: PLAIN_MCP, namespace: NAMESPACE, finalizers: [HOLD] }, spec: { runtime: 'python-string' } });
  await kubectlOk(plane, ['create'], squatterRoute(`/${NAMESPACE}/agent/${LOOSE_TIMEOUT_AGENT}`));

  // 4. The chart, with the HTTPRoute guard; Helm leaves the CRDs that are there alone.
  await installLocalRelease(plane, release, { 'gatewayAPI.enabled': true });
  Object.assign(apps, await startLocalApps(plane, release, plane.workDir));
  await eventually('the webhook to refuse a new Agent whose name is too long', async () => {
    const created = await kubectlWithManifest(plane, ['create', '--dry-run=server'], { ...agent(`${LONG_NAME_AGENT}y`, {}), metadata: { name: `${LONG_NAME_AGENT}y`, namespace: NAMESPACE } });
    if (created.code !== 0 && created.stderr.includes('admission webhook "validate.kaos.tools" denied the request')) return true;
    throw new Error(`kubectl create exited ${created.code}: ${created.stderr.trim() || created.stdout.trim()}`);
  }, 60_000);
}, 300_000);

afterAll(async () => {
  await Promise.all([apps.webhook?.stop(), apps.controller?.stop()]);
  await plane?.stop();
});

describe('objects stored before the webhook stay manageable', () => {
  it.each([
    ['the Agent with an upstream-only timeout', 'agent', LOOSE_TIMEOUT_AGENT, NAMESPACE, 'spec.gatewayRoute.timeout: "100000s" is not a Gateway API duration'],
    ['the Agent whose name is too long for a route', 'agent', LONG_NAME_AGENT, NAMESPACE, `metadata.name: Service name "agent-${LONG_NAME_AGENT}" must be at most 63 characters (is 64)`],
    ['the HTTPRoute that claims another namespace\'s Agent path', 'httproute', SQUATTER, ROUTE_NAMESPACE, `claims "/${NAMESPACE}/agent/${LOOSE_TIMEOUT_AGENT}", outside this namespace's paths`],
  ])('kubectl label %s: allowed, with a warning naming the old problem', async (_name, kind, name, namespace, problem) => {
    const result = await kubectl(['label', kind, name, '-n', namespace, 'team=legacy']);
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: expect.stringContaining(problem) });
    expect(result.stderr).toContain(RATCHETED);
  });

  // Found in review: a timeout default on a label change made it a spec change, which the API server
  // validates in full (ModelAPI's CEL rule), and a root `required: [spec]` can never be ratcheted.
  it.each([
    ['the upstream Proxy ModelAPI without proxyConfig', 'modelapi', PROXY_WITHOUT_CONFIG],
    ['the upstream Agent without spec', 'agent', AGENT_WITHOUT_SPEC],
  ])('kubectl label %s: allowed, and nothing is written into its spec', async (_name, kind, name) => {
    const before = await getJson<{ spec?: unknown }>(plane, ['get', kind, name, '-n', NAMESPACE]);
    const result = await kubectl(['label', kind, name, '-n', NAMESPACE, 'team=legacy']);
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    const after = await getJson<{ spec?: unknown; metadata: { labels?: Record<string, string> } }>(plane, ['get', kind, name, '-n', NAMESPACE]);
    expect(after?.metadata.labels).toMatchObject({ team: 'legacy' });
    expect(after?.spec).toEqual(before?.spec);
  });

  it.each([
    ['the Agent with an upstream-only timeout: its description', 'agent', LOOSE_TIMEOUT_AGENT, NAMESPACE, '{"spec":{"config":{"description":"edited after the webhook"}}}'],
    ['the Agent whose name is too long: its description', 'agent', LONG_NAME_AGENT, NAMESPACE, '{"spec":{"config":{"description":"edited after the webhook"}}}'],
    ['the trespassing HTTPRoute: its backend', 'httproute', SQUATTER, ROUTE_NAMESPACE, '{"spec":{"rules":[{"matches":[{"path":{"type":"PathPrefix","value":"/legacy/agent/loose-timeout"}}],"backendRefs":[{"name":"ui-v2","port":8080}]}]}}'],
  ])('editing a field that is not wrong, on %s: allowed with a warning', async (_name, kind, name, namespace, patch) => {
    const result = await kubectl(['patch', kind, name, '-n', namespace, '--type=merge', '-p', patch]);
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: expect.stringContaining(RATCHETED) });
  });

  it('the webhook refuses moving the trespassing HTTPRoute to another path it may not claim, with its message', async () => {
    const path = `/${NAMESPACE}/agent/someone-else`;
    const result = await kubectl(['patch', 'httproute', SQUATTER, '-n', ROUTE_NAMESPACE, '--type=json', '-p', JSON.stringify([{ op: 'replace', path: '/spec/rules/0/matches/0/path/value', value: path }])]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('admission webhook "routes.kaos.tools" denied the request');
    expect(result.stderr).toContain(`HTTPRoute ${ROUTE_NAMESPACE}/${SQUATTER} is invalid: spec.rules[0].matches[0].path: claims "${path}"`);
    expect(result.stderr).not.toContain(`claims "/${NAMESPACE}/agent/${LOOSE_TIMEOUT_AGENT}"`);
  });

  it('changing the upstream-only timeout to another invalid one is refused (by the API server\'s own ratcheting CRD validation first)', async () => {
    const result = await kubectl(['patch', 'agent', LOOSE_TIMEOUT_AGENT, '-n', NAMESPACE, '--type=merge', '-p', '{"spec":{"gatewayRoute":{"timeout":"200000s"}}}']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/spec\.gatewayRoute\.timeout/);
    const stored = await getJson<{ spec: { gatewayRoute: { timeout: string } } }>(plane, ['get', 'agent', LOOSE_TIMEOUT_AGENT, '-n', NAMESPACE]);
    expect(stored?.spec.gatewayRoute.timeout).toBe('100000s');
  });

  it('removing the finalizer, then deleting the Agent: both allowed, the Agent is gone', async () => {
    const removed = await removeFinalizers('agent', LOOSE_TIMEOUT_AGENT, NAMESPACE);
    expect({ code: removed.code, stderr: removed.stderr }).toEqual({ code: 0, stderr: expect.stringContaining(RATCHETED) });
    await kubectlOk(plane, ['delete', 'agent', LOOSE_TIMEOUT_AGENT, '-n', NAMESPACE, '--wait=false']);
    await gone(['agent', LOOSE_TIMEOUT_AGENT, '-n', NAMESPACE]);
  });

  it('deleting the namespaces leaves the held objects Terminating; each finalizer can be removed and the namespaces go away', async () => {
    await kubectlOk(plane, ['delete', 'namespace', NAMESPACE, ROUTE_NAMESPACE, '--wait=false']);
    const terminating = async (kind: string, name: string, namespace: string) =>
      eventually(`${kind} ${name} to be Terminating`, async () => {
        const object = await getJson<{ metadata: { deletionTimestamp?: string } }>(plane, ['get', kind, name, '-n', namespace]);
        return object?.metadata.deletionTimestamp ? true : undefined;
      }, 60_000);
    await terminating('agent', LONG_NAME_AGENT, NAMESPACE);
    await terminating('mcpserver', PLAIN_MCP, NAMESPACE);
    await terminating('httproute', SQUATTER, ROUTE_NAMESPACE);
    await terminating('modelapi', PROXY_WITHOUT_CONFIG, NAMESPACE);
    await terminating('agent', AGENT_WITHOUT_SPEC, NAMESPACE);

    // An update of an object being deleted is neither validated nor defaulted.
    await kubectlOk(plane, ['label', 'mcpserver', PLAIN_MCP, '-n', NAMESPACE, 'phase=leaving']);
    const plain = await getJson<{ spec: { gatewayRoute?: unknown } }>(plane, ['get', 'mcpserver', PLAIN_MCP, '-n', NAMESPACE]);
    expect(plain?.spec.gatewayRoute).toBeUndefined();

    for (const [kind, name, namespace] of [
      ['agent', LONG_NAME_AGENT, NAMESPACE],
      ['mcpserver', PLAIN_MCP, NAMESPACE],
      ['httproute', SQUATTER, ROUTE_NAMESPACE],
      ['modelapi', PROXY_WITHOUT_CONFIG, NAMESPACE],
      ['agent', AGENT_WITHOUT_SPEC, NAMESPACE],
    ] as const) {
      const removed = await removeFinalizers(kind, name, namespace);
      // Only warnings: the API server's own ratcheting warns about the ModelAPI's unchanged CEL problem.
      const notWarnings = removed.stderr.split('\n').filter((line) => line !== '' && !line.startsWith('Warning: '));
      expect({ object: `${kind} ${name}`, code: removed.code, notWarnings }).toEqual({ object: `${kind} ${name}`, code: 0, notWarnings: [] });
    }
    await gone(['namespace', NAMESPACE]);
    await gone(['namespace', ROUTE_NAMESPACE]);
  }, 180_000);
});
