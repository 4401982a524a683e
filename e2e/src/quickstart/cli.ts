/**
 * The README's first command.
 *
 *   npm run up [-- --no-gateway] [-- --gateway-port N]
 *                  production mode: local control plane with a real node → the images built
 *                  (build-images.sh) and imported into the node → `helm upgrade --install` of the
 *                  chart as the user guide shows it (Gateway API on, createGateway, a GatewayClass)
 *                  with those images, --wait → the samples, and a backend per sample as a real
 *                  Deployment + Service (what the KAOS operator creates) → Traefik serving the
 *                  Gateway as a host process → what a user wants to see, ending with
 *                  `export KUBECONFIG=...`. --no-gateway skips Traefik.
 *   npm run up -- --local [--no-gateway]
 *                  local mode, for fast iteration: the control plane without a node, the chart in
 *                  local mode, webhook and controller as host processes with the chart's
 *                  service-account tokens, backends in a network namespace.
 *   npm run down   stops everything it started and puts the host back as it was
 *
 * Progress goes to stderr; the summary to stdout. Both commands are idempotent: `up` on a running
 * system upgrades the release (a rebuilt image gets a new tag, so its pods roll).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { serviceName, servicePort } from '@kaos/routing';
import type { KaosResource } from '@kaos/api-types';
import { isAlive, repoRoot, runDir, runKubectl, terminate } from '../control-plane/index.js';
import { freePort } from '../control-plane/proc.js';
import { exposeBackend } from '../gateway/endpoints.js';
import { kubectlOk } from '../support/cluster.js';
import { createNetns, removeNetns, startBackendInNetns } from '../gateway/netns.js';
import { buildTraefikScript, resolveTraefikBinary, startTraefik, TRAEFIK_CONTROLLER_NAME } from '../gateway/traefik.js';
import { sampleBackendList } from '../gateway/sample-backends.js';
import { localImageValues, productionInstallArgs, readQuickstartSamples } from '../support/production.js';
import {
  CHART_DIR,
  helmOk,
  installLocalRelease,
  localAppEnvironments,
  releaseConfig,
  releaseNames,
  serviceAccountKubeconfig,
  startDetachedApp,
  type KubeTarget,
  type LocalRelease,
} from '../support/release.js';

const PLANE = 'default';
const RELEASE: Omit<LocalRelease, 'webhookPort'> = { release: 'kaos-operator', namespace: 'kaos-system' };
const SAMPLES = join(repoRoot, 'docs/samples/quickstart.yaml');
const controlPlaneScript = join(repoRoot, 'e2e/scripts/control-plane.sh');
const appsStatePath = () => join(runDir(), `${PLANE}-apps.json`);

type App = 'webhook' | 'controller';
interface AppState {
  pid: number;
  logFile: string;
  healthPort: number;
}
interface GatewayState {
  port: number;
  traefik: { pid: number; bin: string; logFile: string };
  backends: Array<{ pid: number; name: string }>;
  netns: string;
}
interface AppsState {
  mode: 'local' | 'production';
  /** Local mode only: the port the webhook configurations call, kept across runs. */
  webhookPort?: number;
  /** Local mode only: the two host processes. */
  apps?: Record<App, AppState>;
  gateway?: GatewayState;
}

/** The long-lived namespace of the sample backends; outside the e2e tests' prefix so no sweep removes it. */
const NETNS = 'kaos-up';
const NETNS_HOST_INTERFACE = 'khkaosup';

const log = (message: string): void => void process.stderr.write(`[${process.argv[2] ?? 'quickstart'}] ${message}\n`);

/** Whether `pid` still runs our bundle of `app` (PIDs get reused). */
function runsApp(pid: number, app: App): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(join(repoRoot, `dist/apps/${app}/main.js`));
  } catch {
    return false;
  }
}

function readAppsState(): AppsState | undefined {
  try {
    return JSON.parse(readFileSync(appsStatePath(), 'utf8')) as AppsState;
  } catch {
    return undefined;
  }
}

async function stopGateway(state: GatewayState | undefined): Promise<void> {
  if (state) {
    if (isAlive(state.traefik.pid, state.traefik.bin)) {
      log(`stopping Traefik (pid ${state.traefik.pid})`);
      await terminate(state.traefik.pid, state.traefik.bin);
    }
    for (const backend of state.backends) {
      if (isAlive(backend.pid, process.execPath)) await terminate(backend.pid, process.execPath, 5_000);
    }
  }
  await removeNetns(NETNS, NETNS_HOST_INTERFACE);
}

async function stopApps(): Promise<void> {
  const state = readAppsState();
  if (!state) return;
  await stopGateway(state.gateway);
  for (const app of ['controller', 'webhook'] as const) {
    if (!state.apps) continue;
    const { pid } = state.apps[app];
    if (!runsApp(pid, app)) continue;
    log(`stopping the ${app} (pid ${pid})`);
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + 15_000;
    while (runsApp(pid, app) && Date.now() < deadline) await sleep(100);
    if (runsApp(pid, app)) process.kill(pid, 'SIGKILL');
  }
  await rm(appsStatePath(), { force: true });
}

/** The control plane's kubeconfig and binaries, starting it (with the node in production mode) when it is not up. */
function controlPlaneUp(withNode: boolean): KubeTarget & { images: Record<string, string> } {
  log(`starting the local control plane${withNode ? ' and its node' : ''} (the first run builds the Kubernetes binaries from source: ~25 min on 2 cores)`);
  const output = execFileSync('bash', [controlPlaneScript, 'up', '--name', PLANE, ...(withNode ? ['--node'] : [])], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const kubeconfigPath = /export KUBECONFIG=(\S+)/.exec(output)?.[1];
  if (!kubeconfigPath) throw new Error(`control-plane.sh up printed no KUBECONFIG line:\n${output}`);
  const state = JSON.parse(readFileSync(join(runDir(), `${PLANE}.json`), 'utf8')) as { binDir: string; node?: { images: Record<string, string> } };
  return {
    kubeconfigPath,
    binDir: state.binDir,
    images: state.node?.images ?? {},
    kubectl: (args, opts) => runKubectl(join(state.binDir, 'kubectl'), kubeconfigPath, args, opts),
  };
}

async function waitReady(app: App, state: AppState, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!runsApp(state.pid, app)) break;
    try {
      if ((await fetch(`http://127.0.0.1:${state.healthPort}/readyz`)).status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(250);
  }
  const tail = readFileSync(state.logFile, 'utf8').split('\n').slice(-20).join('\n');
  throw new Error(`the ${app} did not become ready (log ${state.logFile}):\n${tail}`);
}

/** Whether `port` on 127.0.0.1 can be bound (the user guide's curl uses port 80). */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function option(name: string): string | undefined {
  const index = process.argv.indexOf(name);
  return index === -1 ? undefined : process.argv[index + 1];
}

/** The Gateway's listener port: --gateway-port, else 80 when free (the user guide's curl), else any free port. */
async function gatewayPortOption(): Promise<number> {
  const requestedPort = option('--gateway-port');
  const gatewayPort = requestedPort ? Number(requestedPort) : (await canListen(80)) ? 80 : await freePort();
  if (!Number.isInteger(gatewayPort) || gatewayPort < 1 || gatewayPort > 65535) throw new Error(`--gateway-port must be a port number, not ${requestedPort}`);
  return gatewayPort;
}

/** The GatewayClass belongs to the Gateway implementation (Traefik), the Gateway to the chart. */
async function applyGatewayClass(target: KubeTarget): Promise<void> {
  await kubectlOk(target, ['apply'], { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: 'traefik' }, spec: { controllerName: TRAEFIK_CONTROLLER_NAME } });
}

/** Traefik as a host process serving the Gateway on its listener port (built the first time). */
async function startTraefikOnHost(target: KubeTarget, port: number, workDir: string): Promise<GatewayState> {
  if (!process.env.KAOS_E2E_TRAEFIK) {
    // Reuses the cached binary in 0.2 s; the first time it builds from the Go module proxy, with progress.
    log('Traefik v3: bash e2e/scripts/build-traefik.sh (the first run builds it from source, ~15-30 min on 2 cores)');
    execFileSync('bash', [buildTraefikScript], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const bin = await resolveTraefikBinary({ build: false });
  const traefik = await startTraefik({ kubeconfigPath: target.kubeconfigPath, port, logFile: join(workDir, 'traefik.log'), bin, detached: true });
  log(`started Traefik (pid ${traefik.pid}) on the host, serving the Gateway on ${traefik.url}`);
  return { port, traefik: { pid: traefik.pid, bin, logFile: traefik.logFile }, backends: [], netns: '' };
}

/** Local mode: Traefik, and a backend per sample in a network namespace behind the Service its route names. */
async function startGateway(target: KubeTarget, port: number, workDir: string, samples: KaosResource[]): Promise<GatewayState> {
  const gateway = await startTraefikOnHost(target, port, workDir);
  const netns = await createNetns({ name: NETNS });
  const backends: GatewayState['backends'] = [];
  for (const [index, resource] of samples.entries()) {
    const name = serviceName(resource);
    const backend = await startBackendInNetns(netns, { name, port: 8100 + index, logFile: join(workDir, `backend-${name}.log`), detached: true });
    backends.push({ pid: backend.pid, name });
    await exposeBackend(target, { namespace: resource.metadata.namespace!, service: name, servicePort: servicePort(resource), address: netns.address, targetPort: backend.port });
  }
  log(`started ${backends.length} sample backends in network namespace ${NETNS} (${netns.address}) with their Services and EndpointSlices`);
  return { ...gateway, backends, netns: NETNS };
}

async function upLocal(): Promise<void> {
  const withGateway = !process.argv.includes('--no-gateway');
  for (const app of ['webhook', 'controller'] as const) {
    if (!existsSync(join(repoRoot, `dist/apps/${app}/main.js`))) throw new Error(`dist/apps/${app}/main.js is missing: run \`npx nx run ${app}:build\` (npm run up does)`);
  }
  const target = controlPlaneUp(false);
  // After production mode the sample backends are pods behind Services with selectors; local mode
  // puts its own Services (without selectors) in their place.
  await kubectlOk(target, ['delete', 'deployments,services', '-n', 'my-namespace', '-l', 'app.kubernetes.io/part-of=kaos-samples', '--ignore-not-found']).catch(() => undefined);
  const previous = readAppsState();
  await stopApps();
  const release: LocalRelease = { ...RELEASE, webhookPort: previous?.webhookPort ?? (await freePort()) };
  const names = releaseNames(release.release);
  const gatewayPort = await gatewayPortOption();

  await applyGatewayClass(target);
  log(`helm upgrade --install ${release.release} charts/kaos-operator -n ${release.namespace} (local mode, gatewayAPI.enabled=true, createGateway=true, listenerPort=${gatewayPort})`);
  await installLocalRelease(target, release, { 'gatewayAPI.enabled': true, 'gatewayAPI.createGateway': true, 'gatewayAPI.gatewayClassName': 'traefik', 'gatewayAPI.listenerPort': gatewayPort });

  const workDir = join(runDir(), PLANE);
  const setup = {
    webhookHealthPort: await freePort(),
    controllerHealthPort: await freePort(),
    webhookKubeconfig: await serviceAccountKubeconfig(target, release.namespace, names.webhookServiceAccount, join(workDir, 'webhook.kubeconfig'), '24h'),
    controllerKubeconfig: await serviceAccountKubeconfig(target, release.namespace, names.controllerServiceAccount, join(workDir, 'controller.kubeconfig'), '24h'),
  };
  const env = localAppEnvironments(release, await releaseConfig(target, release), setup);
  const apps: Record<App, AppState> = {
    webhook: { pid: 0, logFile: join(workDir, 'webhook.log'), healthPort: setup.webhookHealthPort },
    controller: { pid: 0, logFile: join(workDir, 'controller.log'), healthPort: setup.controllerHealthPort },
  };
  for (const app of ['webhook', 'controller'] as const) {
    apps[app].pid = startDetachedApp(app, { ...env[app], LOG_LEVEL: 'info' }, apps[app].logFile);
    log(`started the ${app} (pid ${apps[app].pid}, log ${apps[app].logFile})`);
  }
  const state: AppsState = { mode: 'local', webhookPort: release.webhookPort, apps };
  await writeState(state);
  await Promise.all([waitReady('webhook', apps.webhook), waitReady('controller', apps.controller)]);
  log('webhook ready (certificates in Secret kaos-system/kaos-operator-webhook-tls, CA bundle injected); controller ready');

  log(`kubectl apply -f ${SAMPLES.slice(repoRoot.length + 1)}`);
  process.stderr.write(await kubectlOk(target, ['apply', '-f', SAMPLES]));
  if (withGateway) {
    state.gateway = await startGateway(target, gatewayPort, workDir, await readQuickstartSamples(target));
    await writeState(state);
  }
  await summarize(target, state, `${workDir}/{webhook,controller${state.gateway ? ',traefik' : ''}}.log`);
}

/** Production mode: the chart's Deployments on the node, from the locally built images. */
async function upProduction(): Promise<void> {
  const withGateway = !process.argv.includes('--no-gateway');
  const target = controlPlaneUp(true);
  await stopApps();
  const gatewayPort = await gatewayPortOption();
  const image = (name: string): string => {
    const ref = target.images[name];
    if (!ref) throw new Error(`the node has no ${name} image (images: ${Object.keys(target.images).join(', ') || 'none'}); run npm run down, then npm run up`);
    return ref;
  };

  await applyGatewayClass(target);
  const values = {
    'gatewayAPI.enabled': true,
    'gatewayAPI.createGateway': true,
    'gatewayAPI.gatewayClassName': 'traefik',
    'gatewayAPI.listenerPort': gatewayPort,
    // Imported into the node's containerd; there is no registry to pull from.
    ...localImageValues({ webhook: image('webhook'), controller: image('controller') }),
  };
  const args = productionInstallArgs(RELEASE, values);
  log(`helm ${args.map((a) => (a === CHART_DIR ? 'charts/kaos-operator' : a)).join(' ')}`);
  const started = Date.now();
  await helmOk(target, args);
  log(`release ready in ${((Date.now() - started) / 1000).toFixed(1)} s: webhook (2 replicas) and controller Deployments Available`);

  log(`kubectl apply -f ${SAMPLES.slice(repoRoot.length + 1)}`);
  // helm --wait returns when the pods are Ready; kube-proxy routes the webhook Service a moment
  // later, and until then the API server's call is refused (ADR 0007): retry that, and only that.
  for (const deadline = Date.now() + 30_000; ; ) {
    const applied = await target.kubectl(['apply', '-f', SAMPLES]);
    if (applied.code === 0) {
      process.stderr.write(applied.stdout);
      break;
    }
    if (!/connect: connection refused/.test(applied.stderr) || Date.now() > deadline) throw new Error(`kubectl apply -f ${SAMPLES} failed: ${applied.stderr}`);
    log('the webhook Service is not routed yet (kube-proxy); retrying in 1 s');
    await sleep(1_000);
  }
  const samples = await readQuickstartSamples(target);
  process.stderr.write(await kubectlOk(target, ['apply'], sampleBackendList(samples, image('sample-backend'))));
  for (const sample of samples) {
    await kubectlOk(target, ['rollout', 'status', `deployment/${serviceName(sample)}`, '-n', 'my-namespace', '--timeout=120s']);
  }
  log('sample backends Running (Deployments + Services with selectors, as the KAOS operator creates them)');
  const workDir = join(runDir(), PLANE);
  const state: AppsState = { mode: 'production' };
  if (withGateway) {
    // In production mode the backends are pods behind their Services.
    state.gateway = await startTraefikOnHost(target, gatewayPort, workDir);
  }
  await writeState(state);
  await summarize(target, state, 'kubectl logs -n kaos-system deployment/kaos-operator-controller-manager (and deployment/kaos-operator-webhook)');
}

/** Waits for the routes and the Gateway's URL, then prints what a user wants to see. */
async function summarize(target: KubeTarget, state: AppsState, logs: string): Promise<void> {
  const withGateway = state.gateway !== undefined;
  const routes = ['agent-my-agent', 'modelapi-my-model', 'mcp-echo-server'];
  const deadline = Date.now() + 60_000;
  while ((await target.kubectl(['get', 'httproute', ...routes, '-n', 'my-namespace'])).code !== 0) {
    if (Date.now() > deadline) throw new Error(`the controller made no routes in 60 s; see ${logs}`);
    await sleep(500);
  }

  const out = (text: string) => process.stdout.write(text);
  let agentUrl: string | undefined;
  if (withGateway) {
    // The controller mirrors Traefik's acceptance and the Gateway's address into status.gateway.url.
    const urlDeadline = Date.now() + 60_000;
    while (!agentUrl?.startsWith('http://') && Date.now() < urlDeadline) {
      agentUrl = (await target.kubectl(['get', 'agent', 'my-agent', '-n', 'my-namespace', '-o', 'jsonpath={.status.gateway.url}'])).stdout.trim();
      if (!agentUrl.startsWith('http://')) await sleep(500);
    }
    if (!agentUrl?.startsWith('http://')) throw new Error(`the Gateway did not report an address within 60 s; see ${state.gateway?.traefik.logFile}`);
  }
  out('\n$ kubectl get httproutes -A\n');
  out(await kubectlOk(target, ['get', 'httproutes', '-A']));
  out('\n$ kubectl get agents,modelapis,mcpservers -A   # timeouts defaulted by the webhook\n');
  out(await kubectlOk(target, ['get', 'agents,modelapis,mcpservers', '-A', '-o', 'custom-columns=KIND:.kind,NAMESPACE:.metadata.namespace,NAME:.metadata.name,TIMEOUT:.spec.gatewayRoute.timeout,URL:.status.gateway.url']));
  if (agentUrl) {
    out(`\n$ kubectl get agent my-agent -n my-namespace -o jsonpath='{.status.gateway.url}'\n${agentUrl}\n`);
    out(`\n$ curl ${agentUrl}/health\n`);
    const deadline = Date.now() + 30_000;
    let answer = await fetch(`${agentUrl}/health`).catch(() => undefined);
    while ((answer?.status ?? 0) !== 200 && Date.now() < deadline) {
      await sleep(500);
      answer = await fetch(`${agentUrl}/health`).catch(() => undefined);
    }
    out(`${answer ? await answer.text() : 'no answer'}\n`);
    out(`\nThe user guide's curl commands work against ${agentUrl.slice(0, agentUrl.indexOf('/my-namespace'))}, e.g.\n`);
    out(`  curl ${agentUrl}/.well-known/agent\n`);
    out(`  curl ${agentUrl}/v1/chat/completions -H "Content-Type: application/json" -d '{"model":"my-agent","messages":[{"role":"user","content":"Hello"}]}'\n`);
  }
  if (state.mode === 'production') {
    out('\n$ kubectl get pods -A\n');
    out(await kubectlOk(target, ['get', 'pods', '-A', '-o', 'wide']));
  }
  out(`\nLogs: ${logs}${state.gateway ? `; Traefik: ${state.gateway.traefik.logFile}` : ''}\nStop everything with: npm run down\n\n`);
  out(`export KUBECONFIG=${target.kubeconfigPath}\n`);
}

async function writeState(state: AppsState): Promise<void> {
  const tmp = `${appsStatePath()}.tmp`;
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`);
  await rename(tmp, appsStatePath());
}

async function down(): Promise<void> {
  await stopApps();
  const result = spawnSync('bash', [controlPlaneScript, 'down', '--name', PLANE], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.status !== 0) throw new Error('control-plane.sh down failed');
}

const command = process.argv[2];
try {
  if (command === 'up') await (process.argv.includes('--local') ? upLocal() : upProduction());
  else if (command === 'down') await down();
  else {
    process.stderr.write('usage: quickstart.sh up|down\n');
    process.exitCode = 2;
  }
} catch (error) {
  process.stderr.write(`[${command}] failed: ${(error as Error).message}\n`);
  process.exitCode = 1;
}
