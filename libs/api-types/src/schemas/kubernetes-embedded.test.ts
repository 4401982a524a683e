import { describe, expect, it } from '@jest/globals';
import { KUBERNETES_DEFINITIONS, KUBERNETES_DEFINITIONS_SOURCE } from '../generated/kubernetes-definitions.js';
import {
  KUBERNETES_ROOT_DEFINITIONS,
  KUBERNETES_TYPE_KEY,
  QUANTITY_PATTERN,
  definitionClosure,
  embedKubernetesTypes,
  expandKubernetesType,
  kubernetesType,
  type KubernetesDefinitions,
} from './kubernetes-embedded.js';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const INT_OR_STRING = 'io.k8s.apimachinery.pkg.util.intstr.IntOrString';
const QUANTITY = 'io.k8s.apimachinery.pkg.api.resource.Quantity';

/** A small OpenAPI document with the constructs Kubernetes' own uses. */
const definitions: KubernetesDefinitions = {
  'test.Thing': {
    description: 'A thing.',
    type: 'object',
    required: ['name'],
    properties: {
      name: { type: 'string', default: '' },
      port: { allOf: [ref(INT_OR_STRING)], description: 'Port number or name.' },
      size: { allOf: [ref(QUANTITY)], description: 'How big.' },
      labels: { type: 'object', additionalProperties: { type: 'string', default: '' } },
      parts: {
        type: 'array',
        items: { allOf: [ref('test.Part')], default: {} },
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['name'],
        'x-kubernetes-patch-merge-key': 'name',
        'x-kubernetes-patch-strategy': 'merge',
      },
      protocol: { type: 'string', default: 'TCP', enum: ['TCP', 'UDP'] },
      template: { allOf: [ref('io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta')], default: {}, description: 'Metadata to copy.' },
    },
  },
  'test.Part': { description: 'A part.', type: 'object', required: ['name'], properties: { name: { type: 'string' } } },
  'test.Loop': { type: 'object', properties: { next: { allOf: [ref('test.Loop')] } } },
  [INT_OR_STRING]: { description: 'IntOrString.', format: 'int-or-string', oneOf: [{ type: 'integer' }, { type: 'string' }] },
  [QUANTITY]: { description: 'Quantity.', type: 'string' },
  'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta': { type: 'object', properties: { uid: { type: 'string' } } },
};

describe('expandKubernetesType', () => {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed schemas of any depth, read by path
  const thing = expandKubernetesType('test.Thing', definitions) as Record<string, any>;
  it.each<[string, unknown, unknown]>([
    ['inlines references, with the field description over the type description', thing.properties.parts.items, { description: 'A part.', type: 'object', required: ['name'], properties: { name: { type: 'string' } } }],
    ['renders IntOrString as x-kubernetes-int-or-string', thing.properties.port, { anyOf: [{ type: 'integer' }, { type: 'string' }], 'x-kubernetes-int-or-string': true, description: 'Port number or name.' }],
    [
      'renders Quantity with the quantity pattern',
      thing.properties.size,
      { anyOf: [{ type: 'integer' }, { type: 'string' }], pattern: QUANTITY_PATTERN, 'x-kubernetes-int-or-string': true, description: 'How big.' },
    ],
    ['drops the default of a required field', thing.properties.name, { type: 'string' }],
    ['drops defaults of map values', thing.properties.labels.additionalProperties, { type: 'string' }],
    ['keeps real defaults and enums', thing.properties.protocol, { type: 'string', default: 'TCP', enum: ['TCP', 'UDP'] }],
    ['keeps list semantics and drops strategic-merge keys', Object.keys(thing.properties.parts).sort(), ['items', 'type', 'x-kubernetes-list-map-keys', 'x-kubernetes-list-type']],
    ['keeps of an embedded ObjectMeta what a template may set', Object.keys(thing.properties.template.properties), ['annotations', 'finalizers', 'labels', 'name', 'namespace']],
    ['drops empty-object defaults', thing.properties.template.default, undefined],
  ])('%s', (_name, actual, expected) => {
    expect(actual).toEqual(expected);
  });

  it('refuses recursive types, which a CRD cannot hold', () => {
    expect(() => expandKubernetesType('test.Loop', definitions)).toThrow('test.Loop -> test.Loop: recursive types cannot be embedded in a CRD');
  });

  it('names a definition that is missing', () => {
    expect(() => expandKubernetesType('test.Nothing', definitions)).toThrow('definition test.Nothing is missing');
  });
});

describe('embedKubernetesTypes', () => {
  it('replaces marked nodes, keeping the description where they are used', () => {
    const schema = { type: 'object', properties: { part: { ...kubernetesType('io.k8s.api.core.v1.EnvVar', 'Used here.'), [KUBERNETES_TYPE_KEY]: 'test.Part' } } };
    expect(embedKubernetesTypes(schema, definitions)).toEqual({
      type: 'object',
      properties: { part: { description: 'Used here.', type: 'object', required: ['name'], properties: { name: { type: 'string' } } } },
    });
  });
});

describe('the vendored Kubernetes definitions', () => {
  it('are exactly what the embedded root types need, from the pinned Kubernetes release', () => {
    expect(Object.keys(definitionClosure(KUBERNETES_DEFINITIONS, KUBERNETES_ROOT_DEFINITIONS))).toEqual(Object.keys(KUBERNETES_DEFINITIONS));
    expect(KUBERNETES_DEFINITIONS_SOURCE).toMatchObject({ module: 'k8s.io/kubernetes', path: 'api/openapi-spec/v3/api__v1_openapi.json' });
    expect(KUBERNETES_DEFINITIONS_SOURCE.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('expand every root type without recursion', () => {
    for (const name of KUBERNETES_ROOT_DEFINITIONS) expect(expandKubernetesType(name, KUBERNETES_DEFINITIONS)).toHaveProperty('type', 'object');
  });

  it('name a definition the document lacks', () => {
    expect(() => definitionClosure(definitions, ['test.Absent'])).toThrow('definition test.Absent is not in the OpenAPI document');
  });
});
