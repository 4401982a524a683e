import { describe, expect, it, jest } from '@jest/globals';
import { fieldPathFromPointer, type FieldProblem } from '@kaos/api-types';
import {
  RATCHETED_SUFFIX,
  isBeingDeleted,
  parseFieldPath,
  problemNode,
  ratchetProblems,
  ratchetedWarning,
  unchangedAt,
  valuesEqual,
  type PathSegment,
  type RatchetInput,
  type SchemaNode,
} from './ratchet.js';

/** A schema with every construct correlation depends on, as TypeBox and the CRD generator write them. */
const schema: SchemaNode = {
  type: 'object',
  properties: {
    metadata: {
      type: 'object',
      properties: { name: { type: 'string' }, labels: { type: 'object', patternProperties: { '^(.*)$': { type: 'string' } } } },
    },
    spec: {
      type: 'object',
      'x-kubernetes-validations': [{ rule: "self.mode != 'Proxy' || has(self.proxyConfig)", message: 'proxyConfig is required when mode is Proxy', fieldPath: '.proxyConfig' }],
      properties: {
        mode: { type: 'string' },
        proxyConfig: { type: 'object' },
        timeout: { type: 'string' },
        conditions: {
          type: 'array',
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['type'],
          items: {
            type: 'object',
            properties: {
              type: { type: 'string' },
              status: { type: 'string' },
              tags: { type: 'array', 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['key'], items: { type: 'object' } },
            },
          },
        },
        models: { type: 'array', 'x-kubernetes-list-type': 'set', items: { type: 'string' } },
        sets: {
          type: 'array',
          'x-kubernetes-list-type': 'atomic',
          items: { type: 'object', properties: { tags: { type: 'array', 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['key'] } } },
        },
        env: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' } } } },
        byName: { type: 'object', additionalProperties: { type: 'object', 'x-kubernetes-validations': [{ rule: 'x', message: 'needs y', fieldPath: '.y' }] } },
        container: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
      },
    },
  },
};

const conditions = (...entries: Array<[string, string]>) => entries.map(([type, status]) => ({ type, status }));

describe('parseFieldPath', () => {
  it.each<[string, PathSegment[] | undefined]>([
    ['', []],
    ['spec', ['spec']],
    ['spec.gatewayRoute.timeout', ['spec', 'gatewayRoute', 'timeout']],
    ['spec.config.env[2].name', ['spec', 'config', 'env', 2, 'name']],
    ['spec.rules[0].matches[1].path', ['spec', 'rules', 0, 'matches', 1, 'path']],
    ['metadata.labels["example.com/hold"]', ['metadata', 'labels', 'example.com/hold']],
    ['metadata.labels["a \\"quoted\\" key"].x', ['metadata', 'labels', 'a "quoted" key', 'x']],
    ['.proxyConfig', ['proxyConfig']],
    ['GATEWAY_DEFAULT_AGENT_TIMEOUT', ['GATEWAY_DEFAULT_AGENT_TIMEOUT']],
    ['spec..x', undefined],
    ['spec[x]', undefined],
    ['spec[1', undefined],
    ['spec x', undefined],
  ])('%j', (field, path) => {
    expect(parseFieldPath(field)).toEqual(path);
  });

  it.each([['/spec/env/2/name'], ['/metadata/labels/example.com~1hold'], ['/metadata/annotations/a~0b'], ['/spec/with space/0']])(
    'reads back what fieldPathFromPointer writes for %s',
    (pointer) => {
      const path = parseFieldPath(fieldPathFromPointer(pointer));
      const segments = pointer.slice(1).split('/').map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'));
      expect(path?.map(String)).toEqual(segments);
    },
  );
});

describe('valuesEqual (kube-apiserver CachedDeepEqual)', () => {
  const spec = propertySchemaOf('spec');
  it.each<[string, unknown, unknown, boolean]>([
    ['the same scalars', 'a', 'a', true],
    ['different scalars', '1', 1, false],
    ['null and null', null, null, true],
    ['null and a value', null, 'a', false],
    ['the same objects in another key order', { mode: 'Proxy', timeout: '1s' }, { timeout: '1s', mode: 'Proxy' }, true],
    ['an added key', { mode: 'Proxy', timeout: '1s' }, { mode: 'Proxy' }, false],
    ['a key set to null versus absent', { mode: 'Proxy', timeout: null }, { mode: 'Proxy', other: null }, false],
    ['an object and a list', { mode: 'x' }, ['x'], false],
    ['a map list in another order (items found by key)', { conditions: conditions(['A', 'True'], ['B', 'False']) }, { conditions: conditions(['B', 'False'], ['A', 'True']) }, true],
    ['a map list with a changed item', { conditions: conditions(['A', 'True'], ['B', 'True']) }, { conditions: conditions(['B', 'False'], ['A', 'True']) }, false],
    ['a map list with another key', { conditions: conditions(['A', 'True'], ['C', 'False']) }, { conditions: conditions(['B', 'False'], ['A', 'True']) }, false],
    ['a map list with one item more', { conditions: conditions(['A', 'True'], ['B', 'False']) }, { conditions: conditions(['A', 'True']) }, false],
    [
      'map lists nested in a reordered map list',
      { conditions: [{ type: 'A', tags: [{ key: 'x' }, { key: 'y' }] }, { type: 'B' }] },
      { conditions: [{ type: 'B' }, { type: 'A', tags: [{ key: 'y' }, { key: 'x' }] }] },
      true,
    ],
    ['a set in another order (sets are not correlated)', { models: ['a', 'b'] }, { models: ['b', 'a'] }, false],
    ['the same set', { models: ['a', 'b'] }, { models: ['a', 'b'] }, true],
    ['a map list inside an atomic list, reordered (compared as plain JSON)', { sets: [{ tags: [{ key: 'x' }, { key: 'y' }] }] }, { sets: [{ tags: [{ key: 'y' }, { key: 'x' }] }] }, false],
    ['a list without list type in another order (by index)', { env: [{ name: 'a' }, { name: 'b' }] }, { env: [{ name: 'b' }, { name: 'a' }] }, false],
    ['freeform content that is the same', { container: { image: 'x', args: ['a'] } }, { container: { args: ['a'], image: 'x' } }, true],
    ['freeform content that differs', { container: { image: 'x' } }, { container: { image: 'y' } }, false],
  ])('%s: %p', (_name, value, old, equal) => {
    expect(valuesEqual(value, old, spec)).toBe(equal);
  });
});

function propertySchemaOf(key: string): SchemaNode {
  return (schema.properties as Record<string, SchemaNode>)[key]!;
}

describe('unchangedAt', () => {
  const base = {
    metadata: { name: 'a', labels: { team: 'x' } },
    spec: { mode: 'Proxy', timeout: '100000s', conditions: conditions(['A', 'True'], ['B', 'False']), models: ['a', 'b'], env: [{ name: 'A' }, { name: 'B' }] },
  };
  const changed = (spec: Record<string, unknown>, metadata: Record<string, unknown> = {}) => ({
    metadata: { ...base.metadata, ...metadata },
    spec: { ...base.spec, ...spec },
  });

  it.each<[string, PathSegment[], unknown, boolean]>([
    ['a field left alone while another changed', ['spec', 'timeout'], changed({ mode: 'Hosted' }), true],
    ['a changed field', ['spec', 'timeout'], changed({ timeout: '200000s' }), false],
    ['a removed field', ['spec', 'timeout'], changed({ timeout: undefined }), false],
    ['a field absent before and after', ['spec', 'gatewayRoute', 'timeout'], changed({ mode: 'Hosted' }), true],
    ['a field added', ['spec', 'proxyConfig'], changed({ proxyConfig: {} }), false],
    ['the parent of a changed field', ['spec'], changed({ timeout: '1s' }), false],
    ['the whole object after a label change', [], changed({}, { labels: { team: 'y' } }), false],
    ['the name after a label change', ['metadata', 'name'], changed({}, { labels: { team: 'y' } }), true],
    ['a label with a slash in its key, unchanged', ['metadata', 'labels', 'team'], changed({}, { labels: { team: 'x', 'example.com/a': 'b' } }), true],
    ['a map-list item that moved (found by key)', ['spec', 'conditions', 0, 'status'], changed({ conditions: conditions(['B', 'False'], ['A', 'True']) }), true],
    ['a map-list item that moved, read at its new index', ['spec', 'conditions', 1, 'status'], changed({ conditions: conditions(['B', 'False'], ['A', 'True']) }), true],
    ['a map-list item that changed', ['spec', 'conditions', 0, 'status'], changed({ conditions: conditions(['A', 'False'], ['B', 'False']) }), false],
    ['a map-list item that is new', ['spec', 'conditions', 2, 'status'], changed({ conditions: conditions(['A', 'True'], ['B', 'False'], ['C', 'True']) }), false],
    ['a map-list item when the old value is not a list', ['spec', 'conditions', 0], { ...changed({}), spec: { ...base.spec } }, true],
    ['an item of an unchanged set', ['spec', 'models', 1], changed({ mode: 'Hosted' }), true],
    ['an unchanged item of a changed set (the set is one value)', ['spec', 'models', 0], changed({ models: ['a', 'c'] }), false],
    ['an item of a list without list type, unchanged at its index', ['spec', 'env', 0, 'name'], changed({ env: [{ name: 'A' }, { name: 'C' }] }), true],
    ['an item of a list without list type, shifted by an insert', ['spec', 'env', 1, 'name'], changed({ env: [{ name: 'Z' }, { name: 'A' }, { name: 'B' }] }), false],
    ['an index past the end of both lists', ['spec', 'env', 5, 'name'], changed({ mode: 'Hosted' }), true],
    ['a path through a scalar', ['spec', 'mode', 'x'], changed({ timeout: '1s' }), true],
  ])('%s', (_name, path, object, unchanged) => {
    expect(unchangedAt(object, base, path, schema)).toBe(unchanged);
  });

  it('correlates list items by index without a schema', () => {
    const old = { spec: { rules: [{ matches: [{ path: { value: '/a' } }] }] } };
    expect(unchangedAt({ spec: { rules: [{ matches: [{ path: { value: '/a' } }] }, { matches: [] }] } }, old, ['spec', 'rules', 0, 'matches', 0, 'path'])).toBe(true);
    expect(unchangedAt({ spec: { rules: [{ matches: [] }, { matches: [{ path: { value: '/a' } }] }] } }, old, ['spec', 'rules', 0, 'matches', 0, 'path'])).toBe(false);
    expect(unchangedAt({ spec: { rules: [] } }, { spec: { rules: [] } }, ['spec', 'rules', 0, 'matches', 0, 'path'])).toBe(true);
  });

  it('a map-list item correlates with the old item of the same keys only', () => {
    const keyless = { spec: { conditions: [{ status: 'x' }] } };
    expect(unchangedAt(keyless, keyless, ['spec', 'conditions', 0, 'status'], schema)).toBe(false);
  });
});

describe('problemNode: the value a problem is about', () => {
  it.each<[string, FieldProblem, PathSegment[] | undefined]>([
    ['a value problem: the field', { field: 'spec.timeout', message: 'must match pattern' }, ['spec', 'timeout']],
    ['a missing required property: the object missing it', { field: 'spec.modelAPI', message: 'Required value' }, ['spec']],
    ['a missing top-level property: the whole object', { field: 'spec', message: 'Required value' }, []],
    ['a CEL rule with a fieldPath: the rule\'s node', { field: 'spec.proxyConfig', message: 'proxyConfig is required when mode is Proxy' }, ['spec']],
    ['a CEL rule under additionalProperties', { field: 'spec.byName.k.y', message: 'needs y' }, ['spec', 'byName', 'k']],
    ['the message of a CEL rule on another field', { field: 'spec.timeout', message: 'proxyConfig is required when mode is Proxy' }, ['spec', 'timeout']],
    ['a field inside a list', { field: 'spec.env[1].name', message: 'must NOT have fewer than 1 characters' }, ['spec', 'env', 1, 'name']],
    ['a field that is not a path', { field: 'spec..x', message: 'x' }, undefined],
  ])('%s', (_name, problem, node) => {
    expect(problemNode(problem, schema)).toEqual(node);
  });

  it('finds a CEL rule at the root, whose errors name ".field"', () => {
    const root: SchemaNode = { type: 'object', 'x-kubernetes-validations': [{ rule: 'x', message: 'needs a', fieldPath: '.a' }] };
    expect(problemNode({ field: '.a', message: 'needs a' }, root)).toEqual([]);
  });

  it('works without a schema', () => {
    expect(problemNode({ field: 'spec.rules[0].matches[0].path', message: 'claims "/"' })).toEqual(['spec', 'rules', 0, 'matches', 0, 'path']);
  });
});

describe('isBeingDeleted', () => {
  it.each<[string, unknown, boolean]>([
    ['a deletionTimestamp', { metadata: { deletionTimestamp: '2026-12-01T00:00:00Z' } }, true],
    ['no deletionTimestamp', { metadata: { name: 'a' } }, false],
    ['a null deletionTimestamp', { metadata: { deletionTimestamp: null } }, false],
    ['an empty deletionTimestamp', { metadata: { deletionTimestamp: '' } }, false],
    ['no metadata', { spec: {} }, false],
    ['not an object', 'x', false],
    ['undefined', undefined, false],
  ])('%s: %p', (_name, object, deleting) => {
    expect(isBeingDeleted(object)).toBe(deleting);
  });
});

/**
 * A toy rule set: an invalid timeout, and a path that may not collide with the paths other objects
 * already use (`taken`, context the object does not carry), worded with the owner's label.
 */
function toyProblems(taken: ReadonlySet<string>) {
  return (object: unknown): FieldProblem[] => {
    const { metadata, spec } = object as { metadata: { labels?: Record<string, string> }; spec: { timeout?: string; path?: string } };
    const problems: FieldProblem[] = [];
    if (spec.timeout !== undefined && !/^\d{1,5}s$/.test(spec.timeout)) problems.push({ field: 'spec.timeout', message: `"${spec.timeout}" is not a duration` });
    if (spec.path !== undefined && taken.has(spec.path)) problems.push({ field: 'spec.path', message: `"${spec.path}" collides with another object's path (owner ${metadata.labels?.owner ?? 'none'})` });
    return problems;
  };
}

describe('ratchetProblems', () => {
  const taken = new Set(['/a', '/b']);
  const problemsOf = toyProblems(taken);
  const old = { metadata: { labels: { owner: 'x' }, finalizers: ['example.com/hold'] }, spec: { timeout: '100000s', path: '/a', description: 'old' } };
  const update = (spec: Record<string, unknown>, metadata: Record<string, unknown> = {}) => ({ metadata: { ...old.metadata, ...metadata }, spec: { ...old.spec, ...spec } });
  const judge = (object: unknown, oldObject: unknown = old, extra: Partial<RatchetInput> = {}) =>
    ratchetProblems({ object, oldObject, problems: problemsOf(object), oldProblems: () => problemsOf(oldObject), nodeOf: (problem) => problemNode(problem), ...extra });
  const fields = (problems: FieldProblem[]) => problems.map((problem) => problem.field);

  it.each<[string, unknown, string[], string[]]>([
    ['an unrelated spec change: both old problems allowed', update({ description: 'new' }), [], ['spec.timeout', 'spec.path']],
    ['a label change (metadata only)', update({}, { labels: { owner: 'y' } }), [], ['spec.timeout', 'spec.path']],
    ['finalizer removal (metadata only)', update({}, { finalizers: [] }), [], ['spec.timeout', 'spec.path']],
    ['the invalid timeout changed to another invalid one', update({ timeout: '200000s' }), ['spec.timeout'], ['spec.path']],
    ['the colliding path changed to another colliding one', update({ path: '/b' }), ['spec.path'], ['spec.timeout']],
    ['a label change that rewords the collision, with a spec change', update({ description: 'new' }, { labels: { owner: 'y' } }), ['spec.path'], ['spec.timeout']],
    ['the invalid timeout removed: only the collision is left, allowed', update({ timeout: undefined, description: 'new' }), [], ['spec.path']],
  ])('%s', (_name, object, blocking, ratcheted) => {
    const result = judge(object);
    expect(fields(result.blocking)).toEqual(blocking);
    expect(fields(result.ratcheted)).toEqual(ratcheted);
  });

  it.each<[string, unknown, unknown, string[]]>([
    ['a valid timeout made invalid', update({ timeout: '100000s' }), { ...old, spec: { ...old.spec, timeout: '30s' } }, ['spec.timeout']],
    ['no old object', update({ description: 'new' }), null, ['spec.timeout', 'spec.path']],
    ['an old object that is not an object', update({ description: 'new' }), 'x', ['spec.timeout', 'spec.path']],
  ])('blocks %s', (_name, object, oldObject, blocking) => {
    expect(fields(judge(object, oldObject).blocking)).toEqual(blocking);
  });

  it('allows an unrelated update of an object whose path another object took since: the old object, judged now, collides too', () => {
    const object = update({ description: 'new' });
    const before = toyProblems(new Set())(old);
    expect(before).toHaveLength(1); // when it was stored, only its timeout was wrong
    expect(fields(judge(object).ratcheted)).toEqual(['spec.timeout', 'spec.path']);
  });

  it('blocks a problem the old object did not have in the same context, though its value did not change', () => {
    // e.g. a rule that depends on another field or on configuration: the value is the same, the problem is new.
    const object = update({ description: 'new' });
    const oldProblems = () => problemsOf(old).filter((problem) => problem.field !== 'spec.path');
    const result = ratchetProblems({ object, oldObject: old, problems: problemsOf(object), oldProblems, nodeOf: (problem) => problemNode(problem) });
    expect(fields(result.blocking)).toEqual(['spec.path']);
    expect(fields(result.ratcheted)).toEqual(['spec.timeout']);
  });

  it('never ratchets a problem whose value cannot be located', () => {
    expect(fields(judge(update({ description: 'new' }), old, { nodeOf: () => undefined }).blocking)).toEqual(['spec.timeout', 'spec.path']);
  });

  it('judges the old object only when some problem is unchanged, and only once', () => {
    const oldProblems = jest.fn(() => problemsOf(old));
    const input = (object: unknown) => ({ object, oldObject: old, problems: problemsOf(object), oldProblems, nodeOf: (problem: FieldProblem) => problemNode(problem) });
    ratchetProblems(input(update({ timeout: '200000s', path: '/b' })));
    expect(oldProblems).not.toHaveBeenCalled();
    ratchetProblems(input(update({ description: 'new' })));
    expect(oldProblems).toHaveBeenCalledTimes(1);
    ratchetProblems(input(update({}, { labels: {} })));
    expect(oldProblems).toHaveBeenCalledTimes(1);
  });
});

describe('ratchetedWarning', () => {
  it('names the field and the reason and says why it is allowed', () => {
    expect(ratchetedWarning({ field: 'spec.gatewayRoute.timeout', message: '"100000s" is not a Gateway API duration' })).toBe(
      `spec.gatewayRoute.timeout: "100000s" is not a Gateway API duration ${RATCHETED_SUFFIX}`,
    );
    expect(ratchetedWarning({ field: '', message: 'x' })).toBe(`x ${RATCHETED_SUFFIX}`);
    expect(RATCHETED_SUFFIX).toBe('(already invalid before this update; allowed unchanged)');
  });
});
