/** What a CRD schema says about one field, in the terms two CRDs are compared by. */
export interface FieldShape {
  /** `string`, `integer`, …, or `int-or-string` for `x-kubernetes-int-or-string` fields. */
  type: string;
  format?: string;
  enum?: string;
  required?: string;
  default?: string;
  pattern?: string;
  listType?: string;
  listMapKeys?: string;
  mapType?: string;
  preserveUnknownFields?: boolean;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  nullable?: boolean;
  /** The CEL rules (`x-kubernetes-validations`), as JSON. */
  validations?: string;
}

/** A difference between two CRD schemas at one field path (`.spec.podSpec.containers[].name`). */
export interface FieldDifference {
  path: string;
  /** `missing` (the field is not in ours), `extra` (only in ours), or the FieldShape key that differs. */
  aspect: 'missing' | 'extra' | keyof FieldShape;
  upstream?: unknown;
  ours?: unknown;
}

type SchemaNode = Record<string, unknown>;

function isNode(value: unknown): value is SchemaNode {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function shapeOf(node: SchemaNode): FieldShape {
  const json = (value: unknown) => (value === undefined ? undefined : JSON.stringify(value));
  const shape: FieldShape = {
    type: node['x-kubernetes-int-or-string'] === true ? 'int-or-string' : typeof node.type === 'string' ? node.type : 'untyped',
    format: node.format as string | undefined,
    enum: json(node.enum),
    required: Array.isArray(node.required) && node.required.length > 0 ? json([...(node.required as string[])].sort()) : undefined,
    default: json(node.default),
    pattern: node.pattern as string | undefined,
    listType: node['x-kubernetes-list-type'] as string | undefined,
    listMapKeys: json(node['x-kubernetes-list-map-keys']),
    mapType: node['x-kubernetes-map-type'] as string | undefined,
    preserveUnknownFields: node['x-kubernetes-preserve-unknown-fields'] === true ? true : undefined,
    minLength: node.minLength as number | undefined,
    maxLength: node.maxLength as number | undefined,
    minimum: node.minimum as number | undefined,
    maximum: node.maximum as number | undefined,
    minItems: node.minItems as number | undefined,
    maxItems: node.maxItems as number | undefined,
    minProperties: node.minProperties as number | undefined,
    maxProperties: node.maxProperties as number | undefined,
    nullable: node.nullable === true ? true : undefined,
    validations: json(node['x-kubernetes-validations']),
  };
  return Object.fromEntries(Object.entries(shape).filter(([, value]) => value !== undefined)) as unknown as FieldShape;
}

/** Every field of a CRD's openAPIV3Schema by path: `.a.b` for properties, `[]` for items, `{}` for map values. */
export function schemaFields(schema: unknown, path = ''): Map<string, FieldShape> {
  const fields = new Map<string, FieldShape>();
  const visit = (node: unknown, at: string): void => {
    if (!isNode(node)) return;
    fields.set(at, shapeOf(node));
    for (const [name, child] of Object.entries((node.properties as SchemaNode | undefined) ?? {})) visit(child, `${at}.${name}`);
    if (node.items) visit(node.items, `${at}[]`);
    if (isNode(node.additionalProperties)) visit(node.additionalProperties, `${at}{}`);
  };
  visit(schema, path);
  return fields;
}

const COMPARED_ASPECTS: readonly (keyof FieldShape)[] = [
  'type',
  'format',
  'enum',
  'required',
  'default',
  'pattern',
  'listType',
  'listMapKeys',
  'mapType',
  'preserveUnknownFields',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'minItems',
  'maxItems',
  'minProperties',
  'maxProperties',
  'nullable',
  'validations',
];

/** Every field-level difference between an upstream CRD schema and ours, in path order. */
export function compareSchemas(upstream: unknown, ours: unknown): FieldDifference[] {
  const upstreamFields = schemaFields(upstream);
  const ourFields = schemaFields(ours);
  const differences: FieldDifference[] = [];
  for (const [path, theirs] of upstreamFields) {
    const mine = ourFields.get(path);
    if (!mine) {
      differences.push({ path, aspect: 'missing', upstream: theirs });
      continue;
    }
    for (const aspect of COMPARED_ASPECTS) {
      if (theirs[aspect] !== mine[aspect]) differences.push({ path, aspect, upstream: theirs[aspect], ours: mine[aspect] });
    }
  }
  for (const [path, mine] of ourFields) {
    if (!upstreamFields.has(path)) differences.push({ path, aspect: 'extra', ours: mine });
  }
  return differences.sort((a, b) => a.path.localeCompare(b.path) || a.aspect.localeCompare(b.aspect));
}
