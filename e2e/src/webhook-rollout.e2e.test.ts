// Webhook replicas replaced under admission load, in front of a real kube-apiserver, without one
// failed review. The API server calls a Service webhook over kept-alive HTTP/1.1 connections and
// never retries a review whose connection broke (ADR 0010), so a replica that stops must drain.
// There are no kubelets here: a small TCP proxy plays the Service. It spreads new connections over
// the "ready" replicas and keeps established ones where they are, as kube-proxy's rules and
// conntrack do, and it can drop a replica from its list late, as a node's kube-proxy does.
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ControlPlane } from './control-plane/index.js';
import { freePort } from './control-plane/proc.js';
import { startApp, type AppProcess } from './support/app-process.js';
import { createNamespace, kubectlOk, kubectlWithManifest, startTestCluster } from './support/cluster.js';
import { webhookConfigurations } from './support/webhook.js';

/** A replica behind the proxy. */
interface Replica {
  app: AppProcess;
  port: number;
  healthPort: number;
}

/** The Service: new connections go to a random routable replica; open ones stay. */
class ServiceProxy {
  readonly routable = new Set<number>();
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;
  refused = 0;

  async start(): Promise<number> {
    this.server = createServer((client) => {
      const ports = [...this.routable];
      const port = ports[Math.floor(Math.random() * ports.length)];
      if (port === undefined) {
        client.destroy();
        return;
      }
      const upstream = connect({ host: '127.0.0.1', port });
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
      }
      upstream.on('error', () => {
        this.refused++;
        client.destroy();
      });
      client.on('error', () => upstream.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
    });
    const port = await freePort();
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    return port;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

let plane: ControlPlane;
let namespace: string;
const proxy = new ServiceProxy();
let proxyPort: number;
const replicas: Replica[] = [];

async function startReplica(): Promise<Replica> {
  const port = await freePort();
  const healthPort = await freePort();
  const app = startApp(
    'webhook',
    {
      KUBECONFIG: plane.kubeconfigPath,
      POD_NAMESPACE: 'kaos-system',
      WEBHOOK_SERVICE_NAME: 'kaos-webhook',
      TLS_EXTRA_IPS: '127.0.0.1',
      BIND_ADDRESS: '127.0.0.1',
      WEBHOOK_PORT: String(port),
      HEALTH_PORT: String(healthPort),
      MUTATING_WEBHOOK_CONFIGURATION: 'kaos-e2e-mutating',
      VALIDATING_WEBHOOK_CONFIGURATION: 'kaos-e2e-validating',
      GATEWAY_API_ENABLED: 'true',
      GATEWAY_NAMESPACE: 'kaos-system',
    },
    join(plane.workDir, `webhook-${port}.log`),
    healthPort,
  );
  const replica = { app, port, healthPort };
  replicas.push(replica);
  await app.waitReady();
  return replica;
}

beforeAll(async () => {
  plane = await startTestCluster();
  await plane.kubectl(['create', 'namespace', 'kaos-system']);
  proxyPort = await proxy.start();
  for (const configuration of webhookConfigurations(proxyPort)) await kubectlOk(plane, ['apply'], configuration);
  // The first replica makes the certificate Secret; the rest share it, as Deployment replicas do.
  for (let index = 0; index < 2; index++) proxy.routable.add((await startReplica()).port);
  namespace = await createNamespace(plane, 'rollout');
});
afterAll(async () => {
  await Promise.all(replicas.map((replica) => replica.app.stop()));
  await proxy.stop();
  await plane?.stop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function readyz(replica: Replica): Promise<number | undefined> {
  try {
    return (await fetch(`http://127.0.0.1:${replica.healthPort}/readyz`)).status;
  } catch {
    return undefined; // already gone
  }
}

/**
 * What deleting a pod does: the endpoint leaves the Service (here after `kubeProxyLagMs`), SIGTERM
 * comes after `preStopMs`. Returns how the replica went: /readyz right after SIGTERM, exit code, time to exit.
 */
async function terminate(replica: Replica, preStopMs: number, kubeProxyLagMs: number) {
  const dropped = sleep(kubeProxyLagMs).then(() => proxy.routable.delete(replica.port));
  await sleep(preStopMs);
  const signalled = Date.now();
  const exited = replica.app.stop();
  // The signal is handled on the process's next event-loop turn: allow it a moment, not the drain.
  let readyAfterSignal = await readyz(replica);
  for (let tries = 0; readyAfterSignal === 200 && tries < 10; tries++) {
    await sleep(50);
    readyAfterSignal = await readyz(replica);
  }
  const code = await exited;
  await dropped;
  return { readyAfterSignal, code, exitSeconds: (Date.now() - signalled) / 1000 };
}

describe('rolling the webhook replicas under admission load', () => {
  it(
    'admits every review while replicas are replaced, with and without a preStop delay',
    async () => {
      let stop = false;
      let sent = 0;
      const failures: string[] = [];
      const worker = async (id: number) => {
        for (let index = 0; !stop; index++) {
          const name = `load-${id}-${index}`;
          sent++;
          const manifest = { apiVersion: 'kaos.tools/v1alpha1', kind: 'Agent', metadata: { name, namespace }, spec: { modelAPI: 'm' } };
          const result = await kubectlWithManifest(plane, ['create', '--dry-run=server', '-o', 'jsonpath={.spec.gatewayRoute.timeout}'], manifest);
          if (result.code !== 0 || result.stdout.trim() !== '120s') failures.push(`${name}: ${result.code} ${result.stderr.trim()} ${result.stdout}`);
        }
      };
      const load = Promise.all([0, 1, 2].map(worker));
      const terminations: Array<Awaited<ReturnType<typeof terminate>> & { preStopMs: number }> = [];
      try {
        await sleep(2000);
        // Two rollouts as the chart runs them (maxSurge 1): a new replica becomes ready and routable,
        // then the oldest stops; its preStop outlasts kube-proxy's lag. The third stop has no preStop
        // and the proxy still routes new connections to it for a second: it must keep accepting.
        for (const { preStopMs, lagMs } of [
          { preStopMs: 2000, lagMs: 500 },
          { preStopMs: 2000, lagMs: 500 },
          { preStopMs: 0, lagMs: 1000 },
        ]) {
          proxy.routable.add((await startReplica()).port);
          await sleep(1000);
          const oldest = replicas.find((replica) => proxy.routable.has(replica.port))!;
          terminations.push({ ...(await terminate(oldest, preStopMs, lagMs)), preStopMs });
          await sleep(1000);
        }
        await sleep(2000);
      } finally {
        stop = true;
        await load;
      }
      expect(failures).toEqual([]);
      expect(sent).toBeGreaterThan(30);
      for (const termination of terminations) {
        // Not ready from the first moment of the shutdown; exits cleanly within drain (5 s) + margin.
        expect([503, undefined]).toContain(termination.readyAfterSignal);
        expect(termination.code).toBe(0);
        expect(termination.exitSeconds).toBeLessThan(8);
      }
      expect(terminations.some((termination) => termination.readyAfterSignal === 503)).toBe(true);
    },
    300_000,
  );
});
