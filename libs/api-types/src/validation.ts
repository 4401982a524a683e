import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import ajvFormats from 'ajv-formats';
import { KIND_DEFINITIONS, isKaosKind } from './kinds.js';
import { fieldPathFromPointer, type FieldProblem } from './problems.js';
import { TIMEOUT_CEL_RULE } from './schemas/common.js';
import { KUBERNETES_TYPE_KEY } from './schemas/kubernetes-embedded.js';
import { GATEWAY_DURATION_PATTERN, type CelRule } from './schemas/kubernetes.js';
import { MODEL_API_SPEC_RULES, type KaosKind, type KaosResource } from './schemas/resources.js';

const durationRegExp = new RegExp(GATEWAY_DURATION_PATTERN);

function has(value: unknown, key: string): boolean {
  return typeof value === 'object' && value !== null && (value as Record<string, unknown>)[key] !== undefined;
}

/**
 * JavaScript twins of every CEL rule in the schemas, keyed by the rule text, so that the webhook
 * enforces exactly what the API server enforces. A rule without a twin fails validator compilation.
 */
const CEL_TWINS: ReadonlyMap<string, (self: unknown) => boolean> = new Map([
  [TIMEOUT_CEL_RULE.rule, (self: unknown) => typeof self === 'string' && durationRegExp.test(self)],
  [MODEL_API_SPEC_RULES[0]!.rule, (self: unknown) => (self as { mode?: unknown }).mode !== 'Proxy' || has(self, 'proxyConfig')],
  [MODEL_API_SPEC_RULES[1]!.rule, (self: unknown) => (self as { mode?: unknown }).mode !== 'Hosted' || has(self, 'hostedConfig')],
]);

/** The rule texts that have a JavaScript twin (for tests that keep schemas and twins in step). */
export function celRulesWithTwins(): string[] {
  return [...CEL_TWINS.keys()];
}

function listKey(item: unknown, keys: readonly string[]): string {
  return JSON.stringify(keys.map((key) => (item as Record<string, unknown>)[key]));
}

function createAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, useDefaults: false });
  (ajvFormats as unknown as (ajv: Ajv, formats: string[]) => Ajv)(ajv, ['date-time']);
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isSafeInteger(n) });
  ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && Math.abs(n) < 2 ** 31 });
  ajv.addKeyword({ keyword: 'x-kubernetes-preserve-unknown-fields', schemaType: 'boolean' });
  ajv.addKeyword({ keyword: 'x-kubernetes-list-map-keys', schemaType: 'array' });
  // Embedded Kubernetes types are checked by the API server against the CRD before validating webhooks run.
  ajv.addKeyword({ keyword: KUBERNETES_TYPE_KEY, schemaType: 'string' });
  ajv.addKeyword({
    keyword: 'x-kubernetes-list-type',
    type: 'array',
    schemaType: 'string',
    errors: true,
    compile(listType: string, parentSchema: Record<string, unknown>) {
      const keys = (parentSchema['x-kubernetes-list-map-keys'] as string[] | undefined) ?? [];
      const keyOf = listType === 'map' ? (item: unknown) => listKey(item, keys) : (item: unknown) => JSON.stringify(item);
      const validate = ((data: unknown[]) => {
        if (listType !== 'set' && listType !== 'map') return true;
        const seen = new Set<string>();
        for (const [index, item] of data.entries()) {
          const key = keyOf(item);
          if (seen.has(key)) {
            validate.errors = [{ keyword: 'x-kubernetes-list-type', message: `Duplicate value: ${key}`, params: { index } }];
            return false;
          }
          seen.add(key);
        }
        return true;
      }) as ((data: unknown[]) => boolean) & { errors?: Partial<ErrorObject>[] };
      return validate as (data: unknown) => boolean;
    },
  });
  ajv.addKeyword({
    keyword: 'x-kubernetes-validations',
    schemaType: 'array',
    errors: true,
    compile(rules: CelRule[]) {
      const twins = rules.map((rule) => {
        const twin = CEL_TWINS.get(rule.rule);
        if (!twin) throw new Error(`CEL rule without a JavaScript twin: ${rule.rule}`);
        return { rule, twin };
      });
      const validate = ((data: unknown) => {
        const failed = twins.filter(({ twin }) => !twin(data));
        validate.errors = failed.map(({ rule }) => ({
          keyword: 'x-kubernetes-validations',
          message: rule.message,
          params: { rule: rule.rule, fieldPath: rule.fieldPath ?? '' },
        }));
        return failed.length === 0;
      }) as ((data: unknown) => boolean) & { errors?: Partial<ErrorObject>[] };
      return validate;
    },
  });
  return ajv;
}

function problemFromError(error: ErrorObject): FieldProblem {
  const base = fieldPathFromPointer(error.instancePath);
  switch (error.keyword) {
    case 'required': {
      const missing = (error.params as { missingProperty: string }).missingProperty;
      return { field: base ? `${base}.${missing}` : missing, message: 'Required value' };
    }
    case 'x-kubernetes-validations': {
      const fieldPath = (error.params as { fieldPath: string }).fieldPath;
      return { field: `${base}${fieldPath}`, message: error.message ?? 'invalid' };
    }
    case 'enum':
      return {
        field: base,
        message: `must be one of ${(error.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`,
      };
    default:
      return { field: base, message: error.message ?? 'invalid' };
  }
}

/** Validates objects of the three KAOS kinds against the same schemas the CRDs are generated from. */
export class ResourceValidator {
  private readonly validators: ReadonlyMap<KaosKind, ValidateFunction>;

  constructor() {
    const ajv = createAjv();
    this.validators = new Map(KIND_DEFINITIONS.map((definition) => [definition.kind, ajv.compile(definition.schema)]));
  }

  /** Every schema and CEL problem of `object`, as field paths and messages; empty when valid. */
  problems(object: unknown): FieldProblem[] {
    const kind = (object as { kind?: unknown } | null)?.kind;
    if (!isKaosKind(kind)) {
      return [{ field: 'kind', message: `must be one of ${KIND_DEFINITIONS.map((d) => d.kind).join(', ')}` }];
    }
    const validate = this.validators.get(kind)!;
    if (validate(object)) return [];
    return (validate.errors ?? []).map(problemFromError);
  }

  /** Narrows `object` to a KAOS resource when it has no problems. */
  isValid(object: unknown): object is KaosResource {
    return this.problems(object).length === 0;
  }
}
