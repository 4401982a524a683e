import { describe, expect, it } from '@jest/globals';
import { ResourceValidator, celRulesWithTwins } from './validation.js';
import { KIND_DEFINITIONS } from './kinds.js';
import type { CelRule } from './schemas/kubernetes.js';

const validator = new ResourceValidator();

const agent = (spec: Record<string, unknown>) => ({
  apiVersion: 'kaos.tools/v1alpha1',
  kind: 'Agent',
  metadata: { name: 'a', namespace: 'prod' },
  spec: { modelAPI: 'm', ...spec },
});
const modelAPI = (spec: Record<string, unknown>) => ({
  apiVersion: 'kaos.tools/v1alpha1',
  kind: 'ModelAPI',
  metadata: { name: 'm', namespace: 'prod' },
  spec,
});
const mcpServer = (spec: Record<string, unknown>) => ({
  apiVersion: 'kaos.tools/v1alpha1',
  kind: 'MCPServer',
  metadata: { name: 'echo', namespace: 'dev' },
  spec: { runtime: 'python-string', ...spec },
});

describe('ResourceValidator accepts', () => {
  it.each([
    ['a minimal Agent', agent({})],
    [
      'a full Agent',
      agent({
        model: 'gpt-4o',
        mcpServers: ['echo', 'search'],
        waitForDependencies: true,
        config: {
          description: 'd',
          instructions: 'i',
          reasoningLoopMaxSteps: 20,
          memory: { enabled: true, anything: { nested: 1 } },
          telemetry: { enabled: false },
          env: [{ name: 'A', value: 'b' }, { name: 'S', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }],
        },
        agentNetwork: { expose: false, access: ['other'] },
        gatewayRoute: { timeout: '1h30m' },
        container: { image: 'x' },
        podSpec: { nodeSelector: { a: 'b' } },
      }),
    ],
    ['a Proxy ModelAPI', modelAPI({ mode: 'Proxy', proxyConfig: { models: ['gpt-4o'], provider: 'openai', apiKey: { value: 'k' } } })],
    ['a Hosted ModelAPI', modelAPI({ mode: 'Hosted', hostedConfig: { model: 'smollm2:135m' }, gatewayRoute: { timeout: '0s' } })],
    ['an MCPServer', mcpServer({ params: 'x', serviceAccountName: 'sa', gatewayRoute: { timeout: '99999ms' } })],
    [
      'an Agent with a status',
      {
        ...agent({}),
        status: {
          phase: 'Ready',
          ready: true,
          conditions: [{ type: 'Ready', status: 'True', reason: 'Ok', message: '', lastTransitionTime: '2026-01-01T00:00:00Z' }],
          gateway: { url: 'http://1.2.3.4/prod/agent/a', routeName: 'agent-a', accepted: true },
        },
      },
    ],
  ])('%s', (_name, object) => {
    expect(validator.problems(object)).toEqual([]);
    expect(validator.isValid(object)).toBe(true);
  });
});

describe('ResourceValidator rejects, naming the field', () => {
  it.each([
    ['Agent without modelAPI', { ...agent({}), spec: {} }, [{ field: 'spec.modelAPI', message: 'Required value' }]],
    ['Agent without spec', { kind: 'Agent', metadata: {} }, [{ field: 'spec', message: 'Required value' }]],
    [
      'a timeout in words',
      agent({ gatewayRoute: { timeout: '5 minutes' } }),
      [{ field: 'spec.gatewayRoute.timeout', message: 'must be a Gateway API duration (e.g. 30s, 1m, 1h30m)' }],
    ],
    [
      'a fractional timeout',
      mcpServer({ gatewayRoute: { timeout: '1.5s' } }),
      [{ field: 'spec.gatewayRoute.timeout', message: 'must be a Gateway API duration (e.g. 30s, 1m, 1h30m)' }],
    ],
    [
      'a timeout longer than any duration',
      mcpServer({ gatewayRoute: { timeout: '1h1h1h1h1h1h1h1h1h1h1h1h1h1h1h' } }),
      [
        { field: 'spec.gatewayRoute.timeout', message: 'must be a Gateway API duration (e.g. 30s, 1m, 1h30m)' },
        { field: 'spec.gatewayRoute.timeout', message: 'must NOT have more than 28 characters' },
      ],
    ],
    [
      'reasoningLoopMaxSteps 0 and 21',
      agent({ config: { reasoningLoopMaxSteps: 21 } }),
      [{ field: 'spec.config.reasoningLoopMaxSteps', message: 'must be <= 20' }],
    ],
    ['reasoningLoopMaxSteps 0', agent({ config: { reasoningLoopMaxSteps: 0 } }), [{ field: 'spec.config.reasoningLoopMaxSteps', message: 'must be >= 1' }]],
    ['duplicate mcpServers', agent({ mcpServers: ['a', 'a'] }), [{ field: 'spec.mcpServers', message: 'Duplicate value: "a"' }]],
    ['expose as a string', agent({ agentNetwork: { expose: 'yes' } }), [{ field: 'spec.agentNetwork.expose', message: 'must be boolean' }]],
    ['env without name', agent({ config: { env: [{ value: 'x' }] } }), [{ field: 'spec.config.env[0].name', message: 'Required value' }]],
    ['an unknown mode', modelAPI({ mode: 'Local' }), [{ field: 'spec.mode', message: 'must be one of "Proxy", "Hosted"' }]],
    ['Proxy without proxyConfig', modelAPI({ mode: 'Proxy' }), [{ field: 'spec.proxyConfig', message: 'proxyConfig is required when mode is Proxy' }]],
    ['Hosted without hostedConfig', modelAPI({ mode: 'Hosted' }), [{ field: 'spec.hostedConfig', message: 'hostedConfig is required when mode is Hosted' }]],
    ['Proxy with no models', modelAPI({ mode: 'Proxy', proxyConfig: { models: [] } }), [{ field: 'spec.proxyConfig.models', message: 'must NOT have fewer than 1 items' }]],
    ['MCPServer without runtime', { ...mcpServer({}), spec: {} }, [{ field: 'spec.runtime', message: 'Required value' }]],
    [
      'duplicate condition types',
      {
        ...mcpServer({}),
        status: {
          conditions: [
            { type: 'Ready', status: 'True', reason: 'A', message: '', lastTransitionTime: '2026-01-01T00:00:00Z' },
            { type: 'Ready', status: 'False', reason: 'B', message: '', lastTransitionTime: '2026-01-01T00:00:00Z' },
          ],
        },
      },
      [{ field: 'status.conditions', message: 'Duplicate value: ["Ready"]' }],
    ],
    [
      'a condition with a bad time',
      { ...mcpServer({}), status: { conditions: [{ type: 'Ready', status: 'Yes', reason: 'A', message: '', lastTransitionTime: 'now' }] } },
      [
        { field: 'status.conditions[0].status', message: 'must be one of "True", "False", "Unknown"' },
        { field: 'status.conditions[0].lastTransitionTime', message: 'must match format "date-time"' },
      ],
    ],
    ['an unknown kind', { kind: 'Pod', spec: {} }, [{ field: 'kind', message: 'must be one of Agent, ModelAPI, MCPServer' }]],
    ['null', null, [{ field: 'kind', message: 'must be one of Agent, ModelAPI, MCPServer' }]],
  ])('%s', (_name, object, expected) => {
    expect(validator.problems(object)).toEqual(expected);
    expect(validator.isValid(object)).toBe(false);
  });
});

function celRulesIn(node: unknown): string[] {
  if (Array.isArray(node)) return node.flatMap(celRulesIn);
  if (typeof node !== 'object' || node === null) return [];
  const own = ((node as Record<string, unknown>)['x-kubernetes-validations'] as CelRule[] | undefined) ?? [];
  return [...own.map((rule) => rule.rule), ...Object.values(node).flatMap(celRulesIn)];
}

describe('CEL twins', () => {
  it('exist for exactly the CEL rules the schemas carry', () => {
    const inSchemas = new Set(KIND_DEFINITIONS.flatMap((definition) => celRulesIn(JSON.parse(JSON.stringify(definition.schema)))));
    expect([...inSchemas].sort()).toEqual(celRulesWithTwins().sort());
  });
});
