// Leader election with skewed clocks (issue 13, ADR 0015): two controller replicas as host
// processes on a real kube-apiserver, one of them under libfaketime with its clock 60 s ahead or
// behind. client-go's semantics make skew irrelevant: a follower measures the Lease's age from when
// it saw the record change, on its own monotonic clock. The test samples both replicas' /readyz
// `leader` field and asserts that they are never both leader, that killing the leader (SIGKILL: no
// release) hands over within about a lease duration, and that the restarted replica follows.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startControlPlane, type ControlPlane } from './control-plane/index.js';
import { freePort } from './control-plane/proc.js';
import { startApp, type AppProcess } from './support/app-process.js';
import { KAOS_CRD_DIR, createNamespace, eventually, getJson, kubectlOk } from './support/cluster.js';

/** libfaketime from the Debian package `faketime` (scripts/install-node-packages.sh installs it). */
const LIBFAKETIME = ['/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1', '/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1'].find((path) => existsSync(path));

// Short periods keep the test bounded; 60 s of skew is far beyond the lease duration either way.
const LEASE_SECONDS = 8;
const RENEW_SECONDS = 5;
const RETRY_SECONDS = 1;
const SAMPLE_MS = 200;

let plane: ControlPlane;
let namespace: string;
const running: AppProcess[] = [];

beforeAll(async () => {
  if (!LIBFAKETIME) throw new Error('libfaketime is missing: run sudo bash scripts/install-node-packages.sh (or apt-get install -y faketime)');
  plane = await startControlPlane({ crdPaths: [KAOS_CRD_DIR] });
  namespace = await createNamespace(plane, 'leader');
});
afterAll(async () => {
  await Promise.all(running.map((app) => app.stop()));
  await plane?.stop();
});

interface Replica {
  name: string;
  app: AppProcess;
  healthPort: number;
}

/** Starts a controller replica on `lease`, with its clock offset by `skew` (libfaketime, e.g. '+60s') if given. */
async function startReplica(name: string, lease: string, skew?: string): Promise<Replica> {
  const healthPort = await freePort();
  const app = startApp(
    'controller',
    {
      KUBECONFIG: plane.kubeconfigPath,
      GATEWAY_API_ENABLED: 'false',
      HEALTH_PORT: String(healthPort),
      BIND_ADDRESS: '127.0.0.1',
      LEADER_ELECTION: 'true',
      LEADER_ELECTION_NAMESPACE: namespace,
      LEADER_ELECTION_LEASE_NAME: lease,
      POD_NAME: name,
      LEASE_DURATION_SECONDS: String(LEASE_SECONDS),
      RENEW_DEADLINE_SECONDS: String(RENEW_SECONDS),
      RETRY_PERIOD_SECONDS: String(RETRY_SECONDS),
      ...(skew ? { LD_PRELOAD: LIBFAKETIME!, FAKETIME: skew, FAKETIME_NO_CACHE: '1' } : {}),
    },
    join(plane.workDir, `${lease}-${name}-${healthPort}.log`),
    healthPort,
  );
  running.push(app);
  await app.waitReady();
  return { name, app, healthPort };
}

/** The replica's `leader` field of /readyz; false when it does not answer (killed, exiting). */
async function isLeader(replica: Replica): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${replica.healthPort}/readyz`, { signal: AbortSignal.timeout(1_000) });
    return ((await response.json()) as { leader?: boolean }).leader === true;
  } catch {
    return false;
  }
}

/** Samples both replicas every SAMPLE_MS for `ms`; counts samples with two leaders and who led. */
async function sample(replicas: Replica[], ms: number): Promise<{ samples: number; both: number; leaders: Map<string, number> }> {
  const leaders = new Map<string, number>();
  let samples = 0;
  let both = 0;
  for (const end = Date.now() + ms; Date.now() < end; await sleep(SAMPLE_MS)) {
    const states = await Promise.all(replicas.map(isLeader));
    samples++;
    if (states.filter(Boolean).length > 1) both++;
    replicas.forEach((replica, index) => states[index] && leaders.set(replica.name, (leaders.get(replica.name) ?? 0) + 1));
  }
  return { samples, both, leaders };
}

interface LeaseObject {
  spec: { holderIdentity?: string; renewTime?: string; leaseTransitions?: number; leaseDurationSeconds?: number };
}
const readLease = (lease: string) => getJson<LeaseObject>(plane, ['get', 'lease', lease, '-n', namespace]);

describe('leader election with a replica whose clock is 60 s off', () => {
  it('libfaketime offsets Date.now() inside a Node process', () => {
    const result = execFileSync(process.execPath, ['-e', 'process.stdout.write(String(Date.now()))'], { env: { PATH: process.env.PATH, LD_PRELOAD: LIBFAKETIME!, FAKETIME: '+60s' }, encoding: 'utf8' });
    expect(Number(result) - Date.now()).toBeGreaterThan(55_000);
    expect(Number(result) - Date.now()).toBeLessThan(65_000);
  });

  it.each([
    ['+60s', 60],
    ['-60s', -60],
  ])('follower at %s: never two leaders, a SIGKILLed leader is replaced within about a lease duration, the restarted one follows', async (skew, skewSeconds) => {
    const lease = `skew-${skewSeconds > 0 ? 'ahead' : 'behind'}`;
    // As the chart creates it: an empty Lease, free for the first replica.
    await kubectlOk(plane, ['apply'], { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: lease, namespace }, spec: {} });

    const first = await startReplica('normal', lease);
    await eventually('the normal replica leads', async () => ((await isLeader(first)) ? true : undefined), 30_000);
    const skewed = await startReplica('skewed', lease, skew);

    // Phase 1: the skewed replica follows. (With renewTime compared to its own clock, +60 s would
    // take the Lease at once while the leader still writes.)
    const followed = await sample([first, skewed], 20_000);
    expect(followed.both).toBe(0);
    expect(followed.leaders.get('normal')).toBe(followed.samples);
    const held = (await readLease(lease))!.spec;
    expect(held.holderIdentity).toMatch(/^normal_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);

    // Phase 2: kill the leader without a release; the skewed replica takes over once the record has
    // been unchanged for a lease duration on its own clock. (With renewTime compared to its clock,
    // -60 s would wait a minute longer.)
    first.app.signal('SIGKILL');
    const killedAt = Date.now();
    await first.app.stop();
    let handoverMs: number | undefined;
    const during = { samples: 0, both: 0 };
    while (handoverMs === undefined && Date.now() - killedAt < 60_000) {
      const states = await Promise.all([isLeader(first), isLeader(skewed)]);
      during.samples++;
      if (states[0] && states[1]) during.both++;
      if (states[1]) handoverMs = Date.now() - killedAt;
      else await sleep(SAMPLE_MS);
    }
    expect(handoverMs).toBeDefined();
    // Not before the lease duration (minus the last renewal's age), and within it plus the retries.
    expect(handoverMs!).toBeGreaterThanOrEqual((LEASE_SECONDS - RETRY_SECONDS - 1) * 1000);
    expect(handoverMs!).toBeLessThanOrEqual((LEASE_SECONDS + 2 * 2.2 * RETRY_SECONDS + 2) * 1000);
    expect(during.both).toBe(0);
    // The skewed replica's renewTime carries its own (offset) clock: libfaketime is active in it.
    const taken = (await readLease(lease))!.spec;
    expect(taken.holderIdentity).toMatch(/^skewed_/);
    expect(Math.abs(Date.parse(taken.renewTime!) - Date.now() - skewSeconds * 1000)).toBeLessThan(10_000);

    // Phase 3: the first replica restarts as a follower next to a leader whose renewTime is 60 s off
    // from its clock. (With renewTime compared to its clock, behind-by-60 renewals look expired.)
    const restarted = await startReplica('normal', lease);
    const after = await sample([restarted, skewed], 20_000);
    expect(after.both).toBe(0);
    expect(after.leaders.get('skewed')).toBe(after.samples);
    expect(after.leaders.get('normal')).toBeUndefined();

    process.stdout.write(
      `leader election, follower at ${skew}: ${followed.samples + during.samples + after.samples} samples, ${followed.both + during.both + after.both} with two leaders; handover after SIGKILL ${handoverMs} ms (lease ${LEASE_SECONDS} s, retry ${RETRY_SECONDS} s); transitions ${taken.leaseTransitions}\n`,
    );
    await Promise.all([restarted.app.stop(), skewed.app.stop()]);
  }, 180_000);
});
