import { describe, expect, it } from '@jest/globals';
import type { HTTPRoute } from '@kaos/api-types';
import { routeDifferences, routeNeedsUpdate, sameJson, strayRouteFields } from './diff.js';
import { agent, enabledConfig } from './fixtures.test-helpers.js';
import { desiredRoute } from './route.js';

const desired = desiredRoute(agent(), enabledConfig)!;

/** A deep copy of the desired route, edited the way the API server or a person would. */
function live(edit: (route: HTTPRoute) => void = () => {}): HTTPRoute {
  const route = structuredClone(desired);
  edit(route);
  return route;
}

const rule = (route: HTTPRoute) => route.spec.rules![0]!;

describe('routeNeedsUpdate ignores', () => {
  it.each<[string, (route: HTTPRoute) => void]>([
    ['nothing changed', () => {}],
    ['server metadata', (r) => Object.assign(r.metadata, { uid: 'x', resourceVersion: '7', generation: 3, creationTimestamp: '2026-01-01T00:00:00Z', managedFields: [{}] })],
    ['a status written by the Gateway implementation', (r) => (r.status = { parents: [{ parentRef: { name: 'kaos-gateway' }, controllerName: 'x', conditions: [] }] })],
    ['foreign labels', (r) => (r.metadata.labels!['team'] = 'ml')],
    ['foreign annotations', (r) => (r.metadata.annotations = { 'kubectl.kubernetes.io/last-applied-configuration': '{}' })],
    ['another owner reference beside ours', (r) => r.metadata.ownerReferences!.push({ apiVersion: 'v1', kind: 'ConfigMap', name: 'c', uid: 'u' })],
    ['parentRef group and kind left to their defaults', (r) => (r.spec.parentRefs = [{ name: 'kaos-gateway', namespace: 'kaos-system' }])],
    ['backendRef group, kind and weight left to their defaults', (r) => (rule(r).backendRefs = [{ name: 'agent-a', port: 8000 }])],
    ['a backendRef namespace equal to the route namespace', (r) => (rule(r).backendRefs![0]!.namespace = 'prod')],
    ['a path type left to its default', (r) => (rule(r).matches = [{ path: { value: '/prod/agent/a' } }])],
    ['a field a newer Gateway API defaults', (r) => Object.assign(rule(r), { sessionPersistence: undefined, name: undefined })],
    ['an empty hostnames list', (r) => (r.spec.hostnames = [])],
  ])('%s', (_name, edit) => {
    expect(routeDifferences(desired, live(edit))).toEqual([]);
    expect(routeNeedsUpdate(desired, live(edit))).toBe(false);
  });

  it('a desired route without owner references', () => {
    const unowned = desiredRoute(agent({ metadata: { uid: undefined } }), enabledConfig)!;
    expect(routeNeedsUpdate(unowned, live())).toBe(false);
  });
});

describe('routeNeedsUpdate sees', () => {
  it.each<[string, (route: HTTPRoute) => void, string[]]>([
    ['a changed timeout', (r) => (rule(r).timeouts = { request: '30s' }), ['spec.rules']],
    ['a removed timeout', (r) => delete rule(r).timeouts, ['spec.rules']],
    ['a changed path', (r) => (rule(r).matches = [{ path: { type: 'PathPrefix', value: '/prod/agent/b' } }]), ['spec.rules']],
    ['a changed path type', (r) => (rule(r).matches = [{ path: { type: 'Exact', value: '/prod/agent/a' } }]), ['spec.rules']],
    ['a removed rewrite', (r) => (rule(r).filters = []), ['spec.rules']],
    ['an extra filter', (r) => rule(r).filters!.push({ type: 'RequestHeaderModifier' }), ['spec.rules']],
    ['another backend port', (r) => (rule(r).backendRefs![0]!.port = 9000), ['spec.rules']],
    ['another backend', (r) => (rule(r).backendRefs![0]!.name = 'evil'), ['spec.rules']],
    ['a backend in another namespace', (r) => (rule(r).backendRefs![0]!.namespace = 'other'), ['spec.rules']],
    ['a second backend', (r) => rule(r).backendRefs!.push({ name: 'agent-b', port: 8000 }), ['spec.rules']],
    ['a second rule', (r) => r.spec.rules!.push({ matches: [{ path: { value: '/x' } }] }), ['spec.rules']],
    ['no rules', (r) => delete r.spec.rules, ['spec.rules']],
    ['another Gateway', (r) => (r.spec.parentRefs = [{ name: 'other-gateway', namespace: 'kaos-system' }]), ['spec.parentRefs']],
    ['a parentRef in the route namespace by default', (r) => (r.spec.parentRefs = [{ name: 'kaos-gateway' }]), ['spec.parentRefs']],
    ['added hostnames', (r) => (r.spec.hostnames = ['evil.example.com']), ['spec.hostnames']],
    ['a removed ownership label', (r) => delete r.metadata.labels!['app.kubernetes.io/managed-by'], ['metadata.labels["app.kubernetes.io/managed-by"]']],
    ['a changed owner label', (r) => (r.metadata.labels!['kaos.tools/owner-name'] = 'b'), ['metadata.labels["kaos.tools/owner-name"]']],
    ['a lost owner reference', (r) => delete r.metadata.ownerReferences, ['metadata.ownerReferences']],
    ['an owner reference to another uid', (r) => (r.metadata.ownerReferences![0]!.uid = 'old'), ['metadata.ownerReferences']],
    ['an owner reference that is not the controller', (r) => (r.metadata.ownerReferences![0]!.controller = false), ['metadata.ownerReferences']],
    // Hand edits that only add a key inside what we apply: parentRefs and rules are atomic lists, so
    // one forced apply reverts them; a lenient "live holds what we want" compare never did.
    ['a sectionName on our parentRef', (r) => (r.spec.parentRefs![0]!.sectionName = 'https'), ['spec.parentRefs']],
    ['a port on our parentRef', (r) => (r.spec.parentRefs![0]!.port = 443), ['spec.parentRefs']],
    ['a header match beside our path', (r) => (rule(r).matches![0]!.headers = [{ name: 'x-user', value: 'me' }]), ['spec.rules']],
    ['a method match beside our path', (r) => (rule(r).matches![0]!.method = 'GET'), ['spec.rules']],
    ['a hostname rewrite beside our path rewrite', (r) => (rule(r).filters![0]!.urlRewrite!.hostname = 'evil.example.com'), ['spec.rules']],
    ['a backend request timeout beside ours', (r) => (rule(r).timeouts = { request: '120s', backendRequest: '5s' }), ['spec.rules']],
    ['filters on our backend', (r) => (rule(r).backendRefs![0]!.filters = [{ type: 'RequestHeaderModifier' }]), ['spec.rules']],
    ['a rule name', (r) => Object.assign(rule(r), { name: 'mine' }), ['spec.rules']],
    ['session persistence', (r) => Object.assign(rule(r), { sessionPersistence: { sessionName: 's' } }), ['spec.rules']],
    ['a changed weight', (r) => (rule(r).backendRefs![0]!.weight = 2), ['spec.rules']],
    ['a scalar where an object belongs', (r) => (rule(r).timeouts = 'soon' as never), ['spec.rules']],
    ['an object where a list belongs', (r) => (r.spec.parentRefs = {} as never), ['spec.parentRefs']],
    ['a list where an object belongs', (r) => (rule(r).timeouts = [] as never), ['spec.rules']],
  ])('%s', (_name, edit, differences) => {
    expect(routeDifferences(desired, live(edit))).toEqual(differences);
    expect(routeNeedsUpdate(desired, live(edit))).toBe(true);
  });
});

describe('strayRouteFields', () => {
  it.each<[string, (route: HTTPRoute) => void, string[]]>([
    ['nothing set that we leave unset', () => {}, []],
    ['an empty hostnames list', (r) => (r.spec.hostnames = []), []],
    ['a null hostnames', (r) => (r.spec.hostnames = null as never), []],
    ['hostnames, as the KAOS operator or a hand edit set them', (r) => (r.spec.hostnames = ['a.example.com']), ['spec.hostnames']],
    ['hostnames beside other drift an apply takes back', (r) => ((r.spec.hostnames = ['a.example.com']), (rule(r).timeouts = { request: '1s' })), ['spec.hostnames']],
    ['a scalar where the hostnames list belongs', (r) => (r.spec.hostnames = 'a.example.com' as never), ['spec.hostnames']],
  ])('%s', (_name, edit, strays) => {
    const route = live(edit);
    expect(strayRouteFields(desired, route)).toEqual(strays);
    // Every stray field is a difference too: removing the strays is part of reaching the desired route.
    expect(routeDifferences(desired, route)).toEqual(expect.arrayContaining(strays));
  });

  it('a field the desired route sets is never stray', () => {
    const withHostnames = { ...desired, spec: { ...desired.spec, hostnames: ['a.example.com'] } };
    expect(strayRouteFields(withHostnames, live((r) => (r.spec.hostnames = ['b.example.com'])))).toEqual([]);
    expect(routeDifferences(withHostnames, live((r) => (r.spec.hostnames = ['b.example.com'])))).toEqual(['spec.hostnames']);
  });

  it('a live route without a spec has none', () => {
    expect(strayRouteFields(desired, { ...desired, spec: undefined as never })).toEqual([]);
  });
});

describe('sameJson', () => {
  it.each<[string, unknown, unknown, boolean]>([
    ['equal scalars', 'a', 'a', true],
    ['different scalars', 1, '1', false],
    ['keys in another order', { a: 1, b: 2 }, { b: 2, a: 1 }, true],
    ['a key set to undefined as absent', { a: 1, b: undefined }, { a: 1 }, true],
    ['an extra key on the right', { a: 1 }, { a: 1, b: 2 }, false],
    ['an extra key on the left', { a: 1, b: 2 }, { a: 1 }, false],
    ['null against an empty object', null, {}, false],
    ['lists of other lengths', [1], [1, 2], false],
    ['a list against an object', [], {}, false],
    ['nested equal values', { a: [{ b: { c: 1 } }] }, { a: [{ b: { c: 1 } }] }, true],
  ])('%s', (_name, a, b, same) => {
    expect(sameJson(a, b)).toBe(same);
    expect(sameJson(b, a)).toBe(same);
  });
});
