import type { Condition, ObjectMeta } from './schemas/kubernetes.js';

/** API group of the Gateway API. */
export const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';
/** `apiVersion` of the Gateway API objects this project writes and reads. */
export const GATEWAY_API_VERSION = `${GATEWAY_API_GROUP}/v1`;

/** A reference from a route to the Gateway it attaches to. */
export interface ParentReference {
  group?: string;
  kind?: string;
  namespace?: string;
  name: string;
  sectionName?: string;
  port?: number;
}

/** How a route matches a request path. */
export interface HTTPPathMatch {
  type?: 'Exact' | 'PathPrefix' | 'RegularExpression';
  value?: string;
}

/** One request match of a route rule. */
export interface HTTPRouteMatch {
  path?: HTTPPathMatch;
  headers?: Array<{ type?: string; name: string; value: string }>;
  queryParams?: Array<{ type?: string; name: string; value: string }>;
  method?: string;
}

/** The path rewrite of a URLRewrite filter. */
export interface HTTPPathModifier {
  type: 'ReplaceFullPath' | 'ReplacePrefixMatch';
  replaceFullPath?: string;
  replacePrefixMatch?: string;
}

/** A route filter; this project writes only URLRewrite. */
export interface HTTPRouteFilter {
  type: string;
  urlRewrite?: { hostname?: string; path?: HTTPPathModifier };
  [other: string]: unknown;
}

/** A Service (or other backend) that a rule forwards to. */
export interface HTTPBackendRef {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  port?: number;
  weight?: number;
  filters?: HTTPRouteFilter[];
}

/** Request timeouts of a rule (Gateway API durations). */
export interface HTTPRouteTimeouts {
  request?: string;
  backendRequest?: string;
}

/** One rule of an HTTPRoute. */
export interface HTTPRouteRule {
  name?: string;
  matches?: HTTPRouteMatch[];
  filters?: HTTPRouteFilter[];
  backendRefs?: HTTPBackendRef[];
  timeouts?: HTTPRouteTimeouts;
  [other: string]: unknown;
}

/** What a Gateway implementation reports for one parent of a route. */
export interface RouteParentStatus {
  parentRef: ParentReference;
  controllerName: string;
  conditions?: Condition[];
}

/** gateway.networking.k8s.io/v1 HTTPRoute (the parts this project writes and reads). */
export interface HTTPRoute {
  apiVersion: typeof GATEWAY_API_VERSION;
  kind: 'HTTPRoute';
  metadata: ObjectMeta;
  spec: {
    parentRefs?: ParentReference[];
    hostnames?: string[];
    rules?: HTTPRouteRule[];
    [other: string]: unknown;
  };
  status?: { parents?: RouteParentStatus[] };
}

/** gateway.networking.k8s.io/v1 Gateway (the parts this project reads or creates). */
export interface Gateway {
  apiVersion: typeof GATEWAY_API_VERSION;
  kind: 'Gateway';
  metadata: ObjectMeta;
  spec: {
    gatewayClassName: string;
    listeners: Array<{
      name: string;
      port: number;
      protocol: string;
      hostname?: string;
      allowedRoutes?: { namespaces?: { from?: 'All' | 'Same' | 'Selector' } };
    }>;
  };
  status?: {
    addresses?: Array<{ type?: string; value: string }>;
    conditions?: Condition[];
  };
}
