import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KaosResource } from '@kaos/api-types';
import { gatewayApiBundlePath, repoRoot, startControlPlane, type ControlPlane, type KubectlResult } from '../control-plane/index.js';

/** The CRDs the chart ships (generated from libs/api-types). */
export const KAOS_CRD_DIR = join(repoRoot, 'charts/kaos-operator/crds');

/** Starts a control plane with our CRDs and the given Gateway API bundle (v1.3.0 experimental by default). */
export function startTestCluster(gatewayApiBundle = gatewayApiBundlePath()): Promise<ControlPlane> {
  return startControlPlane({
    crdPaths: [KAOS_CRD_DIR],
    gatewayApiBundle,
    log: process.env.E2E_VERBOSE ? (message) => process.stderr.write(`[e2e] ${message}\n`) : undefined,
  });
}

/** Polls until `check` returns a value (not undefined) or the time is up; the last error is in the message. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

/** Runs kubectl with a manifest on stdin; JSON objects are accepted as manifests (JSON is YAML). */
export function kubectlWithManifest(plane: Pick<ControlPlane, 'kubectl'>, args: string[], manifest: unknown): Promise<KubectlResult> {
  return plane.kubectl([...args, '-f', '-'], { input: typeof manifest === 'string' ? manifest : JSON.stringify(manifest) });
}

/** Runs kubectl and fails with its output when it exits non-zero. */
export async function kubectlOk(plane: Pick<ControlPlane, 'kubectl'>, args: string[], input?: unknown): Promise<string> {
  const result = input === undefined ? await plane.kubectl(args) : await kubectlWithManifest(plane, args, input);
  if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${result.code}): ${result.stderr}${result.stdout}`);
  return result.stdout;
}

/** Creates a namespace with a unique name for one test. */
export async function createNamespace(plane: ControlPlane, prefix: string): Promise<string> {
  const name = `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
  await kubectlOk(plane, ['create', 'namespace', name]);
  return name;
}

/** A scratch directory removed by the returned cleanup. */
export async function scratchDir(): Promise<{ dir: string; file: (name: string, content: string) => Promise<string>; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'kaos-e2e-'));
  return {
    dir,
    file: async (name, content) => {
      const path = join(dir, name);
      await writeFile(path, content);
      return path;
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** `kubectl get ... -o json` parsed, or undefined when kubectl fails (e.g. NotFound). */
export async function getJson<T>(plane: Pick<ControlPlane, 'kubectl'>, args: string[]): Promise<T | undefined> {
  const result = await plane.kubectl([...args, '-o', 'json']);
  return result.code === 0 ? (JSON.parse(result.stdout) as T) : undefined;
}

/** Resource number `index` of a mixed batch: Agents, ModelAPIs and MCPServers in turn, named `r-{index}`. */
export function mixedResource(index: number, namespace: string): KaosResource {
  const metadata = { name: `r-${index}`, namespace };
  switch (index % 3) {
    case 0:
      return { apiVersion: 'kaos.tools/v1alpha1', kind: 'Agent', metadata, spec: { modelAPI: 'm' } };
    case 1:
      return { apiVersion: 'kaos.tools/v1alpha1', kind: 'ModelAPI', metadata, spec: { mode: 'Proxy', proxyConfig: { models: ['x'] } } };
    default:
      return { apiVersion: 'kaos.tools/v1alpha1', kind: 'MCPServer', metadata, spec: { runtime: 'r' } };
  }
}

/** Runs every cleanup step even when one fails, so no process, namespace or veth is left; then reports the failures. */
export async function runCleanup(steps: Array<[string, (() => Promise<unknown>) | undefined]>): Promise<void> {
  const failures: string[] = [];
  for (const [what, step] of steps) {
    try {
      await step?.();
    } catch (error) {
      failures.push(`${what}: ${(error as Error).message}`);
    }
  }
  if (failures.length > 0) throw new Error(`cleanup failed: ${failures.join('; ')}`);
}
