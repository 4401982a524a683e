import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { crdFileName, customResourceDefinition, openApiSchema } from './crd.js';
import { crdYaml } from './crd-yaml.js';
import { KIND_DEFINITIONS, isKaosKind, kindDefinition } from './kinds.js';

const crdDirectory = join(dirname(fileURLToPath(import.meta.url)), '../../../charts/kaos-operator/crds');

/** Keywords a structural CRD schema may not use (apiextensions.k8s.io/v1 rejects them). */
const FORBIDDEN_KEYWORDS = ['$ref', 'const', 'if', 'then', 'else', 'definitions', '$schema', 'patternProperties', '$id'];

type Node = Record<string, unknown>;

/** Every structural-schema violation in `node`, as `path: reason`. */
function structuralViolations(node: Node, path: string): string[] {
  const violations: string[] = [];
  for (const keyword of FORBIDDEN_KEYWORDS) {
    if (keyword in node) violations.push(`${path}: uses ${keyword}`);
  }
  if (node.uniqueItems === true) violations.push(`${path}: uniqueItems must not be true`);
  if (node.properties && node.additionalProperties !== undefined) violations.push(`${path}: properties with additionalProperties`);
  const intOrString = node['x-kubernetes-int-or-string'] === true;
  if (typeof node.type !== 'string' && node['x-kubernetes-preserve-unknown-fields'] !== true && !intOrString) violations.push(`${path}: no type`);
  if (intOrString && node.type !== undefined) violations.push(`${path}: int-or-string with a type`);
  const validations = (node['x-kubernetes-validations'] as unknown[] | undefined) ?? [];
  if (node.type === 'string' && validations.length > 0 && typeof node.maxLength !== 'number') {
    violations.push(`${path}: CEL on a string without maxLength (unbounded cost)`);
  }
  if (node['x-kubernetes-list-type'] === 'map') {
    const keys = node['x-kubernetes-list-map-keys'] as string[];
    const items = node.items as Node;
    const required = (items.required as string[] | undefined) ?? [];
    const properties = (items.properties as Record<string, Node> | undefined) ?? {};
    // The API server accepts a map key that is required or has a default (containers[].ports: protocol).
    for (const key of keys) {
      if (!required.includes(key) && properties[key]?.default === undefined) violations.push(`${path}: list-map key ${key} is neither required nor defaulted`);
    }
  }
  for (const [name, child] of Object.entries((node.properties as Record<string, Node> | undefined) ?? {})) {
    violations.push(...structuralViolations(child, `${path}.${name}`));
  }
  if (node.items) violations.push(...structuralViolations(node.items as Node, `${path}[]`));
  if (typeof node.additionalProperties === 'object' && node.additionalProperties !== null) {
    violations.push(...structuralViolations(node.additionalProperties as Node, `${path}{}`));
  }
  return violations;
}

describe.each(KIND_DEFINITIONS.map((definition) => [definition.kind, definition] as const))('the %s CRD', (_kind, definition) => {
  it('is committed exactly as generated (run `npm run generate` after changing a schema)', () => {
    expect(readFileSync(join(crdDirectory, crdFileName(definition)), 'utf8')).toBe(crdYaml(definition));
  });

  it('is a structural schema', () => {
    expect(structuralViolations(openApiSchema(definition.schema), definition.kind)).toEqual([]);
  });

  it('starts with a document separator, so concatenated CRD files (helm show crds) stay separate documents', () => {
    expect(crdYaml(definition).startsWith('---\n')).toBe(true);
  });

  it('round-trips through YAML and names the kind, scope, version and subresource', () => {
    const crd = parse(crdYaml(definition)) as Node;
    expect(crd).toEqual(customResourceDefinition(definition));
    expect(crd).toMatchObject({
      metadata: { name: `${definition.plural}.kaos.tools` },
      spec: {
        group: 'kaos.tools',
        scope: 'Namespaced',
        names: { kind: definition.kind, plural: definition.plural, shortNames: definition.shortNames, categories: ['kaos'] },
        versions: [{ name: 'v1alpha1', served: true, storage: true, subresources: { status: {} } }],
      },
    });
  });

  it('leaves metadata to the API server and requires nothing at the top (a root error could never be ratcheted)', () => {
    const schema = openApiSchema(definition.schema) as { properties: Record<string, Node>; required?: string[] };
    expect(schema.properties.metadata).toEqual({ type: 'object' });
    expect(schema.required).toBeUndefined();
    expect(schema.properties.status!.properties).toHaveProperty('gateway');
    expect((schema.properties.spec!.properties as Node).gatewayRoute).toBeDefined();
  });

  it('shows the route state in its printer columns', () => {
    const names = definition.printerColumns.map((column) => column.name);
    expect(names).toEqual(expect.arrayContaining(['Route', 'URL', 'Age']));
  });
});

describe('the structural check itself', () => {
  it.each<[string, Node, string]>([
    ['const', { type: 'string', const: 'x' }, 'uses const'],
    ['uniqueItems', { type: 'array', uniqueItems: true, items: { type: 'string' } }, 'uniqueItems must not be true'],
    ['a missing type', { properties: {} }, 'no type'],
    ['additionalProperties beside properties', { type: 'object', properties: {}, additionalProperties: false }, 'properties with additionalProperties'],
    ['an int-or-string with a type', { type: 'string', 'x-kubernetes-int-or-string': true }, 'int-or-string with a type'],
    ['a bad map value', { type: 'object', additionalProperties: { properties: {} } }, 'x{}: no type'],
    ['unbounded CEL', { type: 'string', 'x-kubernetes-validations': [{ rule: 'true' }] }, 'unbounded cost'],
    [
      'an optional list-map key',
      { type: 'array', 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'], items: { type: 'object' } },
      'list-map key type is neither required nor defaulted',
    ],
  ])('catches %s', (_name, node, violation) => {
    expect(structuralViolations(node, 'x').join('\n')).toContain(violation);
  });
});

describe('kindDefinition', () => {
  it('finds each kind and rejects others with the list of kinds', () => {
    expect(kindDefinition('MCPServer').plural).toBe('mcpservers');
    expect(() => kindDefinition('Pod')).toThrow('unknown kind "Pod": expected one of Agent, ModelAPI, MCPServer');
    expect(isKaosKind('Agent')).toBe(true);
    expect(isKaosKind('agent')).toBe(false);
  });
});
