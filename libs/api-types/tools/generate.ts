// Writes the generated artefacts of libs/api-types: the CRDs and the values schema the Helm chart ships.
// Run with `npm run generate`; libs/api-types/src/generated.test.ts fails when they drift.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KIND_DEFINITIONS, crdFileName, crdYaml, helmValuesJsonSchema } from '../src/index.js';

/** Where the chart keeps the CRDs and its values schema, relative to the repository root. */
export const VALUES_SCHEMA = 'charts/kaos-operator/values.schema.json';

export const CRD_DIR = 'charts/kaos-operator/crds';

const repositoryRoot = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const crdDir = join(repositoryRoot, CRD_DIR);
mkdirSync(crdDir, { recursive: true });
for (const definition of KIND_DEFINITIONS) {
  const path = join(crdDir, crdFileName(definition));
  writeFileSync(path, crdYaml(definition));
  console.log(`wrote ${join(CRD_DIR, crdFileName(definition))}`);
}
writeFileSync(join(repositoryRoot, VALUES_SCHEMA), helmValuesJsonSchema());
console.log(`wrote ${VALUES_SCHEMA}`);
