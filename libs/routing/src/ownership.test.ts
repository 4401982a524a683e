import { describe, expect, it } from '@jest/globals';
import type { HTTPRoute, KaosResource, OwnerReference } from '@kaos/api-types';
import { agent, enabledConfig, mcpServer } from './fixtures.test-helpers.js';
import { routeOwnership, routeResourceName, type RouteOwnership } from './ownership.js';
import { routeName } from './naming.js';
import { desiredRoute } from './route.js';

const ours = desiredRoute(agent(), enabledConfig)!;
const controllerRef: OwnerReference = { apiVersion: 'kaos.tools/v1alpha1', kind: 'Agent', name: 'a', uid: 'uid-a', controller: true, blockOwnerDeletion: true };

/** A route named agent-a in prod with the given labels and owner references, spec as the KAOS operator writes it. */
function route(labels: Record<string, string> | undefined, ownerReferences: OwnerReference[] | undefined): HTTPRoute {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: 'agent-a', namespace: 'prod', uid: 'route-uid', ...(labels ? { labels } : {}), ...(ownerReferences ? { ownerReferences } : {}) },
    spec: { hostnames: ['a.example.com'], parentRefs: [{ name: 'kaos-gateway', namespace: 'kaos-system' }], rules: [{ backendRefs: [{ name: 'agent-a', port: 8000 }] }] },
  };
}
const ourLabels = ours.metadata.labels!;
/** The labels the upstream KAOS operator puts on an Agent's route. */
const upstreamLabels = { app: 'agent', agent: 'a' };

describe('routeOwnership', () => {
  it.each<[string, HTTPRoute, KaosResource, RouteOwnership['decision'], string]>([
    ['the route the controller creates', ours, agent(), 'manage', ''],
    ['our labels beside foreign ones, and our controller reference', route({ ...upstreamLabels, ...ourLabels }, [controllerRef]), agent(), 'manage', ''],
    ['our labels without any owner reference (adopted under ADR 0006)', route(ourLabels, undefined), agent(), 'manage', ''],
    ['our labels and only a non-controller owner reference elsewhere', route(ourLabels, [{ ...controllerRef, kind: 'ConfigMap', uid: 'cm', controller: false }]), agent(), 'manage', ''],
    ['the KAOS operator\'s route: controller reference to this Agent, its own labels', route(upstreamLabels, [controllerRef]), agent(), 'adopt', ''],
    ['a controller reference to this Agent and no labels at all', route(undefined, [controllerRef]), agent(), 'adopt', ''],
    ['a controller reference to this Agent, with blockOwnerDeletion unset', route(undefined, [{ ...controllerRef, blockOwnerDeletion: undefined }]), agent(), 'adopt', ''],
    ['a controller reference to this Agent and only part of our labels', route({ 'app.kubernetes.io/managed-by': 'kaos-routing' }, [controllerRef]), agent(), 'adopt', ''],
    ['a controller reference to this Agent and our labels naming another resource', route({ ...ourLabels, 'kaos.tools/owner-name': 'b' }, [controllerRef]), agent(), 'adopt', ''],
    ['a controller reference to this Agent beside other, non-controller references', route(undefined, [{ ...controllerRef, kind: 'ConfigMap', uid: 'cm', controller: false }, controllerRef]), agent(), 'adopt', ''],
    ['the right name and no owner reference', route(upstreamLabels, undefined), agent(), 'foreign', 'no controller owner reference to this Agent and not our labels'],
    ['the right name, no owner reference and no labels', route(undefined, []), agent(), 'foreign', 'no controller owner reference'],
    ['a non-controller owner reference to this Agent', route(undefined, [{ ...controllerRef, controller: false }]), agent(), 'foreign', 'no controller owner reference'],
    ['a controller reference to an earlier Agent of the same name', route(undefined, [{ ...controllerRef, uid: 'uid-old' }]), agent(), 'foreign', 'an earlier Agent a (uid uid-old)'],
    ['a controller reference to an earlier Agent, even with our labels', route(ourLabels, [{ ...controllerRef, uid: 'uid-old' }]), agent(), 'foreign', 'an earlier Agent a'],
    ['a controller reference to something else', route(undefined, [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'routes', uid: 'cm', controller: true }]), agent(), 'foreign', 'controlled by ConfigMap routes (uid cm)'],
    ['a controller reference with this uid but another kind', route(undefined, [{ ...controllerRef, kind: 'MCPServer' }]), agent(), 'foreign', 'controlled by MCPServer a'],
    ['our labels naming another kind, no owner reference', route({ ...ourLabels, 'kaos.tools/owner-kind': 'MCPServer' }, undefined), agent(), 'foreign', 'not our labels'],
    ['another managed-by label, no owner reference', route({ ...ourLabels, 'app.kubernetes.io/managed-by': 'helm' }, undefined), agent(), 'foreign', 'not our labels'],
    ['an MCPServer route claimed by an Agent of the same uid', desiredRoute(mcpServer({ metadata: { uid: 'uid-a' } }), enabledConfig)!, agent(), 'foreign', 'controlled by MCPServer echo'],
  ])('%s → %s', (_name, live, resource, decision, reason) => {
    const ownership = routeOwnership(live, resource);
    expect(ownership.decision).toBe(decision);
    if (reason) expect(ownership).toMatchObject({ reason: expect.stringContaining(reason) });
  });
});

describe('routeResourceName', () => {
  it.each<[string, ReturnType<typeof routeResourceName>]>([
    ['agent-a', { kind: 'Agent', name: 'a' }],
    ['modelapi-llm', { kind: 'ModelAPI', name: 'llm' }],
    ['mcp-tools', { kind: 'MCPServer', name: 'tools' }],
    ['agent-mcp-x', { kind: 'Agent', name: 'mcp-x' }],
    ['mcp-agent-x', { kind: 'MCPServer', name: 'agent-x' }],
    ['agent-', undefined],
    ['mcpserver-tools', undefined],
    ['web', undefined],
  ])('%s', (route, expected) => {
    expect(routeResourceName(route)).toEqual(expected);
  });

  it('inverts routeName for every kind', () => {
    for (const resource of [agent(), mcpServer()]) {
      expect(routeResourceName(routeName(resource))).toEqual({ kind: resource.kind, name: resource.metadata.name });
    }
  });
});
