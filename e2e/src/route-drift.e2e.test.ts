// Hand edits of a managed HTTPRoute, field by field, the two ways people make them: `kubectl edit`
// (a JSON merge patch, field manager `kubectl-edit`) and a server-side apply by another manager.
// Each is reverted with the minimal number of writes (counted on the controller's metrics), the
// route ends exactly as desired, and then nothing is written over several resync periods: no write
// loop on fields a forced apply cannot take back.
import { isDeepStrictEqual } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { HTTPRoute, KaosResource } from '@kaos/api-types';
import { desiredRoute, type RoutingConfig } from '@kaos/routing';
import type { ControlPlane } from './control-plane/index.js';
import { freePort } from './control-plane/proc.js';
import { startTestController, type AppProcess } from './support/app-process.js';
import { getJson as kubectlJson, createNamespace, eventually, kubectlOk, runCleanup, startTestCluster } from './support/cluster.js';

/** The controller's resync period here (its minimum): the quiet window spans several. */
const RESYNC_SECONDS = 10;
const config: RoutingConfig = { gatewayApiEnabled: true, gatewayName: 'kaos-gateway', gatewayNamespace: 'kaos-system', defaultTimeouts: { Agent: '120s', ModelAPI: '120s', MCPServer: '30s' } };

let plane: ControlPlane;
let controller: AppProcess;
let healthPort: number;
let namespace: string;

const getJson = <T>(args: string[]) => kubectlJson<T>(plane, args);
const route = (name: string) => getJson<HTTPRoute>(['get', 'httproute', name, '-n', namespace]);
const agent = (name: string) => getJson<KaosResource>(['get', 'agent', name, '-n', namespace]);

/** Sum of a counter's samples on the controller's /metrics, optionally only the samples with a label. */
async function counter(name: string, label?: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
  return [...text.matchAll(new RegExp(`^${name}(\\{[^}]*\\})? (\\d+)`, 'gm'))].filter((match) => !label || (match[1] ?? '').includes(label)).reduce((sum, match) => sum + Number(match[2]), 0);
}
const VERBS = ['create', 'apply', 'patch', 'delete', 'status', 'event'] as const;
type Writes = Record<(typeof VERBS)[number], number>;
async function writes(): Promise<Writes> {
  const entries = await Promise.all(VERBS.map(async (verb) => [verb, await counter('kaos_controller_api_writes_total', `verb="${verb}"`)] as const));
  return Object.fromEntries(entries) as Writes;
}
const delta = (after: Writes, before: Writes): Writes => Object.fromEntries(VERBS.map((verb) => [verb, after[verb] - before[verb]])) as Writes;
/** Writes that change a route: the create attempts are counted apart (a refused one changes nothing). */
const routeWrites = (w: Writes) => w.apply + w.patch + w.delete;

/** A merge-patch fragment of the route, made from the live route: what one hand edit changes. */
type Edit = (live: HTTPRoute) => { metadata?: { labels: Record<string, string | null> }; spec?: Record<string, unknown> };
const rules = (live: HTTPRoute, change: (rule: NonNullable<HTTPRoute['spec']['rules']>[number]) => void) => {
  const copy = structuredClone(live.spec.rules!);
  change(copy[0]!);
  return { spec: { rules: copy } };
};
/** Every field of the route a person could edit, and how. `ssa: false`: a server-side apply cannot express it (removing a field another manager owns). */
const EDITS: Array<{ field: string; edit: Edit; ssa?: false }> = [
  { field: 'hostnames', edit: () => ({ spec: { hostnames: ['evil.example.com'] } }) },
  { field: 'matches (path)', edit: (live) => rules(live, (rule) => (rule.matches![0]!.path!.value = '/evil')) },
  { field: 'matches (a header match added)', edit: (live) => rules(live, (rule) => (rule.matches![0]!.headers = [{ name: 'x-user', value: 'me' }])) },
  { field: 'filters (one added)', edit: (live) => rules(live, (rule) => rule.filters!.push({ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-evil', value: '1' }] } })) },
  { field: 'filters (a hostname rewrite added)', edit: (live) => rules(live, (rule) => (rule.filters![0]!.urlRewrite!.hostname = 'evil.example.com')) },
  { field: 'backendRefs (port)', edit: (live) => rules(live, (rule) => (rule.backendRefs![0]!.port = 9000)) },
  { field: 'timeouts (request)', edit: (live) => rules(live, (rule) => (rule.timeouts = { request: '1s' })) },
  { field: 'timeouts (backendRequest added)', edit: (live) => rules(live, (rule) => (rule.timeouts = { ...rule.timeouts, backendRequest: '5s' })) },
  { field: 'rules (one added)', edit: (live) => ({ spec: { rules: [...structuredClone(live.spec.rules!), { matches: [{ path: { type: 'PathPrefix', value: '/extra' } }], backendRefs: [{ name: 'web', port: 80 }] }] } }) },
  { field: 'parentRefs (sectionName added)', edit: (live) => ({ spec: { parentRefs: [{ ...live.spec.parentRefs![0]!, sectionName: 'https' }] } }) },
  { field: 'parentRefs (another Gateway)', edit: (live) => ({ spec: { parentRefs: [{ ...live.spec.parentRefs![0]!, name: 'other-gateway' }] } }) },
  { field: 'labels (owner name changed)', edit: () => ({ metadata: { labels: { 'kaos.tools/owner-name': 'someone-else' } } }) },
  { field: 'labels (managed-by removed)', edit: () => ({ metadata: { labels: { 'app.kubernetes.io/managed-by': null } } }), ssa: false },
];
type Way = 'kubectl-edit' | 'ssa';
const CASES: Array<{ field: string; edit: Edit; way: Way; name: string }> = EDITS.flatMap(({ field, edit, ssa }, index) =>
  (ssa === false ? (['kubectl-edit'] as const) : (['kubectl-edit', 'ssa'] as const)).map((way) => ({ field, edit, way, name: `d${index}-${way === 'ssa' ? 's' : 'e'}` })),
);

/** Makes the edit; returns the resourceVersion the route had right after it. */
async function handEdit(name: string, edit: Edit, way: Way): Promise<string> {
  const live = (await route(`agent-${name}`))!;
  const fragment = edit(live);
  if (way === 'kubectl-edit') {
    return kubectlOk(plane, ['patch', 'httproute', `agent-${name}`, '-n', namespace, '--type=merge', '--field-manager=kubectl-edit', '-p', JSON.stringify(fragment), '-o', 'jsonpath={.metadata.resourceVersion}']);
  }
  const manifest = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: `agent-${name}`, namespace, ...fragment.metadata }, ...(fragment.spec ? { spec: fragment.spec } : {}) };
  return kubectlOk(plane, ['apply', '--server-side', '--force-conflicts', '--field-manager=intruder', '-o', 'jsonpath={.metadata.resourceVersion}'], manifest);
}

/** The route is exactly the desired one: same spec (defaults included), our labels and owner reference. */
function converged(live: HTTPRoute | undefined, desired: HTTPRoute): boolean {
  if (!live) return false;
  const labels = Object.entries(desired.metadata.labels!).every(([key, value]) => live.metadata.labels?.[key] === value);
  return labels && isDeepStrictEqual(live.spec, desired.spec) && isDeepStrictEqual(live.metadata.ownerReferences, desired.metadata.ownerReferences);
}

beforeAll(async () => {
  plane = await startTestCluster();
  await kubectlOk(plane, ['create', 'namespace', 'kaos-system']);
  namespace = await createNamespace(plane, 'drift');
  healthPort = await freePort();
  controller = await startTestController(plane, 'drift', healthPort, RESYNC_SECONDS);
  for (const { name } of CASES) await kubectlOk(plane, ['apply'], { apiVersion: 'kaos.tools/v1alpha1', kind: 'Agent', metadata: { name, namespace }, spec: { modelAPI: 'm' } });
  for (const { name } of CASES) await eventually(`route of ${name}`, async () => (await agent(name))?.status?.gateway);
});
afterAll(async () => {
  await runCleanup([
    ['controller', () => controller?.stop() ?? Promise.resolve()],
    ['control plane', () => plane?.stop() ?? Promise.resolve()],
  ]);
});

describe('hand edits of a managed route', () => {
  const measured: Array<{ field: string; way: Way; writes: Writes; ms: number }> = [];

  it.each(CASES.map((c) => [c.field, c.way, c] as const))('%s by %s: reverted with one write', async (_field, _way, { field, edit, way, name }) => {
    const desired = desiredRoute((await agent(name))!, config)!;
    expect(converged(await route(`agent-${name}`), desired)).toBe(true);
    const before = await writes();
    const started = Date.now();
    const edited = await handEdit(name, edit, way);
    await eventually(`agent-${name} reverted`, async () => {
      const live = await route(`agent-${name}`);
      return live && live.metadata.resourceVersion !== edited && converged(live, desired) ? true : undefined;
    });
    const ms = Date.now() - started;
    // Anything the corrective write sets off (its own watch event, a reconcile) has happened by now.
    await sleep(1500);
    const made = delta(await writes(), before);
    measured.push({ field, way, writes: made, ms });
    expect(routeWrites(made)).toBe(1);
    // A create is refused when the name is taken; with the managed-by label removed the route briefly
    // looks like nobody's until the metadata watch has it, and a create may be attempted (refused, no change).
    expect(made.create).toBeLessThanOrEqual(field === 'labels (managed-by removed)' ? 1 : 0);
    expect(made.delete).toBe(0);
    expect(converged(await route(`agent-${name}`), desired)).toBe(true);
  });

  it('then writes nothing over several resyncs, and every route stays exactly as desired', async () => {
    const reconcilesBefore = await counter('kaos_controller_reconciles_total');
    const before = await writes();
    await sleep((2 * RESYNC_SECONDS + 5) * 1000);
    const made = delta(await writes(), before);
    const reconciles = (await counter('kaos_controller_reconciles_total')) - reconcilesBefore;
    process.stderr.write(
      `[route-drift] writes per hand edit (route-changing = apply+patch+delete; create attempts apart):\n${measured
        .map(({ field, way, writes: w, ms }) => `  ${field.padEnd(36)} ${way.padEnd(13)} apply ${w.apply} patch ${w.patch} create ${w.create} status ${w.status} event ${w.event}  reverted in ${ms} ms`)
        .join('\n')}\n[route-drift] quiet window ${2 * RESYNC_SECONDS + 5} s over ${CASES.length} routes: ${reconciles} reconciles, writes ${JSON.stringify(made)}\n`,
    );
    // Two resyncs reconciled every resource, and none of them wrote anything.
    expect(reconciles).toBeGreaterThanOrEqual(2 * CASES.length);
    expect(made).toEqual({ create: 0, apply: 0, patch: 0, delete: 0, status: 0, event: 0 });
    for (const { name } of CASES) expect(converged(await route(`agent-${name}`), desiredRoute((await agent(name))!, config)!)).toBe(true);
  });
});
