import { Type, type Static } from '@sinclair/typebox';
import {
  GATEWAY_DURATION_MAX_LENGTH,
  GATEWAY_DURATION_PATTERN,
  conditionList,
  freeformObject,
  type CelRule,
} from './kubernetes.js';

/** CEL rule that keeps `gatewayRoute.timeout` a Gateway API duration in the API server itself. */
export const TIMEOUT_CEL_RULE: CelRule = {
  rule: `self.matches('${GATEWAY_DURATION_PATTERN}')`,
  message: `must be a Gateway API duration (e.g. 30s, 1m, 1h30m)`,
};

/** `spec.gatewayRoute`: how the resource's HTTPRoute is shaped. */
export const GatewayRouteSchema = Type.Object(
  {
    timeout: Type.Optional(
      Type.String({
        maxLength: GATEWAY_DURATION_MAX_LENGTH,
        description:
          'Request timeout of the HTTPRoute, a Gateway API duration such as 30s, 5m or 1h30m. ' +
          'Zero (0s, 0ms, 0m, 0h) disables the timeout. Defaulted per kind by the admission webhook.',
        'x-kubernetes-validations': [TIMEOUT_CEL_RULE],
      }),
    ),
  },
  { description: 'Gateway API routing settings for this resource.' },
);
/** `spec.gatewayRoute`. */
export type GatewayRoute = Static<typeof GatewayRouteSchema>;

/** Fields every KAOS kind has in its spec. */
export const commonSpecFields = {
  gatewayRoute: Type.Optional(GatewayRouteSchema),
  container: Type.Optional(freeformObject('Overrides for the main container (a core/v1 Container).')),
  podSpec: Type.Optional(freeformObject('Overrides for the pod template (a core/v1 PodSpec).')),
};

/** `status.gateway`: what the routing controller reports about the resource's HTTPRoute. */
export const GatewayStatusSchema = Type.Object(
  {
    url: Type.Optional(
      Type.String({ description: 'URL prefix of the resource through the Gateway, or a relative path if the Gateway has no address.' }),
    ),
    routeName: Type.Optional(Type.String({ description: 'Name of the HTTPRoute in the resource namespace.' })),
    accepted: Type.Optional(Type.Boolean({ description: 'Whether the Gateway accepted the HTTPRoute.' })),
    observedGeneration: Type.Optional(
      Type.Integer({ format: 'int64', minimum: 0, description: 'The .metadata.generation this block describes.' }),
    ),
    conditions: Type.Optional(
      conditionList('Accepted and ResolvedRefs mirrored from the HTTPRoute, and RouteReady.'),
    ),
  },
  { description: 'Gateway API route of this resource, written by the routing controller.' },
);
/** `status.gateway`. */
export type GatewayStatus = Static<typeof GatewayStatusSchema>;

/** Status shared by the three kinds. */
export const CommonStatusSchema = Type.Object(
  {
    phase: Type.Optional(Type.String({ description: 'Lifecycle phase, e.g. Pending, Ready, Failed.' })),
    ready: Type.Optional(Type.Boolean({ description: 'Whether the workload is ready.' })),
    endpoint: Type.Optional(Type.String({ description: 'In-cluster URL of the workload Service.' })),
    message: Type.Optional(Type.String({ description: 'Human readable detail of the phase.' })),
    observedGeneration: Type.Optional(Type.Integer({ format: 'int64', minimum: 0 })),
    conditions: Type.Optional(conditionList('Conditions of the workload.')),
    gateway: Type.Optional(GatewayStatusSchema),
  },
  { description: 'Observed state.' },
);
/** Status shared by the three kinds. */
export type CommonStatus = Static<typeof CommonStatusSchema>;
