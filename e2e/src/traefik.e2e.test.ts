// Real HTTP through a real Gateway API implementation: Traefik v3 (built by
// e2e/scripts/build-traefik.sh) serves a Gateway on our control plane, and a hand-written HTTPRoute
// (not our controller) sends /{ns}/agent/x/... to a backend in a network namespace, rewritten to /...
// This proves the building blocks (Traefik process, netns backend, Service + EndpointSlice) that
// the chart's e2e uses, and pins Traefik's known limits that the docs mention.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ControlPlane } from './control-plane/index.js';
import { freePort } from './control-plane/proc.js';
import type { EchoBody } from './gateway/backend.js';
import { exposeBackend } from './gateway/endpoints.js';
import { createNetns, startBackendInNetns, sweepStaleNetns, type Netns, type NetnsBackend } from './gateway/netns.js';
import { resolveTraefikBinary, startTraefik, TRAEFIK_CONTROLLER_NAME, type Traefik } from './gateway/traefik.js';
import { createNamespace, eventually, kubectlOk, runCleanup, scratchDir, startTestCluster } from './support/cluster.js';

const GATEWAY = { name: 'kaos-gateway', namespace: 'kaos-system', className: 'traefik-e2e' };

interface Condition {
  type: string;
  status: string;
  reason?: string;
}
interface RouteStatus {
  status?: { parents?: { controllerName: string; conditions?: Condition[] }[] };
}
interface GatewayStatus {
  status?: { addresses?: { type?: string; value: string }[]; conditions?: Condition[] };
}

describe('Traefik serving a Gateway on the e2e control plane', () => {
  let plane: ControlPlane | undefined;
  let traefik: Traefik | undefined;
  let netns: Netns | undefined;
  let backend: NetnsBackend | undefined;
  let scratch: Awaited<ReturnType<typeof scratchDir>> | undefined;
  let namespace: string;
  let gatewayUrl: string;

  const get = async <T>(kind: string, name: string, ns: string): Promise<T> =>
    JSON.parse(await kubectlOk(plane!, ['get', kind, name, '-n', ns, '-o', 'json'])) as T;

  const request = async (path: string, init: RequestInit = {}): Promise<{ status: number; backend: string | null; body: string }> => {
    let res: Response;
    try {
      res = await fetch(`${gatewayUrl}${path}`, { ...init, signal: AbortSignal.timeout(15_000) });
    } catch (error) {
      traefik?.assertRunning(); // a crash explains itself with Traefik's log tail
      throw error;
    }
    return { status: res.status, backend: res.headers.get('x-kaos-backend'), body: await res.text() };
  };

  /** Waits until Traefik has picked up a route: an answer for `path` comes from a backend (any status). */
  const waitForBackend = (path: string): Promise<true> =>
    eventually(`Traefik to route ${path} to a backend`, async () => ((await request(path)).backend !== null ? true : undefined), 30_000);

  /** Applies the hand-written route; `timeout` sets rules[0].timeouts.request. */
  const applyRoute = (name: string, prefix: string, service: string, timeout?: string): Promise<string> =>
    kubectlOk(plane!, ['apply'], {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name, namespace },
      spec: {
        parentRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: GATEWAY.name, namespace: GATEWAY.namespace }],
        rules: [
          {
            matches: [{ path: { type: 'PathPrefix', value: prefix } }],
            filters: [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/' } } }],
            backendRefs: [{ group: '', kind: 'Service', name: service, port: 80 }],
            ...(timeout ? { timeouts: { request: timeout } } : {}),
          },
        ],
      },
    });

  beforeAll(async () => {
    await sweepStaleNetns();
    scratch = await scratchDir();
    // Fails fast when the binary is missing: the e2e:test target builds it first.
    const [started, bin] = await Promise.all([startTestCluster(), resolveTraefikBinary({ build: false })]);
    plane = started;
    const port = await freePort();
    await kubectlOk(plane, ['create', 'namespace', GATEWAY.namespace]);
    await kubectlOk(plane, ['apply'], {
      apiVersion: 'v1',
      kind: 'List',
      items: [
        { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: GATEWAY.className }, spec: { controllerName: TRAEFIK_CONTROLLER_NAME } },
        {
          apiVersion: 'gateway.networking.k8s.io/v1',
          kind: 'Gateway',
          metadata: { name: GATEWAY.name, namespace: GATEWAY.namespace },
          spec: {
            gatewayClassName: GATEWAY.className,
            // Traefik binds this listener to the entryPoint with the same port.
            listeners: [{ name: 'http', protocol: 'HTTP', port, allowedRoutes: { namespaces: { from: 'All' } } }],
          },
        },
      ],
    });
    traefik = await startTraefik({ kubeconfigPath: plane.kubeconfigPath, port, logFile: `${scratch.dir}/traefik.log`, bin });
    gatewayUrl = traefik.url;
    netns = await createNetns();
    backend = await startBackendInNetns(netns, { name: 'agent-x', logFile: `${scratch.dir}/backend-agent-x.log` });
    namespace = await createNamespace(plane, 'traffic');
    await exposeBackend(plane, { namespace, service: 'agent-x', address: netns.address, targetPort: backend.port });
    await applyRoute('agent-x', `/${namespace}/agent/x`, 'agent-x');
    await waitForBackend(`/${namespace}/agent/x/health`);
  }, 120_000);

  afterAll(async () => {
    // Every step runs even if an earlier one fails, so no process, namespace or veth is left.
    const steps: [string, (() => Promise<void>) | undefined][] = [
      ['traefik', traefik?.stop],
      ['backend', backend?.stop],
      ['netns', netns?.remove],
      ['control plane', plane && (() => plane!.stop())],
      // E2E_KEEP_LOGS=1 keeps the Traefik and backend logs for a look after a failure.
      ['scratch dir', process.env.E2E_KEEP_LOGS ? async () => void process.stderr.write(`logs kept in ${scratch?.dir}\n`) : scratch?.remove],
    ];
    await runCleanup(steps);
  }, 60_000);

  it('has the GatewayClass accepted and the Gateway programmed with the status address', async () => {
    const gateway = await eventually('Gateway Programmed=True with an address', async () => {
      const gw = await get<GatewayStatus>('gateway', GATEWAY.name, GATEWAY.namespace);
      return gw.status?.conditions?.some((c) => c.type === 'Programmed' && c.status === 'True') ? gw : undefined;
    });
    expect(gateway.status?.addresses).toEqual([{ type: 'IPAddress', value: '127.0.0.1' }]);
    const gatewayClass = JSON.parse(await kubectlOk(plane!, ['get', 'gatewayclass', GATEWAY.className, '-o', 'json'])) as GatewayStatus;
    expect(gatewayClass.status?.conditions).toContainEqual(expect.objectContaining({ type: 'Accepted', status: 'True' }));
  });

  it('gets Accepted=True and ResolvedRefs=True from Traefik on the HTTPRoute', async () => {
    const parent = await eventually('HTTPRoute accepted by Traefik', async () => {
      const route = await get<RouteStatus>('httproute', 'agent-x', namespace);
      const p = route.status?.parents?.find((x) => x.controllerName === TRAEFIK_CONTROLLER_NAME);
      return p?.conditions?.some((c) => c.type === 'Accepted' && c.status === 'True') ? p : undefined;
    });
    expect(parent.conditions).toContainEqual(expect.objectContaining({ type: 'ResolvedRefs', status: 'True' }));
  });

  it.each([
    { path: '/health', expected: '/health' },
    { path: '', expected: '/' },
    { path: '/', expected: '/' },
    { path: '/.well-known/agent', expected: '/.well-known/agent' },
    { path: '/slow?ms=50', expected: '/slow?ms=50' },
  ])('GET /{ns}/agent/x$path reaches the backend as $expected', async ({ path, expected }) => {
    const res = await request(`/${namespace}/agent/x${path}`);
    expect(res.backend).toBe('agent-x');
    expect((JSON.parse(res.body) as EchoBody).path).toBe(expected);
    expect(res.status).toBe(200);
  });

  it('forwards POST /v1/chat/completions with the body and headers intact', async () => {
    const payload = { model: 'm', messages: [{ role: 'user', content: 'héllo ✓' }] };
    const res = await request(`/${namespace}/agent/x/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-test-header': 'kept' },
      body: JSON.stringify(payload),
    });
    const echo = JSON.parse(res.body) as EchoBody;
    expect(echo).toMatchObject({ backend: 'agent-x', method: 'POST', path: '/v1/chat/completions', json: payload });
    expect(echo.headers['x-test-header']).toBe('kept');
    expect(echo.headers['x-forwarded-host']).toBe(new URL(gatewayUrl).host);
    expect(res.status).toBe(200);
  });

  it('does not match a longer name: /{ns}/agent/xx/health is the Gateway 404', async () => {
    const res = await request(`/${namespace}/agent/xx/health`);
    expect(res.status).toBe(404);
    expect(res.backend).toBeNull();
  });

  it('routes only to endpoints whose ready condition is true', async () => {
    await exposeBackend(plane!, { namespace, service: 'agent-x', address: netns!.address, targetPort: backend!.port, ready: false });
    const down = await eventually('no server once the endpoint is not ready', async () => {
      const r = await request(`/${namespace}/agent/x/health`);
      return r.backend === null ? r : undefined;
    });
    expect(down.status).toBe(503);
    await exposeBackend(plane!, { namespace, service: 'agent-x', address: netns!.address, targetPort: backend!.port });
    await eventually('served again once ready', async () => ((await request(`/${namespace}/agent/x/health`)).status === 200 ? true : undefined));
  });

  it('ignores rules[].timeouts (known Traefik limit): a 1s route timeout does not cut a 2s response', async () => {
    await applyRoute('agent-x-timeout', `/${namespace}/agent/timed`, 'agent-x', '1s');
    await waitForBackend(`/${namespace}/agent/timed/health`);
    const started = Date.now();
    const res = await request(`/${namespace}/agent/timed/slow?ms=2000`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
    expect(res.status).toBe(200);
    expect((JSON.parse(res.body) as EchoBody).sleptMs).toBe(2000);
  });
});
