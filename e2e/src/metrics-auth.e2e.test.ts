// Authenticated metrics on a real control plane: the chart installed in local mode, both apps as
// local processes with the chart's ServiceAccount tokens and METRICS_SECURE=true, and curl against
// their HTTPS /metrics with no token, a token without the reader role, and one bound to it.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { gatewayApiBundlePath, startControlPlane, type ControlPlane } from './control-plane/index.js';
import { freePort } from './control-plane/proc.js';
import { startApp, type AppProcess } from './support/app-process.js';
import { kubectlOk } from './support/cluster.js';
import { chartNodeOptions, installLocalRelease, localAppEnvironments, releaseConfig, releaseNames, serviceAccountKubeconfig, type LocalRelease } from './support/release.js';

const run = promisify(execFile);
let plane: ControlPlane;
let release: LocalRelease;
const names = releaseNames('kaos-operator');
const apps: Partial<Record<'webhook' | 'controller', AppProcess>> = {};
const metricsPorts: Record<'webhook' | 'controller', number> = { webhook: 0, controller: 0 };
const healthPorts: Record<'webhook' | 'controller', number> = { webhook: 0, controller: 0 };
const tokens: Record<'none' | 'invalid' | 'notBound' | 'reader', string> = { none: '', invalid: 'not-a-token', notBound: '', reader: '' };

beforeAll(async () => {
  plane = await startControlPlane({ gatewayApiBundle: gatewayApiBundlePath() });
  release = { release: 'kaos-operator', namespace: 'kaos-system', webhookPort: await freePort() };
  await installLocalRelease(plane, release);

  const setup = {
    webhookHealthPort: await freePort(),
    controllerHealthPort: await freePort(),
    webhookKubeconfig: await serviceAccountKubeconfig(plane, release.namespace, names.webhookServiceAccount, join(plane.workDir, 'webhook.kubeconfig')),
    controllerKubeconfig: await serviceAccountKubeconfig(plane, release.namespace, names.controllerServiceAccount, join(plane.workDir, 'controller.kubeconfig')),
  };
  const env = localAppEnvironments(release, await releaseConfig(plane, release), setup);
  for (const app of ['webhook', 'controller'] as const) {
    metricsPorts[app] = await freePort();
    const healthPort = (healthPorts[app] = app === 'webhook' ? setup.webhookHealthPort : setup.controllerHealthPort);
    apps[app] = startApp(app, { ...env[app], METRICS_SECURE: 'true', METRICS_PORT: String(metricsPorts[app]), NODE_OPTIONS: chartNodeOptions(app) }, join(plane.workDir, `${app}-metrics.log`), healthPort);
  }
  await Promise.all([apps.webhook!.waitReady(), apps.controller!.waitReady()]);

  // Two scrapers: one with the chart's metrics-reader ClusterRole bound, one without.
  await kubectlOk(plane, ['create', 'serviceaccount', 'scraper', '-n', 'default']);
  await kubectlOk(plane, ['create', 'serviceaccount', 'stranger', '-n', 'default']);
  await kubectlOk(plane, ['create', 'clusterrolebinding', 'scraper-metrics', '--clusterrole=kaos-operator-metrics-reader', '--serviceaccount=default:scraper']);
  tokens.reader = (await kubectlOk(plane, ['create', 'token', 'scraper', '-n', 'default'])).trim();
  tokens.notBound = (await kubectlOk(plane, ['create', 'token', 'stranger', '-n', 'default'])).trim();
}, 300_000);

afterAll(async () => {
  await Promise.all([apps.webhook?.stop(), apps.controller?.stop()]);
  await plane?.stop();
});

/** curl -k https://127.0.0.1:<port>/metrics [-H 'Authorization: Bearer <token>']: status and body. */
async function curlMetrics(port: number, token: string): Promise<{ status: number; body: string }> {
  const { stdout } = await run('curl', ['-sk', '--max-time', '10', '-w', '\n%{http_code}', ...(token ? ['-H', `Authorization: Bearer ${token}`] : []), `https://127.0.0.1:${port}/metrics`]);
  const split = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(split + 1)), body: stdout.slice(0, split) };
}

describe.each(['webhook', 'controller'] as const)('%s /metrics over HTTPS', (app) => {
  it.each([
    ['no token', 'none', 401, 'Unauthorized'],
    ['an invalid token', 'invalid', 401, 'Unauthorized'],
    ['a ServiceAccount token without the reader role', 'notBound', 403, 'Authorization denied for user system:serviceaccount:default:stranger'],
    ['a ServiceAccount token bound to kaos-operator-metrics-reader', 'reader', 200, `# HELP kaos_${app}_`],
  ] as const)('with %s (%s) answers %d', async (_name, token, status, body) => {
    const answer = await curlMetrics(metricsPorts[app], tokens[token]);
    expect(answer.status).toBe(status);
    expect(answer.body).toContain(body);
    if (status === 200) expect(answer.body).toMatch(/^process_cpu_user_seconds_total \d/m);
  });

  it.each([
    ['/readyz', '200'],
    ['/healthz', '200'],
    ['/metrics', '404'],
  ])('serves %s on the plain-HTTP health port without a token: %s', async (path, status) => {
    const { stdout } = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${healthPorts[app]}${path}`]);
    expect(stdout).toBe(status);
  });
});
