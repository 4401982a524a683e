import type { KaosKind, KaosResource } from '@kaos/api-types';

/** How one KAOS kind maps onto Gateway API objects. */
export interface KindRouting {
  /** Path segment after the namespace: `/{ns}/{pathSegment}/{name}`. */
  pathSegment: 'agent' | 'modelapi' | 'mcp';
  /** Prefix of the HTTPRoute name: `{routePrefix}-{name}`. */
  routePrefix: 'agent' | 'modelapi' | 'mcp';
  /** Prefix of the backend Service name that KAOS creates: `{servicePrefix}-{name}`. */
  servicePrefix: 'agent' | 'modelapi' | 'mcpserver';
  /** Environment variable holding the per-kind default timeout. */
  defaultTimeoutVariable: string;
  /** Timeout used when neither the resource nor the environment sets one. */
  builtInTimeout: string;
}

/** Routing conventions of the three kinds, shared by the webhook and the controller. */
export const KIND_ROUTING: Readonly<Record<KaosKind, KindRouting>> = {
  Agent: {
    pathSegment: 'agent',
    routePrefix: 'agent',
    servicePrefix: 'agent',
    defaultTimeoutVariable: 'GATEWAY_DEFAULT_AGENT_TIMEOUT',
    builtInTimeout: '120s',
  },
  ModelAPI: {
    pathSegment: 'modelapi',
    routePrefix: 'modelapi',
    servicePrefix: 'modelapi',
    defaultTimeoutVariable: 'GATEWAY_DEFAULT_MODELAPI_TIMEOUT',
    builtInTimeout: '120s',
  },
  MCPServer: {
    pathSegment: 'mcp',
    routePrefix: 'mcp',
    servicePrefix: 'mcpserver',
    defaultTimeoutVariable: 'GATEWAY_DEFAULT_MCP_TIMEOUT',
    builtInTimeout: '30s',
  },
};

/** Port of the Services KAOS creates for Agents, MCPServers and Proxy ModelAPIs. */
export const SERVICE_PORT = 8000;
/** Port of a ModelAPI in mode Hosted (Ollama). */
export const HOSTED_MODEL_API_PORT = 11434;

/** `app.kubernetes.io/managed-by` value on every HTTPRoute this project owns. */
export const MANAGED_BY = 'kaos-routing';
/** Standard label naming the tool that manages an object. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
/** Label naming the kind of the resource a route belongs to. */
export const OWNER_KIND_LABEL = 'kaos.tools/owner-kind';
/** Label naming the resource a route belongs to. */
export const OWNER_NAME_LABEL = 'kaos.tools/owner-name';
/** Label selector matching every HTTPRoute this project manages. */
export const MANAGED_ROUTE_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY}`;
/** Field manager of every write the controller makes (server-side apply). */
export const FIELD_MANAGER = 'kaos-routing-controller';

/** Name of the HTTPRoute of a resource, e.g. `agent-coordinator`. */
export function routeName(resource: KaosResource): string {
  return `${KIND_ROUTING[resource.kind].routePrefix}-${resource.metadata.name ?? ''}`;
}

/** Name of the Service KAOS creates for a resource, e.g. `mcpserver-echo`. */
export function serviceName(resource: KaosResource): string {
  return `${KIND_ROUTING[resource.kind].servicePrefix}-${resource.metadata.name ?? ''}`;
}

/** Port of the Service KAOS creates for a resource. */
export function servicePort(resource: KaosResource): number {
  return resource.kind === 'ModelAPI' && resource.spec?.mode === 'Hosted' ? HOSTED_MODEL_API_PORT : SERVICE_PORT;
}

/** Path prefix of a resource on the Gateway, `/{namespace}/{agent|modelapi|mcp}/{name}`. */
export function routePathPrefix(resource: KaosResource): string {
  return `/${resource.metadata.namespace ?? ''}/${KIND_ROUTING[resource.kind].pathSegment}/${resource.metadata.name ?? ''}`;
}
