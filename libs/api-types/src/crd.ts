import { KUBERNETES_DEFINITIONS } from './generated/kubernetes-definitions.js';
import type { KindDefinition } from './kinds.js';
import { embedKubernetesTypes } from './schemas/kubernetes-embedded.js';
import { KAOS_GROUP, KAOS_VERSION } from './schemas/resources.js';

/** A JSON Schema node as plain data. */
type SchemaNode = { [key: string]: unknown };

/** Keys first in every schema node, so the generated YAML reads like hand-written CRDs. */
const LEADING_KEYS = ['description', 'type', 'format', 'enum', 'default'];
/** Keys last in every schema node: the nested schemas. */
const TRAILING_KEYS = ['required', 'properties', 'items'];

function orderSchemaKeys(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(orderSchemaKeys);
  if (typeof node !== 'object' || node === null) return node;
  const entries = Object.entries(node as SchemaNode);
  const rank = (key: string) =>
    LEADING_KEYS.includes(key) ? LEADING_KEYS.indexOf(key) - 100 : TRAILING_KEYS.includes(key) ? TRAILING_KEYS.indexOf(key) + 100 : 0;
  const ordered = entries
    .map(([key, value], index) => ({ key, value, index }))
    .sort((a, b) => rank(a.key) - rank(b.key) || a.index - b.index);
  return Object.fromEntries(
    ordered.map(({ key, value }) => [key, key === 'properties' ? mapValues(value as SchemaNode, orderSchemaKeys) : orderSchemaKeys(value)]),
  );
}

function mapValues(record: SchemaNode, map: (value: unknown) => unknown): SchemaNode {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, map(value)]));
}

/** Category that lists all KAOS kinds at once: `kubectl get kaos`. */
export const KAOS_CATEGORY = 'kaos';

/**
 * Turns a TypeBox resource schema into a structural OpenAPI v3 schema a CRD accepts: embedded
 * Kubernetes types expanded from the vendored definitions, metadata left to the API server,
 * apiVersion/kind as plain strings. Nothing is required at the top, as upstream KAOS has it: the API
 * server cannot ratchet an error on the root (every metadata change changes it), so an object stored
 * without `spec` could never be updated again, not even to remove a finalizer. The webhook refuses a
 * missing spec on CREATE.
 */
export function openApiSchema(schema: unknown): SchemaNode {
  const plain = orderSchemaKeys(embedKubernetesTypes(JSON.parse(JSON.stringify(schema)), KUBERNETES_DEFINITIONS)) as SchemaNode;
  const { required: _required, ...root } = plain;
  const properties = plain.properties as Record<string, SchemaNode>;
  return {
    ...root,
    properties: {
      ...properties,
      apiVersion: { type: 'string', description: 'APIVersion defines the versioned schema of this representation of an object.' },
      kind: { type: 'string', description: 'Kind is a string value representing the REST resource this object represents.' },
      metadata: { type: 'object' },
    },
  };
}

/** The CustomResourceDefinition of one KAOS kind. */
export function customResourceDefinition(definition: KindDefinition): SchemaNode {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${definition.plural}.${KAOS_GROUP}`,
      labels: { 'app.kubernetes.io/part-of': 'kaos' },
    },
    spec: {
      group: KAOS_GROUP,
      names: {
        kind: definition.kind,
        listKind: definition.listKind,
        plural: definition.plural,
        singular: definition.singular,
        shortNames: definition.shortNames,
        categories: [KAOS_CATEGORY],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: KAOS_VERSION,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: openApiSchema(definition.schema) },
          subresources: { status: {} },
          additionalPrinterColumns: definition.printerColumns,
        },
      ],
    },
  };
}

/** File name of a kind's CRD, as the chart ships it. */
export function crdFileName(definition: KindDefinition): string {
  return `${KAOS_GROUP}_${definition.plural}.yaml`;
}
