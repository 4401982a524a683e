import { join } from 'node:path';
import type { ControlPlane } from '../control-plane/index.js';
import { freePort } from '../control-plane/proc.js';
import { startApp, type AppProcess } from './app-process.js';
import { kubectlOk } from './cluster.js';

/** A webhook process started against a control plane. */
export interface RunningWebhook extends AppProcess {
  webhookPort: number;
  healthPort: number;
  namespace: string;
  secretName: string;
}

const MUTATING = 'kaos-e2e-mutating';
const VALIDATING = 'kaos-e2e-validating';
const KAOS_RULE = {
  apiGroups: ['kaos.tools'],
  apiVersions: ['v1alpha1'],
  resources: ['agents', 'modelapis', 'mcpservers'],
  operations: ['CREATE', 'UPDATE'],
  scope: 'Namespaced',
};

/** The webhook configurations the chart will install, pointing at a local URL as envtest does. */
export function webhookConfigurations(port: number) {
  const url = (path: string) => `https://127.0.0.1:${port}${path}`;
  const common = { admissionReviewVersions: ['v1'], sideEffects: 'None', failurePolicy: 'Fail', timeoutSeconds: 10 };
  return [
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: { name: MUTATING },
      webhooks: [{ name: 'default.kaos.tools', clientConfig: { url: url('/mutate') }, rules: [KAOS_RULE], reinvocationPolicy: 'IfNeeded', ...common }],
    },
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata: { name: VALIDATING },
      webhooks: [
        { name: 'validate.kaos.tools', clientConfig: { url: url('/validate') }, rules: [KAOS_RULE], ...common },
        {
          name: 'routes.kaos.tools',
          clientConfig: { url: url('/validate') },
          rules: [{ apiGroups: ['gateway.networking.k8s.io'], apiVersions: ['*'], resources: ['httproutes'], operations: ['CREATE', 'UPDATE'], scope: 'Namespaced' }],
          // Only routes on the shared KAOS Gateway reach the webhook: no other route depends on it.
          matchConditions: [
            {
              name: 'attaches-to-kaos-gateway',
              expression: "has(object.spec.parentRefs) && object.spec.parentRefs.exists(p, p.name == 'kaos-gateway')",
            },
          ],
          ...common,
        },
      ],
    },
  ];
}

/** Registers the webhook configurations and starts the webhook (TLS generated into a Secret). */
export async function startWebhook(plane: ControlPlane, env: Record<string, string> = {}): Promise<RunningWebhook> {
  const namespace = 'kaos-system';
  await plane.kubectl(['create', 'namespace', namespace]);
  const webhookPort = await freePort();
  const healthPort = await freePort();
  for (const configuration of webhookConfigurations(webhookPort)) await kubectlOk(plane, ['apply'], configuration);

  const app = startApp(
    'webhook',
    {
      KUBECONFIG: plane.kubeconfigPath,
      POD_NAMESPACE: namespace,
      WEBHOOK_SERVICE_NAME: 'kaos-webhook',
      TLS_EXTRA_IPS: '127.0.0.1',
      BIND_ADDRESS: '127.0.0.1',
      WEBHOOK_PORT: String(webhookPort),
      HEALTH_PORT: String(healthPort),
      MUTATING_WEBHOOK_CONFIGURATION: MUTATING,
      VALIDATING_WEBHOOK_CONFIGURATION: VALIDATING,
      GATEWAY_API_ENABLED: 'true',
      GATEWAY_NAMESPACE: namespace,
      ...env,
    },
    join(plane.workDir, `webhook-${webhookPort}.log`),
    healthPort,
  );
  return { ...app, webhookPort, healthPort, namespace, secretName: 'kaos-webhook-tls' };
}
