import { fieldPathFromPointer, type FieldProblem } from '@kaos/api-types';

// Validation ratcheting (ADR 0012), after Kubernetes' CRDValidationRatcheting (KEP-4008): on
// UPDATE, a problem is allowed when the value it is about is unchanged from the old object. How
// "unchanged" is decided follows apiextensions-apiserver (validation/ratcheting.go and
// k8s.io/apiserver/pkg/cel/common/equality.go): old and new values are correlated field by field,
// list items by their map keys (x-kubernetes-list-type: map) or not at all (set, atomic: the list
// counts as one value), and compared with a deep equality that uses the same correlation. One
// deliberate difference: items of lists without a list type are correlated by index here, where
// kube treats such lists as atomic (ADR 0012, "Where we differ").

/** One step of a path into an object: a property name or a list index. */
export type PathSegment = string | number;

/** A JSON Schema node as plain data (TypeBox schemas are plain objects). */
export type SchemaNode = Readonly<Record<string, unknown>>;

/** The suffix every warning about a ratcheted problem ends with. */
export const RATCHETED_SUFFIX = '(already invalid before this update; allowed unchanged)';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asSchema(value: unknown): SchemaNode | undefined {
  return isObject(value) ? value : undefined;
}

/** The schema of property `key` of an object schema: `properties`, then `patternProperties`, then `additionalProperties`. */
export function propertySchema(schema: SchemaNode | undefined, key: string): SchemaNode | undefined {
  if (!schema) return undefined;
  const properties = asSchema(schema.properties);
  if (properties && Object.hasOwn(properties, key)) return asSchema(properties[key]);
  const patternProperties = asSchema(schema.patternProperties);
  if (patternProperties) {
    for (const [pattern, child] of Object.entries(patternProperties)) if (new RegExp(pattern, 'u').test(key)) return asSchema(child);
  }
  return asSchema(schema.additionalProperties);
}

/** The schema of the items of a list schema. */
export function itemSchema(schema: SchemaNode | undefined): SchemaNode | undefined {
  return asSchema(schema?.items);
}

type ListType = 'map' | 'set' | 'atomic' | undefined;

function listTypeOf(schema: SchemaNode | undefined): ListType {
  const type = schema?.['x-kubernetes-list-type'];
  return type === 'map' || type === 'set' || type === 'atomic' ? type : undefined;
}

/** Finds the item of `list` with the same map keys as `item` (x-kubernetes-list-map-keys). */
function mapListItem(list: readonly unknown[], item: unknown, schema: SchemaNode | undefined): unknown {
  const keys = Array.isArray(schema?.['x-kubernetes-list-map-keys']) ? (schema['x-kubernetes-list-map-keys'] as string[]) : [];
  if (!isObject(item) || keys.length === 0 || !keys.every((key) => Object.hasOwn(item, key))) return undefined;
  return list.find((candidate) => isObject(candidate) && keys.every((key) => Object.hasOwn(candidate, key) && candidate[key] === item[key]));
}

/**
 * Whether `value` equals `old`, as kube-apiserver's ratcheting compares them (CachedDeepEqual):
 * objects key by key, map lists by their keys (order does not matter), other lists by index;
 * inside set and atomic lists nothing is correlated, so they compare as plain JSON.
 */
export function valuesEqual(value: unknown, old: unknown, schema?: SchemaNode): boolean {
  if (value === old) return true;
  if (Array.isArray(value)) {
    if (!Array.isArray(old) || value.length !== old.length) return false;
    const type = listTypeOf(schema);
    const items = type === 'set' || type === 'atomic' ? undefined : itemSchema(schema);
    if (type === 'map') {
      return value.every((item) => {
        const oldItem = mapListItem(old, item, schema);
        return oldItem !== undefined && valuesEqual(item, oldItem, items);
      });
    }
    return value.every((item, index) => valuesEqual(item, old[index], items));
  }
  if (isObject(value)) {
    if (!isObject(old)) return false;
    const keys = Object.keys(value);
    if (keys.length !== Object.keys(old).length) return false;
    return keys.every((key) => Object.hasOwn(old, key) && valuesEqual(value[key], old[key], propertySchema(schema, key)));
  }
  return false;
}

function child(container: unknown, segment: PathSegment): { has: boolean; value?: unknown } {
  if (Array.isArray(container)) {
    return typeof segment === 'number' && segment < container.length ? { has: true, value: container[segment] } : { has: false };
  }
  if (isObject(container) && Object.hasOwn(container, String(segment))) return { has: true, value: container[String(segment)] };
  return { has: false };
}

/**
 * Whether the value at `path` is unchanged from `oldRoot` to `root`: the path is followed in both
 * (map-list items found by their keys, other list items by index), and the values found compared
 * with `valuesEqual`. A path into a set or atomic list cannot be followed item by item, so the
 * whole list must be unchanged (kube-apiserver falls back to the nearest correlatable ancestor
 * likewise). A value absent before and after is unchanged; added or removed is changed.
 */
export function unchangedAt(root: unknown, oldRoot: unknown, path: readonly PathSegment[], schema?: SchemaNode): boolean {
  let value = root;
  let old = oldRoot;
  let node = schema;
  for (const segment of path) {
    if (Array.isArray(value) && typeof segment === 'number') {
      const type = listTypeOf(node);
      if (type === 'set' || type === 'atomic') return valuesEqual(value, old, node);
      if (type === 'map' && segment < value.length) {
        if (!Array.isArray(old)) return false;
        const oldItem = mapListItem(old, value[segment], node);
        if (oldItem === undefined) return false;
        value = value[segment];
        old = oldItem;
        node = itemSchema(node);
        continue;
      }
    }
    const next = child(value, segment);
    const previous = child(old, segment);
    if (!next.has && !previous.has) return true;
    if (next.has !== previous.has) return false;
    node = Array.isArray(value) ? itemSchema(node) : propertySchema(node, String(segment));
    value = next.value;
    old = previous.value;
  }
  return valuesEqual(value, old, node);
}

const IDENTIFIER = /\.?([A-Za-z_$][\w$-]*)/y;
const INDEX = /\[(\d+)\]/y;
const QUOTED = /\[("(?:[^"\\]|\\.)*")\]/y;

/**
 * The path of a field as problems name it (`spec.env[2].name`, `metadata.labels["a/b"]`, the
 * format of `fieldPathFromPointer`), or undefined when `field` is not in that format.
 */
export function parseFieldPath(field: string): PathSegment[] | undefined {
  const path: PathSegment[] = [];
  let at = 0;
  while (at < field.length) {
    let match: RegExpExecArray | null = null;
    for (const pattern of [IDENTIFIER, INDEX, QUOTED]) {
      pattern.lastIndex = at;
      match = pattern.exec(field);
      if (!match) continue;
      if (pattern === IDENTIFIER) path.push(match[1]!);
      else if (pattern === INDEX) path.push(Number(match[1]));
      else path.push(JSON.parse(match[1]!) as string);
      at = pattern.lastIndex;
      break;
    }
    if (!match) return undefined;
  }
  return path;
}

function pointerOf(path: readonly PathSegment[]): string {
  return path.map((segment) => `/${String(segment).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

interface CelRuleData {
  message?: unknown;
  fieldPath?: unknown;
}

/**
 * The value a schema problem is about — the node of the schema whose rule failed — as kube-apiserver
 * ratchets by it: a CEL rule's node (its error names the rule's `fieldPath` below it), the object
 * that misses a required property, otherwise the field itself. Undefined when `field` cannot be
 * read as a path (the problem is then never ratcheted).
 */
export function problemNode(problem: FieldProblem, schema?: SchemaNode): PathSegment[] | undefined {
  const path = parseFieldPath(problem.field);
  if (!path) return undefined;
  let node = schema;
  for (let depth = 0; depth <= path.length && node; depth++) {
    const rules = Array.isArray(node['x-kubernetes-validations']) ? (node['x-kubernetes-validations'] as CelRuleData[]) : [];
    for (const rule of rules) {
      if (typeof rule.fieldPath !== 'string' || rule.fieldPath === '' || rule.message !== problem.message) continue;
      if (`${fieldPathFromPointer(pointerOf(path.slice(0, depth)))}${rule.fieldPath}` === problem.field) return path.slice(0, depth);
    }
    const segment = path[depth];
    if (segment === undefined) break;
    node = typeof segment === 'number' ? itemSchema(node) : propertySchema(node, segment);
  }
  if (problem.message === 'Required value' && path.length > 0) return path.slice(0, -1);
  return path;
}

/** Whether an object is being deleted: `metadata.deletionTimestamp` is set. */
export function isBeingDeleted(object: unknown): boolean {
  if (!isObject(object) || !isObject(object.metadata)) return false;
  const timestamp = object.metadata.deletionTimestamp;
  return timestamp !== undefined && timestamp !== null && timestamp !== '';
}

/** What ratcheting needs to judge the problems of one UPDATE. */
export interface RatchetInput {
  /** The object after the update, and before it (the review's `oldObject`). */
  object: unknown;
  oldObject: unknown;
  /** Every problem of `object`. */
  problems: readonly FieldProblem[];
  /**
   * The problems of `oldObject`, by the same rules and in the same context (configuration, other
   * objects): called only when some problem's value is unchanged.
   */
  oldProblems: () => readonly FieldProblem[];
  /** The value a problem is about (see `problemNode`); undefined: never ratcheted. */
  nodeOf: (problem: FieldProblem) => readonly PathSegment[] | undefined;
  /** Schema of the objects, for map-list keys and list types; without it lists correlate by index. */
  schema?: SchemaNode;
}

/** The problems an UPDATE is refused for, and the ones it is allowed with (each gets a warning). */
export interface RatchetResult {
  blocking: FieldProblem[];
  ratcheted: FieldProblem[];
}

const problemKey = (problem: FieldProblem) => `${problem.field}\u0000${problem.message}`;

/**
 * Splits the problems of an UPDATE into those it introduces or changes (blocking) and those it
 * leaves as they were (ratcheted). A problem is ratcheted when
 * - `spec` is unchanged: metadata-only updates (labels, annotations, finalizers, owner references)
 *   are never refused; or
 * - the value it is about is unchanged (`unchangedAt`) and the old object had the same problem,
 *   worded the same: so a problem that depends on more than its own value (the configuration, other
 *   fields, other objects) still blocks when that context makes it new or different.
 */
export function ratchetProblems(input: RatchetInput): RatchetResult {
  const { object, oldObject, problems, schema } = input;
  if (!isObject(oldObject)) return { blocking: [...problems], ratcheted: [] };
  if (unchangedAt(object, oldObject, ['spec'], schema)) return { blocking: [], ratcheted: [...problems] };
  const result: RatchetResult = { blocking: [], ratcheted: [] };
  let oldKeys: Set<string> | undefined;
  for (const problem of problems) {
    const node = input.nodeOf(problem);
    if (node && unchangedAt(object, oldObject, node, schema)) {
      oldKeys ??= new Set(input.oldProblems().map(problemKey));
      if (oldKeys.has(problemKey(problem))) {
        result.ratcheted.push(problem);
        continue;
      }
    }
    result.blocking.push(problem);
  }
  return result;
}

/** The admission warning for a problem an UPDATE is allowed with. */
export function ratchetedWarning(problem: FieldProblem): string {
  return `${problem.field ? `${problem.field}: ` : ''}${problem.message} ${RATCHETED_SUFFIX}`;
}
