import { Type, type Static } from '@sinclair/typebox';
import type { V1EnvVar, V1PodSpec, V1ResourceRequirements } from '@kubernetes/client-node';
import { kubernetesType } from './kubernetes-embedded.js';
import {
  ConditionSchema,
  GATEWAY_DURATION_MAX_LENGTH,
  GATEWAY_DURATION_PATTERN,
  conditionList,
  stringEnum,
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

/** `spec.container`: upstream KAOS's shorthand overrides of the main container (not a whole core/v1 Container). */
export const ContainerOverridesSchema = Type.Object(
  {
    image: Type.Optional(Type.String({ description: 'Image of the main container, replacing the runtime default.' })),
    command: Type.Optional(Type.Array(Type.String(), { description: 'Entrypoint of the main container.' })),
    args: Type.Optional(Type.Array(Type.String(), { description: 'Arguments of the main container.' })),
    env: Type.Optional(
      Type.Array(kubernetesType<V1EnvVar>('io.k8s.api.core.v1.EnvVar', 'An environment variable (a core/v1 EnvVar).'), {
        description: 'Environment variables of the main container.',
      }),
    ),
    resources: Type.Optional(
      kubernetesType<V1ResourceRequirements>('io.k8s.api.core.v1.ResourceRequirements', 'Compute resources of the main container.'),
    ),
  },
  { description: 'Shorthand overrides of the main container (image, command, args, env, resources).' },
);
/** `spec.container`. */
export type ContainerOverrides = Static<typeof ContainerOverridesSchema>;

/** `spec.telemetry` (ModelAPI, MCPServer) and `spec.config.telemetry` (Agent). */
export const TelemetrySchema = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean({ default: false, description: 'Whether OpenTelemetry is enabled.' })),
    endpoint: Type.Optional(Type.String({ description: 'OTLP gRPC endpoint URL (required when enabled), e.g. http://otel-collector:4317.' })),
  },
  { description: 'OpenTelemetry instrumentation.' },
);
/** OpenTelemetry settings. */
export type Telemetry = Static<typeof TelemetrySchema>;

/** Fields every KAOS kind has in its spec. */
export const commonSpecFields = {
  gatewayRoute: Type.Optional(GatewayRouteSchema),
  container: Type.Optional(ContainerOverridesSchema),
  podSpec: Type.Optional(
    kubernetesType<V1PodSpec>(
      'io.k8s.api.core.v1.PodSpec',
      'Overrides of the generated pod spec (a core/v1 PodSpec), merged into it by strategic merge patch.',
    ),
  ),
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

/** `status.deployment`: what the KAOS operator copies from the workload's Deployment. */
export const DeploymentStatusSchema = Type.Object(
  {
    replicas: Type.Optional(Type.Integer({ format: 'int32', description: 'Replicas of the Deployment.' })),
    readyReplicas: Type.Optional(Type.Integer({ format: 'int32', description: 'Ready replicas.' })),
    availableReplicas: Type.Optional(Type.Integer({ format: 'int32', description: 'Available replicas.' })),
    updatedReplicas: Type.Optional(Type.Integer({ format: 'int32', description: 'Replicas at the current template.' })),
    conditions: Type.Optional(Type.Array(ConditionSchema, { description: 'Conditions of the Deployment (Available, Progressing, ReplicaFailure).' })),
  },
  { description: 'Status of the underlying Deployment, written by the KAOS operator.' },
);

/** Phases the KAOS operator reports for ModelAPIs and MCPServers. */
export const WORKLOAD_PHASES = ['Pending', 'Ready', 'Failed'] as const;
/** Phases the KAOS operator reports for Agents (which may wait for their dependencies). */
export const AGENT_PHASES = ['Pending', 'Ready', 'Failed', 'Waiting'] as const;

/** The status fields the three kinds share: the KAOS operator's, and `gateway`, which is ours. */
export function statusFields<const P extends readonly string[]>(phases: P) {
  return {
    phase: Type.Optional(stringEnum(phases, { description: 'Phase of the workload, written by the KAOS operator.' })),
    ready: Type.Optional(Type.Boolean({ description: 'Whether the workload is ready.' })),
    endpoint: Type.Optional(Type.String({ description: 'In-cluster URL of the workload Service.' })),
    message: Type.Optional(Type.String({ description: 'Human readable detail of the phase.' })),
    deployment: Type.Optional(DeploymentStatusSchema),
    gateway: Type.Optional(GatewayStatusSchema),
  };
}

/** Status shared by the three kinds. */
export const CommonStatusSchema = Type.Object(statusFields(AGENT_PHASES), { description: 'Observed state.' });
/** Status shared by the three kinds. */
export type CommonStatus = Static<typeof CommonStatusSchema>;
