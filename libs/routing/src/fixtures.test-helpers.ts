import type { Agent, KaosResource, MCPServer, ModelAPI } from '@kaos/api-types';
import type { RoutingConfig } from './config.js';

/** Routing switched on, Gateway kaos-gateway in kaos-system, built-in timeouts. */
export const enabledConfig: RoutingConfig = {
  gatewayApiEnabled: true,
  gatewayName: 'kaos-gateway',
  gatewayNamespace: 'kaos-system',
  defaultTimeouts: { Agent: '120s', ModelAPI: '120s', MCPServer: '30s' },
};

type Overrides<T extends KaosResource> = { metadata?: Partial<T['metadata']>; spec?: Partial<T['spec']> };

/** An Agent `a` in namespace `prod`. */
export function agent(overrides: Overrides<Agent> = {}): Agent {
  return {
    apiVersion: 'kaos.tools/v1alpha1',
    kind: 'Agent',
    metadata: { name: 'a', namespace: 'prod', uid: 'uid-a', ...overrides.metadata },
    spec: { modelAPI: 'm', ...overrides.spec },
  };
}

/** A Proxy ModelAPI `m` in namespace `prod`. */
export function modelAPI(overrides: Overrides<ModelAPI> = {}): ModelAPI {
  return {
    apiVersion: 'kaos.tools/v1alpha1',
    kind: 'ModelAPI',
    metadata: { name: 'm', namespace: 'prod', uid: 'uid-m', ...overrides.metadata },
    spec: { mode: 'Proxy', proxyConfig: { models: ['gpt-4o'] }, ...overrides.spec },
  };
}

/** An MCPServer `echo` in namespace `dev`. */
export function mcpServer(overrides: Overrides<MCPServer> = {}): MCPServer {
  return {
    apiVersion: 'kaos.tools/v1alpha1',
    kind: 'MCPServer',
    metadata: { name: 'echo', namespace: 'dev', uid: 'uid-echo', ...overrides.metadata },
    spec: { runtime: 'python-string', ...overrides.spec },
  };
}
