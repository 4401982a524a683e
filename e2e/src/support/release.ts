// The Helm chart installed for real into a local control plane, in local mode: the chart installs
// everything but the Deployments, and the webhook and the controller run as local processes with
// the chart's service-account tokens, so the chart's RBAC is what they are allowed to do.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { repoRoot, type KubectlResult } from '../control-plane/index.js';
import { freePort } from '../control-plane/proc.js';
import { startApp, type AppProcess } from './app-process.js';

/** What the release helpers need from a cluster: the admin kubeconfig, the binaries, kubectl. */
export interface KubeTarget {
  kubeconfigPath: string;
  binDir: string;
  kubectl(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<KubectlResult>;
}

/** The chart in this repository. */
export const CHART_DIR = join(repoRoot, 'charts/kaos-operator');

/** Where a release lives and how its local processes are reached. */
export interface LocalRelease {
  release: string;
  namespace: string;
  webhookPort: number;
}

/** The chart's base name for a release (mirrors `kaos-operator.fullname` in _helpers.tpl). */
export function releaseFullname(release: string): string {
  return release.includes('kaos-operator') ? release : `${release}-kaos-operator`;
}

/** Names of the release's objects that the local processes need. */
export function releaseNames(release: string) {
  const fullname = releaseFullname(release);
  return {
    config: `${fullname}-config`,
    webhook: `${fullname}-webhook`,
    webhookSecret: `${fullname}-webhook-tls`,
    controllerServiceAccount: `${fullname}-controller`,
    webhookServiceAccount: `${fullname}-webhook`,
    lease: `${fullname}-controller-leader`,
    controllerDeployment: `${fullname}-controller-manager`,
    controllerClusterRole: `${fullname}-kaos-operator`,
  };
}

/** Turns values into `--set`/`--set-string` arguments (strings stay strings). */
export function setArgs(values: Record<string, string | number | boolean>): string[] {
  return Object.entries(values).flatMap(([key, value]) => (typeof value === 'string' ? ['--set-string', `${key}=${value}`] : ['--set', `${key}=${value}`]));
}

/** Runs the cached helm binary against the cluster; never throws for a non-zero exit. */
export function helm(target: KubeTarget, args: string[], timeoutMs = 180_000): Promise<KubectlResult> {
  return new Promise((resolve) => {
    const child = spawn(join(target.binDir, 'helm'), [...args, '--kubeconfig', target.kubeconfigPath], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH, HOME: process.env.HOME, HELM_CACHE_HOME: join(target.binDir, '..', 'helm-cache'), HELM_CONFIG_HOME: join(target.binDir, '..', 'helm-config'), HELM_DATA_HOME: join(target.binDir, '..', 'helm-data') },
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', (error) => resolve({ code: 127, stdout, stderr: `${stderr}${error.message}` }));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 124, stdout, stderr });
    });
  });
}

/** Runs helm and fails with its output when it exits non-zero. */
export async function helmOk(target: KubeTarget, args: string[]): Promise<string> {
  const result = await helm(target, args);
  if (result.code !== 0) throw new Error(`helm ${args.join(' ')} failed (${result.code}): ${result.stderr}${result.stdout}`);
  return result.stdout;
}

/** `helm upgrade --install` of the chart in local mode, waiting for it; extra values on top. */
export function installLocalRelease(target: KubeTarget, release: LocalRelease, values: Record<string, string | number | boolean> = {}, extraArgs: string[] = []): Promise<string> {
  return helmOk(target, [
    'upgrade', '--install', release.release, CHART_DIR,
    '--namespace', release.namespace, '--create-namespace', '--wait', '--timeout', '2m',
    ...setArgs({ 'localMode.enabled': true, 'localMode.webhookHost': '127.0.0.1', 'localMode.webhookPort': release.webhookPort, ...values }),
    ...extraArgs,
  ]);
}

/**
 * Writes a kubeconfig that authenticates as a service account with a short-lived token (what a
 * pod's projected token is), next to the admin kubeconfig's server and CA.
 */
export async function serviceAccountKubeconfig(target: KubeTarget, namespace: string, serviceAccount: string, path: string, duration = '2h'): Promise<string> {
  const token = await target.kubectl(['create', 'token', serviceAccount, '-n', namespace, `--duration=${duration}`]);
  if (token.code !== 0) throw new Error(`kubectl create token ${namespace}/${serviceAccount} failed: ${token.stderr}`);
  const admin = parse(await readFile(target.kubeconfigPath, 'utf8')) as { clusters: Array<{ name: string; cluster: Record<string, string> }> };
  const cluster = admin.clusters[0]!;
  const user = `system:serviceaccount:${namespace}:${serviceAccount}`;
  await writeFile(
    path,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [cluster],
      users: [{ name: user, user: { token: token.stdout.trim() } }],
      contexts: [{ name: user, context: { cluster: cluster.name, user, namespace } }],
      'current-context': user,
    }),
    { mode: 0o600 },
  );
  return path;
}

/** The ConfigMap the chart gives both apps as environment (`envFrom`). */
export async function releaseConfig(target: KubeTarget, release: LocalRelease): Promise<Record<string, string>> {
  const result = await target.kubectl(['get', 'configmap', releaseNames(release.release).config, '-n', release.namespace, '-o', 'json']);
  if (result.code !== 0) throw new Error(`reading the release ConfigMap failed: ${result.stderr}`);
  return (JSON.parse(result.stdout) as { data?: Record<string, string> }).data ?? {};
}

/** Ports and credentials of the two local processes. */
export interface LocalAppSetup {
  webhookHealthPort: number;
  controllerHealthPort: number;
  webhookKubeconfig: string;
  controllerKubeconfig: string;
}

/**
 * The environment each app gets, as the chart's Deployments set it (ConfigMap + the env list),
 * plus what local mode needs: a serving certificate for 127.0.0.1 and the token kubeconfigs.
 */
export function localAppEnvironments(release: LocalRelease, config: Record<string, string>, setup: LocalAppSetup) {
  const names = releaseNames(release.release);
  return {
    webhook: {
      ...config,
      KUBECONFIG: setup.webhookKubeconfig,
      POD_NAMESPACE: release.namespace,
      WEBHOOK_SERVICE_NAME: names.webhook,
      WEBHOOK_SECRET_NAME: names.webhookSecret,
      MUTATING_WEBHOOK_CONFIGURATION: names.webhook,
      VALIDATING_WEBHOOK_CONFIGURATION: names.webhook,
      TLS_MODE: 'generate',
      TLS_EXTRA_IPS: '127.0.0.1',
      BIND_ADDRESS: '127.0.0.1',
      WEBHOOK_PORT: String(release.webhookPort),
      HEALTH_PORT: String(setup.webhookHealthPort),
      // Two local processes cannot both take the HTTPS metrics port 8443; tests scrape the health port.
      METRICS_SECURE: 'false',
    },
    controller: {
      ...config,
      KUBECONFIG: setup.controllerKubeconfig,
      POD_NAMESPACE: release.namespace,
      POD_NAME: `${names.controllerDeployment}-local`,
      BIND_ADDRESS: '127.0.0.1',
      HEALTH_PORT: String(setup.controllerHealthPort),
      METRICS_SECURE: 'false',
      LEADER_ELECTION: 'true',
      LEADER_ELECTION_LEASE_NAME: names.lease,
    },
  };
}

/** The NODE_OPTIONS the chart's Deployment gives an app (from values.yaml), so local runs match production. */
export function chartNodeOptions(app: 'webhook' | 'controller'): string {
  const values = parse(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8')) as Record<string, { nodeOptions?: string }>;
  return values[app]?.nodeOptions ?? '';
}

/** Starts an app bundle detached (it outlives the caller), logging to `logFile`; returns its PID. */
export function startDetachedApp(app: 'webhook' | 'controller', env: Record<string, string>, logFile: string): number {
  const out = openSync(logFile, 'a');
  try {
    const child = spawn(process.execPath, [join(repoRoot, `dist/apps/${app}/main.js`)], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_OPTIONS: chartNodeOptions(app), MALLOC_ARENA_MAX: '2', ...env },
      stdio: ['ignore', out, out],
      detached: true,
    });
    child.unref();
    if (child.pid === undefined) throw new Error(`could not start ${app}`);
    return child.pid;
  } finally {
    closeSync(out);
  }
}

/**
 * Starts the webhook and the controller of a local-mode release as the chart would run them (its
 * ConfigMap, its service-account tokens, its NODE_OPTIONS), logging into `directory`; waits until both are ready.
 */
export async function startLocalApps(target: KubeTarget, release: LocalRelease, directory: string): Promise<{ webhook: AppProcess; controller: AppProcess }> {
  const names = releaseNames(release.release);
  const setup = {
    webhookHealthPort: await freePort(),
    controllerHealthPort: await freePort(),
    webhookKubeconfig: await serviceAccountKubeconfig(target, release.namespace, names.webhookServiceAccount, join(directory, 'webhook.kubeconfig')),
    controllerKubeconfig: await serviceAccountKubeconfig(target, release.namespace, names.controllerServiceAccount, join(directory, 'controller.kubeconfig')),
  };
  const env = localAppEnvironments(release, await releaseConfig(target, release), setup);
  const stamp = Date.now();
  const webhook = startApp('webhook', { ...env.webhook, NODE_OPTIONS: chartNodeOptions('webhook') }, join(directory, `webhook-${stamp}.log`), setup.webhookHealthPort);
  const controller = startApp('controller', { ...env.controller, NODE_OPTIONS: chartNodeOptions('controller') }, join(directory, `controller-${stamp}.log`), setup.controllerHealthPort);
  try {
    await Promise.all([webhook.waitReady(), controller.waitReady()]);
  } catch (error) {
    await Promise.all([webhook.stop(), controller.stop()]);
    throw error;
  }
  return { webhook, controller };
}
