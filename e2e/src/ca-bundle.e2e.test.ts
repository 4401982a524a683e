// Two webhook replicas sharing one certificate Secret, both told to rotate the CA at (nearly) the
// same moment, round after round, against a real kube-apiserver (issue 13, ADR 0017); one replica
// reaches the API server over a slow link, so its reads are a few hundred ms old when it writes. The API
// server calls both replicas through a round-robin TCP proxy, so admission fails the moment either
// one serves a certificate the caBundle does not verify. Checked after every round and by sampling
// throughout: every webhook's caBundle in both configurations verifies the certificate each replica
// serves (read over TLS, verified with X509Certificate.checkIssued/verify), and every apply made
// through the webhooks meanwhile is admitted.
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { createServer, connect as connectTcp, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect as connectTls } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ControlPlane } from './control-plane/index.js';
import { freePort } from './control-plane/proc.js';
import { startApp, type AppProcess } from './support/app-process.js';
import { startApplyLoad } from './support/apply-load.js';
import { createNamespace, eventually, kubectlOk, kubectlWithManifest, startTestCluster } from './support/cluster.js';
import { webhookConfigurations } from './support/webhook.js';

const ROUNDS = 10;
/**
 * Per round, when both replicas are told to rotate after the Secret was touched (plus up to 50 ms
 * jitter): the touch makes each replica run a check, the slow one's lasting about a second; the
 * rotations land before, inside or after it.
 */
const OFFSETS_MS = [0, 250, 350, 450, 550, 650, 750, 850, 1000, 1200];
/** One-way delay of replica a's link to the API server. */
const SLOW_LINK_MS = 120;
const NAMESPACE = 'kaos-system';
const SECRET = 'kaos-webhook-tls';

interface Replica {
  name: string;
  app: AppProcess;
  port: number;
}

let plane: ControlPlane;
let proxy: Server;
let slowLink: Server;
let userNamespace: string;
let api: Agent;
const replicas: Replica[] = [];
const proxied = new Map<string, number>();
const configurationPaths: string[] = [];

/**
 * A TCP proxy: each connection goes to the port `target()` names; with `delayMs`, every chunk in
 * either direction is held that long (order kept), i.e. a link with 2 × delayMs round trip.
 */
function startProxy(target: () => { name: string; port: number }, delayMs = 0): Promise<{ server: Server; port: number }> {
  const sockets = new Set<Socket>();
  const forward = (from: Socket, to: Socket): void => {
    if (delayMs === 0) {
      from.pipe(to);
      return;
    }
    from.on('data', (chunk) => setTimeout(() => to.destroyed || to.write(chunk), delayMs));
    from.on('end', () => setTimeout(() => to.end(), delayMs));
  };
  const server = createServer((client) => {
    const { name, port } = target();
    proxied.set(name, (proxied.get(name) ?? 0) + 1);
    const upstream = connectTcp(port, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    forward(client, upstream);
    forward(upstream, client);
  });
  server.on('close', () => {
    for (const socket of sockets) socket.destroy();
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port })));
}

/** A kubeconfig like the admin's, reaching the API server through `port` (a proxy). */
function kubeconfigVia(port: number): string {
  const path = join(plane.workDir, `kubeconfig-via-${port}`);
  writeFileSync(path, readFileSync(plane.kubeconfigPath, 'utf8').replace(plane.server, `https://127.0.0.1:${port}`), { mode: 0o600 });
  return path;
}

async function startReplica(name: string, proxyPort: number, kubeconfig: string): Promise<Replica> {
  const port = await freePort();
  const healthPort = await freePort();
  const app = startApp(
    'webhook',
    {
      KUBECONFIG: kubeconfig,
      POD_NAMESPACE: NAMESPACE,
      WEBHOOK_SERVICE_NAME: 'kaos-webhook',
      TLS_EXTRA_IPS: '127.0.0.1',
      BIND_ADDRESS: '127.0.0.1',
      WEBHOOK_PORT: String(port),
      HEALTH_PORT: String(healthPort),
      MUTATING_WEBHOOK_CONFIGURATION: 'kaos-e2e-mutating',
      VALIDATING_WEBHOOK_CONFIGURATION: 'kaos-e2e-validating',
      GATEWAY_API_ENABLED: 'true',
      GATEWAY_NAMESPACE: NAMESPACE,
      // 0.5 s instead of 10 s between injecting a new CA and serving its certificate: one local API
      // server picks up a configuration change within milliseconds, and rounds stay short.
      WEBHOOK_CA_PROPAGATION_SECONDS: '0.5',
      LOG_LEVEL: 'info',
      // Nothing to drain at the end: the API server no longer calls them.
      SHUTDOWN_DRAIN_SECONDS: '0',
      SHUTDOWN_GRACE_SECONDS: '1',
    },
    join(plane.workDir, `webhook-${name}-${proxyPort}.log`),
    healthPort,
  );
  await app.waitReady();
  return { name, app, port };
}

beforeAll(async () => {
  plane = await startTestCluster();
  api = new Agent({ keepAlive: true, ca: readFileSync(plane.certs.caCert), cert: readFileSync(plane.certs.adminCert), key: readFileSync(plane.certs.adminKey) });
  // The API server reaches the replicas through one proxy, one connection to each in turn.
  let next = 0;
  const started = await startProxy(() => replicas[next++ % replicas.length]!);
  proxy = started.server;
  // Replica a talks to the API server over a slow link (120 ms each way, as across zones or to a
  // busy API server): its reads are older by the time it writes, which is what issue 13 is about.
  const slow = await startProxy(() => ({ name: 'api-server (a)', port: Number(new URL(plane.server).port) }), SLOW_LINK_MS);
  slowLink = slow.server;
  await plane.kubectl(['create', 'namespace', NAMESPACE]);
  for (const configuration of webhookConfigurations(started.port)) {
    await kubectlOk(plane, ['apply'], configuration);
    const plural = configuration.kind === 'MutatingWebhookConfiguration' ? 'mutatingwebhookconfigurations' : 'validatingwebhookconfigurations';
    configurationPaths.push(`/apis/admissionregistration.k8s.io/v1/${plural}/${configuration.metadata.name}`);
  }
  // One first, so the second adopts its Secret as a scaled-up Deployment would.
  replicas.push(await startReplica('a', started.port, kubeconfigVia(slow.port)));
  replicas.push(await startReplica('b', started.port, plane.kubeconfigPath));
  userNamespace = await createNamespace(plane, 'ca-bundle');
});

afterAll(async () => {
  await Promise.all(replicas.map((replica) => replica.app.stop()));
  proxy?.close();
  slowLink?.close();
  api?.destroy();
  await plane?.stop();
});

/** GET (or a merge PATCH) as the admin, parsed. */
function getJson<T>(path: string, mergePatch?: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const body = mergePatch === undefined ? undefined : JSON.stringify(mergePatch);
    const options = body === undefined ? {} : { method: 'PATCH', headers: { 'content-type': 'application/merge-patch+json', 'content-length': Buffer.byteLength(body) } };
    const req = request(new URL(path, plane.server), { agent: api, timeout: 10_000, ...options }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(body) as T) : reject(new Error(`GET ${path}: HTTP ${res.statusCode} ${body.slice(0, 200)}`))));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** The certificate a replica presents to a new TLS connection. */
function servedCertificate(replica: Replica): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = connectTls({ host: '127.0.0.1', port: replica.port, rejectUnauthorized: false }, () => {
      const { raw } = socket.getPeerCertificate();
      socket.end();
      resolve(new X509Certificate(raw));
    });
    socket.setTimeout(5000, () => socket.destroy(new Error(`TLS to ${replica.name} timed out`)));
    socket.on('error', reject);
  });
}

type Configuration = { metadata: { name: string }; webhooks?: Array<{ name: string; clientConfig: { caBundle?: string } }> };

/** Every webhook's caBundle, as certificates. */
async function bundles(): Promise<{ where: string; cas: X509Certificate[] }[]> {
  const configurations = await Promise.all(configurationPaths.map((path) => getJson<Configuration>(path)));
  return configurations.flatMap((configuration) =>
    (configuration.webhooks ?? []).map((webhook) => ({
      where: `${configuration.metadata.name}/${webhook.name}`,
      cas: (Buffer.from(webhook.clientConfig.caBundle ?? '', 'base64').toString('utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map(
        (pem) => new X509Certificate(pem),
      ),
    })),
  );
}

const verifies = (leaf: X509Certificate, cas: readonly X509Certificate[]) => cas.some((ca) => leaf.checkIssued(ca) && leaf.verify(ca.publicKey));

/**
 * Served certificates first, bundles second: a replica serves a new CA's certificate only after a
 * bundle with that CA was injected, so a bundle read later that lacks it was overwritten (the bug),
 * whatever the timing of the two reads.
 */
async function misses(): Promise<string[]> {
  const served = await Promise.all(replicas.map(async (replica) => ({ replica, certificate: await servedCertificate(replica) })));
  const found: string[] = [];
  for (const { where, cas } of await bundles()) {
    for (const { replica, certificate } of served) {
      if (!verifies(certificate, cas)) found.push(`${where} does not verify replica ${replica.name}'s certificate (issuer ${certificate.issuer.replace(/\n/g, ' ')})`);
    }
  }
  return found;
}

async function secretLeafFingerprint(): Promise<string> {
  const secret = await getJson<{ data?: Record<string, string> }>(`/api/v1/namespaces/${NAMESPACE}/secrets/${SECRET}`);
  return new X509Certificate(Buffer.from(secret.data?.['tls.crt'] ?? '', 'base64')).fingerprint256;
}

describe('CA bundle with two webhook replicas rotating concurrently', () => {
  it(`${ROUNDS} rounds of simultaneous forced CA rotations: the caBundle always verifies every served certificate, and admission never fails`, async () => {
    expect(await misses()).toEqual([]);
    const sampled = { samples: 0, missing: 0, misses: [] as string[], roundsWithMisses: new Set<number>(), errors: 0 };
    let sampling = true;
    let currentRound = 0;
    const sampler = (async () => {
      const started = Date.now();
      while (sampling) {
        try {
          const found = await misses();
          sampled.samples++;
          if (found.length > 0) {
            sampled.missing++;
            sampled.roundsWithMisses.add(currentRound);
          }
          for (const miss of found) if (sampled.misses.length < 20) sampled.misses.push(`+${((Date.now() - started) / 1000).toFixed(1)}s round ${currentRound}: ${miss}`);
        } catch {
          sampled.errors++; // a replica between two TLS contexts or a slow GET: not a verdict
        }
        await sleep(100);
      }
    })();
    const load = startApplyLoad({
      server: plane.server,
      caCert: plane.certs.caCert,
      clientCert: plane.certs.adminCert,
      clientKey: plane.certs.adminKey,
      namespace: userNamespace,
      prefix: 'load',
      ratePerSecond: 3,
      maxDurationMs: 80_000,
    });
    const rounds: { round: number; offsetMs: number; settleMs: number; rotatedTwice: boolean; missesAfter: string[]; applied: boolean }[] = [];
    try {
      for (let round = 1; round <= ROUNDS; round++) {
        currentRound = round;
        const before = await secretLeafFingerprint();
        // Any change to the Secret (here an annotation, as a Helm upgrade or a policy controller
        // would make) has every replica re-read it and check the bundle; then both are told to
        // rotate the CA, alternating which is told first, 0-50 ms apart.
        const signalledAt = Date.now();
        await getJson(`/api/v1/namespaces/${NAMESPACE}/secrets/${SECRET}`, { metadata: { annotations: { 'e2e.kaos.tools/round': String(round) } } });
        const offsetMs = OFFSETS_MS[(round - 1) % OFFSETS_MS.length]! + Math.floor(Math.random() * 50);
        await sleep(offsetMs);
        const [first, second] = round % 2 === 0 ? [replicas[1]!, replicas[0]!] : [replicas[0]!, replicas[1]!];
        first.app.signal('SIGHUP');
        await sleep(Math.floor(Math.random() * 50));
        second.app.signal('SIGHUP');
        // Settled: both serve the Secret's certificate and the Secret stayed put for a moment.
        let seen = new Set<string>([before]);
        await eventually(
          `round ${round}: both replicas serving the Secret's certificate`,
          async () => {
            const current = await secretLeafFingerprint();
            seen.add(current);
            if (current === before) return undefined;
            const served = await Promise.all(replicas.map(servedCertificate));
            if (!served.every((certificate) => certificate.fingerprint256 === current)) return undefined;
            await sleep(100);
            return (await secretLeafFingerprint()) === current ? true : undefined;
          },
          20_000,
        );
        const settleMs = Date.now() - signalledAt;
        const missesAfter = await misses();
        const applied = await kubectlWithManifest(plane, ['apply'], {
          apiVersion: 'kaos.tools/v1alpha1',
          kind: 'Agent',
          metadata: { name: `round-${round}`, namespace: userNamespace },
          spec: { modelAPI: 'm', config: { description: `round ${round}` } },
        });
        rounds.push({ round, offsetMs, settleMs, rotatedTwice: seen.size > 2, missesAfter, applied: applied.code === 0 });
        seen = new Set();
      }
    } finally {
      sampling = false;
      await sampler;
    }
    const result = await load.stop();
    process.stderr.write(
      `[ca-bundle e2e] ${ROUNDS} rounds (settle ms: ${rounds.map((r) => r.settleMs).join(', ')}; rounds with two rotations: ${rounds.filter((r) => r.rotatedTwice).length}); ` +
        `${sampled.samples} samples (${sampled.errors} unreadable), samples with a bundle miss: ${sampled.missing} (rounds ${[...sampled.roundsWithMisses].join(', ') || 'none'}), misses after rounds: ${rounds.reduce((n, r) => n + r.missesAfter.length, 0)}; ` +
        `applies ${result.attempted - result.failed}/${result.attempted} admitted; proxied connections ${JSON.stringify(Object.fromEntries(proxied))}\n`,
    );
    expect(rounds.flatMap((r) => r.missesAfter.map((miss) => `round ${r.round}: ${miss}`))).toEqual([]);
    expect(sampled.misses).toEqual([]);
    expect(rounds.filter((r) => !r.applied).map((r) => r.round)).toEqual([]);
    expect(result.failures).toEqual([]);
    expect(result.attempted).toBeGreaterThan(30);
    expect(sampled.samples).toBeGreaterThan(ROUNDS * 3);
    // Both replicas answered the API server, so both certificates were verified by it.
    for (const replica of replicas) expect(proxied.get(replica.name) ?? 0).toBeGreaterThan(0);
  });
});
