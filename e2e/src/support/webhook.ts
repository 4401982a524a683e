import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot, type ControlPlane } from '../control-plane/index.js';
import { freePort } from '../control-plane/proc.js';
import { kubectlOk } from './cluster.js';

/** A webhook process started from source against a control plane. */
export interface RunningWebhook {
  pid: number;
  webhookPort: number;
  healthPort: number;
  namespace: string;
  secretName: string;
  logFile: string;
  /** Sends a signal to the webhook process. */
  signal(signal: NodeJS.Signals): void;
  /** Waits until /readyz answers 200 (or throws with the log tail). */
  waitReady(timeoutMs?: number): Promise<void>;
  /** Stops the process (SIGTERM, then SIGKILL) and resolves with its exit code. */
  stop(): Promise<number | null>;
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

  const logFile = join(plane.workDir, `webhook-${webhookPort}.log`);
  const log = createWriteStream(logFile);
  // The bundle the container image runs (nx builds it before the e2e tests).
  const child: ChildProcess = spawn(process.execPath, [join(repoRoot, 'dist/apps/webhook/main.js')], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      KUBECONFIG: plane.kubeconfigPath,
      LOG_LEVEL: 'debug',
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
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve((exitCode = code))));
  const readTail = async () => (await import('node:fs')).readFileSync(logFile, 'utf8').split('\n').slice(-40).join('\n');

  return {
    pid: child.pid!,
    webhookPort,
    healthPort,
    namespace,
    secretName: 'kaos-webhook-tls',
    logFile,
    signal: (signal) => child.kill(signal),
    async waitReady(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (exitCode !== undefined) throw new Error(`webhook exited with ${exitCode}:\n${await readTail()}`);
        try {
          const response = await fetch(`http://127.0.0.1:${healthPort}/readyz`);
          if (response.status === 200) return;
        } catch {
          // not listening yet
        }
        await sleep(200);
      }
      throw new Error(`webhook not ready after ${timeoutMs} ms:\n${await readTail()}`);
    },
    async stop() {
      if (exitCode !== undefined) return exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(timer);
      log.end();
      return code;
    },
  };
}
