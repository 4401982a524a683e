// Installing and replacing the KAOS CRDs in a running control plane, and comparing the custom
// resources it stores.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { repoRoot, type ControlPlane } from '../control-plane/index.js';
import { eventually, kubectlOk } from './cluster.js';

/** Upstream KAOS's CRDs (github.com/axsaucedo/kaos at the commit named in their README). */
export const UPSTREAM_CRD_DIR = join(repoRoot, 'libs/api-types/upstream/kaos');

/** The field manager both CRD sets are applied with, so applying one set over the other replaces it field by field. */
export const CRD_FIELD_MANAGER = 'kaos-e2e-crds';

/** A parsed Kubernetes object, read by path. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- objects of any depth, compared structurally
export type KubeObject = Record<string, any>;

/** The CRDs in a file or directory of YAML files, by name. */
export function crdsIn(path: string): Map<string, KubeObject> {
  const files = statSync(path).isDirectory()
    ? readdirSync(path)
        .filter((name) => /\.ya?ml$/.test(name))
        .sort()
        .map((name) => join(path, name))
    : [path];
  const crds = new Map<string, KubeObject>();
  for (const file of files) {
    for (const document of parseAllDocuments(readFileSync(file, 'utf8'))) {
      const object = document.toJS() as KubeObject | null;
      if (object?.kind === 'CustomResourceDefinition') crds.set(object.metadata.name, object);
    }
  }
  return crds;
}

/**
 * Applies the CRDs in `path` server-side as CRD_FIELD_MANAGER (they are too large for client-side
 * apply's annotation) and waits until each is Established. Fields an earlier apply by the same
 * manager set and this one does not are removed: the CRDs are replaced, not merged.
 */
export async function applyCrds(plane: Pick<ControlPlane, 'kubectl'>, path: string): Promise<string[]> {
  const names = [...crdsIn(path).keys()];
  if (names.length === 0) throw new Error(`no CustomResourceDefinition in ${path}`);
  const applied = await plane.kubectl(['apply', '--server-side', '--force-conflicts', `--field-manager=${CRD_FIELD_MANAGER}`, '-f', path], { timeoutMs: 120_000 });
  if (applied.code !== 0) throw new Error(`applying the CRDs in ${path} failed (${applied.code}): ${applied.stderr}`);
  // A CRD created a moment ago may have no status.conditions yet, which makes kubectl wait fail at once: retry.
  await eventually(
    `the CRDs of ${path} to be Established`,
    async () => {
      const waited = await plane.kubectl(['wait', '--for=condition=Established', '--timeout=10s', ...names.map((name) => `crd/${name}`)]);
      if (waited.code === 0) return true;
      throw new Error(waited.stderr.trim());
    },
    60_000,
  );
  return names;
}

/**
 * Waits until the installed CRDs carry exactly the schemas of the files in `path`, then until
 * `probe` passes (the API server swaps a CRD's handler a moment after the update).
 */
export async function waitForCrdSchemas(plane: Pick<ControlPlane, 'kubectl'>, path: string, probe: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const wanted = crdsIn(path);
  await eventually(
    `the CRDs of ${path} to be installed`,
    async () => {
      for (const [name, crd] of wanted) {
        const installed = JSON.parse(await kubectlOk(plane, ['get', 'crd', name, '-o', 'json'])) as KubeObject;
        if (JSON.stringify(schemaOf(installed)) !== JSON.stringify(schemaOf(crd))) throw new Error(`${name} does not carry the schema of ${path} yet`);
      }
      return true;
    },
    timeoutMs,
  );
  await eventually(`the API server to serve the CRDs of ${path}`, async () => ((await probe()) ? true : undefined), timeoutMs);
}

/** The v1alpha1 schema of a CRD, with object keys sorted (the API server does not keep key order). */
export function schemaOf(crd: KubeObject): unknown {
  return sortedKeys(crd.spec.versions.find((version: KubeObject) => version.name === 'v1alpha1')?.schema?.openAPIV3Schema);
}

function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, sortedKeys((value as KubeObject)[key])]),
  );
}

/** Metadata the API server sets on every write, and the annotation client-side `kubectl apply` adds. */
const SERVER_METADATA = ['uid', 'resourceVersion', 'creationTimestamp', 'generation', 'managedFields'];
export const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/** A copy without server-set metadata and the last-applied annotation: what the user's object consists of. */
export function withoutServerMetadata(object: KubeObject): KubeObject {
  const copy = structuredClone(object);
  for (const key of SERVER_METADATA) delete copy.metadata?.[key];
  if (copy.metadata?.annotations) {
    delete copy.metadata.annotations[LAST_APPLIED];
    if (Object.keys(copy.metadata.annotations).length === 0) delete copy.metadata.annotations;
  }
  return copy;
}

/**
 * Every field of `expected` that `actual` lacks or holds another value for, as readable lines:
 * `actual` may have more fields (defaults), but lists keep their length and scalars their value.
 */
export function lostOrChangedFields(expected: unknown, actual: unknown, path = ''): string[] {
  const show = (value: unknown) => JSON.stringify(value);
  if (actual === undefined) return [`${path || '.'}: missing (was ${show(expected)})`];
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return [`${path}: ${show(expected)} became ${show(actual)}`];
    const lengths = expected.length === actual.length ? [] : [`${path}: ${expected.length} items became ${actual.length}`];
    return [...lengths, ...expected.flatMap((item, index) => lostOrChangedFields(item, actual[index], `${path}[${index}]`))];
  }
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return [`${path}: ${show(expected)} became ${show(actual)}`];
    return Object.entries(expected).flatMap(([key, value]) => lostOrChangedFields(value, (actual as KubeObject)[key], `${path}.${key}`));
  }
  return Object.is(expected, actual) ? [] : [`${path}: ${show(expected)} became ${show(actual)}`];
}
