// The Helm chart installed for real: helm install (local mode) into a fresh control plane without
// our CRDs, the apps running with the chart's service-account tokens, upgrade and uninstall.
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { gatewayApiBundlePath, startControlPlane, type ControlPlane } from './control-plane/index.js';
import { freePort } from './control-plane/proc.js';
import { startApp, type AppProcess } from './support/app-process.js';
import { getJson as kubectlJson, eventually, kubectlOk, kubectlWithManifest } from './support/cluster.js';
import {
  CHART_DIR,
  chartNodeOptions,
  helm,
  helmOk,
  installLocalRelease,
  localAppEnvironments,
  releaseConfig,
  releaseNames,
  serviceAccountKubeconfig,
  startLocalApps,
  type LocalRelease,
} from './support/release.js';

let plane: ControlPlane;
let release: LocalRelease;
const names = releaseNames('kaos-operator');
const apps: { webhook?: AppProcess; controller?: AppProcess; secondWebhook?: AppProcess } = {};
const USER_NAMESPACE = 'my-namespace';

beforeAll(async () => {
  // No KAOS CRDs: the chart installs them.
  plane = await startControlPlane({ gatewayApiBundle: gatewayApiBundlePath() });
  release = { release: 'kaos-operator', namespace: 'kaos-system', webhookPort: await freePort() };
});
afterAll(async () => {
  await stopApps();
  await plane?.stop();
});

async function startApps(): Promise<void> {
  Object.assign(apps, await startLocalApps(plane, release, plane.workDir));
}

async function stopApps(): Promise<void> {
  await Promise.all([apps.webhook?.stop(), apps.controller?.stop(), apps.secondWebhook?.stop()]);
  apps.webhook = undefined;
  apps.controller = undefined;
  apps.secondWebhook = undefined;
}

/**
 * A second webhook replica as the chart's Deployment would run it (its own token, the release's
 * environment) on another port: the API server does not call it, but it shares the Secret.
 */
async function startSecondWebhook(): Promise<number> {
  const setup = {
    webhookHealthPort: await freePort(),
    controllerHealthPort: 0,
    webhookKubeconfig: await serviceAccountKubeconfig(plane, release.namespace, names.webhookServiceAccount, join(plane.workDir, 'webhook-second.kubeconfig')),
    controllerKubeconfig: '',
  };
  const port = await freePort();
  const env = localAppEnvironments(release, await releaseConfig(plane, release), setup).webhook;
  apps.secondWebhook = startApp('webhook', { ...env, WEBHOOK_PORT: String(port), NODE_OPTIONS: chartNodeOptions('webhook') }, join(plane.workDir, `webhook-second-${Date.now()}.log`), setup.webhookHealthPort);
  await apps.secondWebhook.waitReady();
  return port;
}

/** SHA-256 fingerprint of the certificate a webhook process presents on `port`. */
function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const { fingerprint256 } = socket.getPeerCertificate();
      socket.end();
      resolve(fingerprint256);
    });
    socket.on('error', reject);
  });
}

/** `kubectl apply`s of one Agent, each changing it, one after the other until stopped; counts what was admitted. */
function applyLoad(name: string) {
  let running = true;
  let applied = 0;
  const failures: string[] = [];
  const loop = (async () => {
    for (let index = 0; running; index++) {
      const result = await applyResource('Agent', name, { modelAPI: 'm', config: { description: `apply ${index}` } });
      if (result.code === 0) applied++;
      else failures.push(result.stderr.trim());
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { applied, failures };
    },
  };
}

const getJson = <T>(args: string[]) => kubectlJson<T>(plane, args);

type WebhookConfiguration = { webhooks: Array<{ name: string; clientConfig: { caBundle?: string; url?: string } }> };
const caBundles = async () => {
  const bundles: string[] = [];
  for (const kind of ['mutatingwebhookconfiguration', 'validatingwebhookconfiguration']) {
    const configuration = await getJson<WebhookConfiguration>(['get', kind, names.webhook]);
    bundles.push(...(configuration?.webhooks ?? []).map((webhook) => webhook.clientConfig.caBundle ?? ''));
  }
  return bundles;
};
type Secret = { type?: string; metadata: { labels?: Record<string, string>; annotations?: Record<string, string> }; data?: Record<string, string> };
const certificateSecret = () => getJson<Secret>(['get', 'secret', names.webhookSecret, '-n', release.namespace]);
const decode = (base64: string | undefined) => Buffer.from(base64 ?? '', 'base64').toString('utf8');
const timeoutOf = async (kind: string, name: string) =>
  (await getJson<{ spec: { gatewayRoute?: { timeout?: string } } }>(['get', kind, name, '-n', USER_NAMESPACE]))?.spec.gatewayRoute?.timeout;
const applyResource = (kind: string, name: string, spec: Record<string, unknown>) =>
  kubectlWithManifest(plane, ['apply'], { apiVersion: 'kaos.tools/v1alpha1', kind, metadata: { name, namespace: USER_NAMESPACE }, spec });

describe('helm install, upgrade and uninstall of charts/kaos-operator', () => {
  it('helm install creates the CRDs, the Gateway and webhook configurations that carry no caBundle yet', async () => {
    await installLocalRelease(plane, release, { 'gatewayAPI.enabled': true, 'gatewayAPI.createGateway': true, 'gatewayAPI.gatewayClassName': 'e2e-class' });
    for (const crd of ['agents.kaos.tools', 'modelapis.kaos.tools', 'mcpservers.kaos.tools']) await kubectlOk(plane, ['get', 'crd', crd]);
    await kubectlOk(plane, ['get', 'gateway', 'kaos-gateway', '-n', 'kaos-system']);
    expect(await caBundles()).toEqual(['', '', '']);
    expect((await certificateSecret())?.data).toBeUndefined();
  });

  it('the webhook fills its Secret and injects the CA bundle using only the chart RBAC, then is ready', async () => {
    await startApps();
    const data = (await certificateSecret())?.data ?? {};
    expect(Object.keys(data)).toEqual(expect.arrayContaining(['ca.crt', 'tls.crt', 'tls.key']));
    const bundles = await caBundles();
    expect(bundles).toHaveLength(3);
    for (const bundle of bundles) expect(Buffer.from(bundle, 'base64').toString()).toContain(Buffer.from(data['ca.crt']!, 'base64').toString().trim());
  });

  it('the first kubectl apply after install is defaulted: Agent 120s, ModelAPI 120s, MCPServer 30s', async () => {
    await kubectlOk(plane, ['create', 'namespace', USER_NAMESPACE]);
    await kubectlOk(plane, ['apply'], { apiVersion: 'kaos.tools/v1alpha1', kind: 'Agent', metadata: { name: 'my-agent', namespace: USER_NAMESPACE }, spec: { modelAPI: 'my-model', config: { description: 'Example agent' } } });
    expect((await applyResource('ModelAPI', 'my-model', { mode: 'Hosted', hostedConfig: { model: 'smollm2' } })).code).toBe(0);
    expect((await applyResource('MCPServer', 'echo-server', { runtime: 'python-string' })).code).toBe(0);
    expect([await timeoutOf('agent', 'my-agent'), await timeoutOf('modelapi', 'my-model'), await timeoutOf('mcpserver', 'echo-server')]).toEqual(['120s', '120s', '30s']);
  });

  it('an invalid timeout is rejected with the field and the reason', async () => {
    const result = await applyResource('Agent', 'bad', { modelAPI: 'm', gatewayRoute: { timeout: '5 minutes' } });
    expect(result.code).not.toBe(0);
    // The CRD schema (generated from the same definitions as the webhook) refuses it first.
    expect(result.stderr).toMatch(/spec\.gatewayRoute\.timeout: .*Gateway API duration \(e\.g\. 30s, 1m, 1h30m\)/);
  });

  it('the controller creates the routes on the chart Gateway', async () => {
    for (const route of ['agent-my-agent', 'modelapi-my-model', 'mcp-echo-server']) {
      const live = await eventually(`HTTPRoute ${route}`, () => getJson<{ spec: { parentRefs: unknown[] } }>(['get', 'httproute', route, '-n', USER_NAMESPACE]), 30_000);
      expect(live.spec.parentRefs).toEqual([expect.objectContaining({ name: 'kaos-gateway', namespace: 'kaos-system' })]);
    }
  });

  it('the Gateway getting an address updates every status.gateway.url at once (the controller watches that Gateway by name)', async () => {
    // What a Gateway implementation does; the resync period (600 s) is far longer than this wait.
    await kubectlOk(plane, ['patch', 'gateway', 'kaos-gateway', '-n', 'kaos-system', '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { addresses: [{ type: 'IPAddress', value: '192.0.2.10' }] } })]);
    const url = await eventually('status.gateway.url with the Gateway address', async () => {
      const value = (await getJson<{ status?: { gateway?: { url?: string } } }>(['get', 'agent', 'my-agent', '-n', USER_NAMESPACE]))?.status?.gateway?.url;
      return value?.startsWith('http://') ? value : undefined;
    }, 20_000);
    expect(url).toBe('http://192.0.2.10/my-namespace/agent/my-agent');
  });

  it.each([
    ['the KAOS Gateway (explicit namespace)', false, { name: 'kaos-gateway', namespace: 'kaos-system' }],
    ['another Gateway with the same name', true, { name: 'kaos-gateway', namespace: 'elsewhere' }],
  ])('a foreign route claiming another namespace agent path on %s: allowed=%s', async (_name, allowed, parentRef) => {
    const result = await kubectlWithManifest(plane, ['apply'], {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: `steal-${allowed}`, namespace: 'default' },
      spec: { parentRefs: [parentRef], rules: [{ matches: [{ path: { type: 'PathPrefix', value: `/${USER_NAMESPACE}/agent/my-agent` } }], backendRefs: [{ name: 'thief', port: 80 }] }] },
    });
    expect({ code: result.code === 0, stderr: result.code === 0 ? '' : 'denied' }).toEqual({ code: allowed, stderr: allowed ? '' : 'denied' });
    if (!allowed) expect(result.stderr).toContain('admission webhook "routes.kaos.tools" denied the request');
  });

  // The service accounts can do what the apps need and nothing beyond the chart's rules.
  it.each([
    ['controller', 'list agents.kaos.tools -A', 'yes'],
    ['controller', 'patch agents.kaos.tools/my-agent --subresource=status -n my-namespace', 'yes'],
    ['controller', 'delete agents.kaos.tools/my-agent -n my-namespace', 'no'],
    ['controller', 'create httproutes.gateway.networking.k8s.io -n my-namespace', 'yes'],
    ['controller', 'get gateways.gateway.networking.k8s.io/kaos-gateway -n kaos-system', 'yes'],
    ['controller', 'get gateways.gateway.networking.k8s.io/other -n kaos-system', 'no'],
    ['controller', 'list gateways.gateway.networking.k8s.io -n kaos-system', 'no'],
    ['controller', 'get gateways.gateway.networking.k8s.io/kaos-gateway -n default', 'no'],
    ['controller', 'update leases.coordination.k8s.io/kaos-operator-controller-leader -n kaos-system', 'yes'],
    ['controller', 'update leases.coordination.k8s.io/someone-else -n kaos-system', 'no'],
    ['controller', 'get secrets -A', 'no'],
    ['controller', 'list pods -n my-namespace', 'no'],
    ['webhook', 'get secrets/kaos-operator-webhook-tls -n kaos-system', 'yes'],
    ['webhook', 'update secrets/kaos-operator-webhook-tls -n kaos-system', 'yes'],
    ['webhook', 'get secrets/another-secret -n kaos-system', 'no'],
    ['webhook', 'list secrets -n kaos-system', 'no'],
    ['webhook', 'get secrets -A', 'no'],
    ['webhook', 'watch secrets/kaos-operator-webhook-tls -n kaos-system', 'yes'],
    ['webhook', 'watch secrets -n kaos-system', 'no'],
    ['webhook', 'delete secrets/kaos-operator-webhook-tls -n kaos-system', 'no'],
    // RBAC cannot limit create by name: any Secret, but only in the release namespace.
    ['webhook', 'create secrets -n kaos-system', 'yes'],
    ['webhook', 'create secrets -n default', 'no'],
    ['webhook', 'patch validatingwebhookconfigurations/kaos-operator-webhook', 'yes'],
    ['webhook', 'patch validatingwebhookconfigurations/someone-else', 'no'],
    ['webhook', 'list agents.kaos.tools -A', 'no'],
  ])('kubectl auth can-i as the %s: %s → %s', async (app, request, expected) => {
    const serviceAccount = app === 'controller' ? names.controllerServiceAccount : names.webhookServiceAccount;
    const result = await plane.kubectl(['auth', 'can-i', ...request.split(' '), `--as=system:serviceaccount:kaos-system:${serviceAccount}`]);
    expect(result.stdout.trim()).toBe(expected);
  });

  it('the production mode passes API server validation and the restricted Pod Security Standard', async () => {
    await kubectlOk(plane, ['create', 'namespace', 'kaos-prod']);
    await kubectlOk(plane, ['label', 'namespace', 'kaos-prod', 'pod-security.kubernetes.io/enforce=restricted', 'pod-security.kubernetes.io/warn=restricted']);
    const manifests = await helmOk(plane, ['template', 'kaos-prod', CHART_DIR, '-n', 'kaos-prod', '--set', 'gatewayAPI.enabled=true,gatewayAPI.createGateway=true,gatewayAPI.gatewayClassName=x']);
    const result = await plane.kubectl(['apply', '--dry-run=server', '-n', 'kaos-prod', '-f', '-'], { input: manifests });
    expect(result.stderr).not.toMatch(/violate|error|invalid/i);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('deployment.apps/kaos-prod-kaos-operator-controller-manager created (server dry run)');
  });

  it('the TLS Secret deleted under apply load: recreated within seconds as the chart made it, both replicas switch to its certificate, every apply admitted', async () => {
    const before = (await certificateSecret())!;
    const oldCa = decode(before.data?.['ca.crt']).trim();
    const secondPort = await startSecondWebhook();
    const loads = [applyLoad('under-load-a'), applyLoad('under-load-b')];
    let recreateSeconds = Number.NaN;
    let results: Array<{ applied: number; failures: string[] }>;
    try {
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const deletedAt = Date.now();
      await kubectlOk(plane, ['delete', 'secret', names.webhookSecret, '-n', release.namespace]);
      const recreated = await eventually('the recreated Secret', async () => {
        const secret = await certificateSecret();
        return secret?.data?.['tls.crt'] === undefined ? undefined : secret;
      }, 15_000);
      recreateSeconds = (Date.now() - deletedAt) / 1000;
      // As Helm made it, so helm upgrade (next test) and helm uninstall (last test) still handle it.
      expect(recreated.type).toBe('Opaque');
      expect(recreated.metadata.labels).toEqual(before.metadata.labels);
      expect(recreated.metadata.annotations).toMatchObject({ 'meta.helm.sh/release-name': release.release, 'meta.helm.sh/release-namespace': release.namespace });
      const newCa = decode(recreated.data?.['ca.crt']).trim();
      expect(newCa).not.toBe(oldCa);
      // The old CA stays trusted while the replicas still serve its certificate.
      await eventually('both CAs in every caBundle', async () => ((await caBundles()).every((bundle) => decode(bundle).includes(newCa) && decode(bundle).includes(oldCa)) ? true : undefined), 15_000);
      const fingerprint = new X509Certificate(decode(recreated.data?.['tls.crt'])).fingerprint256;
      await eventually('both replicas serving the new certificate', async () => ((await servedFingerprint(release.webhookPort)) === fingerprint && (await servedFingerprint(secondPort)) === fingerprint ? true : undefined), 60_000);
      // Applies keep going over the new certificate.
      await new Promise((resolve) => setTimeout(resolve, 3000));
    } finally {
      results = await Promise.all(loads.map((load) => load.stop()));
      await apps.secondWebhook?.stop();
      apps.secondWebhook = undefined;
    }
    expect(recreateSeconds).toBeLessThan(10);
    expect(results.flatMap((result) => result.failures)).toEqual([]);
    // The load was real on both streams (how many depends on the machine's load: 15–40 seen on 2 cores).
    expect(results.map((result) => result.applied >= 3)).toEqual([true, true]);
    expect(results.reduce((sum, result) => sum + result.applied, 0)).toBeGreaterThanOrEqual(10);
  });

  it('helm upgrade with new defaults keeps the certificates; the restarted apps default new resources to them over the same TLS', async () => {
    const bundlesBefore = await caBundles();
    const certificateBefore = (await certificateSecret())?.data?.['tls.crt'];
    await helmOk(plane, ['upgrade', release.release, CHART_DIR, '-n', release.namespace, '--reuse-values', '--set', 'gateway.defaultTimeouts.agent=300s', '--wait']);
    expect(await caBundles()).toEqual(bundlesBefore);
    expect((await certificateSecret())?.data?.['tls.crt']).toBe(certificateBefore);
    expect((await releaseConfig(plane, release)).GATEWAY_DEFAULT_AGENT_TIMEOUT).toBe('300s');
    // The running webhook still answers over TLS (old pods keep serving during a rollout).
    expect((await applyResource('Agent', 'during-rollout', { modelAPI: 'm' })).code).toBe(0);

    // The ConfigMap checksum rolls the pods; here the local processes restart the same way.
    await stopApps();
    await startApps();
    expect((await applyResource('Agent', 'after-upgrade', { modelAPI: 'm' })).code).toBe(0);
    expect(await timeoutOf('agent', 'after-upgrade')).toBe('300s');
    expect(await timeoutOf('agent', 'my-agent')).toBe('120s');
    expect((await certificateSecret())?.data?.['tls.crt']).toBe(certificateBefore);
    expect(await caBundles()).toEqual(bundlesBefore);
  });

  it('helm uninstall leaves no webhook configuration behind that would block the API', async () => {
    await helmOk(plane, ['uninstall', release.release, '-n', release.namespace, '--wait']);
    await stopApps();
    for (const kind of ['mutatingwebhookconfiguration', 'validatingwebhookconfiguration', 'clusterrole']) {
      const name = kind === 'clusterrole' ? names.controllerClusterRole : names.webhook;
      expect((await plane.kubectl(['get', kind, name])).stderr).toContain('NotFound');
    }
    expect((await plane.kubectl(['get', 'secret', names.webhookSecret, '-n', release.namespace])).stderr).toContain('NotFound');
    // CRDs stay (Helm never deletes crds/), and with no webhook nothing blocks writes.
    expect((await applyResource('Agent', 'after-uninstall', { modelAPI: 'm' })).code).toBe(0);
    expect((await helm(plane, ['status', release.release, '-n', release.namespace])).code).not.toBe(0);
  });
});
