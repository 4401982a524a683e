import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { CommonStatusSchema, commonSpecFields } from './common.js';
import { ObjectMetaSchema, freeformObject, stringEnum, stringSet, type CelRule } from './kubernetes.js';

/** API group of the KAOS kinds. */
export const KAOS_GROUP = 'kaos.tools';
/** API version of the KAOS kinds. */
export const KAOS_VERSION = 'v1alpha1';
/** `apiVersion` of the KAOS kinds. */
export const KAOS_API_VERSION = `${KAOS_GROUP}/${KAOS_VERSION}`;

/** Wraps a spec and the common status into a namespaced Kubernetes object schema. */
function resourceSchema<K extends string, S extends TSchema>(kind: K, spec: S, description: string) {
  return Type.Object(
    {
      apiVersion: Type.Optional(Type.Literal(KAOS_API_VERSION)),
      kind: Type.Literal(kind),
      metadata: ObjectMetaSchema,
      spec,
      status: Type.Optional(CommonStatusSchema),
    },
    { description },
  );
}

const EnvVarSchema = Type.Object({
  name: Type.String({ minLength: 1, description: 'Environment variable name.' }),
  value: Type.Optional(Type.String()),
  valueFrom: Type.Optional(freeformObject('A core/v1 EnvVarSource.')),
});

/** Agent: an LLM agent served by KAOS. */
export const AgentSchema = resourceSchema(
  'Agent',
  Type.Object(
    {
      modelAPI: Type.String({ minLength: 1, maxLength: 253, description: 'Name of the ModelAPI this agent uses.' }),
      model: Type.Optional(Type.String({ description: 'Model name passed to the ModelAPI.' })),
      mcpServers: Type.Optional(stringSet('Names of the MCPServers whose tools the agent may call.', { minLength: 1 })),
      waitForDependencies: Type.Optional(
        Type.Boolean({ description: 'Wait for the ModelAPI and MCPServers to be ready before starting.' }),
      ),
      config: Type.Optional(
        Type.Object(
          {
            description: Type.Optional(Type.String({ description: 'What the agent does (shown on its agent card).' })),
            instructions: Type.Optional(Type.String({ description: 'System prompt of the agent.' })),
            reasoningLoopMaxSteps: Type.Optional(
              Type.Integer({ minimum: 1, maximum: 20, description: 'Upper bound of reasoning steps per request.' }),
            ),
            memory: Type.Optional(freeformObject('Conversation memory settings.')),
            telemetry: Type.Optional(freeformObject('OpenTelemetry settings.')),
            env: Type.Optional(Type.Array(EnvVarSchema, { description: 'Extra environment variables of the agent.' })),
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
            access: Type.Optional(stringSet('Names of the Agents this agent may call.', { minLength: 1 })),
          },
          { description: 'Agent-to-agent networking.' },
        ),
      ),
      ...commonSpecFields,
    },
    { description: 'Desired state of the Agent.' },
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
      mode: stringEnum(MODEL_API_MODES, { description: 'Proxy forwards to a provider; Hosted runs the model in the cluster.' }),
      proxyConfig: Type.Optional(
        Type.Object(
          {
            models: Type.Array(Type.String({ minLength: 1 }), {
              minItems: 1,
              description: 'Models served through the proxy.',
              'x-kubernetes-list-type': 'set',
            }),
            provider: Type.Optional(Type.String({ description: 'Provider, e.g. openai, anthropic, ollama.' })),
            apiBase: Type.Optional(Type.String({ description: 'Base URL of the provider API.' })),
            apiKey: Type.Optional(
              Type.Object(
                {
                  value: Type.Optional(Type.String()),
                  valueFrom: Type.Optional(freeformObject('Where to read the key from, e.g. secretKeyRef.')),
                },
                { description: 'API key of the provider.' },
              ),
            ),
          },
          { description: 'Settings of mode Proxy.' },
        ),
      ),
      hostedConfig: Type.Optional(
        Type.Object(
          { model: Type.String({ minLength: 1, description: 'Model to pull and serve, e.g. smollm2:135m.' }) },
          { description: 'Settings of mode Hosted.' },
        ),
      ),
      ...commonSpecFields,
    },
    { description: 'Desired state of the ModelAPI.', 'x-kubernetes-validations': MODEL_API_SPEC_RULES },
  ),
  'An OpenAI-compatible model endpoint served by KAOS.',
);
/** ModelAPI (kaos.tools/v1alpha1). */
export type ModelAPI = Static<typeof ModelAPISchema>;

/** MCPServer: a Model Context Protocol tool server. */
export const MCPServerSchema = resourceSchema(
  'MCPServer',
  Type.Object(
    {
      runtime: Type.String({ minLength: 1, description: 'Runtime that serves the tools, e.g. python-string or a registered runtime.' }),
      params: Type.Optional(Type.String({ description: 'Runtime parameters (e.g. tool source or package arguments).' })),
      serviceAccountName: Type.Optional(
        Type.String({ maxLength: 253, description: 'ServiceAccount the server pod runs as.' }),
      ),
      ...commonSpecFields,
    },
    { description: 'Desired state of the MCPServer.' },
  ),
  'A Model Context Protocol server served by KAOS.',
);
/** MCPServer (kaos.tools/v1alpha1). */
export type MCPServer = Static<typeof MCPServerSchema>;

/** Any of the three KAOS kinds. */
export type KaosResource = Agent | ModelAPI | MCPServer;
/** The kind names of the KAOS resources. */
export type KaosKind = KaosResource['kind'];
