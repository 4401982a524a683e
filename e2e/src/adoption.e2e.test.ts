// Users who already run upstream KAOS: its operator created HTTPRoutes (same names, a controller
// owner reference to the resource, its own labels, field manager `manager`) and writes the
// resources' status. The controller, started afterwards, adopts those routes and brings them to
// the desired shape in a bounded number of writes (then none), leaves a route with the right name
// that the resource does not control alone, and never touches the operator's part of the status.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { HTTPRoute, KaosResource } from '@kaos/api-types';
import { FIELD_MANAGER, desiredRoute, type RoutingConfig } from '@kaos/routing';
import type { ControlPlane } from './control-plane/index.js';
import { freePort } from './control-plane/proc.js';
import { startTestController, type AppProcess } from './support/app-process.js';
import { getJson as kubectlJson, createNamespace, eventually, kubectlOk, runCleanup, startTestCluster } from './support/cluster.js';

/** The field manager of upstream KAOS's operator: controller-runtime names it after the binary, `manager`. */
const OPERATOR = 'manager';
/** The controller's resync period here: the quiet window below spans several of them. */
const RESYNC_SECONDS = 10;
const config: RoutingConfig = { gatewayApiEnabled: true, gatewayName: 'kaos-gateway', gatewayNamespace: 'kaos-system', defaultTimeouts: { Agent: '120s', ModelAPI: '120s', MCPServer: '30s' } };

type ManagedFieldsEntry = { manager: string; operation: string; subresource?: string; fieldsV1?: Record<string, unknown> };
type Live<T> = T & { metadata: { managedFields?: ManagedFieldsEntry[] } };

let plane: ControlPlane;
let controller: AppProcess;
let healthPort: number;
let namespace: string;
let routeWatch: { lines: string[]; process: ChildProcess };
/** What the test recorded before the controller started. */
const before: Record<string, { uid: string; resourceVersion: string }> = {};

const getJson = <T>(args: string[]) => kubectlJson<T>(plane, args);
const route = (name: string) => getJson<Live<HTTPRoute>>(['get', 'httproute', name, '-n', namespace, '--show-managed-fields']);
const resource = (kind: string, name: string) => getJson<Live<KaosResource>>(['get', kind, name, '-n', namespace, '--show-managed-fields']);
const apply = (kind: string, name: string, spec: Record<string, unknown>) =>
  kubectlOk(plane, ['apply'], { apiVersion: 'kaos.tools/v1alpha1', kind, metadata: { name, namespace }, spec });

/** An HTTPRoute as upstream KAOS's operator builds it (operator/pkg/gateway): server defaults left out, its own labels. */
function upstreamRoute(kind: 'Agent' | 'ModelAPI', name: string, owner: { uid: string } | undefined, extra: { hostnames?: string[]; timeout?: string } = {}) {
  const segment = kind === 'Agent' ? 'agent' : 'modelapi';
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: {
      name: `${segment}-${name}`,
      namespace,
      labels: { app: segment, [segment]: name },
      ...(owner ? { ownerReferences: [{ apiVersion: 'kaos.tools/v1alpha1', kind, name, uid: owner.uid, controller: true, blockOwnerDeletion: true }] } : {}),
    },
    spec: {
      ...(extra.hostnames ? { hostnames: extra.hostnames } : {}),
      parentRefs: [{ name: 'kaos-gateway', namespace: 'kaos-system' }],
      rules: [
        {
          matches: [{ path: { type: 'PathPrefix', value: `/${namespace}/${segment}/${name}` } }],
          filters: [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/' } } }],
          backendRefs: [{ name: `${segment}-${name}`, port: 8000 }],
          // Upstream leaves the timeout out for "0s".
          ...(extra.timeout ? { timeouts: { request: extra.timeout } } : {}),
        },
      ],
    },
  };
}

/** The status the KAOS operator writes (fields of upstream's CRDs), per kind. */
function operatorStatus(kind: 'Agent' | 'MCPServer', name: string, phase: 'Pending' | 'Ready') {
  const service = kind === 'Agent' ? `agent-${name}` : `mcpserver-${name}`;
  return {
    phase,
    ready: phase === 'Ready',
    endpoint: `http://${service}.${namespace}.svc.cluster.local:8000`,
    message: phase === 'Ready' ? 'Deployment is ready' : 'Waiting for the Deployment',
    deployment: {
      replicas: 1,
      readyReplicas: phase === 'Ready' ? 1 : 0,
      availableReplicas: phase === 'Ready' ? 1 : 0,
      updatedReplicas: 1,
      conditions: [
        { type: 'Available', status: phase === 'Ready' ? 'True' : 'False', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.', lastTransitionTime: '2026-11-30T10:00:00Z' },
      ],
    },
    ...(kind === 'Agent' ? { linkedResources: { modelapi: 'm' } } : { availableTools: ['echo', 'add'] }),
  };
}

/** The operator's status write as upstream does it: `r.Status().Update(ctx, obj)`, a PUT of the status its Go types know (no status.gateway). */
async function operatorStatusUpdate(kind: string, name: string, status: Record<string, unknown>) {
  const live = (await resource(kind, name))!;
  const body = { apiVersion: live.apiVersion, kind: live.kind, metadata: { name, namespace, resourceVersion: live.metadata.resourceVersion }, spec: live.spec, status };
  await kubectlOk(plane, ['replace', '--subresource=status', `--field-manager=${OPERATOR}`], body);
}

/** The operator's status write by server-side apply on the status subresource. */
async function operatorStatusApply(kind: string, name: string, status: Record<string, unknown>) {
  await kubectlOk(plane, ['apply', '--server-side', '--force-conflicts', '--subresource=status', `--field-manager=${OPERATOR}`], { apiVersion: 'kaos.tools/v1alpha1', kind, metadata: { name, namespace }, status });
}

/** Field paths (f:a.f:b...) a managedFields entry owns, down to the leaves. */
function ownedPaths(fields: Record<string, unknown> | undefined, prefix = ''): string[] {
  return Object.entries(fields ?? {}).flatMap(([key, value]) => {
    if (key === '.') return [];
    const path = prefix ? `${prefix}.${key}` : key;
    const children = ownedPaths(value as Record<string, unknown>, path);
    return children.length > 0 ? children : [path];
  });
}
/** Which owned paths fall under none of the prefixes, and which prefixes no path falls under. */
function groupedBy(paths: string[], prefixes: string[]): { ungrouped: string[]; unused: string[] } {
  return {
    ungrouped: paths.filter((path) => !prefixes.some((prefix) => path === prefix || path.startsWith(`${prefix}.`))),
    unused: prefixes.filter((prefix) => !paths.some((path) => path === prefix || path.startsWith(`${prefix}.`))),
  };
}
const entriesOf = (object: Live<{ metadata: object }>, manager: string) => (object.metadata.managedFields ?? []).filter((entry) => entry.manager === manager);

/** Sum of a counter's samples on the controller's /metrics, optionally only the samples with a label. */
async function counter(name: string, label?: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
  return [...text.matchAll(new RegExp(`^${name}(\\{[^}]*\\})? (\\d+)`, 'gm'))].filter((match) => !label || (match[1] ?? '').includes(label)).reduce((sum, match) => sum + Number(match[2]), 0);
}
const routeWrites = async () => ({
  create: await counter('kaos_controller_api_writes_total', 'verb="create"'),
  apply: await counter('kaos_controller_api_writes_total', 'verb="apply"'),
  patch: await counter('kaos_controller_api_writes_total', 'verb="patch"'),
  delete: await counter('kaos_controller_api_writes_total', 'verb="delete"'),
  status: await counter('kaos_controller_api_writes_total', 'verb="status"'),
});

/** Every change of an HTTPRoute in the namespace, as `TYPE name resourceVersion generation`, from a watch started before the controller. */
function watchRoutes(): { lines: string[]; process: ChildProcess } {
  const lines: string[] = [];
  const child = spawn(
    join(plane.binDir, 'kubectl'),
    [
      `--kubeconfig=${plane.kubeconfigPath}`,
      'get',
      'httproutes',
      '-n',
      namespace,
      '--watch',
      '--output-watch-events',
      '-o',
      'jsonpath={.type} {.object.metadata.name} {.object.metadata.resourceVersion} {.object.metadata.generation}{"\\n"}',
    ],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  let partial = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const text = partial + chunk.toString();
    const parts = text.split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts.filter((line) => line.trim() !== ''));
  });
  return { lines, process: child };
}
const changesOf = (name: string) => routeWatch.lines.filter((line) => line.split(' ')[1] === name && line.startsWith('MODIFIED'));

beforeAll(async () => {
  plane = await startTestCluster();
  await kubectlOk(plane, ['create', 'namespace', 'kaos-system']);
  namespace = await createNamespace(plane, 'adopt');

  // What a cluster running upstream KAOS with its Gateway API option on has, before our controller exists.
  await apply('Agent', 'legacy', { modelAPI: 'm' });
  await apply('ModelAPI', 'legacy-model', { mode: 'Proxy', proxyConfig: { models: ['x'] } });
  await apply('Agent', 'squatted', { modelAPI: 'm' });
  await apply('Agent', 'claimed', { modelAPI: 'm' });
  await apply('Agent', 'operated', { modelAPI: 'm' });
  await apply('MCPServer', 'tools', { runtime: 'python-string' });
  const uidOf = async (kind: string, name: string) => ({ uid: (await resource(kind, name))!.metadata.uid! });
  await kubectlOk(plane, ['create', `--field-manager=${OPERATOR}`], upstreamRoute('Agent', 'legacy', await uidOf('agent', 'legacy'), { hostnames: ['legacy.example.com'], timeout: '30s' }));
  await kubectlOk(plane, ['create', `--field-manager=${OPERATOR}`], upstreamRoute('ModelAPI', 'legacy-model', await uidOf('modelapi', 'legacy-model'), { timeout: '120s' }));
  // The right names, but not controlled by the resource: no owner reference, or a controller reference to a ConfigMap.
  await kubectlOk(plane, ['create', 'configmap', 'route-owner', '-n', namespace]);
  const configMap = (await getJson<{ metadata: { uid: string } }>(['get', 'configmap', 'route-owner', '-n', namespace]))!;
  await kubectlOk(plane, ['create', '--field-manager=someone'], upstreamRoute('Agent', 'squatted', undefined));
  const claimed = upstreamRoute('Agent', 'claimed', undefined);
  await kubectlOk(plane, ['create', '--field-manager=someone'], {
    ...claimed,
    metadata: { ...claimed.metadata, ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'route-owner', uid: configMap.metadata.uid, controller: true }] },
  });
  // The operator's status, written the way upstream writes it (a PUT of the status subresource).
  await operatorStatusUpdate('agent', 'operated', operatorStatus('Agent', 'operated', 'Ready'));
  await operatorStatusUpdate('mcpserver', 'tools', operatorStatus('MCPServer', 'tools', 'Ready'));

  for (const name of ['agent-legacy', 'modelapi-legacy-model', 'agent-squatted', 'agent-claimed']) {
    const live = (await route(name))!;
    before[name] = { uid: live.metadata.uid!, resourceVersion: live.metadata.resourceVersion! };
  }
  routeWatch = watchRoutes();
  await eventually('route watch listing', async () => (routeWatch.lines.filter((line) => line.startsWith('ADDED')).length >= 4 ? true : undefined));

  healthPort = await freePort();
  controller = await startTestController(plane, 'adoption', healthPort, RESYNC_SECONDS);
});
afterAll(async () => {
  await runCleanup([
    ['route watch', async () => void routeWatch?.process.kill()],
    ['controller', () => controller?.stop() ?? Promise.resolve()],
    ['control plane', () => plane?.stop() ?? Promise.resolve()],
  ]);
});

describe('routes the upstream KAOS operator created', () => {
  it('are adopted: our labels and field manager, the desired spec, fields only the operator set removed', async () => {
    const agent = (await resource('agent', 'legacy'))!;
    const desired = desiredRoute(agent, config)!;
    const adopted = await eventually('agent-legacy adopted', async () => {
      const live = await route('agent-legacy');
      return live?.metadata.labels?.['app.kubernetes.io/managed-by'] === 'kaos-routing' && !live.spec.hostnames ? live : undefined;
    });
    // The same object, taken over, not replaced.
    expect(adopted.metadata.uid).toBe(before['agent-legacy']!.uid);
    expect(adopted.metadata.labels).toEqual({ app: 'agent', agent: 'legacy', ...desired.metadata.labels });
    expect(adopted.metadata.ownerReferences).toEqual(desired.metadata.ownerReferences);
    expect(adopted.spec).toEqual(desired.spec);

    // Our field manager owns every field of the desired route. The operator keeps its own labels and
    // co-owns parentRefs, which it had set to the very value we apply (shared ownership, no conflict);
    // what it had set differently (rules with its timeout, hostnames) is no longer its.
    const ours = entriesOf(adopted, FIELD_MANAGER);
    expect(ours.map((entry) => entry.operation)).toEqual(['Apply']);
    expect(groupedBy(ownedPaths(ours[0]!.fieldsV1), [
      'f:metadata.f:labels.f:app.kubernetes.io/managed-by',
      'f:metadata.f:labels.f:kaos.tools/owner-kind',
      'f:metadata.f:labels.f:kaos.tools/owner-name',
      `f:metadata.f:ownerReferences.k:{"uid":"${agent.metadata.uid}"}`,
      'f:spec.f:parentRefs',
      'f:spec.f:rules',
    ])).toEqual({ ungrouped: [], unused: [] });
    const operatorOwns = entriesOf(adopted, OPERATOR).flatMap((entry) => ownedPaths(entry.fieldsV1));
    expect(operatorOwns.filter((path) => path.startsWith('f:spec.'))).toEqual(['f:spec.f:parentRefs']);
    expect(operatorOwns.filter((path) => path.startsWith('f:metadata.f:labels')).sort()).toEqual(['f:metadata.f:labels.f:agent', 'f:metadata.f:labels.f:app']);

    // One apply and one removal of the hostname; the ModelAPI's route (only the labels to add) took one apply.
    if (process.env.E2E_VERBOSE) process.stderr.write(`[adoption] route changes: ${JSON.stringify(routeWatch.lines)}; controller writes ${JSON.stringify(await routeWrites())}\n`);
    expect(changesOf('agent-legacy')).toHaveLength(2);
    const model = await eventually('modelapi-legacy-model adopted', async () => {
      const live = await route('modelapi-legacy-model');
      return live?.metadata.labels?.['app.kubernetes.io/managed-by'] === 'kaos-routing' ? live : undefined;
    });
    expect(model.metadata.uid).toBe(before['modelapi-legacy-model']!.uid);
    expect(model.spec).toEqual(desiredRoute((await resource('modelapi', 'legacy-model'))!, config)!.spec);
    expect(changesOf('modelapi-legacy-model')).toHaveLength(1);

    const events = await kubectlOk(plane, ['get', 'events', '-n', namespace, '--field-selector', 'involvedObject.name=legacy', '-o', 'jsonpath={.items[*].reason}']);
    expect(events.split(' ')).toEqual(['RouteAdopted']);
    expect(await kubectlOk(plane, ['get', 'events', '-n', namespace, '--field-selector', 'involvedObject.name=legacy', '-o', 'jsonpath={.items[*].message}'])).toContain('spec.hostnames');
  });

  it('report status.gateway as usual, mirroring the Gateway\'s verdict on the adopted route', async () => {
    const pending = await eventually('status.gateway', async () => (await resource('agent', 'legacy'))?.status?.gateway);
    expect(pending).toMatchObject({ routeName: 'agent-legacy', url: `/${namespace}/agent/legacy`, accepted: false });
    const live = (await route('agent-legacy'))!;
    const parents = [
      {
        parentRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'kaos-gateway', namespace: 'kaos-system' },
        controllerName: 'example.com/fake-gateway',
        conditions: [
          { type: 'Accepted', status: 'True', reason: 'Accepted', message: 'ok', observedGeneration: live.metadata.generation, lastTransitionTime: new Date().toISOString() },
          { type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs', message: 'ok', observedGeneration: live.metadata.generation, lastTransitionTime: new Date().toISOString() },
        ],
      },
    ];
    await kubectlOk(plane, ['patch', 'httproute', 'agent-legacy', '-n', namespace, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { parents } })]);
    const accepted = await eventually('accepted status', async () => {
      const status = (await resource('agent', 'legacy'))?.status?.gateway;
      return status?.accepted ? status : undefined;
    });
    expect(accepted.conditions!.map((c) => `${c.type}=${c.status}/${c.reason}`)).toEqual(['Accepted=True/Accepted', 'ResolvedRefs=True/ResolvedRefs', 'RouteReady=True/Ready']);
  });
});

describe('routes with the right name that the resource does not control', () => {
  it.each([
    ['no owner reference', 'squatted', 'no controller owner reference to this Agent'],
    ['a controller reference to a ConfigMap', 'claimed', 'controlled by ConfigMap route-owner'],
  ])('stay foreign with %s: reported on status, never written', async (_what, name, why) => {
    const ready = await eventually(`RouteConflict on ${name}`, async () => {
      const condition = (await resource('agent', name))?.status?.gateway?.conditions?.find((c) => c.type === 'RouteReady');
      return condition?.reason === 'RouteConflict' ? condition : undefined;
    });
    expect(ready.status).toBe('False');
    expect(ready.message).toContain('is not managed by KAOS');
    expect(ready.message).toContain(why);
    const live = (await route(`agent-${name}`))!;
    expect(live.metadata.resourceVersion).toBe(before[`agent-${name}`]!.resourceVersion);
    expect(entriesOf(live, FIELD_MANAGER)).toEqual([]);
    expect(changesOf(`agent-${name}`)).toEqual([]);
  });
});

describe('the KAOS operator\'s status', () => {
  const check = async (kind: 'Agent' | 'MCPServer', name: string, expected: Record<string, unknown>) => {
    const live = (await resource(kind.toLowerCase(), name))!;
    const { gateway, ...operatorPart } = (live.status ?? {}) as Record<string, unknown>;
    expect(operatorPart).toEqual(expected);
    expect(gateway).toMatchObject({ routeName: `${kind === 'Agent' ? 'agent' : 'mcp'}-${name}` });
    // Our field manager owns status.gateway and nothing else of the resource.
    const ours = entriesOf(live, FIELD_MANAGER);
    expect(ours.length).toBeGreaterThan(0);
    for (const entry of ours) {
      expect(entry.subresource).toBe('status');
      expect(ownedPaths(entry.fieldsV1).every((path) => path.startsWith('f:status.f:gateway.'))).toBe(true);
    }
    // The operator still owns every field it wrote.
    const operatorOwns = entriesOf(live, OPERATOR).flatMap((entry) => ownedPaths(entry.fieldsV1));
    for (const field of Object.keys(expected)) expect(operatorOwns.some((path) => path.startsWith(`f:status.f:${field}`))).toBe(true);
    return live;
  };

  it.each([
    ['Agent', 'operated'],
    ['MCPServer', 'tools'],
  ] as const)('written before the controller started survives its status.gateway on a %s', async (kind, name) => {
    await eventually(`status.gateway of ${name}`, async () => (await resource(kind.toLowerCase(), name))?.status?.gateway);
    await check(kind, name, operatorStatus(kind, name, 'Ready'));
  });

  it('written by server-side apply after the controller\'s writes leaves status.gateway alone', async () => {
    const gatewayBefore = (await resource('agent', 'operated'))!.status!.gateway;
    await operatorStatusApply('Agent', 'operated', operatorStatus('Agent', 'operated', 'Pending'));
    const live = await check('Agent', 'operated', operatorStatus('Agent', 'operated', 'Pending'));
    expect(live.status!.gateway).toEqual(gatewayBefore);
  });

  it('replaced by a PUT without status.gateway (as upstream\'s Go types write it): the controller writes status.gateway back, the operator\'s fields stay', async () => {
    const statusWritesBefore = (await routeWrites()).status;
    await operatorStatusUpdate('mcpserver', 'tools', operatorStatus('MCPServer', 'tools', 'Pending'));
    await eventually('status.gateway back', async () => (await resource('mcpserver', 'tools'))?.status?.gateway);
    await check('MCPServer', 'tools', operatorStatus('MCPServer', 'tools', 'Pending'));
    expect((await routeWrites()).status - statusWritesBefore).toBe(1);
  });
});

describe('no write loop', () => {
  it(`writes nothing over three resyncs (${RESYNC_SECONDS} s apart) once everything has converged`, async () => {
    // Let the writes of the tests above settle, then watch a quiet window.
    await sleep(2_000);
    const writesBefore = await routeWrites();
    const reconcilesBefore = await counter('kaos_controller_reconciles_total');
    const watchedBefore = routeWatch.lines.length;
    const resourcesBefore = await getJson<{ items: KaosResource[] }>(['get', 'agents,modelapis,mcpservers', '-n', namespace]);
    await sleep((3 * RESYNC_SECONDS + 2) * 1000);
    const reconciles = (await counter('kaos_controller_reconciles_total')) - reconcilesBefore;
    const resourcesAfter = await getJson<{ items: KaosResource[] }>(['get', 'agents,modelapis,mcpservers', '-n', namespace]);
    // Six resources, each requeued at least three times.
    expect(reconciles).toBeGreaterThanOrEqual(3 * 6);
    if (process.env.E2E_VERBOSE) process.stderr.write(`[adoption] quiet window: ${reconciles} reconciles, writes before ${JSON.stringify(writesBefore)}, after ${JSON.stringify(await routeWrites())}\n`);
    expect(await routeWrites()).toEqual(writesBefore);
    expect(routeWatch.lines.slice(watchedBefore)).toEqual([]);
    expect(resourcesAfter!.items.map((item) => item.metadata.resourceVersion)).toEqual(resourcesBefore!.items.map((item) => item.metadata.resourceVersion));
  }, 120_000);
});

describe('an operator that replaces the whole status on every change, as upstream KAOS\'s does', () => {
  it('does not ping-pong with the controller: status.gateway is written back once at once, then after a backoff', async () => {
    await apply('Agent', 'contested', { modelAPI: 'm' });
    await eventually('status.gateway of contested', async () => (await resource('agent', 'contested'))?.status?.gateway);
    const writesBefore = (await routeWrites()).status;
    // The operator's reconcile: on every change of the Agent, a PUT of the status it knows (no gateway).
    let puts = 0;
    let seen = '';
    const until = Date.now() + 20_000;
    while (Date.now() < until) {
      const live = (await resource('agent', 'contested'))!;
      if (live.metadata.resourceVersion !== seen) {
        const body = { apiVersion: live.apiVersion, kind: live.kind, metadata: { name: 'contested', namespace, resourceVersion: live.metadata.resourceVersion }, spec: live.spec, status: operatorStatus('Agent', 'contested', 'Ready') };
        const put = await plane.kubectl(['replace', '--subresource=status', `--field-manager=${OPERATOR}`, '-o', 'jsonpath={.metadata.resourceVersion}', '-f', '-'], { input: JSON.stringify(body) });
        if (put.code === 0) puts++;
        seen = put.code === 0 ? put.stdout : '';
      }
      await sleep(50);
    }
    const written = (await routeWrites()).status - writesBefore;
    if (process.env.E2E_VERBOSE) process.stderr.write(`[adoption] 20 s of an operator replacing the status on every change: ${puts} operator PUTs, ${written} controller status writes\n`);
    // The first removal is answered at once; the second holds the controller back for 30 s. (Two
    // writes would mean one reconcile read a cache that had not seen its own write yet.)
    expect(written).toBeGreaterThanOrEqual(1);
    expect(written).toBeLessThanOrEqual(2);
    expect(puts).toBe(written + 1);
    const events = await kubectlOk(plane, ['get', 'events', '-n', namespace, '--field-selector', 'involvedObject.name=contested', '-o', 'jsonpath={.items[*].reason}']);
    expect(events).toContain('StatusGatewayRemoved');
    // The operator has stopped: after the backoff, status.gateway is back and stays, next to the operator's fields.
    await eventually('status.gateway back after the backoff', async () => (await resource('agent', 'contested'))?.status?.gateway, 45_000);
    const live = (await resource('agent', 'contested'))!;
    expect(live.status).toMatchObject(operatorStatus('Agent', 'contested', 'Ready'));
  }, 120_000);
});
