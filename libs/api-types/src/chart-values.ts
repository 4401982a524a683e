// The Helm chart's values, as one TypeBox schema: `npm run generate` writes it to
// charts/kaos-operator/values.schema.json, so `helm install` rejects bad values with the same
// duration rule the CRDs, the webhook and the controller use.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { GATEWAY_DURATION_MAX_LENGTH, GATEWAY_DURATION_PATTERN, stringEnum } from './schemas/kubernetes.js';

/** RFC 1123 label (namespaces), as the API server checks it. */
export const DNS1123_LABEL_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';

/** RFC 1123 subdomain (object names such as Gateway and GatewayClass). */
export const DNS1123_SUBDOMAIN_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';

const strict = { additionalProperties: false } as const;

const duration = (description: string) =>
  Type.String({ description: `${description} (Gateway API duration, GEP-2257, e.g. 30s, 1m, 1h30m; 0s disables)`, pattern: GATEWAY_DURATION_PATTERN, maxLength: GATEWAY_DURATION_MAX_LENGTH });

const port = (description: string) => Type.Integer({ description, minimum: 1, maximum: 65535 });

const subdomain = (description: string) => Type.String({ description, pattern: DNS1123_SUBDOMAIN_PATTERN, maxLength: 253 });

const optional = <T extends TSchema>(schema: T, description: string) =>
  Type.Union([Type.Literal(''), schema], { description });

/** Anything Kubernetes defines elsewhere (resources, affinity, tolerations...): checked by the API server. */
const passthrough = (description: string) => Type.Record(Type.String(), Type.Unknown(), { description });
const passthroughList = (description: string) => Type.Array(Type.Unknown(), { description });

const imageSchema = Type.Object(
  {
    repository: Type.String({ minLength: 1, description: 'Image repository under image.registry' }),
    tag: Type.String({ description: 'Image tag; empty means the chart appVersion' }),
    digest: optional(Type.String({ pattern: '^sha256:[a-f0-9]{64}$' }), 'Image digest (sha256:...); wins over tag'),
  },
  strict,
);

const scheduling = {
  nodeSelector: Type.Record(Type.String(), Type.String(), { description: 'Pod nodeSelector' }),
  tolerations: passthroughList('Pod tolerations'),
  affinity: passthrough('Pod affinity'),
  podAnnotations: Type.Record(Type.String(), Type.String(), { description: 'Extra pod annotations' }),
  podLabels: Type.Record(Type.String(), Type.String(), { description: 'Extra pod labels' }),
};

const logLevel = stringEnum(['error', 'warn', 'info', 'debug'] as const, { description: 'Log level (JSON logs)' });

/** The chart's values.yaml, field by field. */
export const HelmValuesSchema = Type.Object(
  {
    global: Type.Optional(passthrough('Global values of a parent chart (unused)')),
    gatewayAPI: Type.Object(
      {
        enabled: Type.Boolean({ description: 'Enable Gateway API integration' }),
        gatewayName: subdomain('Name of the Gateway resource'),
        gatewayNamespace: optional(Type.String({ pattern: DNS1123_LABEL_PATTERN, maxLength: 63 }), 'Namespace of the Gateway; empty means the release namespace'),
        createGateway: Type.Boolean({ description: 'Create a Gateway resource' }),
        gatewayClassName: optional(subdomain('GatewayClass name'), 'GatewayClass to use; required if createGateway'),
        listenerPort: port('Port for the HTTP listener'),
      },
      strict,
    ),
    gateway: Type.Object(
      {
        defaultTimeouts: Type.Object(
          {
            agent: duration('Default timeout for Agent HTTPRoutes'),
            modelAPI: duration('Default timeout for ModelAPI HTTPRoutes'),
            mcp: duration('Default timeout for MCPServer HTTPRoutes'),
          },
          strict,
        ),
      },
      strict,
    ),
    image: Type.Object(
      {
        registry: Type.String({ minLength: 1 }),
        pullPolicy: stringEnum(['Always', 'IfNotPresent', 'Never'] as const),
        pullSecrets: passthroughList('imagePullSecrets'),
      },
      strict,
    ),
    webhook: Type.Object(
      {
        replicas: Type.Integer({ minimum: 0, description: 'Webhook replicas (2 keeps admission up during a node drain)' }),
        image: imageSchema,
        port: port('Admission server port in the pod'),
        healthPort: port('Plain-HTTP port of /healthz, /readyz (and /metrics when metrics.secure is false)'),
        timeoutSeconds: Type.Integer({ minimum: 1, maximum: 30, description: 'Admission timeout the API server applies (1-30)' }),
        shutdownDelaySeconds: Type.Integer({ minimum: 0, maximum: 120, description: 'preStop sleep before SIGTERM while kube-proxy drops the pod (0: none)' }),
        drainSeconds: Type.Integer({ minimum: 0, maximum: 120, description: 'Longest drain of kept-alive connections after SIGTERM' }),
        maxInFlightMiB: Type.Integer({ minimum: 1, maximum: 1024, description: 'MiB of review bodies handled at once per pod (one review always); more get 429 with Retry-After' }),
        maxConcurrentReviews: Type.Integer({ minimum: 1, maximum: 10_000, description: 'Reviews of any size handled at once per pod; more get 429 with Retry-After' }),
        routeGuardFailurePolicy: stringEnum(['Fail', 'Ignore'] as const, { description: 'Failure policy of the HTTPRoute path guard' }),
        excludedNamespaces: Type.Array(Type.String({ pattern: DNS1123_LABEL_PATTERN, maxLength: 63 }), { description: 'Namespaces the webhooks never intercept' }),
        logLevel,
        nodeOptions: Type.String({ description: 'NODE_OPTIONS of the webhook container' }),
        resources: passthrough('Container resources'),
        podDisruptionBudget: Type.Object({ enabled: Type.Boolean(), minAvailable: Type.Union([Type.Integer({ minimum: 0 }), Type.String({ pattern: '^[0-9]{1,3}%$' })]) }, strict),
        topologySpreadConstraints: passthroughList('Pod topologySpreadConstraints'),
        ...scheduling,
      },
      strict,
    ),
    controller: Type.Object(
      {
        replicas: Type.Integer({ minimum: 0, description: 'Controller replicas; one leader writes' }),
        image: imageSchema,
        healthPort: port('Plain-HTTP port of /healthz, /readyz (and /metrics when metrics.secure is false)'),
        concurrency: Type.Integer({ minimum: 1, maximum: 64, description: 'Concurrent reconciles per kind (Agent, ModelAPI, MCPServer: three times this in all)' }),
        resyncPeriodSeconds: Type.Integer({ minimum: 10, maximum: 86_400, description: 'Seconds between full resyncs' }),
        leaderElection: Type.Object(
          {
            enabled: Type.Boolean(),
            leaseDurationSeconds: Type.Integer({ minimum: 2, maximum: 600 }),
            renewDeadlineSeconds: Type.Integer({ minimum: 1, maximum: 600 }),
            retryPeriodSeconds: Type.Integer({ minimum: 1, maximum: 600 }),
          },
          strict,
        ),
        logLevel,
        nodeOptions: Type.String({ description: 'NODE_OPTIONS of the controller container' }),
        resources: passthrough('Container resources'),
        ...scheduling,
      },
      strict,
    ),
    metrics: Type.Object(
      {
        secure: Type.Boolean({
          description: 'Serve /metrics over HTTPS on metrics.port with TokenReview and SubjectAccessReview (true), or over plain HTTP on healthPort without authentication (false)',
        }),
        port: port('HTTPS port of /metrics in both pods when metrics.secure'),
      },
      strict,
    ),
    certManager: Type.Object(
      {
        enabled: Type.Boolean({ description: 'Use a cert-manager Certificate for the webhook' }),
        issuerRef: Type.Union([
          Type.Object({}, strict),
          Type.Object({ name: Type.String({ minLength: 1 }), kind: Type.Optional(stringEnum(['Issuer', 'ClusterIssuer'] as const)), group: Type.Optional(Type.String()) }, strict),
        ]),
        duration: Type.String({ pattern: '^([0-9]+(\\.[0-9]+)?(h|m|s))+$', description: 'Certificate lifetime (Go duration)' }),
        renewBefore: Type.String({ pattern: '^([0-9]+(\\.[0-9]+)?(h|m|s))+$', description: 'Renew this long before expiry (Go duration)' }),
      },
      strict,
    ),
    localMode: Type.Object(
      {
        enabled: Type.Boolean({ description: 'Development: apps run as local processes, no Deployments' }),
        webhookHost: Type.String({ minLength: 1, description: 'Host (or IP) the API server calls the local webhook on' }),
        webhookPort: port('Port of the local webhook'),
      },
      strict,
    ),
    serviceAccount: Type.Object({ annotations: Type.Record(Type.String(), Type.String()) }, strict),
    nameOverride: Type.String(),
    fullnameOverride: Type.String(),
  },
  strict,
);

/** The chart's values after Helm merged the defaults. */
export type HelmValues = Static<typeof HelmValuesSchema>;

/** values.schema.json as committed in the chart (draft-07, which Helm understands). */
export function helmValuesJsonSchema(): string {
  const schema = { $schema: 'http://json-schema.org/draft-07/schema#', title: 'kaos-operator values', ...JSON.parse(JSON.stringify(HelmValuesSchema)) };
  return `${JSON.stringify(schema, null, 2)}\n`;
}
