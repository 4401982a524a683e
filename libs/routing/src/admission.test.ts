import { describe, expect, it } from '@jest/globals';
import { ResourceValidator, type AdmissionRequest, type JsonPatchOperation } from '@kaos/api-types';
import jsonPatch from 'fast-json-patch';
import { mutate, parseAdmissionReview, resourceWarnings, timeoutDefaultPatch, validate } from './admission.js';
import { agent, enabledConfig, mcpServer, modelAPI } from './fixtures.test-helpers.js';

const validator = new ResourceValidator();
const disabledConfig = { ...enabledConfig, gatewayApiEnabled: false };

function request(object: unknown, overrides: Partial<AdmissionRequest> = {}): AdmissionRequest {
  const kind = (object as { kind?: string } | undefined)?.kind ?? 'Agent';
  return {
    uid: 'uid-1',
    kind: { group: kind === 'HTTPRoute' ? 'gateway.networking.k8s.io' : 'kaos.tools', version: 'v1alpha1', kind },
    operation: 'CREATE',
    namespace: 'prod',
    name: 'a',
    object,
    ...overrides,
  };
}

/** Applies the base64 JSONPatch of a mutation response to the object, as the API server would. */
function applyResponse(object: unknown, outcome: ReturnType<typeof mutate>): unknown {
  if (!('response' in outcome)) throw new Error(outcome.badRequest);
  const { patch, patchType } = outcome.response;
  if (patch === undefined) return object;
  expect(patchType).toBe('JSONPatch');
  const operations = JSON.parse(Buffer.from(patch, 'base64').toString()) as JsonPatchOperation[];
  return jsonPatch.applyPatch(structuredClone(object), operations as jsonPatch.Operation[], true, false).newDocument;
}

describe('parseAdmissionReview', () => {
  const review = { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: request(agent()) };
  it('returns the request of a well-formed review', () => {
    expect(parseAdmissionReview(review)).toEqual({ request: review.request });
  });

  it.each<[string, unknown, string]>([
    ['null', null, 'body must be a JSON object'],
    ['an array', [], 'body must be a JSON object'],
    ['another kind', { ...review, kind: 'Pod' }, 'kind must be "AdmissionReview", not "Pod"'],
    ['v1beta1', { ...review, apiVersion: 'admission.k8s.io/v1beta1' }, 'apiVersion must be "admission.k8s.io/v1", not "admission.k8s.io/v1beta1"'],
    ['no request', { ...review, request: undefined }, 'request is missing'],
    ['no uid', { ...review, request: { ...review.request, uid: '' } }, 'request.uid must be a non-empty string'],
    ['no kind', { ...review, request: { ...review.request, kind: 'Agent' } }, 'request.kind must be an object'],
    ['a bad operation', { ...review, request: { ...review.request, operation: 'PATCH' } }, 'request.operation must be CREATE, UPDATE, DELETE or CONNECT, not "PATCH"'],
  ])('rejects %s', (_name, body, reason) => {
    const outcome = parseAdmissionReview(body);
    expect('badRequest' in outcome && outcome.badRequest).toContain(reason);
  });
});

describe('mutate', () => {
  it.each<[string, unknown, string]>([
    ['an Agent without gatewayRoute', agent(), '120s'],
    ['a ModelAPI without gatewayRoute', modelAPI(), '120s'],
    ['an MCPServer without gatewayRoute', mcpServer(), '30s'],
    ['an Agent with an empty gatewayRoute', agent({ spec: { gatewayRoute: {} } }), '120s'],
    ['an Agent with a null gatewayRoute', { ...agent(), spec: { modelAPI: 'm', gatewayRoute: null } }, '120s'],
    ['an Agent with its own timeout', agent({ spec: { gatewayRoute: { timeout: '300s' } } }), '300s'],
    ['an MCPServer with a zero timeout', mcpServer({ spec: { gatewayRoute: { timeout: '0ms' } } }), '0ms'],
  ])('gives %s the timeout %s and touches nothing else', (_name, object, timeout) => {
    const mutated = applyResponse(object, mutate(request(object), enabledConfig)) as { spec: { gatewayRoute: { timeout: string } } };
    expect(mutated.spec.gatewayRoute.timeout).toBe(timeout);
    const { gatewayRoute: _before, ...restBefore } = (object as { spec: Record<string, unknown> }).spec;
    const { gatewayRoute: _after, ...restAfter } = mutated.spec as Record<string, unknown>;
    expect(restAfter).toEqual(restBefore);
    expect({ ...(mutated as object), spec: undefined }).toEqual({ ...(object as object), spec: undefined });
    // Reinvocation is safe: the mutated object needs no further patch.
    expect(timeoutDefaultPatch(mutated, enabledConfig)).toEqual([]);
  });

  it('uses the configured per-kind defaults', () => {
    const config = { ...enabledConfig, defaultTimeouts: { Agent: '5m', ModelAPI: '10m', MCPServer: '15s' } };
    for (const [object, timeout] of [[agent(), '5m'], [modelAPI(), '10m'], [mcpServer(), '15s']] as const) {
      expect(timeoutDefaultPatch(object, config)).toEqual([{ op: 'add', path: '/spec/gatewayRoute', value: { timeout } }]);
    }
    expect(timeoutDefaultPatch(agent({ spec: { gatewayRoute: {} } }), config)).toEqual([{ op: 'add', path: '/spec/gatewayRoute/timeout', value: '5m' }]);
  });

  it.each<[string, AdmissionRequest]>([
    ['UPDATE', request(agent(), { operation: 'UPDATE' })],
    ['a dry run', request(agent(), { dryRun: true })],
  ])('defaults on %s too', (_name, req) => {
    expect(applyResponse(agent(), mutate(req, enabledConfig))).toMatchObject({ spec: { gatewayRoute: { timeout: '120s' } } });
  });

  it.each<[string, AdmissionRequest]>([
    ['DELETE', request(agent(), { operation: 'DELETE', object: undefined })],
    ['an object without spec', request({ kind: 'Agent', metadata: {} })],
    ['a gatewayRoute that is not an object', request({ ...agent(), spec: { modelAPI: 'm', gatewayRoute: 'x' } })],
    ['a non-object', request('Agent' as unknown as object, { kind: { group: 'kaos.tools', version: 'v1alpha1', kind: 'Agent' } })],
  ])('allows %s without a patch', (_name, req) => {
    expect(mutate(req, enabledConfig)).toEqual({ response: { uid: 'uid-1', allowed: true } });
  });

  it('refuses kinds it does not handle', () => {
    expect(mutate(request({ kind: 'Pod' }, { kind: { group: '', version: 'v1', kind: 'Pod' } }), enabledConfig)).toEqual({
      badRequest: 'this webhook does not handle Pod.v1.core',
    });
  });
});

describe('validate KAOS resources', () => {
  it.each<[string, unknown]>([
    ['a valid Agent', agent({ spec: { gatewayRoute: { timeout: '120s' } } })],
    ['a valid ModelAPI', modelAPI()],
    ['a valid MCPServer', mcpServer()],
  ])('allows %s', (_name, object) => {
    expect(validate(request(object), enabledConfig, validator)).toEqual({ response: { uid: 'uid-1', allowed: true } });
  });

  it.each<[string, unknown, string]>([
    [
      'a timeout in words, once, with its value',
      agent({ spec: { gatewayRoute: { timeout: '5 minutes' } } }),
      'Agent prod/a is invalid: spec.gatewayRoute.timeout: "5 minutes" is not a Gateway API duration (e.g. 30s, 1m, 1h30m)',
    ],
    [
      'every problem at once',
      { ...agent({ metadata: { name: 'a'.repeat(58) }, spec: { gatewayRoute: { timeout: '1.5s' } } }), spec: { gatewayRoute: { timeout: '1.5s' }, modelAPI: 7 } },
      'spec.modelAPI: must be string; metadata.name: Service name',
    ],
    ['a ModelAPI in Proxy mode without proxyConfig', modelAPI({ spec: { proxyConfig: undefined } }), 'spec.proxyConfig: proxyConfig is required when mode is Proxy'],
    ['an object without spec', { kind: 'Agent', metadata: { name: 'a' } }, 'Agent prod/a is invalid: spec: Required value'],
  ])('denies %s', (_name, object, message) => {
    const outcome = validate(request(object), enabledConfig, validator);
    expect(outcome).toMatchObject({ response: { uid: 'uid-1', allowed: false, status: { code: 422, reason: 'Invalid' } } });
    expect('response' in outcome && outcome.response.status?.message).toContain(message);
  });

  it('denies an object whose kind differs from the request kind (found by fuzzing)', () => {
    const outcome = validate(request({ kind: 'Pod', metadata: { name: 'a' }, spec: {} }, { kind: { group: 'kaos.tools', version: 'v1alpha1', kind: 'Agent' } }), enabledConfig, validator);
    expect('response' in outcome && outcome.response.status?.message).toBe('Agent prod/a is invalid: kind: must be one of Agent, ModelAPI, MCPServer');
  });

  it('checks the namespace from the request and a generated name', () => {
    const object = agent({ metadata: { name: undefined, generateName: 'a'.repeat(53), namespace: undefined } });
    const outcome = validate(request(object, { name: undefined }), enabledConfig, validator);
    expect('response' in outcome && outcome.response.status?.message).toMatch(/^Agent prod\/ is invalid: metadata.name: Service name "agent-a+xxxxx"/);
  });

  it.each([['DELETE'], ['CONNECT']] as const)('allows %s', (operation) => {
    expect(validate(request(undefined, { operation }), enabledConfig, validator)).toEqual({ response: { uid: 'uid-1', allowed: true } });
  });

  it('returns warnings with an allowed response', () => {
    const outcome = validate(request(agent({ spec: { gatewayRoute: { timeout: '2h' } } })), enabledConfig, validator);
    expect(outcome).toEqual({
      response: {
        uid: 'uid-1',
        allowed: true,
        warnings: ['spec.gatewayRoute.timeout: 2h is longer than an hour; the Gateway keeps such requests and their connections open that long'],
      },
    });
  });
});

describe('resourceWarnings', () => {
  it.each<[string, Parameters<typeof resourceWarnings>[0], typeof enabledConfig, string[]]>([
    ['no timeout', agent(), enabledConfig, []],
    ['an ordinary timeout', agent({ spec: { gatewayRoute: { timeout: '1h' } } }), enabledConfig, []],
    ['a timeout while routing is disabled', mcpServer({ spec: { gatewayRoute: { timeout: '10s' } } }), disabledConfig, ['10s has no effect while Gateway API routing is disabled']],
    [
      'a timeout on an unexposed Agent',
      agent({ spec: { gatewayRoute: { timeout: '10s' }, agentNetwork: { expose: false } } }),
      enabledConfig,
      ['10s has no effect while spec.agentNetwork.expose is false'],
    ],
    ['a zero timeout', modelAPI({ spec: { gatewayRoute: { timeout: '0h' } } }), enabledConfig, ['0h disables the request timeout']],
    ['a timeout just over an hour', modelAPI({ spec: { gatewayRoute: { timeout: '1h1ms' } } }), enabledConfig, ['1h1ms is longer than an hour']],
    ['an invalid timeout (a denial says why)', agent({ spec: { gatewayRoute: { timeout: 'x' } } }), enabledConfig, []],
    // The mutating webhook wrote these: a warning would greet every apply of a manifest without a timeout.
    ['the default timeout on an unexposed Agent', agent({ spec: { gatewayRoute: { timeout: '120s' }, agentNetwork: { expose: false } } }), enabledConfig, []],
    ['the default timeout while routing is disabled', mcpServer({ spec: { gatewayRoute: { timeout: '30s' } } }), disabledConfig, []],
    ['a zero default timeout', modelAPI({ spec: { gatewayRoute: { timeout: '0s' } } }), { ...enabledConfig, defaultTimeouts: { ...enabledConfig.defaultTimeouts, ModelAPI: '0s' } }, []],
    ['another kind\'s default on an unexposed Agent', agent({ spec: { gatewayRoute: { timeout: '30s' }, agentNetwork: { expose: false } } }), enabledConfig, ['30s has no effect']],
  ])('%s', (_name, resource, config, fragments) => {
    const warnings = resourceWarnings(resource, config);
    expect(warnings).toHaveLength(fragments.length);
    fragments.forEach((fragment, index) => expect(warnings[index]).toContain(fragment));
  });
});

describe('validate HTTPRoutes', () => {
  const route = (path: string) => ({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: 'mine', namespace: 'team-a' },
    spec: { parentRefs: [{ name: 'kaos-gateway', namespace: 'kaos-system' }], rules: [{ matches: [{ path: { value: path } }] }] },
  });

  it('allows a route inside its namespace', () => {
    expect(validate(request(route('/team-a/ui'), { namespace: 'team-a' }), enabledConfig, validator)).toEqual({ response: { uid: 'uid-1', allowed: true } });
  });

  it('denies a route that claims another namespace\'s agent, saying why', () => {
    const outcome = validate(request(route('/other-ns/agent/x'), { namespace: 'team-a', name: 'mine' }), enabledConfig, validator);
    expect('response' in outcome && outcome.response).toMatchObject({
      allowed: false,
      status: { message: expect.stringContaining('HTTPRoute team-a/mine is invalid: spec.rules[0].matches[0].path: claims "/other-ns/agent/x"') },
    });
  });

  it('answers a malformed HTTPRoute with a bad request', () => {
    expect(validate(request({ kind: 'HTTPRoute' }), enabledConfig, validator)).toEqual({ badRequest: 'request.object must be an HTTPRoute with metadata and spec' });
  });
});

describe('validate UPDATE: validation ratcheting', () => {
  const longName = 'a'.repeat(58);
  /** An Agent stored before the webhook (or a stricter rule) existed: its name is too long for a route. */
  const legacy = agent({ metadata: { name: longName, finalizers: ['example.com/hold'] }, spec: { gatewayRoute: { timeout: '120s' }, config: { description: 'old' } } });
  /** An Agent stored under upstream KAOS's looser timeout pattern. */
  const looseTimeout = agent({ spec: { gatewayRoute: { timeout: '100000s' }, config: { description: 'old' } } });
  const update = (object: unknown, oldObject: unknown, overrides: Partial<AdmissionRequest> = {}) =>
    request(object, { operation: 'UPDATE', oldObject, name: (object as { metadata?: { name?: string } }).metadata?.name, ...overrides });
  const outcomeOf = (req: AdmissionRequest) => {
    const outcome = validate(req, enabledConfig, validator);
    if (!('response' in outcome)) throw new Error(outcome.badRequest);
    return outcome.response;
  };
  const withSpec = <T extends { spec: object }>(object: T, spec: object): T => ({ ...object, spec: { ...object.spec, ...spec } });
  const withMetadata = <T extends { metadata: object }>(object: T, metadata: object): T => ({ ...object, metadata: { ...object.metadata, ...metadata } });
  const deleting = { deletionTimestamp: '2026-12-01T00:00:00Z' };
  const nameWarning = expect.stringMatching(/^metadata\.name: Service name "agent-a{58}" must be at most 63 characters \(is 64\).*\(already invalid before this update; allowed unchanged\)$/);
  const timeoutWarning = 'spec.gatewayRoute.timeout: "100000s" is not a Gateway API duration (e.g. 30s, 1m, 1h30m) (already invalid before this update; allowed unchanged)';

  it.each<[string, unknown, unknown, unknown[]]>([
    ['a label on an Agent whose name is too long', withMetadata(legacy, { labels: { team: 'a' } }), legacy, [nameWarning]],
    ['its finalizer removed', withMetadata(legacy, { finalizers: [] }), legacy, [nameWarning]],
    ['an unrelated spec field changed', withSpec(legacy, { config: { description: 'new' } }), legacy, [nameWarning]],
    ['its timeout changed to another valid one', withSpec(legacy, { gatewayRoute: { timeout: '5m' } }), legacy, [nameWarning]],
    ['a label on an Agent with an upstream-only timeout', withMetadata(looseTimeout, { labels: { team: 'a' } }), looseTimeout, [timeoutWarning]],
    ['an unrelated spec field of that Agent changed', withSpec(looseTimeout, { config: { description: 'new' } }), looseTimeout, [timeoutWarning]],
    [
      'a ModelAPI missing proxyConfig, labelled (the rule is on spec, which is unchanged)',
      withMetadata(modelAPI({ spec: { proxyConfig: undefined } }), { labels: { a: 'b' } }),
      modelAPI({ spec: { proxyConfig: undefined } }),
      ['spec.proxyConfig: proxyConfig is required when mode is Proxy (already invalid before this update; allowed unchanged)'],
    ],
  ])('allows %s, with a warning for each old problem', (_name, object, oldObject, warnings) => {
    expect(outcomeOf(update(object, oldObject))).toEqual({ uid: 'uid-1', allowed: true, warnings });
  });

  it.each<[string, unknown, unknown, string, unknown[]]>([
    [
      'the invalid timeout changed to another invalid one',
      withSpec(looseTimeout, { gatewayRoute: { timeout: '200000s' } }),
      looseTimeout,
      'Agent prod/a is invalid: spec.gatewayRoute.timeout: "200000s" is not a Gateway API duration (e.g. 30s, 1m, 1h30m)',
      [],
    ],
    [
      'a valid timeout made invalid',
      withSpec(looseTimeout, { gatewayRoute: { timeout: '100000s' } }),
      withSpec(looseTimeout, { gatewayRoute: { timeout: '30s' } }),
      'Agent prod/a is invalid: spec.gatewayRoute.timeout: "100000s" is not a Gateway API duration',
      [],
    ],
    [
      'a new problem next to an old one: only the new one is named, the old one warned about',
      withSpec(legacy, { gatewayRoute: { timeout: '1.5s' } }),
      legacy,
      `Agent prod/${longName} is invalid: spec.gatewayRoute.timeout: "1.5s" is not a Gateway API duration (e.g. 30s, 1m, 1h30m)`,
      [nameWarning],
    ],
    [
      'another spec field of a ModelAPI missing proxyConfig (kube-apiserver ratchets the rule by its node, spec)',
      withSpec(modelAPI({ spec: { proxyConfig: undefined } }), { gatewayRoute: { timeout: '5m' } }),
      modelAPI({ spec: { proxyConfig: undefined } }),
      'ModelAPI prod/m is invalid: spec.proxyConfig: proxyConfig is required when mode is Proxy',
      [],
    ],
    [
      'a problem the old object did not have',
      withSpec(modelAPI({ spec: { proxyConfig: undefined } }), { gatewayRoute: { timeout: '5m' } }),
      modelAPI(),
      'ModelAPI prod/m is invalid: spec.proxyConfig: proxyConfig is required when mode is Proxy',
      [],
    ],
    ['an UPDATE without oldObject', withSpec(looseTimeout, { config: { description: 'new' } }), undefined, 'spec.gatewayRoute.timeout: "100000s"', []],
  ])('denies %s', (_name, object, oldObject, message, warnings) => {
    const response = outcomeOf(update(object, oldObject));
    expect(response).toMatchObject({ allowed: false, status: { code: 422, reason: 'Invalid' } });
    expect(response.status?.message).toContain(message);
    expect(response.status?.message).not.toContain('already invalid');
    expect(response.warnings ?? []).toEqual(warnings);
  });

  it.each<[string, unknown, unknown]>([
    ['an object being deleted, even with a new problem', withMetadata(withSpec(looseTimeout, { gatewayRoute: { timeout: '1.5s' } }), deleting), withMetadata(looseTimeout, deleting)],
    ['its finalizer removed', withMetadata(legacy, { ...deleting, finalizers: [] }), withMetadata(legacy, deleting)],
    ['a deletionTimestamp only in the stored object (a PUT of a manifest without it)', withSpec(legacy, { gatewayRoute: { timeout: 'x' } }), withMetadata(legacy, deleting)],
  ])('allows, without validating, %s', (_name, object, oldObject) => {
    expect(outcomeOf(update(object, oldObject))).toEqual({ uid: 'uid-1', allowed: true });
  });

  it('allows writes to a subresource (status) without validating them', () => {
    expect(outcomeOf(update(withSpec(legacy, { gatewayRoute: { timeout: 'x' } }), legacy, { subResource: 'status' }))).toEqual({ uid: 'uid-1', allowed: true });
  });

  it('still denies a CREATE of the same object', () => {
    expect(outcomeOf(request(legacy))).toMatchObject({ allowed: false, status: { message: expect.stringContaining('metadata.name: Service name') } });
  });

  it('keeps the usual warnings of an allowed update', () => {
    const object = withSpec(legacy, { gatewayRoute: { timeout: '2h' } });
    expect(outcomeOf(update(object, legacy)).warnings).toEqual([nameWarning, expect.stringContaining('2h is longer than an hour')]);
  });

  describe('HTTPRoutes on the shared Gateway', () => {
    const route = (path: string, overrides: { labels?: Record<string, string>; parentRefs?: unknown[]; metadata?: object } = {}) => ({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'squatter', namespace: 'team-b', ...(overrides.labels ? { labels: overrides.labels } : {}), ...overrides.metadata },
      spec: { parentRefs: overrides.parentRefs ?? [{ name: 'kaos-gateway', namespace: 'kaos-system' }], rules: [{ matches: [{ path: { type: 'PathPrefix', value: path } }] }] },
    });
    /** A route stored before the webhook that claims another namespace's Agent path. */
    const squatter = route('/team-a/agent/a');
    const routeUpdate = (object: unknown, oldObject: unknown) => update(object, oldObject, { namespace: 'team-b', name: 'squatter' });
    const claimWarning =
      'spec.rules[0].matches[0].path: claims "/team-a/agent/a", outside this namespace\'s paths: routes on the shared KAOS Gateway must stay under "/team-b/" (already invalid before this update; allowed unchanged)';

    it.each<[string, unknown]>([
      ['a label', route('/team-a/agent/a', { labels: { team: 'b' } })],
      ['a section of the same Gateway (the claimed path unchanged)', route('/team-a/agent/a', { parentRefs: [{ name: 'kaos-gateway', namespace: 'kaos-system', sectionName: 'http' }] })],
    ])('allows %s on a route that already trespassed, with a warning', (_name, object) => {
      expect(outcomeOf(routeUpdate(object, squatter))).toEqual({ uid: 'uid-1', allowed: true, warnings: [claimWarning] });
    });

    it.each<[string, unknown, unknown, string]>([
      ['another trespassing path', route('/team-a/agent/b'), squatter, 'claims "/team-a/agent/b"'],
      [
        'a route moved onto the shared Gateway with the same path (it trespassed on nothing before)',
        route('/team-a/agent/a'),
        route('/team-a/agent/a', { parentRefs: [{ name: 'other-gateway' }] }),
        'claims "/team-a/agent/a"',
      ],
    ])('denies %s', (_name, object, oldObject, message) => {
      const response = outcomeOf(routeUpdate(object, oldObject));
      expect(response).toMatchObject({ allowed: false, status: { message: expect.stringContaining(message) } });
    });

    it('allows removing the finalizer of a trespassing route being deleted', () => {
      const held = route('/team-a/agent/a', { metadata: { finalizers: ['example.com/hold'], ...deleting } });
      expect(outcomeOf(routeUpdate({ ...held, metadata: { ...held.metadata, finalizers: [] } }, held))).toEqual({ uid: 'uid-1', allowed: true });
    });
  });
});

describe('mutate UPDATE of an object being deleted', () => {
  it.each<[string, AdmissionRequest]>([
    ['deletionTimestamp in the object', request(agent({ metadata: { deletionTimestamp: '2026-12-01T00:00:00Z' } }), { operation: 'UPDATE', oldObject: agent({ metadata: { deletionTimestamp: '2026-12-01T00:00:00Z' } }) })],
    ['deletionTimestamp only in the stored object', request(agent(), { operation: 'UPDATE', oldObject: agent({ metadata: { deletionTimestamp: '2026-12-01T00:00:00Z' } }) })],
    ['a subresource write', request(agent(), { operation: 'UPDATE', oldObject: agent(), subResource: 'status' })],
  ])('adds no default timeout: %s', (_name, req) => {
    expect(mutate(req, enabledConfig)).toEqual({ response: { uid: 'uid-1', allowed: true } });
  });

  it('still defaults an UPDATE that changes the spec of an object that is not being deleted', () => {
    const edited = agent({ spec: { config: { description: 'new' } } });
    expect(applyResponse(edited, mutate(request(edited, { operation: 'UPDATE', oldObject: agent() }), enabledConfig))).toMatchObject({ spec: { gatewayRoute: { timeout: '120s' } } });
  });

  // A default would make a label change a spec change, which the API server validates in full: an
  // upstream ModelAPI in mode Proxy without proxyConfig could then not even be labelled (review).
  it.each<[string, AdmissionRequest]>([
    ['a label added', request(modelAPI({ metadata: { labels: { team: 'a' } }, spec: { proxyConfig: undefined } }), { operation: 'UPDATE', oldObject: modelAPI({ spec: { proxyConfig: undefined } }) })],
    ['a finalizer removed', request(agent(), { operation: 'UPDATE', oldObject: agent({ metadata: { finalizers: ['example.com/hold'] } }) })],
  ])('adds no default timeout on a metadata-only UPDATE: %s', (_name, req) => {
    expect(mutate(req, enabledConfig)).toEqual({ response: { uid: 'uid-1', allowed: true } });
  });
});
