// Our generated CRDs against upstream KAOS's own (libs/api-types/upstream/kaos, the files users'
// clusters have installed): every upstream field is ours too, with the same type, format, enum,
// required list, default, pattern, list and map semantics; the only differences are listed below,
// each with its reason (docs/adr/0014-upstream-kaos-compatibility.md).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { customResourceDefinition } from './crd.js';
import { KIND_DEFINITIONS } from './kinds.js';
import { compareSchemas, schemaFields, type FieldDifference } from './schema-compare.js';
import { TIMEOUT_CEL_RULE } from './schemas/common.js';
import { GATEWAY_DURATION_MAX_LENGTH } from './schemas/kubernetes.js';
import { MODEL_API_SPEC_RULES } from './schemas/resources.js';

const upstreamDirectory = join(dirname(fileURLToPath(import.meta.url)), '../upstream/kaos');

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed schemas of any depth, read by path
type Node = Record<string, any>;

function upstreamCrd(plural: string): Node {
  return parse(readFileSync(join(upstreamDirectory, `kaos.tools_${plural}.yaml`), 'utf8')) as Node;
}

/** Where ours deliberately differs from upstream, for every kind. */
const DELIBERATE_DIFFERENCES: readonly (FieldDifference & { why: string })[] = [
  { path: '.spec.gatewayRoute.timeout', aspect: 'maxLength', ours: GATEWAY_DURATION_MAX_LENGTH, why: 'bounds the CEL rule\'s cost, as the API server requires; no Gateway API duration is longer' },
  {
    path: '.spec.gatewayRoute.timeout',
    aspect: 'validations',
    ours: JSON.stringify([TIMEOUT_CEL_RULE]),
    why: 'the Gateway API duration, with a readable message (replaces upstream\'s pattern, below)',
  },
  {
    path: '.spec.gatewayRoute.timeout',
    aspect: 'pattern',
    upstream: '^([0-9]+(h|m|s|ms)){1,4}$',
    why: 'checked by a CEL rule with the Gateway API Duration pattern (at most 5 digits per part), which a Gateway accepts',
  },
];

/** Where ours differs for one kind only. */
const KIND_DIFFERENCES: Record<string, readonly (FieldDifference & { why: string })[]> = {
  ModelAPI: [
    { path: '.spec', aspect: 'validations', ours: JSON.stringify(MODEL_API_SPEC_RULES), why: 'mode Proxy needs proxyConfig and Hosted needs hostedConfig; the KAOS operator cannot run either without' },
  ],
  Agent: [
    {
      path: '.spec',
      aspect: 'required',
      upstream: '["model","modelAPI"]',
      ours: '["modelAPI"]',
      why: "the user guide's Agent has no model; the KAOS operator then uses the ModelAPI's default",
    },
  ],
};

/** Field paths only ours has: what the routing controller writes. */
const OUR_ADDITIONS = /^\.status\.gateway(\.|\[|$)/;

describe.each(KIND_DEFINITIONS.map((definition) => [definition.kind, definition] as const))('our %s CRD against upstream KAOS', (kind, definition) => {
  const upstream = upstreamCrd(definition.plural);
  const ours = customResourceDefinition(definition) as Node;
  const upstreamVersion = upstream.spec.versions[0];
  const ourVersion = ours.spec.versions[0];

  it('has every upstream field with the same type, format, enum, required, default, pattern, bounds, CEL rules, list and map type', () => {
    const differences = compareSchemas(upstreamVersion.schema.openAPIV3Schema, ourVersion.schema.openAPIV3Schema);
    const unexplained = differences.filter(
      (difference) =>
        !(difference.aspect === 'extra' && OUR_ADDITIONS.test(difference.path)) &&
        ![...DELIBERATE_DIFFERENCES, ...(KIND_DIFFERENCES[kind] ?? [])].some(
          (known) => known.path === difference.path && known.aspect === difference.aspect && known.upstream === difference.upstream && known.ours === difference.ours,
        ),
    );
    expect(unexplained).toEqual([]);
  });

  it('differs only where listed, so the list stays true', () => {
    const differences = compareSchemas(upstreamVersion.schema.openAPIV3Schema, ourVersion.schema.openAPIV3Schema);
    for (const known of [...DELIBERATE_DIFFERENCES, ...(KIND_DIFFERENCES[kind] ?? [])]) {
      expect(differences).toContainEqual({ path: known.path, aspect: known.aspect, ...(known.upstream === undefined ? {} : { upstream: known.upstream }), ...(known.ours === undefined ? { ours: undefined } : { ours: known.ours }) });
    }
  });

  it('embeds the core types in full, as upstream does (not as free-form objects)', () => {
    const fields = schemaFields(ourVersion.schema.openAPIV3Schema);
    expect(fields.get('.spec.podSpec.containers[].name')).toEqual({ type: 'string' });
    expect(fields.get('.spec.podSpec.containers[].resources.limits{}')).toMatchObject({ type: 'int-or-string' });
    expect(fields.get('.spec.container.env[]')).toMatchObject({ type: 'object', required: '["name"]' });
    expect([...fields.values()].filter((field) => field.preserveUnknownFields)).toEqual([]);
  });

  it('keeps upstream names and short names, and starts its printer columns with upstream columns', () => {
    for (const key of ['kind', 'listKind', 'plural', 'singular']) expect(ours.spec.names[key]).toBe(upstream.spec.names[key]);
    expect(ours.spec.scope).toBe(upstream.spec.scope);
    expect(ours.spec.names.shortNames).toEqual(expect.arrayContaining(upstream.spec.names.shortNames));
    const upstreamColumns = upstreamVersion.additionalPrinterColumns as Node[];
    expect(ourVersion.additionalPrinterColumns.slice(0, upstreamColumns.length)).toEqual(upstreamColumns);
    expect(ourVersion.subresources).toEqual(upstreamVersion.subresources);
    expect([ourVersion.name, ourVersion.served, ourVersion.storage]).toEqual([upstreamVersion.name, true, true]);
  });
});

describe('compareSchemas', () => {
  const object = (properties: Node, extra: Node = {}) => ({ type: 'object', properties, ...extra });
  it.each<[string, Node, Node, FieldDifference[]]>([
    ['identical', object({ a: { type: 'string' } }), object({ a: { type: 'string' } }), []],
    ['a missing field', object({ a: { type: 'string' } }), object({}), [{ path: '.a', aspect: 'missing', upstream: { type: 'string' } }]],
    ['an extra field', object({}), object({ b: { type: 'integer' } }), [{ path: '.b', aspect: 'extra', ours: { type: 'integer' } }]],
    ['another type', object({ a: { type: 'string' } }), object({ a: { type: 'integer' } }), [{ path: '.a', aspect: 'type', upstream: 'string', ours: 'integer' }]],
    [
      'another enum',
      object({ a: { type: 'string', enum: ['A', 'B'] } }),
      object({ a: { type: 'string', enum: ['A'] } }),
      [{ path: '.a', aspect: 'enum', upstream: '["A","B"]', ours: '["A"]' }],
    ],
    ['another required list', object({}, { required: ['a', 'b'] }), object({}, { required: ['b'] }), [{ path: '', aspect: 'required', upstream: '["a","b"]', ours: '["b"]' }]],
    ['a stricter bound', object({ s: { type: 'string' } }), object({ s: { type: 'string', maxLength: 8 } }), [{ path: '.s', aspect: 'maxLength', ours: 8 }]],
    [
      'a CEL rule only ours has',
      object({ s: { type: 'string' } }),
      object({ s: { type: 'string', 'x-kubernetes-validations': [{ rule: 'self != ""' }] } }),
      [{ path: '.s', aspect: 'validations', ours: '[{"rule":"self != \\"\\""}]' }],
    ],
    ['the same required list in another order', object({}, { required: ['a', 'b'] }), object({}, { required: ['b', 'a'] }), []],
    [
      'an int-or-string that became a string',
      object({ q: { anyOf: [{ type: 'integer' }, { type: 'string' }], 'x-kubernetes-int-or-string': true } }),
      object({ q: { type: 'string' } }),
      [{ path: '.q', aspect: 'type', upstream: 'int-or-string', ours: 'string' }],
    ],
    [
      'a list item field',
      object({ l: { type: 'array', items: object({ n: { type: 'string' } }) } }),
      object({ l: { type: 'array', items: object({ n: { type: 'string', format: 'byte' } }) } }),
      [{ path: '.l[].n', aspect: 'format', ours: 'byte' }],
    ],
    [
      'a free-form object where upstream is typed',
      object({ m: object({ n: { type: 'string' } }) }),
      object({ m: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } }),
      [
        { path: '.m', aspect: 'preserveUnknownFields', ours: true },
        { path: '.m.n', aspect: 'missing', upstream: { type: 'string' } },
      ],
    ],
  ])('%s', (_name, upstream, ours, expected) => {
    expect(compareSchemas(upstream, ours)).toEqual(expected);
  });
});
