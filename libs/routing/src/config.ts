import type { FieldProblem, KaosKind } from '@kaos/api-types';
import { formatProblems } from '@kaos/api-types';
import { DurationError, isGatewayDuration } from './duration.js';
import { envBoolean, envValue, type Environment } from './env.js';
import { KIND_ROUTING } from './naming.js';
import { dns1123LabelProblem, dns1123SubdomainProblem } from './validation.js';

/** Settings both apps share, read from the `GATEWAY_*` environment variables. */
export interface RoutingConfig {
  /** Whether resources get HTTPRoutes at all (`GATEWAY_API_ENABLED`). */
  gatewayApiEnabled: boolean;
  /** Gateway the routes attach to (`GATEWAY_NAME`). */
  gatewayName: string;
  /** Namespace of that Gateway (`GATEWAY_NAMESPACE`, else `POD_NAMESPACE`). */
  gatewayNamespace: string;
  /** Request timeout per kind when a resource sets none (`GATEWAY_DEFAULT_*_TIMEOUT`). */
  defaultTimeouts: Readonly<Record<KaosKind, string>>;
}

/** Name of the Gateway when `GATEWAY_NAME` is not set (the chart's `gatewayAPI.gatewayName`). */
export const DEFAULT_GATEWAY_NAME = 'kaos-gateway';

/** The built-in per-kind default timeouts: Agent 120s, ModelAPI 120s, MCPServer 30s. */
export const BUILT_IN_DEFAULT_TIMEOUTS: Readonly<Record<KaosKind, string>> = {
  Agent: KIND_ROUTING.Agent.builtInTimeout,
  ModelAPI: KIND_ROUTING.ModelAPI.builtInTimeout,
  MCPServer: KIND_ROUTING.MCPServer.builtInTimeout,
};

/** Thrown when the environment holds invalid routing settings; lists every bad variable. */
export class ConfigError extends Error {
  readonly problems: FieldProblem[];

  constructor(problems: FieldProblem[]) {
    super(`invalid configuration: ${formatProblems(problems)}`);
    this.problems = problems;
    this.name = 'ConfigError';
  }
}


/**
 * Reads and validates the routing configuration. Throws ConfigError naming each variable that is
 * wrong and the rule it breaks, so the process can refuse to start with a useful message.
 */
export function routingConfigFromEnv(env: Environment): RoutingConfig {
  const problems: FieldProblem[] = [];
  const config = readRoutingConfig(env, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/**
 * Reads the routing configuration, adding each bad variable to `problems` (bad values fall back to
 * defaults), so an app can report its own variables' problems together with these.
 */
export function readRoutingConfig(env: Environment, problems: FieldProblem[]): RoutingConfig {

  const gatewayApiEnabled = envBoolean(env, 'GATEWAY_API_ENABLED', false, problems);

  const gatewayName = envValue(env, 'GATEWAY_NAME') ?? DEFAULT_GATEWAY_NAME;
  const nameProblem = dns1123SubdomainProblem(gatewayName);
  if (nameProblem) problems.push({ field: 'GATEWAY_NAME', message: `${JSON.stringify(gatewayName)} ${nameProblem}` });

  const gatewayNamespace = envValue(env, 'GATEWAY_NAMESPACE') ?? envValue(env, 'POD_NAMESPACE') ?? '';
  if (gatewayNamespace === '') {
    if (gatewayApiEnabled) {
      problems.push({ field: 'GATEWAY_NAMESPACE', message: 'is required when GATEWAY_API_ENABLED is true (or set POD_NAMESPACE)' });
    }
  } else {
    const namespaceProblem = dns1123LabelProblem(gatewayNamespace);
    if (namespaceProblem) problems.push({ field: 'GATEWAY_NAMESPACE', message: `${JSON.stringify(gatewayNamespace)} ${namespaceProblem}` });
  }

  const defaultTimeouts = { ...BUILT_IN_DEFAULT_TIMEOUTS };
  for (const kind of Object.keys(KIND_ROUTING) as KaosKind[]) {
    const variable = KIND_ROUTING[kind].defaultTimeoutVariable;
    const value = envValue(env, variable);
    if (value === undefined) continue;
    if (isGatewayDuration(value)) defaultTimeouts[kind] = value;
    else problems.push({ field: variable, message: new DurationError(value).message });
  }

  return { gatewayApiEnabled, gatewayName, gatewayNamespace, defaultTimeouts };
}
