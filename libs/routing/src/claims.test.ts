import { describe, expect, it } from '@jest/globals';
import type { HTTPRoute, HTTPRouteMatch } from '@kaos/api-types';
import { attachesToKaosGateway, routeClaimProblems } from './claims.js';
import { agent, enabledConfig } from './fixtures.test-helpers.js';
import { desiredRoute } from './route.js';

const kaosGateway = { name: 'kaos-gateway', namespace: 'kaos-system' };

/** A user's HTTPRoute in namespace `team-a` with the given matches, attached to the KAOS Gateway. */
function userRoute(matches: HTTPRouteMatch[] | undefined, overrides: Partial<HTTPRoute['metadata']> = {}): HTTPRoute {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: 'mine', namespace: 'team-a', ...overrides },
    spec: { parentRefs: [kaosGateway], rules: [{ ...(matches ? { matches } : {}), backendRefs: [{ name: 'svc', port: 80 }] }] },
  };
}

describe('attachesToKaosGateway', () => {
  it.each<[string, HTTPRoute['spec']['parentRefs'], string, boolean]>([
    ['the KAOS Gateway', [kaosGateway], 'team-a', true],
    ['the KAOS Gateway with explicit group and kind', [{ ...kaosGateway, group: 'gateway.networking.k8s.io', kind: 'Gateway' }], 'team-a', true],
    ['the KAOS Gateway by default namespace', [{ name: 'kaos-gateway' }], 'kaos-system', true],
    ['a Gateway of the same name elsewhere', [{ name: 'kaos-gateway' }], 'team-a', false],
    ['another Gateway', [{ name: 'other', namespace: 'kaos-system' }], 'team-a', false],
    ['a Service parent (GAMMA)', [{ ...kaosGateway, group: '', kind: 'Service' }], 'team-a', false],
    ['one of several parents', [{ name: 'other' }, kaosGateway], 'team-a', true],
    ['no parents', undefined, 'team-a', false],
  ])('%s → %s', (_name, parentRefs, namespace, expected) => {
    const route: HTTPRoute = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'r', namespace }, spec: { parentRefs } };
    expect(attachesToKaosGateway(route, enabledConfig)).toBe(expected);
  });
});

describe('routeClaimProblems allows', () => {
  it.each<[string, HTTPRoute]>([
    ['a prefix inside its own namespace', userRoute([{ path: { type: 'PathPrefix', value: '/team-a/dashboard' } }])],
    ['its whole namespace', userRoute([{ path: { type: 'PathPrefix', value: '/team-a' } }])],
    ['an exact path inside its namespace', userRoute([{ path: { type: 'Exact', value: '/team-a/x/agent/y' } }])],
    ['a default path type inside its namespace', userRoute([{ path: { value: '/team-a/ui' } }])],
    ['a segment that only starts like a reserved one', userRoute([{ path: { value: '/team-a/agents' } }])],
    ['anything on another Gateway', { ...userRoute([{ path: { value: '/' } }]), spec: { parentRefs: [{ name: 'private' }], rules: [{}] } }],
    ['the route KAOS manages for an Agent', desiredRoute(agent(), enabledConfig)!],
  ])('%s', (_name, route) => {
    expect(routeClaimProblems(route, enabledConfig)).toEqual([]);
  });
});

describe('routeClaimProblems refuses', () => {
  const managed = desiredRoute(agent(), enabledConfig)!;
  it.each<[string, HTTPRoute, string[]]>([
    [
      'another namespace\'s agent',
      userRoute([{ path: { type: 'PathPrefix', value: '/other-ns/agent/x' } }]),
      ['spec.rules[0].matches[0].path: claims "/other-ns/agent/x", outside this namespace\'s paths: routes on the shared KAOS Gateway must stay under "/team-a/"'],
    ],
    ['another namespace\'s space', userRoute([{ path: { value: '/prod' } }]), ['spec.rules[0].matches[0].path: claims "/prod", outside this namespace\'s paths']],
    ['the root', userRoute([{ path: { value: '/' } }]), ['spec.rules[0].matches[0].path: claims "/", outside']],
    ['a rule without matches (all paths)', userRoute(undefined), ['spec.rules[0].matches[0].path: claims "/", outside']],
    ['a match without a path (all paths)', userRoute([{ headers: [{ name: 'x', value: 'y' }] }]), ['spec.rules[0].matches[0].path: claims "/", outside']],
    [
      'its own namespace\'s agent space',
      userRoute([{ path: { value: '/team-a/agent/x' } }]),
      ['spec.rules[0].matches[0].path: claims "/team-a/agent/x", which KAOS reserves for its agent routes ("/team-a/agent/…")'],
    ],
    ['the modelapi space', userRoute([{ path: { value: '/team-a/modelapi' } }]), ['which KAOS reserves for its modelapi routes']],
    ['an exact mcp path', userRoute([{ path: { type: 'Exact', value: '/team-a/mcp/echo/health' } }]), ['which KAOS reserves for its mcp routes']],
    ['a regular expression', userRoute([{ path: { type: 'RegularExpression', value: '/team-a/.*' } }]), ['regular-expression paths are not allowed']],
    [
      'several bad matches, each named',
      userRoute([{ path: { value: '/team-a/ok' } }, { path: { value: '/x' } }, { path: { value: '/team-a/mcp/a' } }]),
      ['spec.rules[0].matches[1].path: claims "/x"', 'spec.rules[0].matches[2].path: claims "/team-a/mcp/a"'],
    ],
    [
      'a forged KAOS label claiming another namespace',
      userRoute([{ path: { value: '/prod/agent/a' } }], {
        labels: { 'app.kubernetes.io/managed-by': 'kaos-routing', 'kaos.tools/owner-kind': 'Agent', 'kaos.tools/owner-name': 'a' },
      }),
      ['spec.rules[0].matches[0].path: a KAOS-managed route may claim only the path prefix "/team-a/agent/a", not "/prod/agent/a"'],
    ],
    [
      'a managed route edited to claim a sibling',
      { ...managed, spec: { ...managed.spec, rules: [{ ...managed.spec.rules![0]!, matches: [{ path: { type: 'PathPrefix', value: '/prod/agent/ab' } }] }] } },
      ['a KAOS-managed route may claim only the path prefix "/prod/agent/a", not "/prod/agent/ab"'],
    ],
    [
      'an unknown match type',
      userRoute([{ path: { type: 'Glob' as never, value: '/team-a/*' } }]),
      ['path match type "Glob" is not supported on the shared KAOS Gateway'],
    ],
  ])('%s', (_name, route, fragments) => {
    const lines = routeClaimProblems(route, enabledConfig).map((problem) => `${problem.field}: ${problem.message}`);
    expect(lines).toHaveLength(fragments.length);
    fragments.forEach((fragment, index) => expect(lines[index]).toContain(fragment));
  });
});
