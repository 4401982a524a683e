import { Type, type Static, type TSchema, type TUnsafe } from '@sinclair/typebox';

/**
 * Gateway API Duration (GEP-2257): one to four `<1-5 digits><unit>` components, e.g. `30s`, `1h30m`.
 * The CRD, the Ajv validators and the routing library all use this one pattern.
 */
export const GATEWAY_DURATION_PATTERN = '^([0-9]{1,5}(h|m|s|ms)){1,4}$';

/** Longest string that can match GATEWAY_DURATION_PATTERN: four components of five digits and a two-letter unit. */
export const GATEWAY_DURATION_MAX_LENGTH = 28;

/** The message users see for a value that is not a Gateway API duration. */
export const GATEWAY_DURATION_HINT = 'is not a Gateway API duration (e.g. 30s, 1m, 1h30m)';

/** A CEL rule as CRDs carry it in `x-kubernetes-validations`. */
export interface CelRule {
  rule: string;
  message: string;
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

/** A string restricted to a fixed set of values, emitted as a structural `enum` (not TypeBox's anyOf). */
export function stringEnum<const T extends readonly string[]>(
  values: T,
  options: Record<string, unknown> = {},
): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

/** A map of strings to strings (`additionalProperties`: CRDs forbid TypeBox's `patternProperties`). */
export function stringMap(description: string): TUnsafe<Record<string, string>> {
  return Type.Unsafe<Record<string, string>>({ type: 'object', description, additionalProperties: { type: 'string' } });
}

/** metav1.Condition, as every Kubernetes API uses it. */
export const ConditionSchema = Type.Object(
  {
    type: Type.String({
      maxLength: 316,
      pattern: '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$',
      description: 'Type of condition in CamelCase.',
    }),
    status: stringEnum(['True', 'False', 'Unknown'] as const, { description: 'Status of the condition.' }),
    observedGeneration: Type.Optional(
      Type.Integer({ format: 'int64', minimum: 0, description: 'The .metadata.generation the condition was set for.' }),
    ),
    lastTransitionTime: Type.String({ format: 'date-time', description: 'When the status last changed.' }),
    reason: Type.String({
      minLength: 1,
      maxLength: 1024,
      pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$',
      description: 'Programmatic identifier of the last transition, in CamelCase.',
    }),
    message: Type.String({ maxLength: 32768, description: 'Human readable details of the last transition.' }),
  },
  { description: 'A metav1.Condition.' },
);
/** metav1.Condition. */
export type Condition = Static<typeof ConditionSchema>;

/** A condition list keyed by type, as in every Kubernetes status. */
export function conditionList(description: string) {
  return Type.Array(ConditionSchema, {
    description,
    maxItems: 32,
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['type'],
  });
}

/** The parts of metav1.ObjectMeta that this project reads or writes. */
export const ObjectMetaSchema = Type.Object({
  name: Type.Optional(Type.String()),
  generateName: Type.Optional(Type.String()),
  namespace: Type.Optional(Type.String()),
  uid: Type.Optional(Type.String()),
  resourceVersion: Type.Optional(Type.String()),
  generation: Type.Optional(Type.Integer()),
  creationTimestamp: Type.Optional(Type.String()),
  deletionTimestamp: Type.Optional(Type.String()),
  labels: Type.Optional(Type.Record(Type.String(), Type.String())),
  annotations: Type.Optional(Type.Record(Type.String(), Type.String())),
  ownerReferences: Type.Optional(
    Type.Array(
      Type.Object({
        apiVersion: Type.String(),
        kind: Type.String(),
        name: Type.String(),
        uid: Type.String(),
        controller: Type.Optional(Type.Boolean()),
        blockOwnerDeletion: Type.Optional(Type.Boolean()),
      }),
    ),
  ),
  finalizers: Type.Optional(Type.Array(Type.String())),
  managedFields: Type.Optional(Type.Array(Type.Unknown())),
});
/** metav1.ObjectMeta (the fields this project uses). */
export type ObjectMeta = Static<typeof ObjectMetaSchema>;
/** metav1.OwnerReference. */
export type OwnerReference = NonNullable<ObjectMeta['ownerReferences']>[number];

/** Marks a schema as the root of a Kubernetes object so generators can recognise metadata. */
export type ResourceSchema = TSchema;
