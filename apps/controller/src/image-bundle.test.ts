import { describe, expect, it } from '@jest/globals';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { imageBundleOptions } from '../../../scripts/bundle-options.mjs';

// What the controller's image bundle holds is resident memory (ADR 0023): packages only the webhook
// uses must stay out of it, whatever the libraries' index modules re-export.
const repositoryRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** The npm packages whose files are in the controller's image bundle. */
async function bundledPackages(): Promise<Set<string>> {
  const { metafile } = await build({
    ...imageBundleOptions('controller'),
    absWorkingDir: repositoryRoot,
    entryPoints: ['apps/controller/src/main.ts'],
    outfile: 'main.js',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const output = Object.values(metafile.outputs).find((candidate) => candidate.entryPoint !== undefined)!;
  return new Set(
    Object.keys(output.inputs)
      .filter((path) => path.includes('node_modules/'))
      .map((path) => {
        const [scope, name] = path.split('node_modules/').pop()!.split('/');
        return scope!.startsWith('@') ? `${scope}/${name}` : scope!;
      }),
  );
}

describe("the controller's image bundle", () => {
  it('holds what the controller runs and none of the webhook-only packages', async () => {
    const packages = await bundledPackages();
    expect(['@kubernetes/client-node', 'undici', 'prom-client', 'winston', '@sinclair/typebox'].filter((name) => !packages.has(name))).toEqual([]);
    // express: the ops ports are served without it; Ajv: admission validation; yaml: the CRD generator.
    expect(['express', 'ajv', 'ajv-formats', 'yaml', 'body-parser'].filter((name) => packages.has(name))).toEqual([]);
  }, 60_000);
});
