import { generateCa, generateServingCertificate } from '../src/tls/certificates.js';

/** A kubectl-applied Agent as the API server sends it: managedFields and the last-applied annotation included. */
export function realisticAgentReview(): string {
  const spec = {
    modelAPI: 'ollama-proxy',
    model: 'smollm2:135m',
    mcpServers: ['echo-server', 'search', 'calculator'],
    waitForDependencies: true,
    config: {
      description: 'Coordinates research tasks across worker agents',
      instructions: 'You are a careful coordinator. Break the task down, delegate to workers, verify, and summarise. '.repeat(4),
      reasoningLoopMaxSteps: 8,
      memory: { enabled: true, type: 'local', contextLimit: 6, maxSessions: 1000, maxSessionEvents: 500 },
      telemetry: { enabled: true, endpoint: 'http://otel-collector.monitoring:4317' },
    },
    container: {
      env: [
        { name: 'LOG_LEVEL', value: 'INFO' },
        { name: 'OPENAI_API_KEY', valueFrom: { secretKeyRef: { name: 'openai', key: 'api-key' } } },
      ],
    },
    agentNetwork: { expose: true, access: ['worker-1', 'worker-2', 'worker-3'] },
    gatewayRoute: { timeout: '300s' },
  };
  const object = {
    apiVersion: 'kaos.tools/v1alpha1',
    kind: 'Agent',
    metadata: {
      name: 'coordinator',
      namespace: 'prod',
      uid: '4d1f8c2e-3b2a-4f5e-9a7d-1c2b3d4e5f60',
      generation: 3,
      creationTimestamp: '2026-11-20T10:00:00Z',
      labels: { 'app.kubernetes.io/name': 'coordinator', 'app.kubernetes.io/part-of': 'research', team: 'ml-platform' },
      annotations: {
        'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify({ apiVersion: 'kaos.tools/v1alpha1', kind: 'Agent', metadata: { name: 'coordinator', namespace: 'prod' }, spec }),
      },
      managedFields: [
        {
          manager: 'kubectl-client-side-apply',
          operation: 'Update',
          apiVersion: 'kaos.tools/v1alpha1',
          time: '2026-11-20T10:00:00Z',
          fieldsType: 'FieldsV1',
          fieldsV1: {
            'f:metadata': { 'f:annotations': { '.': {}, 'f:kubectl.kubernetes.io/last-applied-configuration': {} }, 'f:labels': { '.': {}, 'f:team': {} } },
            'f:spec': Object.fromEntries(Object.keys(spec).map((key) => [`f:${key}`, {}])),
          },
        },
        { manager: 'kaos-operator', operation: 'Update', apiVersion: 'kaos.tools/v1alpha1', time: '2026-11-20T10:00:05Z', fieldsType: 'FieldsV1', fieldsV1: { 'f:status': { '.': {}, 'f:phase': {}, 'f:ready': {} } }, subresource: 'status' },
      ],
    },
    spec,
  };
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      kind: { group: 'kaos.tools', version: 'v1alpha1', kind: 'Agent' },
      resource: { group: 'kaos.tools', version: 'v1alpha1', resource: 'agents' },
      requestKind: { group: 'kaos.tools', version: 'v1alpha1', kind: 'Agent' },
      requestResource: { group: 'kaos.tools', version: 'v1alpha1', resource: 'agents' },
      name: 'coordinator',
      namespace: 'prod',
      operation: 'UPDATE',
      userInfo: { username: 'alice@example.com', groups: ['system:authenticated', 'ml-platform'] },
      object,
      oldObject: object,
      dryRun: false,
      options: { kind: 'UpdateOptions', apiVersion: 'meta.k8s.io/v1', fieldManager: 'kubectl-client-side-apply' },
    },
  });
}

/** A throwaway CA-signed certificate for 127.0.0.1. */
export async function benchTls(): Promise<{ key: string; cert: string }> {
  const now = new Date();
  const later = new Date(now.getTime() + 86_400_000);
  const ca = await generateCa({ commonName: 'bench-ca', notBefore: now, notAfter: later });
  const leaf = await generateServingCertificate({ ca, sans: { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] }, notBefore: now, notAfter: later });
  return { key: leaf.privateKeyPem, cert: leaf.certificatePem };
}
