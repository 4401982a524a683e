import { describe, expect, it } from '@jest/globals';
import type { FieldProblem, KaosResource } from '@kaos/api-types';
import { agent, enabledConfig, mcpServer, modelAPI } from './fixtures.test-helpers.js';
import { routeProblems } from './problems.js';

const name = (length: number) => `a${'b'.repeat(length - 1)}`;

describe('routeProblems', () => {
  it.each<[string, KaosResource]>([
    ['a plain Agent', agent()],
    ['the longest Agent name (57)', agent({ metadata: { name: name(57) } })],
    ['the longest ModelAPI name (54)', modelAPI({ metadata: { name: name(54) } })],
    ['the longest MCPServer name (53)', mcpServer({ metadata: { name: name(53) } })],
    ['the longest namespace (63)', agent({ metadata: { namespace: name(63) } })],
    ['a name of digits after the prefix', agent({ metadata: { name: '42' } })],
    ['a valid timeout', agent({ spec: { gatewayRoute: { timeout: '99999h59m59s999ms' } } })],
    ['every zero spelling', mcpServer({ spec: { gatewayRoute: { timeout: '0h' } } })],
  ])('finds nothing wrong with %s', (_name, resource) => {
    expect(routeProblems(resource, enabledConfig)).toEqual([]);
    expect(routeProblems(resource, { ...enabledConfig, gatewayApiEnabled: false })).toEqual([]);
  });

  it.each<[string, KaosResource, FieldProblem[]]>([
    [
      'an Agent name one too long (58)',
      agent({ metadata: { name: name(58) } }),
      [{ field: 'metadata.name', message: `Service name "agent-${name(58)}" must be at most 63 characters (is 64); a Agent name can have at most 57 characters` }],
    ],
    [
      'an MCPServer name one too long (54)',
      mcpServer({ metadata: { name: name(54) } }),
      [{ field: 'metadata.name', message: `Service name "mcpserver-${name(54)}" must be at most 63 characters (is 64); a MCPServer name can have at most 53 characters` }],
    ],
    [
      'a dotted name (valid for the object, not for its Service)',
      agent({ metadata: { name: 'a.b' } }),
      [
        {
          field: 'metadata.name',
          message:
            'Service name "agent-a.b" must be a DNS-1035 label: lowercase letters, digits and \'-\', starting with a letter and ending with a letter or digit; a Agent name can have at most 57 characters',
        },
      ],
    ],
    [
      'a name too long even for the route (250)',
      agent({ metadata: { name: `${name(120)}.${name(129)}` } }),
      [
        { field: 'metadata.name', message: expect.stringContaining('HTTPRoute name "agent-abbb') as unknown as string },
        { field: 'metadata.name', message: expect.stringContaining('must be at most 63 characters (is 256)') as unknown as string },
      ],
    ],
    [
      'a name that breaks the path rules',
      agent({ metadata: { name: 'x/../y' } }),
      [
        { field: 'metadata.name', message: expect.stringContaining('HTTPRoute name "agent-x/../y" must be a DNS-1123 subdomain') as unknown as string },
        { field: 'metadata.name', message: expect.stringContaining('Service name "agent-x/../y" must be a DNS-1035 label') as unknown as string },
        { field: 'metadata.name', message: `route path "/prod/agent/x/../y" must not contain a '..' segment` },
      ],
    ],
    ['no name', agent({ metadata: { name: undefined } }), [{ field: 'metadata.name', message: 'Required value' }]],
    ['no namespace', agent({ metadata: { namespace: undefined } }), [{ field: 'metadata.namespace', message: 'Required value' }]],
    [
      'a namespace one too long (64)',
      agent({ metadata: { namespace: name(64) } }),
      [{ field: 'metadata.namespace', message: `"${name(64)}" must be at most 63 characters (is 64)` }],
    ],
    [
      'a timeout in words',
      agent({ spec: { gatewayRoute: { timeout: '5 minutes' } } }),
      [{ field: 'spec.gatewayRoute.timeout', message: '"5 minutes" is not a Gateway API duration (e.g. 30s, 1m, 1h30m)' }],
    ],
    ['a 6-digit timeout', modelAPI({ spec: { gatewayRoute: { timeout: '100000s' } } }), [{ field: 'spec.gatewayRoute.timeout', message: '"100000s" is not a Gateway API duration (e.g. 30s, 1m, 1h30m)' }]],
    ['a 5-component timeout', modelAPI({ spec: { gatewayRoute: { timeout: '1h1m1s1ms1s' } } }), [{ field: 'spec.gatewayRoute.timeout', message: '"1h1m1s1ms1s" is not a Gateway API duration (e.g. 30s, 1m, 1h30m)' }]],
    ['a fractional timeout', mcpServer({ spec: { gatewayRoute: { timeout: '1.5s' } } }), [{ field: 'spec.gatewayRoute.timeout', message: '"1.5s" is not a Gateway API duration (e.g. 30s, 1m, 1h30m)' }]],
    ['a negative timeout', mcpServer({ spec: { gatewayRoute: { timeout: '-30s' } } }), [{ field: 'spec.gatewayRoute.timeout', message: '"-30s" is not a Gateway API duration (e.g. 30s, 1m, 1h30m)' }]],
    ['an empty timeout', mcpServer({ spec: { gatewayRoute: { timeout: '' } } }), [{ field: 'spec.gatewayRoute.timeout', message: '"" is not a Gateway API duration (e.g. 30s, 1m, 1h30m)' }]],
  ])('reports %s', (_name, resource, expected) => {
    expect(routeProblems(resource, enabledConfig)).toEqual(expected);
  });

  it('reports an invalid configured default when the resource relies on it', () => {
    const config = { ...enabledConfig, defaultTimeouts: { ...enabledConfig.defaultTimeouts, MCPServer: 'soon' } };
    expect(routeProblems(mcpServer(), config)).toEqual([
      { field: 'GATEWAY_DEFAULT_MCP_TIMEOUT', message: '"soon" is not a Gateway API duration (e.g. 30s, 1m, 1h30m)' },
    ]);
    expect(routeProblems(mcpServer({ spec: { gatewayRoute: { timeout: '1s' } } }), config)).toEqual([]);
  });
});
