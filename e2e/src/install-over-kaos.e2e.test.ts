// The chart installed on a cluster that already runs upstream KAOS (docs/helm.md, "Installing on a
// cluster that runs KAOS"): upstream's CRDs installed by Helm as upstream's chart does, objects as
// KAOS users write them with the status upstream's operator writes, then our chart. Helm keeps the
// existing CRDs, so the controller reports them (log, Event, /readyz, gauge) while routes still
// work; the documented command fixes it, the report clears, status.gateway appears, and not one
// object is lost or changed.
import { execFile } from 'node:child_process';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CRD_FIX_COMMAND, CRD_FIX_COMMAND_FROM_REPOSITORY } from '@kaos/routing';
import { gatewayApiBundlePath, repoRoot, startControlPlane, type ControlPlane } from './control-plane/index.js';
import { freePort } from './control-plane/proc.js';
import { startApp, type AppProcess } from './support/app-process.js';
import { eventually, getJson, kubectlOk } from './support/cluster.js';
import { UPSTREAM_CRD_DIR } from './support/crds.js';
import { CHART_DIR, chartNodeOptions, helm, helmOk, installLocalRelease, localAppEnvironments, releaseConfig, releaseNames, serviceAccountKubeconfig, type LocalRelease } from './support/release.js';

/** Upstream KAOS's CRDs (commit 43f4851), byte for byte what its chart's crds/ holds. */
const CRDS = ['agents.kaos.tools', 'modelapis.kaos.tools', 'mcpservers.kaos.tools'];
const NAMESPACE = 'my-namespace';
/** Upstream KAOS installed as its guide says: release kaos-operator in kaos-system. Ours needs another name (docs/helm.md). */
const UPSTREAM_RELEASE = 'kaos-operator';
const RELEASE = 'kaos-operator-routing';
const run = promisify(execFile);

let plane: ControlPlane;
let release: LocalRelease;
let controller: AppProcess | undefined;
let webhook: AppProcess | undefined;
let controllerHealthPort = 0;

beforeAll(async () => {
  plane = await startControlPlane({ gatewayApiBundle: gatewayApiBundlePath() });
  release = { release: RELEASE, namespace: 'kaos-system', webhookPort: await freePort() };
});
afterAll(async () => {
  await Promise.all([webhook?.stop(), controller?.stop()]);
  await plane?.stop();
});

type Kaos = {
  kind: string;
  metadata: { name: string; namespace: string; uid: string; generation: number; labels?: Record<string, string>; annotations?: Record<string, string>; finalizers?: string[] };
  spec: Record<string, unknown> & { gatewayRoute?: { timeout?: string } };
  status?: Record<string, unknown> & { gateway?: { url?: string; routeName?: string } };
};

const condition = { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.', lastTransitionTime: '2026-11-01T10:00:00Z' };
const deployment = { replicas: 1, readyReplicas: 1, availableReplicas: 1, updatedReplicas: 1, conditions: [condition] };

/** Objects of every kind as KAOS users write them (upstream requires Agent model+modelAPI, ModelAPI mode, MCPServer runtime), with the status upstream's operator writes. */
const OBJECTS: Array<{ kind: string; name: string; metadata?: Record<string, unknown>; spec: Record<string, unknown>; status: Record<string, unknown> }> = [
  {
    kind: 'Agent',
    name: 'my-agent',
    metadata: { labels: { team: 'research' }, annotations: { 'example.com/owner': 'alice' } },
    spec: {
      modelAPI: 'my-model',
      model: 'gpt-4o-mini',
      mcpServers: ['echo-server'],
      waitForDependencies: true,
      config: {
        description: 'Example agent',
        instructions: 'You are a helpful assistant.',
        reasoningLoopMaxSteps: 5,
        memory: { enabled: true, type: 'local', contextLimit: 6, maxSessions: 1000, maxSessionEvents: 500 },
        telemetry: { enabled: false },
      },
      agentNetwork: { expose: true, access: ['long-agent'] },
      container: { env: [{ name: 'LOG_LEVEL', value: 'DEBUG' }] },
      podSpec: { containers: [{ name: 'agent', resources: { limits: { memory: '512Mi' } } }], nodeSelector: { 'kubernetes.io/os': 'linux' } },
    },
    status: { phase: 'Ready', ready: true, endpoint: 'http://agent-my-agent.my-namespace.svc.cluster.local:8000', message: 'Deployment ready replicas: 1/1', linkedResources: { modelapi: 'my-model' }, deployment },
  },
  {
    kind: 'Agent',
    name: 'long-agent',
    spec: { modelAPI: 'my-model', model: 'gpt-4o-mini', gatewayRoute: { timeout: '300s' } },
    status: { phase: 'Pending', ready: false, message: 'Deployment ready replicas: 0/1', linkedResources: { modelapi: 'my-model' } },
  },
  {
    kind: 'ModelAPI',
    name: 'my-model',
    spec: {
      mode: 'Proxy',
      proxyConfig: { models: ['gpt-4o-mini'], provider: 'openai', apiBase: 'https://api.openai.com/v1', apiKey: { valueFrom: { secretKeyRef: { name: 'openai', key: 'api-key' } } } },
      telemetry: { enabled: false },
    },
    status: { phase: 'Ready', ready: true, endpoint: 'http://modelapi-my-model.my-namespace.svc.cluster.local:8000', deployment },
  },
  {
    kind: 'ModelAPI',
    name: 'ollama',
    spec: { mode: 'Hosted', hostedConfig: { model: 'smollm2:135m' } },
    status: { phase: 'Ready', ready: true, endpoint: 'http://modelapi-ollama.my-namespace.svc.cluster.local:11434', deployment },
  },
  {
    kind: 'MCPServer',
    name: 'echo-server',
    metadata: { labels: { tier: 'tools' } },
    spec: { runtime: 'python-string', params: 'def echo(text: str) -> str:\n    return text\n' },
    status: { phase: 'Ready', ready: true, endpoint: 'http://mcpserver-echo-server.my-namespace.svc.cluster.local:8000', availableTools: ['echo'], deployment },
  },
];
const ROUTES = ['agent-my-agent', 'agent-long-agent', 'modelapi-my-model', 'modelapi-ollama', 'mcp-echo-server'];
/** Routes upstream's operator made while its gatewayAPI was on: adopted by ours, not recreated. */
const UPSTREAM_ROUTES = [
  { kind: 'Agent', name: 'my-agent', route: 'agent-my-agent', segment: 'agent', port: 8000, hostnames: ['agents.example.com'] },
  { kind: 'ModelAPI', name: 'my-model', route: 'modelapi-my-model', segment: 'modelapi', port: 8000, hostnames: undefined },
];
/** The route upstream's operator writes (its Go types, field manager `manager`): a controller reference to the resource, none of our labels. */
const upstreamRoute = (entry: (typeof UPSTREAM_ROUTES)[number], uid: string) => ({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'HTTPRoute',
  metadata: {
    name: entry.route,
    namespace: NAMESPACE,
    ownerReferences: [{ apiVersion: 'kaos.tools/v1alpha1', kind: entry.kind, name: entry.name, uid, controller: true, blockOwnerDeletion: true }],
  },
  spec: {
    parentRefs: [{ name: 'kaos-gateway', namespace: 'kaos-system' }],
    ...(entry.hostnames ? { hostnames: entry.hostnames } : {}),
    rules: [
      {
        matches: [{ path: { type: 'PathPrefix', value: `/${NAMESPACE}/${entry.segment}/${entry.name}` } }],
        filters: [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/' } } }],
        backendRefs: [{ name: entry.route, port: entry.port }],
        timeouts: { request: '30s' },
      },
    ],
  },
});
const upstreamRouteUids: Record<string, string> = {};

const getObject = (kind: string, name: string) => getJson<Kaos>(plane, ['get', kind.toLowerCase(), name, '-n', NAMESPACE]);
const allObjects = async () => Promise.all(OBJECTS.map(async ({ kind, name }) => (await getObject(kind, name))!));
/** Everything users and upstream's operator own: spec, labels, annotations, finalizers, generation, uid, and the status but ours. */
const owned = (object: Kaos) => {
  const { gateway: _gateway, ...status } = object.status ?? {};
  const { uid, generation, labels, annotations, finalizers } = object.metadata;
  return { kind: object.kind, name: object.metadata.name, uid, generation, labels, annotations, finalizers, spec: object.spec, status };
};

/** The controller's JSON log lines. */
async function controllerLog(): Promise<Array<Record<string, unknown> & { level: string; message: string }>> {
  return (await readFile(controller!.logFile, 'utf8'))
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown> & { level: string; message: string });
}
const readyz = async () => {
  const response = await fetch(`http://127.0.0.1:${controllerHealthPort}/readyz`);
  return { code: response.status, body: (await response.json()) as { crds: { status: string; fix?: string; crds: Array<{ name: string; state: string; missing?: string[] }> } } };
};
const gauge = async () => {
  const text = await (await fetch(`http://127.0.0.1:${controllerHealthPort}/metrics`)).text();
  return Object.fromEntries([...text.matchAll(/^kaos_controller_crd_compatible\{crd="([^"]+)"\} (\d+)$/gm)].map((match) => [match[1], Number(match[2])]));
};
type Event = { type: string; reason: string; message: string; involvedObject: { kind: string; name: string; uid?: string } };
const events = async (reason: string) => (await getJson<{ items: Event[] }>(plane, ['get', 'events', '-n', 'default', '--field-selector', `reason=${reason}`]))?.items ?? [];

/** A shell command as a user types it in the repository root, with this plane's kubectl and helm. */
async function shell(command: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('bash', ['-o', 'pipefail', '-c', command], { cwd: repoRoot, env: { PATH: `${plane.binDir}:${process.env.PATH}`, HOME: process.env.HOME, KUBECONFIG: plane.kubeconfigPath }, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? 1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

let before: Array<ReturnType<typeof owned>>;

describe('installing the chart on a cluster that runs upstream KAOS', () => {
  it('upstream KAOS: its CRDs installed by its Helm release, objects as its users write them, the status its operator writes', async () => {
    // What upstream's chart does with its crds/ (a chart holding only those: its operator does not run here).
    const chart = join(plane.workDir, 'upstream-kaos');
    await mkdir(chart, { recursive: true });
    await writeFile(join(chart, 'Chart.yaml'), 'apiVersion: v2\nname: kaos-operator\nversion: 0.1.4\n');
    await cp(UPSTREAM_CRD_DIR, join(chart, 'crds'), { recursive: true, filter: (source) => !source.endsWith('.md') });
    await helmOk(plane, ['install', UPSTREAM_RELEASE, chart, '--namespace', 'kaos-system', '--create-namespace']);
    await kubectlOk(plane, ['wait', '--for', 'condition=established', '--timeout=60s', ...CRDS.map((crd) => `crd/${crd}`)]);

    await kubectlOk(plane, ['create', 'namespace', NAMESPACE]);
    for (const { kind, name, metadata, spec, status } of OBJECTS) {
      await kubectlOk(plane, ['apply'], { apiVersion: 'kaos.tools/v1alpha1', kind, metadata: { name, namespace: NAMESPACE, ...metadata }, spec });
      await kubectlOk(plane, ['patch', kind.toLowerCase(), name, '-n', NAMESPACE, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status })]);
    }
    before = (await allObjects()).map(owned);
    for (const [index, object] of before.entries()) expect(object.status).toEqual(OBJECTS[index]!.status);

    // Upstream's chart made the Gateway (gatewayAPI.createGateway=true) and its operator the routes
    // (gatewayAPI.enabled=true), before the user turned its routing off as docs/helm.md says.
    await kubectlOk(plane, ['apply', '--server-side', '--field-manager=helm'], {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: 'kaos-gateway', namespace: 'kaos-system' },
      spec: { gatewayClassName: 'e2e-class', listeners: [{ name: 'http', protocol: 'HTTP', port: 80, allowedRoutes: { namespaces: { from: 'All' } } }] },
    });
    for (const entry of UPSTREAM_ROUTES) {
      const owner = before.find((object) => object.kind === entry.kind && object.name === entry.name)!;
      await kubectlOk(plane, ['apply', '--server-side', '--field-manager=manager'], upstreamRoute(entry, owner.uid));
      upstreamRouteUids[entry.route] = (await getJson<{ metadata: { uid: string } }>(plane, ['get', 'httproute', entry.route, '-n', NAMESPACE]))!.metadata.uid;
    }
  });

  it(`helm install keeps upstream's CRDs (Helm skips crds/ that exist) and needs a release name other than upstream's`, async () => {
    const versionsBefore = await Promise.all(CRDS.map(async (crd) => (await getJson<{ metadata: { resourceVersion: string } }>(plane, ['get', 'crd', crd]))!.metadata.resourceVersion));
    // As docs/helm.md installs it over upstream: routing on, upstream's existing Gateway (no createGateway).
    const values = { 'gatewayAPI.enabled': true };
    const sameName = await helm(plane, ['install', UPSTREAM_RELEASE, CHART_DIR, '--namespace', 'kaos-system', '--set', 'localMode.enabled=true']);
    expect(sameName.stderr).toContain('cannot re-use a name that is still in use');
    await installLocalRelease(plane, release, values);
    const versionsAfter = await Promise.all(CRDS.map(async (crd) => (await getJson<{ metadata: { resourceVersion: string } }>(plane, ['get', 'crd', crd]))!.metadata.resourceVersion));
    expect(versionsAfter).toEqual(versionsBefore);
  });

  it('the controller starts, stays ready and reports each CRD: error log line, Warning Event on the CRD, /readyz detail, gauge', async () => {
    const names = releaseNames(RELEASE);
    controllerHealthPort = await freePort();
    const setup = {
      webhookHealthPort: await freePort(),
      controllerHealthPort,
      webhookKubeconfig: await serviceAccountKubeconfig(plane, release.namespace, names.webhookServiceAccount, join(plane.workDir, 'webhook.kubeconfig')),
      controllerKubeconfig: await serviceAccountKubeconfig(plane, release.namespace, names.controllerServiceAccount, join(plane.workDir, 'controller.kubeconfig')),
    };
    const env = localAppEnvironments(release, await releaseConfig(plane, release), setup);
    webhook = startApp('webhook', { ...env.webhook, NODE_OPTIONS: chartNodeOptions('webhook') }, join(plane.workDir, 'webhook.log'), setup.webhookHealthPort);
    controller = startApp('controller', { ...env.controller, NODE_OPTIONS: chartNodeOptions('controller') }, join(plane.workDir, 'controller.log'), controllerHealthPort);
    await Promise.all([webhook.waitReady(), controller.waitReady()]);

    const errors = await eventually('an error line per CRD', async () => {
      const lines = (await controllerLog()).filter((line) => line.level === 'error' && String(line.message).startsWith('CustomResourceDefinition '));
      return lines.length >= 3 ? lines : undefined;
    });
    expect(errors.map((line) => line.crd).sort()).toEqual([...CRDS].sort());
    for (const line of errors) {
      expect(line.message).toMatch(new RegExp(`^CustomResourceDefinition ${String(line.crd).replaceAll('.', '\\.')} lacks what KAOS routing needs \\[status\\.gateway; printer columns Route, URL, Timeout, Age`));
      expect(line.message).toContain('the API server prunes status.gateway');
      expect(line.message).toContain(`Fix: ${CRD_FIX_COMMAND} (chart from a repository: ${CRD_FIX_COMMAND_FROM_REPOSITORY})`);
      expect(line).toMatchObject({ fix: CRD_FIX_COMMAND, missing: expect.arrayContaining(['status.gateway', 'printer column Route', 'category kaos']) });
      expect((line.missing as string[])[0]).toBe('status.gateway');
    }

    // Warning Events on the CRDs themselves, recorded by the leader in `default` (they are cluster-scoped).
    const warnings = await eventually('a CRDIncompatible Event per CRD', async () => ((await events('CRDIncompatible')).length >= 3 ? events('CRDIncompatible') : undefined));
    expect(warnings.map((event) => [event.type, event.involvedObject.kind, event.involvedObject.name]).sort()).toEqual(CRDS.map((crd) => ['Warning', 'CustomResourceDefinition', crd]).sort());
    for (const event of warnings) expect(event.message).toContain(`Fix: ${CRD_FIX_COMMAND}`);
    const described = await kubectlOk(plane, ['describe', 'crd', 'agents.kaos.tools']);
    expect(described).toMatch(/Warning\s+CRDIncompatible/);

    // Still ready (routes work), with the detail and the fix.
    const { code, body } = await readyz();
    expect(code).toBe(200);
    expect(body.crds.status).toBe('incompatible');
    expect(body.crds.fix).toBe(CRD_FIX_COMMAND);
    expect(body.crds.crds.map(({ name, state }) => [name, state])).toEqual(CRDS.map((crd) => [crd, 'incompatible']));
    for (const crd of body.crds.crds) expect(crd.missing?.[0]).toBe('status.gateway');
    expect(await gauge()).toEqual(Object.fromEntries(CRDS.map((crd) => [crd, 0])));
  });

  // The controller's list and watch carry fieldSelector metadata.name, which RBAC matches against resourceNames.
  it.each([
    ['get customresourcedefinitions/agents.kaos.tools', 'yes'],
    ['list customresourcedefinitions/mcpservers.kaos.tools', 'yes'],
    ['watch customresourcedefinitions/modelapis.kaos.tools', 'yes'],
    ['list customresourcedefinitions', 'no'],
    ['get customresourcedefinitions/httproutes.gateway.networking.k8s.io', 'no'],
    ['update customresourcedefinitions/agents.kaos.tools', 'no'],
    ['patch customresourcedefinitions/agents.kaos.tools', 'no'],
  ])('kubectl auth can-i as the controller: %s → %s', async (request, expected) => {
    const result = await plane.kubectl(['auth', 'can-i', ...request.split(' '), `--as=system:serviceaccount:kaos-system:${releaseNames(RELEASE).controllerServiceAccount}`]);
    expect(result.stdout.trim()).toBe(expected);
  });

  it('routes are created with the default timeouts (existing objects are not defaulted), but status.gateway is pruned', async () => {
    for (const name of ROUTES) await eventually(`HTTPRoute ${name}`, () => getJson(plane, ['get', 'httproute', name, '-n', NAMESPACE]), 30_000);
    const timeouts = await Promise.all(ROUTES.map(async (name) => (await getJson<{ spec: { rules: Array<{ timeouts?: { request?: string } }> } }>(plane, ['get', 'httproute', name, '-n', NAMESPACE]))!.spec.rules[0]!.timeouts?.request));
    expect(timeouts).toEqual(['120s', '300s', '120s', '120s', '30s']);
    // Every status write has been made once the routes exist; the API server dropped each one.
    const written = (line: { message: string }) => line.message === 'HTTPRoute created' || line.message === 'HTTPRoute adopted';
    await eventually('a status write per resource', async () => ((await controllerLog()).filter(written).length >= ROUTES.length ? true : undefined));
    // Upstream's routes are adopted in place (same uid), brought to our shape: our labels, no hostnames, our timeout.
    expect((await controllerLog()).filter((line) => line.message === 'HTTPRoute adopted').map((line) => line.name).sort()).toEqual(UPSTREAM_ROUTES.map((entry) => entry.name).sort());
    for (const entry of UPSTREAM_ROUTES) {
      const route = (await getJson<{ metadata: { uid: string; labels: Record<string, string> }; spec: { hostnames?: string[] } }>(plane, ['get', 'httproute', entry.route, '-n', NAMESPACE]))!;
      expect({ uid: route.metadata.uid, managedBy: route.metadata.labels['app.kubernetes.io/managed-by'], hostnames: route.spec.hostnames }).toEqual({
        uid: upstreamRouteUids[entry.route],
        managedBy: expect.any(String),
        hostnames: undefined,
      });
      expect(Object.keys(route.metadata.labels)).toEqual(expect.arrayContaining(['kaos.tools/owner-kind', 'kaos.tools/owner-name']));
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
    for (const object of await allObjects()) expect(object.status?.gateway).toBeUndefined();
    expect((await allObjects()).map(owned)).toEqual(before);
  });

  it('the alternatives fail: client-side apply (CRDs over the 256 KiB annotation), without --force-conflicts (Helm owns the fields); helm show crds piped into the same apply works too', async () => {
    const clientSide = await shell('kubectl apply --dry-run=server -f charts/kaos-operator/crds/');
    expect(clientSide.code).not.toBe(0);
    expect(clientSide.stderr).toMatch(/metadata\.annotations: Too long/);
    const noForce = await shell('kubectl apply --server-side --dry-run=server -f charts/kaos-operator/crds/');
    expect(noForce.code).not.toBe(0);
    expect(noForce.stderr).toMatch(/conflict/i);
    expect(noForce.stderr).toContain('"helm"');
    // helm show crds concatenates the files; each starts with `---`, so all three are applied.
    const showCrds = await shell('helm show crds charts/kaos-operator | kubectl apply --server-side --force-conflicts --dry-run=server -f -');
    expect(showCrds.code).toBe(0);
    expect(showCrds.stdout.trim().split('\n').sort()).toEqual(CRDS.map((crd) => `customresourcedefinition.apiextensions.k8s.io/${crd} serverside-applied (server dry run)`).sort());
  });

  it('docs/helm.md gives the command the controller names, and it fixes the CRDs', async () => {
    const guide = await readFile(join(repoRoot, 'docs/helm.md'), 'utf8');
    const section = guide.slice(guide.indexOf('## Installing on a cluster that runs KAOS'));
    expect(section).toContain(`\`\`\`bash\n${CRD_FIX_COMMAND}\n\`\`\``);
    const result = await shell(CRD_FIX_COMMAND);
    expect(result.stderr).toBe('');
    expect(result.stdout.trim().split('\n').sort()).toEqual(CRDS.map((crd) => `customresourcedefinition.apiextensions.k8s.io/${crd} serverside-applied`).sort());
    await kubectlOk(plane, ['wait', '--for', 'condition=established', '--timeout=60s', ...CRDS.map((crd) => `crd/${crd}`)]);
  });

  it('the report clears (log, Normal Event, /readyz, gauge) and status.gateway appears on every resource', async () => {
    const cleared = await eventually('an info line per CRD', async () => {
      const lines = (await controllerLog()).filter((line) => line.level === 'info' && / now provides what KAOS routing needs/.test(String(line.message)));
      return lines.length >= 3 ? lines : undefined;
    });
    expect(cleared.map((line) => line.crd).sort()).toEqual([...CRDS].sort());
    const normal = await eventually('a CRDCompatible Event per CRD', async () => ((await events('CRDCompatible')).length >= 3 ? events('CRDCompatible') : undefined));
    expect(normal.map((event) => [event.type, event.involvedObject.name]).sort()).toEqual(CRDS.map((crd) => ['Normal', crd]).sort());
    const { code, body } = await readyz();
    expect(code).toBe(200);
    expect(body.crds).toEqual({ status: 'compatible', crds: CRDS.map((name) => ({ name, state: 'compatible' })) });
    expect(await gauge()).toEqual(Object.fromEntries(CRDS.map((crd) => [crd, 1])));

    // The controller requeued everything when the CRDs changed: no wait for the 10-minute resync.
    const objects = await eventually('status.gateway on every resource', async () => {
      const current = await allObjects();
      return current.every((object) => object.status?.gateway?.routeName) ? current : undefined;
    }, 20_000);
    expect(objects.map((object) => object.status!.gateway!.routeName)).toEqual(ROUTES);
    expect(objects[0]!.status!.gateway!.url).toBe('/my-namespace/agent/my-agent');
    // Our columns and names are there now.
    expect(await kubectlOk(plane, ['get', 'agents', '-n', NAMESPACE])).toMatch(/^NAME\s+MODELAPI\s+MODEL\s+READY\s+PHASE\s+ROUTE\s+AGE/);
    const all = await eventually('kubectl get kaos (discovery catches up)', async () => {
      const result = await plane.kubectl(['get', 'kaos', '-n', NAMESPACE, '-o', 'name']);
      return result.code === 0 ? result.stdout : undefined;
    });
    expect(all.trim().split('\n')).toHaveLength(OBJECTS.length);
  });

  it('no object was lost or changed: spec, labels, annotations, upstream status identical; no timeout defaulted', async () => {
    const after = await allObjects();
    expect(after.map(owned)).toEqual(before);
    expect(after.map((object) => object.spec.gatewayRoute?.timeout)).toEqual([undefined, '300s', undefined, undefined, undefined]);
    expect((await getJson<{ items: unknown[] }>(plane, ['get', 'agents,modelapis,mcpservers', '-n', NAMESPACE]))?.items).toHaveLength(OBJECTS.length);
  });

  it("upstream's operator replacing the whole status (its typed client has no gateway field) keeps its fields; the controller writes status.gateway back", async () => {
    const agent = (await getObject('Agent', 'my-agent'))!;
    const { gateway: _gateway, ...upstreamStatus } = agent.status!;
    const replaced = { ...agent, status: { ...upstreamStatus, message: 'Deployment ready replicas: 2/2' } };
    await kubectlOk(plane, ['replace', '--subresource=status'], replaced);
    const restored = await eventually('status.gateway written back', async () => {
      const current = await getObject('Agent', 'my-agent');
      return current?.status?.gateway?.routeName ? current : undefined;
    });
    expect(restored.status).toMatchObject({ ...upstreamStatus, message: 'Deployment ready replicas: 2/2' });
  });

  it('the webhook acts only on spec writes: a label leaves the spec alone, the next spec change stores the default timeout', async () => {
    await kubectlOk(plane, ['label', 'agent', 'my-agent', '-n', NAMESPACE, 'touched=yes']);
    expect((await getObject('Agent', 'my-agent'))!.spec.gatewayRoute?.timeout).toBeUndefined();
    await kubectlOk(plane, ['patch', 'agent', 'my-agent', '-n', NAMESPACE, '--type=merge', '-p', '{"spec":{"config":{"description":"edited"}}}']);
    expect((await getObject('Agent', 'my-agent'))!.spec.gatewayRoute?.timeout).toBe('120s');
  });
});
