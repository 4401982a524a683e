import { describe, expect, it } from '@jest/globals';
import { BUILT_IN_DEFAULT_TIMEOUTS, ConfigError, routingConfigFromEnv } from './config.js';
import type { Environment } from './env.js';

describe('routingConfigFromEnv', () => {
  it('uses the built-in defaults for an empty environment', () => {
    expect(routingConfigFromEnv({})).toEqual({
      gatewayApiEnabled: false,
      gatewayName: 'kaos-gateway',
      gatewayNamespace: '',
      defaultTimeouts: { Agent: '120s', ModelAPI: '120s', MCPServer: '30s' },
    });
    expect(BUILT_IN_DEFAULT_TIMEOUTS).toEqual({ Agent: '120s', ModelAPI: '120s', MCPServer: '30s' });
  });

  it.each<[string, Environment, Partial<ReturnType<typeof routingConfigFromEnv>>]>([
    [
      'every variable set',
      {
        GATEWAY_API_ENABLED: 'true',
        GATEWAY_NAME: 'my-gateway',
        GATEWAY_NAMESPACE: 'gateway-ns',
        GATEWAY_DEFAULT_AGENT_TIMEOUT: '300s',
        GATEWAY_DEFAULT_MODELAPI_TIMEOUT: '1h',
        GATEWAY_DEFAULT_MCP_TIMEOUT: '0s',
      },
      {
        gatewayApiEnabled: true,
        gatewayName: 'my-gateway',
        gatewayNamespace: 'gateway-ns',
        defaultTimeouts: { Agent: '300s', ModelAPI: '1h', MCPServer: '0s' },
      },
    ],
    ['POD_NAMESPACE as the Gateway namespace', { GATEWAY_API_ENABLED: 'TRUE', POD_NAMESPACE: 'kaos-system' }, { gatewayApiEnabled: true, gatewayNamespace: 'kaos-system' }],
    ['GATEWAY_NAMESPACE over POD_NAMESPACE', { GATEWAY_NAMESPACE: 'gw', POD_NAMESPACE: 'kaos-system' }, { gatewayNamespace: 'gw' }],
    ['empty values as unset (Helm renders unset values empty)', { GATEWAY_API_ENABLED: '', GATEWAY_NAME: ' ', GATEWAY_DEFAULT_MCP_TIMEOUT: '' }, { gatewayApiEnabled: false, gatewayName: 'kaos-gateway', defaultTimeouts: { Agent: '120s', ModelAPI: '120s', MCPServer: '30s' } }],
    ['False spelled in capitals', { GATEWAY_API_ENABLED: 'False' }, { gatewayApiEnabled: false }],
  ])('reads %s', (_name, env, expected) => {
    expect(routingConfigFromEnv(env)).toMatchObject(expected);
  });

  it.each<[string, Environment, string[]]>([
    ['a non-boolean switch', { GATEWAY_API_ENABLED: 'yes' }, ['GATEWAY_API_ENABLED: must be "true" or "false", not "yes"']],
    ['an invalid Gateway name', { GATEWAY_NAME: 'My_Gateway' }, ['GATEWAY_NAME: "My_Gateway" must be a DNS-1123 subdomain']],
    ['a namespace with dots', { GATEWAY_NAMESPACE: 'a.b' }, ['GATEWAY_NAMESPACE: "a.b" must be a DNS-1123 label']],
    ['no namespace while enabled', { GATEWAY_API_ENABLED: 'true' }, ['GATEWAY_NAMESPACE: is required when GATEWAY_API_ENABLED is true (or set POD_NAMESPACE)']],
    ['a timeout in words', { GATEWAY_DEFAULT_AGENT_TIMEOUT: '2 minutes' }, ['GATEWAY_DEFAULT_AGENT_TIMEOUT: "2 minutes" is not a Gateway API duration (e.g. 30s, 1m, 1h30m)']],
    ['a fractional timeout', { GATEWAY_DEFAULT_MODELAPI_TIMEOUT: '1.5s' }, ['GATEWAY_DEFAULT_MODELAPI_TIMEOUT: "1.5s" is not a Gateway API duration']],
    ['a six-digit timeout', { GATEWAY_DEFAULT_MCP_TIMEOUT: '100000s' }, ['GATEWAY_DEFAULT_MCP_TIMEOUT: "100000s" is not a Gateway API duration']],
    [
      'several problems at once',
      { GATEWAY_API_ENABLED: '1', GATEWAY_DEFAULT_MCP_TIMEOUT: '-1s', GATEWAY_DEFAULT_AGENT_TIMEOUT: '1h1m1s1ms1h' },
      ['GATEWAY_API_ENABLED: must be', 'GATEWAY_DEFAULT_AGENT_TIMEOUT: "1h1m1s1ms1h"', 'GATEWAY_DEFAULT_MCP_TIMEOUT: "-1s"'],
    ],
  ])('rejects %s, naming the variable', (_name, env, fragments) => {
    let error: unknown;
    try {
      routingConfigFromEnv(env);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toHaveLength(fragments.length);
    for (const [index, fragment] of fragments.entries()) {
      expect(`${problems[index]!.field}: ${problems[index]!.message}`).toContain(fragment);
      expect((error as ConfigError).message).toContain(fragment);
    }
  });
});
