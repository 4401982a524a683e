/**
 * The README's first command.
 *
 *   npm run up     local control plane → helm install (local mode, Gateway API on) → webhook and
 *                  controller as processes with the chart's service-account tokens → the samples
 *                  → what a user wants to see, ending with `export KUBECONFIG=...`
 *   npm run down   stops the processes and the control plane
 *
 * Progress goes to stderr; the summary to stdout. Both commands are idempotent: `up` on a running
 * system upgrades the release and restarts the two processes (picking up a rebuilt bundle).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot, runDir, runKubectl } from '../control-plane/index.js';
import { freePort } from '../control-plane/proc.js';
import {
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
interface AppsState {
  webhookPort: number;
  apps: Record<App, AppState>;
}

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

async function stopApps(): Promise<void> {
  const state = readAppsState();
  if (!state) return;
  for (const app of ['controller', 'webhook'] as const) {
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

/** The control plane's kubeconfig and binaries, starting it when it is not up. */
function controlPlaneUp(): KubeTarget {
  log('starting the local control plane (the first run builds the Kubernetes binaries from source: ~15 min)');
  const output = execFileSync('bash', [controlPlaneScript, 'up', '--name', PLANE], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const kubeconfigPath = /export KUBECONFIG=(\S+)/.exec(output)?.[1];
  if (!kubeconfigPath) throw new Error(`control-plane.sh up printed no KUBECONFIG line:\n${output}`);
  const state = JSON.parse(readFileSync(join(runDir(), `${PLANE}.json`), 'utf8')) as { binDir: string };
  return {
    kubeconfigPath,
    binDir: state.binDir,
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

async function kubectlOk(target: KubeTarget, args: string[]): Promise<string> {
  const result = await target.kubectl(args, { timeoutMs: 120_000 });
  if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${result.stderr}${result.stdout}`);
  return result.stdout;
}

async function up(): Promise<void> {
  for (const app of ['webhook', 'controller'] as const) {
    if (!existsSync(join(repoRoot, `dist/apps/${app}/main.js`))) throw new Error(`dist/apps/${app}/main.js is missing: run \`npx nx run ${app}:build\` (npm run up does)`);
  }
  const target = controlPlaneUp();
  const previous = readAppsState();
  await stopApps();
  const release: LocalRelease = { ...RELEASE, webhookPort: previous?.webhookPort ?? (await freePort()) };
  const names = releaseNames(release.release);

  log(`helm upgrade --install ${release.release} charts/kaos-operator -n ${release.namespace} (local mode, gatewayAPI.enabled=true, createGateway=true)`);
  await installLocalRelease(target, release, { 'gatewayAPI.enabled': true, 'gatewayAPI.createGateway': true, 'gatewayAPI.gatewayClassName': 'traefik' });

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
  const tmp = `${appsStatePath()}.tmp`;
  await writeFile(tmp, `${JSON.stringify({ webhookPort: release.webhookPort, apps } satisfies AppsState, null, 2)}\n`);
  await rename(tmp, appsStatePath());
  await Promise.all([waitReady('webhook', apps.webhook), waitReady('controller', apps.controller)]);
  log('webhook ready (certificates in Secret kaos-system/kaos-operator-webhook-tls, CA bundle injected); controller ready');

  log(`kubectl apply -f ${SAMPLES.slice(repoRoot.length + 1)}`);
  process.stderr.write(await kubectlOk(target, ['apply', '-f', SAMPLES]));
  const routes = ['agent-my-agent', 'modelapi-my-model', 'mcp-echo-server'];
  const deadline = Date.now() + 60_000;
  while ((await target.kubectl(['get', 'httproute', ...routes, '-n', 'my-namespace'])).code !== 0) {
    if (Date.now() > deadline) throw new Error(`the controller made no routes in 60 s; see ${apps.controller.logFile}`);
    await sleep(500);
  }

  const out = (text: string) => process.stdout.write(text);
  out('\n$ kubectl get httproutes -A\n');
  out(await kubectlOk(target, ['get', 'httproutes', '-A']));
  out('\n$ kubectl get agents,modelapis,mcpservers -A   # timeouts defaulted by the webhook\n');
  out(await kubectlOk(target, ['get', 'agents,modelapis,mcpservers', '-A', '-o', 'custom-columns=KIND:.kind,NAMESPACE:.metadata.namespace,NAME:.metadata.name,TIMEOUT:.spec.gatewayRoute.timeout,URL:.status.gateway.url']));
  out(`\nWebhook log: ${apps.webhook.logFile}\nController log: ${apps.controller.logFile}\nStop everything with: npm run down\n\n`);
  out(`export KUBECONFIG=${target.kubeconfigPath}\n`);
}

async function down(): Promise<void> {
  await stopApps();
  const result = spawnSync('bash', [controlPlaneScript, 'down', '--name', PLANE], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.status !== 0) throw new Error('control-plane.sh down failed');
}

const command = process.argv[2];
try {
  if (command === 'up') await up();
  else if (command === 'down') await down();
  else {
    process.stderr.write('usage: quickstart.sh up|down\n');
    process.exitCode = 2;
  }
} catch (error) {
  process.stderr.write(`[${command}] failed: ${(error as Error).message}\n`);
  process.exitCode = 1;
}
