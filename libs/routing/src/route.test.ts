import { describe, expect, it } from '@jest/globals';
import type { KaosResource } from '@kaos/api-types';
import { agent, enabledConfig, mcpServer, modelAPI } from './fixtures.test-helpers.js';
import { desiredRoute, effectiveTimeout, wantsRoute } from './route.js';

describe('desiredRoute', () => {
  it('builds the full HTTPRoute of an Agent', () => {
    expect(desiredRoute(agent(), enabledConfig)).toEqual({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: {
        name: 'agent-a',
        namespace: 'prod',
        labels: { 'app.kubernetes.io/managed-by': 'kaos-routing', 'kaos.tools/owner-kind': 'Agent', 'kaos.tools/owner-name': 'a' },
        ownerReferences: [{ apiVersion: 'kaos.tools/v1alpha1', kind: 'Agent', name: 'a', uid: 'uid-a', controller: true, blockOwnerDeletion: true }],
      },
      spec: {
        parentRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'kaos-gateway', namespace: 'kaos-system' }],
        rules: [
          {
            matches: [{ path: { type: 'PathPrefix', value: '/prod/agent/a' } }],
            filters: [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/' } } }],
            backendRefs: [{ group: '', kind: 'Service', name: 'agent-a', port: 8000, weight: 1 }],
            timeouts: { request: '120s' },
          },
        ],
      },
    });
  });

  it.each<[string, KaosResource, { name: string; path: string; service: string; port: number; timeout: string; kind: string }]>([
    ['an Agent', agent(), { name: 'agent-a', path: '/prod/agent/a', service: 'agent-a', port: 8000, timeout: '120s', kind: 'Agent' }],
    ['a Proxy ModelAPI', modelAPI(), { name: 'modelapi-m', path: '/prod/modelapi/m', service: 'modelapi-m', port: 8000, timeout: '120s', kind: 'ModelAPI' }],
    [
      'a Hosted ModelAPI',
      modelAPI({ spec: { mode: 'Hosted', hostedConfig: { model: 'smollm2' } } }),
      { name: 'modelapi-m', path: '/prod/modelapi/m', service: 'modelapi-m', port: 11434, timeout: '120s', kind: 'ModelAPI' },
    ],
    ['an MCPServer', mcpServer(), { name: 'mcp-echo', path: '/dev/mcp/echo', service: 'mcpserver-echo', port: 8000, timeout: '30s', kind: 'MCPServer' }],
    [
      'an Agent with its own timeout',
      agent({ spec: { gatewayRoute: { timeout: '300s' } } }),
      { name: 'agent-a', path: '/prod/agent/a', service: 'agent-a', port: 8000, timeout: '300s', kind: 'Agent' },
    ],
    [
      'an Agent that is explicitly exposed',
      agent({ spec: { agentNetwork: { expose: true } } }),
      { name: 'agent-a', path: '/prod/agent/a', service: 'agent-a', port: 8000, timeout: '120s', kind: 'Agent' },
    ],
  ])('routes %s', (_name, resource, expected) => {
    const route = desiredRoute(resource, enabledConfig)!;
    const rule = route.spec.rules![0]!;
    expect(route.metadata.name).toBe(expected.name);
    expect(route.metadata.namespace).toBe(resource.metadata.namespace);
    expect(route.metadata.labels!['kaos.tools/owner-kind']).toBe(expected.kind);
    expect(route.metadata.ownerReferences![0]!.kind).toBe(expected.kind);
    expect(rule.matches).toEqual([{ path: { type: 'PathPrefix', value: expected.path } }]);
    expect(rule.backendRefs).toEqual([{ group: '', kind: 'Service', name: expected.service, port: expected.port, weight: 1 }]);
    expect(rule.timeouts).toEqual({ request: expected.timeout });
  });

  it('attaches to the configured Gateway', () => {
    const route = desiredRoute(mcpServer(), { ...enabledConfig, gatewayName: 'my-gateway', gatewayNamespace: 'gateway-ns' })!;
    expect(route.spec.parentRefs).toEqual([{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'my-gateway', namespace: 'gateway-ns' }]);
  });

  it('leaves out the owner reference until the resource has a uid', () => {
    const route = desiredRoute(agent({ metadata: { uid: undefined } }), enabledConfig)!;
    expect(route.metadata.ownerReferences).toBeUndefined();
  });

  it.each<[string, KaosResource, boolean]>([
    ['Gateway API disabled', agent(), false],
    ['an Agent with expose: false', agent({ spec: { agentNetwork: { expose: false } } }), true],
  ])('gives no route for %s', (_name, resource, enabled) => {
    const config = { ...enabledConfig, gatewayApiEnabled: enabled };
    expect(wantsRoute(resource, config)).toBe(false);
    expect(desiredRoute(resource, config)).toBeUndefined();
  });
});

describe('an object stored without spec (upstream KAOS requires none at the root)', () => {
  it('gets the default route instead of failing every reconcile', () => {
    const bare = { ...agent(), spec: undefined } as unknown as Parameters<typeof desiredRoute>[0];
    expect(desiredRoute(bare, enabledConfig)?.spec.rules?.[0]?.timeouts).toEqual({ request: '120s' });
  });
});

describe('effectiveTimeout', () => {
  it.each<[string, KaosResource, Partial<typeof enabledConfig.defaultTimeouts>, string]>([
    ['the built-in Agent default', agent(), {}, '120s'],
    ['the built-in ModelAPI default', modelAPI(), {}, '120s'],
    ['the built-in MCPServer default', mcpServer(), {}, '30s'],
    ['a configured default', mcpServer(), { MCPServer: '45s' }, '45s'],
    ['the resource over the configured default', mcpServer({ spec: { gatewayRoute: { timeout: '2m' } } }), { MCPServer: '45s' }, '2m'],
    ['a resource timeout spelled as the user wrote it', agent({ spec: { gatewayRoute: { timeout: '1h1m' } } }), {}, '1h1m'],
    ['0s as disabled', agent({ spec: { gatewayRoute: { timeout: '0s' } } }), {}, '0s'],
    ['0ms as disabled', agent({ spec: { gatewayRoute: { timeout: '0ms' } } }), {}, '0s'],
    ['0m as disabled', modelAPI({ spec: { gatewayRoute: { timeout: '0m' } } }), {}, '0s'],
    ['0h as disabled', mcpServer({ spec: { gatewayRoute: { timeout: '0h' } } }), {}, '0s'],
    ['0h0m0s0ms as disabled', mcpServer({ spec: { gatewayRoute: { timeout: '0h0m0s0ms' } } }), {}, '0s'],
    ['a zero default as disabled', agent(), { Agent: '0ms' }, '0s'],
    ['an empty gatewayRoute as the default', agent({ spec: { gatewayRoute: {} } }), {}, '120s'],
  ])('uses %s', (_name, resource, defaults, timeout) => {
    const config = { ...enabledConfig, defaultTimeouts: { ...enabledConfig.defaultTimeouts, ...defaults } };
    expect(effectiveTimeout(resource, config)).toBe(timeout);
    expect(desiredRoute(resource, config)!.spec.rules![0]!.timeouts).toEqual({ request: timeout });
  });
});
