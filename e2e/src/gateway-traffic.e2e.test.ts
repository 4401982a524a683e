// The user guide's "Example: Accessing an Agent via Gateway", end to end: the chart (createGateway)
// on a fresh control plane, our webhook and controller, Traefik serving the Gateway, and a backend
// per resource in a network namespace. Every curl of the guide goes through Traefik.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import type { KaosResource } from '@kaos/api-types';
import { serviceName, servicePort } from '@kaos/routing';
import { gatewayApiBundlePath, repoRoot, startControlPlane, type ControlPlane } from './control-plane/index.js';
import { freePort } from './control-plane/proc.js';
import type { EchoBody } from './gateway/backend.js';
import { exposeBackend } from './gateway/endpoints.js';
import { createNetns, startBackendInNetns, sweepStaleNetns, type Netns, type NetnsBackend } from './gateway/netns.js';
import { resolveTraefikBinary, startTraefik, TRAEFIK_CONTROLLER_NAME, type Traefik } from './gateway/traefik.js';
import type { AppProcess } from './support/app-process.js';
import { eventually, kubectlOk, kubectlWithManifest, runCleanup, scratchDir } from './support/cluster.js';
import { installLocalRelease, startLocalApps, type LocalRelease } from './support/release.js';

const NAMESPACE = 'my-namespace';
type Resource = KaosResource & { status?: { gateway?: { url?: string; conditions?: Array<{ type: string; status: string }> } } };

let plane: ControlPlane | undefined;
let traefik: Traefik | undefined;
let netns: Netns | undefined;
const backends: NetnsBackend[] = [];
const apps: AppProcess[] = [];
let scratch: Awaited<ReturnType<typeof scratchDir>> | undefined;
let listenerPort: number;
let samples: Resource[];

const gatewayUrl = () => `http://127.0.0.1:${listenerPort}`;
const request = async (path: string, init: RequestInit = {}) => {
  let response: Response;
  try {
    response = await fetch(`${gatewayUrl()}${path}`, { ...init, signal: AbortSignal.timeout(15_000) });
  } catch (error) {
    traefik?.assertRunning();
    throw error;
  }
  const body = await response.text();
  return { status: response.status, backend: response.headers.get('x-kaos-backend'), body, echo: () => JSON.parse(body) as EchoBody };
};
const getResource = async (kind: string, name: string) => JSON.parse(await kubectlOk(plane!, ['get', kind, name, '-n', NAMESPACE, '-o', 'json'])) as Resource;

beforeAll(async () => {
  await sweepStaleNetns();
  scratch = await scratchDir();
  const [started, bin] = await Promise.all([startControlPlane({ gatewayApiBundle: gatewayApiBundlePath() }), resolveTraefikBinary({ build: false })]);
  plane = started;
  listenerPort = await freePort();

  // The GatewayClass belongs to the Gateway implementation; the chart creates the Gateway.
  await kubectlOk(plane, ['apply'], { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: 'traefik' }, spec: { controllerName: TRAEFIK_CONTROLLER_NAME } });
  const release: LocalRelease = { release: 'kaos-operator', namespace: 'kaos-system', webhookPort: await freePort() };
  await installLocalRelease(plane, release, {
    'gatewayAPI.enabled': true,
    'gatewayAPI.createGateway': true,
    'gatewayAPI.gatewayClassName': 'traefik',
    'gatewayAPI.listenerPort': listenerPort,
  });
  traefik = await startTraefik({ kubeconfigPath: plane.kubeconfigPath, port: listenerPort, logFile: join(scratch.dir, 'traefik.log'), bin });
  const local = await startLocalApps(plane, release, scratch.dir);
  apps.push(local.webhook, local.controller);

  // The user guide's samples, then one backend per resource behind the Service the route names.
  await kubectlOk(plane, ['apply', '-f', join(repoRoot, 'docs/samples/quickstart.yaml')]);
  samples = await Promise.all([getResource('agent', 'my-agent'), getResource('modelapi', 'my-model'), getResource('mcpserver', 'echo-server')]);
  netns = await createNetns();
  for (const [index, resource] of samples.entries()) {
    const backend = await startBackendInNetns(netns, { name: serviceName(resource), port: 8100 + index, logFile: join(scratch.dir, `backend-${index}.log`) });
    backends.push(backend);
    await exposeBackend(plane, { namespace: NAMESPACE, service: serviceName(resource), servicePort: servicePort(resource), address: netns.address, targetPort: backend.port });
  }
}, 180_000);

afterAll(async () => {
  const steps: Array<[string, (() => Promise<unknown>) | undefined]> = [
    ['traefik', traefik?.stop],
    ...apps.map((app): [string, () => Promise<unknown>] => ['app', () => app.stop()]),
    ...backends.map((backend): [string, () => Promise<unknown>] => [`backend ${backend.name}`, backend.stop]),
    ['netns', netns?.remove],
    ['control plane', plane && (() => plane!.stop())],
    ['scratch dir', process.env.E2E_KEEP_LOGS ? async () => void process.stderr.write(`logs kept in ${scratch?.dir}\n`) : scratch?.remove],
  ];
  await runCleanup(steps);
}, 90_000);

describe('traffic through Traefik to the sample resources', () => {
  it('Traefik accepts every route and the controller mirrors it with the Gateway address in the URL', async () => {
    for (const [kind, name, segment] of [['agent', 'my-agent', 'agent'], ['modelapi', 'my-model', 'modelapi'], ['mcpserver', 'echo-server', 'mcp']] as const) {
      const resource = await eventually(`${kind} ${name} RouteReady with the Gateway URL`, async () => {
        const live = await getResource(kind, name);
        const ready = live.status?.gateway?.conditions?.some((condition) => condition.type === 'RouteReady' && condition.status === 'True');
        return ready && live.status?.gateway?.url?.startsWith('http://') ? live : undefined;
      }, 60_000);
      expect(resource.status?.gateway?.url).toBe(`${gatewayUrl()}/${NAMESPACE}/${segment}/${name}`);
      expect(resource.status?.gateway?.conditions).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'Accepted', status: 'True' }), expect.objectContaining({ type: 'ResolvedRefs', status: 'True' })]));
    }
  });

  it.each([
    ['/my-namespace/agent/my-agent/health', 'agent-my-agent', '/health'],
    ['/my-namespace/agent/my-agent/.well-known/agent', 'agent-my-agent', '/.well-known/agent'],
    ['/my-namespace/agent/my-agent', 'agent-my-agent', '/'],
    ['/my-namespace/mcp/echo-server/health', 'mcpserver-echo-server', '/health'],
    ['/my-namespace/modelapi/my-model/health', 'modelapi-my-model', '/health'],
  ])('curl %s reaches %s as %s', async (path, backend, received) => {
    const response = await eventually(`a backend answer for ${path}`, async () => {
      const answer = await request(path);
      return answer.backend !== null ? answer : undefined;
    }, 30_000);
    expect({ status: response.status, backend: response.backend, path: response.echo().path }).toEqual({ status: 200, backend, path: received });
  });

  it.each([
    ['/my-namespace/agent/my-agent/v1/chat/completions', 'agent-my-agent', { model: 'my-agent', messages: [{ role: 'user', content: 'Hello' }] }],
    ['/my-namespace/modelapi/my-model/v1/chat/completions', 'modelapi-my-model', { model: 'smollm2', messages: [{ role: 'user', content: 'Hallo ✓' }] }],
  ])('POST %s reaches %s as /v1/chat/completions with the body intact', async (path, backend, payload) => {
    const response = await request(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) });
    expect(response.echo()).toMatchObject({ backend, method: 'POST', path: '/v1/chat/completions', json: payload });
    expect(response.echo().headers['content-type']).toBe('application/json');
  });

  it('a longer name does not match: /my-namespace/agent/my-agentx/health is the Gateway 404', async () => {
    const response = await request('/my-namespace/agent/my-agentx/health');
    expect({ status: response.status, backend: response.backend }).toEqual({ status: 404, backend: null });
  });

  it('a foreign route trying to capture the agent path is rejected at admission, and traffic still reaches the agent', async () => {
    await kubectlOk(plane!, ['create', 'namespace', 'intruder']);
    const result = await kubectlWithManifest(plane!, ['apply'], {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'capture', namespace: 'intruder' },
      spec: {
        parentRefs: [{ name: 'kaos-gateway', namespace: 'kaos-system' }],
        rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/my-namespace/agent/my-agent/health' } }], backendRefs: [{ name: 'thief', port: 80 }] }],
      },
    });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('admission webhook "routes.kaos.tools" denied the request');
    expect((await plane!.kubectl(['get', 'httproute', 'capture', '-n', 'intruder'])).code).not.toBe(0);
    const response = await request('/my-namespace/agent/my-agent/health');
    expect({ status: response.status, backend: response.backend }).toEqual({ status: 200, backend: 'agent-my-agent' });
  });

  it('deleting the Agent removes its route and the Gateway answers 404 for its path', async () => {
    await kubectlOk(plane!, ['delete', 'agent', 'my-agent', '-n', NAMESPACE, '--wait=true']);
    await eventually('the route garbage-collected', async () => ((await plane!.kubectl(['get', 'httproute', 'agent-my-agent', '-n', NAMESPACE])).code !== 0 ? true : undefined), 60_000);
    const gone = await eventually('the Gateway 404 for the deleted agent', async () => {
      const answer = await request('/my-namespace/agent/my-agent/health');
      return answer.status === 404 ? answer : undefined;
    }, 30_000);
    expect(gone.backend).toBeNull();
    // The other resources keep working.
    expect((await request('/my-namespace/mcp/echo-server/health')).status).toBe(200);
  });
});
