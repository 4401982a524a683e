import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { V1ConfigMapKeySelector, V1SecretKeySelector } from '@kubernetes/client-node';
import { AGENT_PHASES, TelemetrySchema, WORKLOAD_PHASES, commonSpecFields, statusFields } from './common.js';
import { kubernetesType } from './kubernetes-embedded.js';
import { ObjectMetaSchema, stringEnum, stringMap, type CelRule } from './kubernetes.js';

/** API group of the KAOS kinds. */
export const KAOS_GROUP = 'kaos.tools';
/** API version of the KAOS kinds. */
export const KAOS_VERSION = 'v1alpha1';
/** `apiVersion` of the KAOS kinds. */
export const KAOS_API_VERSION = `${KAOS_GROUP}/${KAOS_VERSION}`;

/** Wraps a spec and a status into a namespaced Kubernetes object schema. */
function resourceSchema<K extends string, S extends TSchema, T extends TSchema>(kind: K, spec: S, status: T, description: string) {
  return Type.Object(
    {
      apiVersion: Type.Optional(Type.Literal(KAOS_API_VERSION)),
      kind: Type.Literal(kind),
      metadata: ObjectMetaSchema,
      spec,
      status: Type.Optional(status),
    },
    { description },
  );
}

/** Agent conversation memory, as upstream KAOS defaults it. */
const AgentMemorySchema = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean({ default: true, description: 'Whether the agent keeps conversation memory.' })),
    type: Type.Optional(stringEnum(['local'] as const, { default: 'local', description: 'Memory implementation.' })),
    contextLimit: Type.Optional(
      Type.Integer({ format: 'int32', minimum: 1, maximum: 100, default: 6, description: 'Messages of history included in the context.' }),
    ),
    maxSessions: Type.Optional(
      Type.Integer({ format: 'int32', minimum: 1, maximum: 100000, default: 1000, description: 'Sessions kept in memory.' }),
    ),
    maxSessionEvents: Type.Optional(
      Type.Integer({ format: 'int32', minimum: 1, maximum: 10000, default: 500, description: 'Events kept per session.' }),
    ),
  },
  { description: 'Conversation memory of the agent.' },
);

/** Agent: an LLM agent served by KAOS. */
export const AgentSchema = resourceSchema(
  'Agent',
  Type.Object(
    {
      modelAPI: Type.String({ description: 'Name of the ModelAPI this agent uses.' }),
      // Upstream KAOS requires `model`; the user guide's examples leave it out (docs/adr/0012-upstream-kaos-compatibility.md).
      model: Type.Optional(Type.String({ description: 'Model the agent uses, e.g. openai/gpt-4; must be served by the ModelAPI.' })),
      mcpServers: Type.Optional(Type.Array(Type.String(), { description: 'Names of the MCPServers whose tools the agent may call.' })),
      waitForDependencies: Type.Optional(
        Type.Boolean({ default: true, description: 'Wait for the ModelAPI and MCPServers to be ready before creating the Deployment.' }),
      ),
      config: Type.Optional(
        Type.Object(
          {
            description: Type.Optional(Type.String({ description: 'What the agent does (shown on its agent card).' })),
            instructions: Type.Optional(Type.String({ description: 'System prompt of the agent.' })),
            reasoningLoopMaxSteps: Type.Optional(
              Type.Integer({ format: 'int32', minimum: 1, maximum: 20, default: 5, description: 'Upper bound of reasoning steps per request.' }),
            ),
            memory: Type.Optional(AgentMemorySchema),
            telemetry: Type.Optional(TelemetrySchema),
          },
          { description: 'Agent behaviour.' },
        ),
      ),
      agentNetwork: Type.Optional(
        Type.Object(
          {
            expose: Type.Optional(
              Type.Boolean({ default: true, description: 'Expose the agent (and give it an HTTPRoute when Gateway API is enabled).' }),
            ),
            access: Type.Optional(Type.Array(Type.String(), { description: 'Names of the Agents this agent may call.' })),
          },
          { description: 'Agent-to-agent (A2A) networking.' },
        ),
      ),
      ...commonSpecFields,
    },
    { description: 'Desired state of the Agent.' },
  ),
  Type.Object(
    {
      ...statusFields(AGENT_PHASES),
      linkedResources: Type.Optional(
        stringMap('The ModelAPI and MCPServers the agent refers to, written by the KAOS operator.'),
      ),
    },
    { description: 'Observed state of the Agent.' },
  ),
  'An LLM agent served by KAOS.',
);
/** Agent (kaos.tools/v1alpha1). */
export type Agent = Static<typeof AgentSchema>;

/** ModelAPI modes. */
export const MODEL_API_MODES = ['Proxy', 'Hosted'] as const;

/** Cross-field rules of ModelAPI that OpenAPI cannot express; enforced by the API server through CEL. */
export const MODEL_API_SPEC_RULES: CelRule[] = [
  { rule: "self.mode != 'Proxy' || has(self.proxyConfig)", message: 'proxyConfig is required when mode is Proxy', fieldPath: '.proxyConfig', reason: 'FieldValueRequired' },
  { rule: "self.mode != 'Hosted' || has(self.hostedConfig)", message: 'hostedConfig is required when mode is Hosted', fieldPath: '.hostedConfig', reason: 'FieldValueRequired' },
];

/** ModelAPI: an OpenAI-compatible model endpoint, proxied (LiteLLM) or hosted (Ollama). */
export const ModelAPISchema = resourceSchema(
  'ModelAPI',
  Type.Object(
    {
      mode: stringEnum(MODEL_API_MODES, { description: 'Proxy forwards to a provider through LiteLLM; Hosted runs the model (Ollama) in the cluster.' }),
      proxyConfig: Type.Optional(
        Type.Object(
          {
            models: Type.Array(Type.String(), { minItems: 1, description: 'Model identifiers served through the proxy; wildcards such as openai/* are allowed.' }),
            provider: Type.Optional(Type.String({ description: 'LiteLLM provider prefix used for routing, e.g. openai, anthropic, ollama.' })),
            apiBase: Type.Optional(Type.String({ description: 'Base URL of the provider API.' })),
            apiKey: Type.Optional(
              Type.Object(
                {
                  value: Type.Optional(Type.String({ description: 'The key itself.' })),
                  valueFrom: Type.Optional(
                    Type.Object(
                      {
                        secretKeyRef: Type.Optional(
                          kubernetesType<V1SecretKeySelector>('io.k8s.api.core.v1.SecretKeySelector', 'A key of a Secret in the namespace.'),
                        ),
                        configMapKeyRef: Type.Optional(
                          kubernetesType<V1ConfigMapKeySelector>('io.k8s.api.core.v1.ConfigMapKeySelector', 'A key of a ConfigMap in the namespace.'),
                        ),
                      },
                      { description: 'Where to read the key from: a Secret or a ConfigMap.' },
                    ),
                  ),
                },
                { description: 'API key of the provider (set as PROXY_API_KEY).' },
              ),
            ),
            configYaml: Type.Optional(
              Type.Object(
                {
                  fromString: Type.Optional(Type.String({ description: 'A complete LiteLLM configuration as YAML.' })),
                  fromSecretKeyRef: Type.Optional(
                    kubernetesType<V1SecretKeySelector>('io.k8s.api.core.v1.SecretKeySelector', 'A Secret key holding the LiteLLM configuration YAML.'),
                  ),
                },
                { description: 'A complete LiteLLM configuration, replacing the generated one.' },
              ),
            ),
          },
          { description: 'Settings of mode Proxy.' },
        ),
      ),
      hostedConfig: Type.Optional(
        Type.Object(
          { model: Type.String({ description: 'Model to pull and serve, e.g. smollm2:135m.' }) },
          { description: 'Settings of mode Hosted.' },
        ),
      ),
      telemetry: Type.Optional(TelemetrySchema),
      ...commonSpecFields,
    },
    { description: 'Desired state of the ModelAPI.', 'x-kubernetes-validations': MODEL_API_SPEC_RULES },
  ),
  Type.Object(statusFields(WORKLOAD_PHASES), { description: 'Observed state of the ModelAPI.' }),
  'An OpenAI-compatible model endpoint served by KAOS.',
);
/** ModelAPI (kaos.tools/v1alpha1). */
export type ModelAPI = Static<typeof ModelAPISchema>;

/** MCPServer: a Model Context Protocol tool server. */
export const MCPServerSchema = resourceSchema(
  'MCPServer',
  Type.Object(
    {
      runtime: Type.String({ description: 'Runtime from the KAOS runtime registry (e.g. python-string, kubernetes, slack) or custom.' }),
      params: Type.Optional(Type.String({ description: 'Runtime parameters (typically YAML), passed to the container by the runtime.' })),
      serviceAccountName: Type.Optional(Type.String({ description: 'ServiceAccount the server pod runs as (e.g. for the kubernetes runtime).' })),
      telemetry: Type.Optional(TelemetrySchema),
      ...commonSpecFields,
    },
    { description: 'Desired state of the MCPServer.' },
  ),
  Type.Object(
    {
      ...statusFields(WORKLOAD_PHASES),
      availableTools: Type.Optional(Type.Array(Type.String(), { description: 'Tools the server exposes, written by the KAOS operator.' })),
    },
    { description: 'Observed state of the MCPServer.' },
  ),
  'A Model Context Protocol server served by KAOS.',
);
/** MCPServer (kaos.tools/v1alpha1). */
export type MCPServer = Static<typeof MCPServerSchema>;

/** Any of the three KAOS kinds. */
export type KaosResource = Agent | ModelAPI | MCPServer;
/** The kind names of the KAOS resources. */
export type KaosKind = KaosResource['kind'];
