import { GATEWAY_API_GROUP, GATEWAY_API_VERSION, KAOS_API_VERSION, type HTTPRoute, type KaosResource } from '@kaos/api-types';
import type { RoutingConfig } from './config.js';
import { isZeroDuration } from './duration.js';
import {
  MANAGED_BY,
  MANAGED_BY_LABEL,
  OWNER_KIND_LABEL,
  OWNER_NAME_LABEL,
  routeName,
  routePathPrefix,
  serviceName,
  servicePort,
} from './naming.js';

/** The spelling every zero timeout is written as: Gateway API defines `0s` as "no timeout". */
export const DISABLED_TIMEOUT = '0s';

/**
 * The request timeout of a resource's route: its own `spec.gatewayRoute.timeout`, else the per-kind
 * default. Any zero spelling (`0ms`, `0m`, `0h`, …) becomes `0s`, which Gateway API defines as
 * "timeout disabled", so every implementation reads it the same way.
 */
export function effectiveTimeout(resource: KaosResource, config: RoutingConfig): string {
  const timeout = resource.spec?.gatewayRoute?.timeout ?? config.defaultTimeouts[resource.kind];
  return isZeroDuration(timeout) ? DISABLED_TIMEOUT : timeout;
}

/** Whether a resource should have an HTTPRoute: routing is on and an Agent has not opted out. */
export function wantsRoute(resource: KaosResource, config: RoutingConfig): boolean {
  if (!config.gatewayApiEnabled) return false;
  return !(resource.kind === 'Agent' && resource.spec?.agentNetwork?.expose === false);
}

/**
 * The HTTPRoute a resource should have, or undefined when it should have none. Callers check
 * `routeProblems` first: a resource with problems has no valid route.
 */
export function desiredRoute(resource: KaosResource, config: RoutingConfig): HTTPRoute | undefined {
  if (!wantsRoute(resource, config)) return undefined;
  const { name, namespace, uid } = resource.metadata;
  return {
    apiVersion: GATEWAY_API_VERSION,
    kind: 'HTTPRoute',
    metadata: {
      name: routeName(resource),
      namespace,
      labels: {
        [MANAGED_BY_LABEL]: MANAGED_BY,
        [OWNER_KIND_LABEL]: resource.kind,
        [OWNER_NAME_LABEL]: name ?? '',
      },
      ...(uid
        ? {
            ownerReferences: [
              { apiVersion: KAOS_API_VERSION, kind: resource.kind, name: name ?? '', uid, controller: true, blockOwnerDeletion: true },
            ],
          }
        : {}),
    },
    spec: {
      parentRefs: [{ group: GATEWAY_API_GROUP, kind: 'Gateway', name: config.gatewayName, namespace: config.gatewayNamespace }],
      rules: [
        {
          matches: [{ path: { type: 'PathPrefix', value: routePathPrefix(resource) } }],
          filters: [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/' } } }],
          backendRefs: [{ group: '', kind: 'Service', name: serviceName(resource), port: servicePort(resource), weight: 1 }],
          timeouts: { request: effectiveTimeout(resource, config) },
        },
      ],
    },
  };
}
