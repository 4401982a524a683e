// Renders the chart with the real helm binary (built and cached by e2e/scripts/build-tools.sh).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

/** The repository root, from this file's location. */
export const repositoryRoot = join(dirname(fileURLToPath(import.meta.url)), '../../..');

/** The chart directory. */
export const chartDirectory = join(repositoryRoot, 'charts/kaos-operator');

/** A rendered Kubernetes object, loosely typed for assertions. */
export interface RenderedObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

/** Path of the cached helm binary; throws with the command that builds it. */
export function helmBinary(): string {
  const binDirectory = execFileSync('bash', [join(repositoryRoot, 'e2e/scripts/build-tools.sh'), '--print-bin-dir'], { encoding: 'utf8' }).trim();
  const helm = join(binDirectory, 'helm');
  if (!existsSync(helm)) throw new Error(`helm is not built yet (${helm}); run: npx nx run e2e:build-tools`);
  return helm;
}

/** Runs `helm template kaos-operator <chart> -n kaos-system ...args`. */
export function helmTemplate(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(helmBinary(), ['template', 'kaos-operator', chartDirectory, '--namespace', 'kaos-system', ...args], { encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Renders the chart and parses every object; throws with helm's message when rendering fails. */
export function render(args: string[] = []): RenderedObject[] {
  const result = helmTemplate(args);
  if (result.status !== 0) throw new Error(`helm template ${args.join(' ')} failed: ${result.stderr}`);
  return parseAllDocuments(result.stdout)
    .map((document) => document.toJS() as RenderedObject | null)
    .filter((object): object is RenderedObject => object !== null);
}

/** The one object of `kind` named `name`; throws listing what was rendered when it is missing. */
export function find(objects: RenderedObject[], kind: string, name: string): RenderedObject {
  const found = objects.find((object) => object.kind === kind && object.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} in: ${objects.map((object) => `${object.kind}/${object.metadata.name}`).join(', ')}`);
  return found;
}

/** Turns a flat values map into `--set-string`/`--set` arguments (strings stay strings). */
export function setArgs(values: Record<string, string | number | boolean>): string[] {
  return Object.entries(values).flatMap(([key, value]) => (typeof value === 'string' ? ['--set-string', `${key}=${value}`] : ['--set', `${key}=${value}`]));
}
