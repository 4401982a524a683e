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
          memory: { enabled: true, type: 'local', contextLimit: 100, maxSessions: 1, maxSessionEvents: 10000 },
          telemetry: { enabled: true, endpoint: 'http://otel-collector:4317' },
        },
        agentNetwork: { expose: false, access: ['other'] },
        gatewayRoute: { timeout: '1h30m' },
        container: {
          image: 'x',
          command: ['python'],
          args: ['-m', 'agent'],
          env: [{ name: 'A', value: 'b' }, { name: 'S', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }],
          resources: { limits: { memory: '256Mi', cpu: 1 } },
        },
        podSpec: { containers: [{ name: 'agent' }], nodeSelector: { a: 'b' } },
      }),
    ],
    ['a Proxy ModelAPI', modelAPI({ mode: 'Proxy', proxyConfig: { models: ['gpt-4o'], provider: 'openai', apiKey: { value: 'k' } } })],
    [
      'a Proxy ModelAPI with its configuration and key from Secrets, and telemetry',
      modelAPI({
        mode: 'Proxy',
        proxyConfig: {
          models: ['openai/*'],
          apiKey: { valueFrom: { secretKeyRef: { name: 'llm', key: 'api-key' } } },
          configYaml: { fromSecretKeyRef: { name: 'litellm', key: 'config.yaml' } },
        },
        telemetry: { enabled: true, endpoint: 'http://otel:4317' },
      }),
    ],
    ['a Hosted ModelAPI', modelAPI({ mode: 'Hosted', hostedConfig: { model: 'smollm2:135m' }, gatewayRoute: { timeout: '0s' } })],
    ['an MCPServer', mcpServer({ params: 'x', serviceAccountName: 'sa', gatewayRoute: { timeout: '99999ms' } })],
    [
      'an Agent with a status',
      {
        ...agent({}),
        status: {
          phase: 'Waiting',
          ready: false,
          endpoint: 'http://agent-a.prod.svc:8000',
          message: 'waiting for ModelAPI my-model',
          deployment: {
            replicas: 1,
            readyReplicas: 0,
            availableReplicas: 0,
            updatedReplicas: 1,
            conditions: [{ type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable', message: '', lastTransitionTime: '2026-01-01T00:00:00Z' }],
          },
          linkedResources: { modelAPI: 'my-model' },
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
    ['a memory type upstream KAOS does not know', agent({ config: { memory: { type: 'redis' } } }), [{ field: 'spec.config.memory.type', message: 'must be one of "local"' }]],
    ['a context limit above 100', agent({ config: { memory: { contextLimit: 101 } } }), [{ field: 'spec.config.memory.contextLimit', message: 'must be <= 100' }]],
    ['telemetry enabled as a string', mcpServer({ telemetry: { enabled: 'true' } }), [{ field: 'spec.telemetry.enabled', message: 'must be boolean' }]],
    ['the Agent-only phase Waiting on an MCPServer', { ...mcpServer({}), status: { phase: 'Waiting' } }, [{ field: 'status.phase', message: 'must be one of "Pending", "Ready", "Failed"' }]],
    ['availableTools as a string', { ...mcpServer({}), status: { availableTools: 'echo' } }, [{ field: 'status.availableTools', message: 'must be array' }]],
    ['expose as a string', agent({ agentNetwork: { expose: 'yes' } }), [{ field: 'spec.agentNetwork.expose', message: 'must be boolean' }]],
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
          gateway: {
            conditions: [
              { type: 'Accepted', status: 'True', reason: 'A', message: '', lastTransitionTime: '2026-01-01T00:00:00Z' },
              { type: 'Accepted', status: 'False', reason: 'B', message: '', lastTransitionTime: '2026-01-01T00:00:00Z' },
            ],
          },
        },
      },
      [{ field: 'status.gateway.conditions', message: 'Duplicate value: ["Accepted"]' }],
    ],
    [
      'a condition with a bad time',
      { ...mcpServer({}), status: { deployment: { conditions: [{ type: 'Available', status: 'Yes', reason: 'A', message: '', lastTransitionTime: 'now' }] } } },
      [
        { field: 'status.deployment.conditions[0].status', message: 'must be one of "True", "False", "Unknown"' },
        { field: 'status.deployment.conditions[0].lastTransitionTime', message: 'must match format "date-time"' },
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
