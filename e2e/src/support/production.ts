// The chart in production mode on the real node: what users run after `helm install`. Shared by
// the production e2e tests and `npm run up`.
import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KaosResource } from '@kaos/api-types';
import { CHART_DIR, helm, setArgs, type KubeTarget } from './release.js';
import { KAOS_CRD_DIR, kubectlOk } from './cluster.js';
import { gatewayApiBundlePath, type KubectlResult } from '../control-plane/index.js';
import { buildImages } from '../images/manifest.js';
import { imageRef, nodeImages, startNodeCluster, type NodeCluster } from '../node/cluster.js';

/** Helm values that point one component at a locally built image reference `registry/repository:tag`. */
export function imageValues(component: 'webhook' | 'controller', ref: string): Record<string, string> {
  const match = /^([^/]+)\/(.+):([^:/]+)$/.exec(ref);
  if (!match) throw new Error(`image reference ${ref} is not registry/repository:tag`);
  return { 'image.registry': match[1]!, [`${component}.image.repository`]: match[2]!, [`${component}.image.tag`]: match[3]! };
}

/** The values that make the chart run the given local images, never pulling (there is no registry). */
export function localImageValues(images: { webhook: string; controller: string }): Record<string, string> {
  const webhook = imageValues('webhook', images.webhook);
  const controller = imageValues('controller', images.controller);
  if (webhook['image.registry'] !== controller['image.registry']) throw new Error(`both images must share one registry: ${images.webhook}, ${images.controller}`);
  return { ...webhook, ...controller, 'image.pullPolicy': 'Never' };
}

/** `helm upgrade --install` arguments of the user guide's command, plus the given values. */
export function productionInstallArgs(release: { release: string; namespace: string }, values: Record<string, string | number | boolean>, timeout = '5m'): string[] {
  return ['upgrade', '--install', release.release, CHART_DIR, '--namespace', release.namespace, '--create-namespace', ...setArgs(values), '--wait', '--timeout', timeout];
}

/** Runs helm with the production arguments; resolves with helm's result (never throws for a non-zero exit). */
export function installProduction(target: KubeTarget, release: { release: string; namespace: string }, values: Record<string, string | number | boolean>, timeout = '5m'): Promise<KubectlResult> {
  return helm(target, productionInstallArgs(release, values, timeout), 6 * 60_000);
}

/**
 * Runs a shell command line exactly as a user types it (pipes included), with the plane's kubectl
 * and helm first on PATH and KUBECONFIG set. Never rejects; kills the command after `timeoutMs`.
 */
export function userShell(target: KubeTarget, command: string, timeoutMs = 60_000): Promise<KubectlResult> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-o', 'pipefail', '-c', command], {
      env: { ...process.env, PATH: `${target.binDir}:${process.env.PATH ?? ''}`, KUBECONFIG: target.kubeconfigPath, HOME: process.env.HOME ?? '/root' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    }, timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 124, stdout, stderr });
    });
  });
}

/** The kubectl binary of a target (for commands that must outlive one call, e.g. port-forward). */
export function kubectlPath(target: KubeTarget): string {
  return join(target.binDir, 'kubectl');
}

/** The three resources of docs/samples/quickstart.yaml as stored (with their defaulted timeouts). */
export function readQuickstartSamples(target: Pick<KubeTarget, 'kubectl'>): Promise<KaosResource[]> {
  return Promise.all(
    [['agent', 'my-agent'], ['modelapi', 'my-model'], ['mcpserver', 'echo-server']].map(async ([kind, name]) => JSON.parse(await kubectlOk(target, ['get', kind!, name!, '-n', 'my-namespace', '-o', 'json'])) as KaosResource),
  );
}

/**
 * Builds (or reuses) the images, then starts a control plane and the node with them, for a test
 * file that runs the chart in production mode. One node fits per machine: a second such file waits
 * for the first one's node to stop. KAOS_E2E_KEEP=1 keeps the node's logs for a post-mortem.
 */
export async function startProductionNode(plane: string, log?: (message: string) => void): Promise<{ cluster: NodeCluster; images: { webhook: string; controller: string; sampleBackend: string } }> {
  const manifest = await buildImages(log ?? (() => {}));
  const cluster = await startNodeCluster({
    owner: { plane, pid: process.pid },
    workDir: await mkdtemp(join(tmpdir(), `kaos-${plane}-`)),
    removeWorkDir: !process.env.KAOS_E2E_KEEP,
    crdPaths: [KAOS_CRD_DIR],
    gatewayApiBundle: gatewayApiBundlePath(),
    pauseImage: imageRef(manifest, 'pause'),
    images: nodeImages(manifest),
    waitForNodeMs: 25 * 60_000,
    ...(log ? { log } : {}),
  });
  return { cluster, images: { webhook: imageRef(manifest, 'webhook'), controller: imageRef(manifest, 'controller'), sampleBackend: imageRef(manifest, 'sample-backend') } };
}

/** How long a test file's beforeAll may take with startProductionNode: waiting for the node included. */
export const PRODUCTION_NODE_START_MS = 35 * 60_000;
