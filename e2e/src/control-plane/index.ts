/**
 * A real local Kubernetes control plane (etcd + kube-apiserver + kube-controller-manager) run
 * as plain local processes from binaries built by e2e/scripts/build-tools.sh. No containers.
 *
 *   const cp = await startControlPlane({ gatewayApiBundle: gatewayApiBundlePath() });
 *   await cp.kubectl(['get', 'ns']);
 *   await cp.stop();
 */
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { generateCerts, generateNodeClientCerts, type ControlPlaneCerts } from './certs.js';
import { get, type TlsClientFiles } from './http.js';
import { resolveBinDir } from './paths.js';
import { freePort, isAlive, startComponent, tail, terminate, type Component } from './proc.js';

export { cacheRoot, gatewayApiBundlePath, runDir, buildToolsScript, repoRoot } from './paths.js';

export type ComponentName = 'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler';

export interface StartControlPlaneOptions {
  /** Directory with etcd, kube-apiserver, kube-controller-manager, kubectl. Default: $KAOS_E2E_BIN_DIR or build-tools.sh. */
  binDir?: string;
  /** CRD files or directories to `kubectl apply` once the plane is up. */
  crdPaths?: string[];
  /** A Gateway API CRD bundle (see gatewayApiBundlePath()) to apply. */
  gatewayApiBundle?: string;
  /** Work dir (certs, etcd data, logs, kubeconfig). Default: a fresh temp dir, removed by stop(). */
  workDir?: string;
  /** Remove workDir on stop(). Default: true for the temp dir, false for a given workDir. */
  removeWorkDir?: boolean;
  /** Start children in their own session so they outlive this process (used by `cli.ts up`). Default false. */
  detached?: boolean;
  /** Timeout for etcd, /readyz and the controller manager to come up. Default 90 s. */
  readyTimeoutMs?: number;
  log?: (msg: string) => void;
  /**
   * Serve a real node (e2e/src/node): the API server binds and advertises this address (a bridge
   * that must already exist, so pods reach it through the `kubernetes` Service), can call kubelets
   * with a client certificate, and a kube-scheduler runs. Default: loopback only, no scheduler.
   */
  nodeNetwork?: { address: string; nodeName: string };
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ComponentInfo {
  name: ComponentName;
  pid: number;
  bin: string;
  logFile: string;
}

export interface ControlPlane {
  kubeconfigPath: string;
  /** https://127.0.0.1:<port> */
  server: string;
  binDir: string;
  workDir: string;
  pids: Record<ComponentName, number>;
  components: ComponentInfo[];
  /** CA that signs the API server's serving cert and the client certs. */
  caCertPath: string;
  certs: ControlPlaneCerts;
  etcdUrl: string;
  /** Run the real kubectl against this plane. Never throws for a non-zero exit; times out (code 124). */
  kubectl(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<KubectlResult>;
  /** Throws (with the log tail) if any component has exited, except one stopped on purpose by stopComponent. */
  assertHealthy(): void;
  /**
   * Stops one component on purpose, so it is not reported as a crash: `SIGTERM` (default) lets it
   * shut down gracefully (SIGKILL after a grace period), `SIGKILL` simulates a crash. Waits for exit.
   */
  stopComponent(name: ComponentName, opts?: { signal?: 'SIGTERM' | 'SIGKILL' }): Promise<void>;
  /** Starts a stopped component again with its original command line (same ports, data, certs) and waits until it is ready. */
  startComponent(name: ComponentName): Promise<void>;
  /** stopComponent then startComponent; `pids` and `components` show the new process afterwards. */
  restartComponent(name: ComponentName, opts?: { signal?: 'SIGTERM' | 'SIGKILL' }): Promise<void>;
  /** SIGTERM, then SIGKILL after a grace period; waits for exit; removes the temp workDir. Idempotent. */
  stop(): Promise<void>;
}

/** Thrown when a component exits during startup; carries the log tail. */
export class ComponentExitedError extends Error {
  readonly component: string;
  readonly logTail: string;
  constructor(comp: Component, context: string) {
    const logTail = tail(comp.logFile, 40);
    const how = comp.exit?.signal ? `signal ${comp.exit.signal}` : `code ${comp.exit?.code}`;
    super(`${comp.name} (pid ${comp.pid}) exited with ${how} ${context}; last lines of ${comp.logFile}:\n${logTail}`);
    this.name = 'ComponentExitedError';
    this.component = comp.name;
    this.logTail = logTail;
  }
}

const noop = (): void => {};

export async function startControlPlane(opts: StartControlPlaneOptions = {}): Promise<ControlPlane> {
  const log = opts.log ?? noop;
  const binDir = await resolveBinDir(opts.binDir, log);
  // Free ports are picked by binding port 0 and closing; another process can grab one in
  // between. Such a clash shows as "address already in use": retry with new ports.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(binDir, opts, log);
    } catch (err) {
      const clash = err instanceof ComponentExitedError && /address already in use/i.test(err.logTail);
      if (!clash || attempt >= 3) throw err;
      log(`port clash starting ${err.component}, retrying with new ports (attempt ${attempt + 1})`);
    }
  }
}

/** A kubeconfig for one client certificate of this plane. */
export function kubeconfigYaml(server: string, certs: ControlPlaneCerts, user: string, cert: Buffer, key: Buffer, ca: Buffer): string {
  const b64 = (b: Buffer): string => b.toString('base64');
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: kaos-e2e',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${b64(ca)}`,
    'users:',
    `- name: ${user}`,
    '  user:',
    `    client-certificate-data: ${b64(cert)}`,
    `    client-key-data: ${b64(key)}`,
    'contexts:',
    '- name: kaos-e2e',
    '  context:',
    '    cluster: kaos-e2e',
    `    user: ${user}`,
    'current-context: kaos-e2e',
    `# certs: ${certs.dir}`,
    '',
  ].join('\n');
}

async function startOnce(binDir: string, opts: StartControlPlaneOptions, log: (msg: string) => void): Promise<ControlPlane> {
  const createdTemp = opts.workDir === undefined;
  const workDir = opts.workDir ?? (await mkdtemp(join(tmpdir(), 'kaos-e2e-cp-')));
  const removeWorkDir = opts.removeWorkDir ?? createdTemp;
  const detached = opts.detached ?? false;
  const readyTimeoutMs = opts.readyTimeoutMs ?? 90_000;
  const bin = (name: string): string => join(binDir, name);

  await mkdir(workDir, { recursive: true });
  const etcdData = join(workDir, 'etcd-data');
  await rm(etcdData, { recursive: true, force: true });
  const certsDir = join(workDir, 'certs');
  await rm(certsDir, { recursive: true, force: true });
  await mkdir(certsDir, { recursive: true, mode: 0o700 });

  const components: Component[] = [];
  // Components stopped on purpose (stopComponent): their exit is not a crash.
  const intentional = new WeakSet<Component>();
  // Each component's command line, to start it again exactly as it was.
  const specs = new Map<ComponentName, { bin: string; args: string[]; logFile: string }>();
  const launch = (name: ComponentName, args: string[]): Component => {
    const spec = { bin: bin(name), args, logFile: join(workDir, `${name}.log`) };
    specs.set(name, spec);
    const c = startComponent(name, spec.bin, spec.args, spec.logFile, detached);
    components.push(c);
    return c;
  };
  let stopped = false;
  let exitHook: (() => void) | undefined;

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (exitHook) process.off('exit', exitHook);
    // Controller manager and API server first, etcd last.
    const order: ComponentName[] = ['kube-scheduler', 'kube-controller-manager', 'kube-apiserver', 'etcd'];
    for (const name of order) {
      const c = components.find((x) => x.name === name);
      if (!c) continue;
      if (c.exit === undefined) await terminate(c.pid, c.bin);
      await Promise.race([c.exited, sleep(2_000, undefined, { ref: false })]);
    }
    if (removeWorkDir) await rm(workDir, { recursive: true, force: true });
  };

  if (!detached) {
    // If this process exits without stop() (crashed test runner), do not leak the children.
    exitHook = (): void => {
      for (const c of components) {
        if (c.exit === undefined) {
          try {
            process.kill(c.pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        }
      }
      if (removeWorkDir) rmSync(workDir, { recursive: true, force: true });
    };
    process.on('exit', exitHook);
  }

  const assertHealthy = (context = 'unexpectedly'): void => {
    for (const c of components) if (c.exit !== undefined && !intentional.has(c)) throw new ComponentExitedError(c, context);
  };

  const waitFor = async (what: string, probe: () => Promise<boolean>): Promise<void> => {
    const deadline = Date.now() + readyTimeoutMs;
    for (;;) {
      assertHealthy(`while waiting for ${what}`);
      if (await probe()) return;
      if (Date.now() > deadline) {
        const tails = components.map((c) => `--- ${c.name} (${c.logFile}):\n${tail(c.logFile, 20)}`).join('\n');
        throw new Error(`timed out after ${readyTimeoutMs}ms waiting for ${what}\n${tails}`);
      }
      await sleep(250);
    }
  };

  try {
    const t0 = Date.now();
    const node = opts.nodeNetwork;
    const apiAddress = node?.address ?? '127.0.0.1';
    const certs = await generateCerts(certsDir, node ? [`IP:${node.address}`] : []);
    const nodeCerts = node ? await generateNodeClientCerts(certs, node.nodeName) : undefined;
    const [etcdClientPort, etcdPeerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
    const peerUrl = `http://127.0.0.1:${etcdPeerPort}`;
    const server = `https://${apiAddress}:${apiPort}`;

    // --- etcd
    launch('etcd', [
        '--name=kaos-e2e',
        `--data-dir=${etcdData}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=kaos-e2e=${peerUrl}`,
        '--initial-cluster-state=new',
        '--unsafe-no-fsync',
        '--log-level=warn',
    ]);
    log(`etcd pid ${components[0]?.pid} on ${etcdUrl}`);
    const etcdReady = async (): Promise<boolean> => (await get(`${etcdUrl}/health`, undefined, 2_000)).body.includes('"health":"true"');
    await waitFor('etcd /health', etcdReady);

    // --- kube-apiserver
    launch('kube-apiserver', [
        `--etcd-servers=${etcdUrl}`,
        `--secure-port=${apiPort}`,
        `--bind-address=${apiAddress}`,
        `--advertise-address=${apiAddress}`,
        `--tls-cert-file=${certs.servingCert}`,
        `--tls-private-key-file=${certs.servingKey}`,
        `--cert-dir=${certsDir}`,
        `--client-ca-file=${certs.caCert}`,
        '--authorization-mode=Node,RBAC',
        '--enable-admission-plugins=NamespaceLifecycle,LimitRanger,ServiceAccount,NodeRestriction,DefaultTolerationSeconds,' +
          'MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ValidatingAdmissionPolicy,ResourceQuota',
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        `--service-account-key-file=${certs.serviceAccountPub}`,
        `--service-account-signing-key-file=${certs.serviceAccountKey}`,
        '--service-cluster-ip-range=10.0.0.0/24',
        ...(nodeCerts
          ? [
              `--kubelet-client-certificate=${nodeCerts.apiserverKubeletClient.cert}`,
              `--kubelet-client-key=${nodeCerts.apiserverKubeletClient.key}`,
              // No DNS here: reach the kubelet (logs, exec, port-forward) by its node IP, not its name.
              '--kubelet-preferred-address-types=InternalIP,Hostname',
            ]
          : // No Endpoints for the "kubernetes" Service: the API server rejects its own loopback address there.
            ['--endpoint-reconciler-type=none']),
        '--allow-privileged=true',
        '--profiling=false',
    ]);
    log(`kube-apiserver pid ${components[1]?.pid} on ${server}`);

    const [caPem, adminCert, adminKey, kcmCert, kcmKey] = await Promise.all(
      [certs.caCert, certs.adminCert, certs.adminKey, certs.controllerManagerCert, certs.controllerManagerKey].map((f) => readFile(f)),
    ) as [Buffer, Buffer, Buffer, Buffer, Buffer];
    const kubeconfigPath = join(workDir, 'kubeconfig');
    await writeFile(kubeconfigPath, kubeconfigYaml(server, certs, 'kaos-e2e-admin', adminCert, adminKey, caPem), { mode: 0o600 });
    await chmod(kubeconfigPath, 0o600);
    const kcmKubeconfig = join(workDir, 'kube-controller-manager.kubeconfig');
    await writeFile(kcmKubeconfig, kubeconfigYaml(server, certs, 'system:kube-controller-manager', kcmCert, kcmKey, caPem), { mode: 0o600 });

    const admin: TlsClientFiles = { caCert: certs.caCert, clientCert: certs.adminCert, clientKey: certs.adminKey };
    const apiServerReady = async (): Promise<boolean> => (await get(`${server}/readyz`, admin, 3_000)).status === 200;
    await waitFor('kube-apiserver /readyz', apiServerReady);
    log(`kube-apiserver ready after ${Date.now() - t0}ms`);

    // --- kube-controller-manager
    launch('kube-controller-manager', [
        `--kubeconfig=${kcmKubeconfig}`,
        `--authentication-kubeconfig=${kcmKubeconfig}`,
        `--authorization-kubeconfig=${kcmKubeconfig}`,
        '--controllers=*',
        `--service-account-private-key-file=${certs.serviceAccountKey}`,
        `--root-ca-file=${certs.caCert}`,
        `--cluster-signing-cert-file=${certs.caCert}`,
        `--cluster-signing-key-file=${certs.caKey}`,
        '--use-service-account-credentials=true',
        '--leader-elect=false',
        '--secure-port=0',
        '--cluster-name=kaos-e2e',
    ]);
    log(`kube-controller-manager pid ${components[2]?.pid}`);
    // The serviceaccount controller creating "default" in "default" proves the controller manager runs.
    await waitFor('kube-controller-manager (default ServiceAccount)', async () =>
      (await get(`${server}/api/v1/namespaces/default/serviceaccounts/default`, admin, 3_000)).status === 200,
    );
    // What "ready again" means after a restart. The controller manager has no health port here
    // (--secure-port=0): it counts as ready once it has stayed up for a second.
    const upForASecond = async (): Promise<boolean> => {
      await sleep(1_000);
      return true;
    };
    const readiness: Record<ComponentName, () => Promise<boolean>> = {
      etcd: etcdReady,
      'kube-apiserver': apiServerReady,
      'kube-controller-manager': upForASecond,
      'kube-scheduler': upForASecond,
    };
    if (nodeCerts) {
      const [schedulerCert, schedulerKey] = await Promise.all([readFile(nodeCerts.kubeScheduler.cert), readFile(nodeCerts.kubeScheduler.key)]);
      const schedulerKubeconfig = join(workDir, 'kube-scheduler.kubeconfig');
      await writeFile(schedulerKubeconfig, kubeconfigYaml(server, certs, 'system:kube-scheduler', schedulerCert, schedulerKey, caPem), { mode: 0o600 });
      launch('kube-scheduler', [
        `--kubeconfig=${schedulerKubeconfig}`,
        `--authentication-kubeconfig=${schedulerKubeconfig}`,
        `--authorization-kubeconfig=${schedulerKubeconfig}`,
        '--leader-elect=false',
        '--bind-address=127.0.0.1',
        `--secure-port=${await freePort()}`,
      ]);
      log(`kube-scheduler pid ${components[3]?.pid}`);
    }
    log(`control plane ready after ${Date.now() - t0}ms`);

    const kubectl = (args: string[], kopts: { input?: string; timeoutMs?: number } = {}): Promise<KubectlResult> =>
      runKubectl(bin('kubectl'), kubeconfigPath, args, kopts).then((r) => {
        if (r.code !== 0) {
          const dead = components.filter((c) => c.exit !== undefined && !stopped && !intentional.has(c));
          for (const c of dead) r.stderr += `\n[control-plane] ${new ComponentExitedError(c, 'during the test').message}`;
        }
        return r;
      });

    // Report a crash as soon as it happens (with the log tail), not only at the next kubectl call.
    const reportCrash = (c: Component): void => {
      void c.exited.then(() => {
        if (!stopped && !intentional.has(c)) log(new ComponentExitedError(c, 'unexpectedly').message);
      });
    };
    components.forEach(reportCrash);
    const current = (name: ComponentName): Component | undefined => components.findLast((c) => c.name === name);

    const stopComponent = async (name: ComponentName, sopts: { signal?: 'SIGTERM' | 'SIGKILL' } = {}): Promise<void> => {
      if (stopped) throw new Error(`control plane stopped; cannot stop ${name}`);
      const c = current(name);
      if (!c) throw new Error(`no component ${name}`);
      if (c.exit !== undefined && !intentional.has(c)) throw new ComponentExitedError(c, `before stopComponent(${name})`);
      intentional.add(c);
      if (c.exit !== undefined) return;
      if (sopts.signal === 'SIGKILL') {
        try {
          process.kill(c.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      } else {
        await terminate(c.pid, c.bin);
      }
      await Promise.race([c.exited, sleep(10_000, undefined, { ref: false })]);
      if (c.exit === undefined) throw new Error(`${name} (pid ${c.pid}) did not exit`);
      log(`${name} (pid ${c.pid}) stopped with ${sopts.signal ?? 'SIGTERM'}`);
    };
    const startAgain = async (name: ComponentName): Promise<void> => {
      if (stopped) throw new Error(`control plane stopped; cannot start ${name}`);
      const before = current(name);
      const spec = specs.get(name);
      if (!before || !spec) throw new Error(`no component ${name}`);
      if (before.exit === undefined) throw new Error(`${name} (pid ${before.pid}) is still running; stop it first`);
      if (!intentional.has(before)) throw new ComponentExitedError(before, `before startComponent(${name})`);
      // Replace it in place: the stop order and the exit hook then see the new process.
      const c = startComponent(name, spec.bin, spec.args, spec.logFile, detached);
      components.splice(components.indexOf(before), 1, c);
      reportCrash(c);
      log(`${name} restarted, pid ${c.pid}`);
      await waitFor(`${name} ready again`, readiness[name]);
    };

    const cp: ControlPlane = {
      kubeconfigPath, server, binDir, workDir, etcdUrl, certs, caCertPath: certs.caCert,
      get pids() {
        return Object.fromEntries(components.map((c) => [c.name, c.pid])) as Record<ComponentName, number>;
      },
      get components() {
        return components.map((c) => ({ name: c.name as ComponentName, pid: c.pid, bin: c.bin, logFile: c.logFile }));
      },
      kubectl,
      assertHealthy: () => assertHealthy('unexpectedly'),
      stopComponent,
      startComponent: startAgain,
      async restartComponent(name, ropts) {
        await stopComponent(name, ropts);
        await startAgain(name);
      },
      stop,
    };

    const applyPaths = [...(opts.crdPaths ?? []), ...(opts.gatewayApiBundle ? [opts.gatewayApiBundle] : [])];
    if (applyPaths.length > 0) {
      for (const p of applyPaths) {
        if (!existsSync(p)) throw new Error(`CRD path does not exist: ${p}`);
        const r = await kubectl(['apply', '--server-side', '--force-conflicts', '-f', p], { timeoutMs: 120_000 });
        if (r.code !== 0) throw new Error(`kubectl apply -f ${p} failed (${r.code}):\n${r.stderr}`);
        log(`applied ${p}`);
      }
      const r = await kubectl(['wait', '--for', 'condition=established', '--timeout=60s', 'crd', '--all'], { timeoutMs: 90_000 });
      if (r.code !== 0) throw new Error(`CRDs not established:\n${r.stdout}\n${r.stderr}`);
      log('CRDs established');
    }
    return cp;
  } catch (err) {
    await stop().catch(noop); // a caller-owned workDir keeps the logs for post-mortem
    throw err;
  }
}

/** Run `kubectl` with an explicit kubeconfig; never rejects (spawn errors give code 127, timeouts 124). */
export function runKubectl(
  kubectlBin: string,
  kubeconfigPath: string,
  args: string[],
  opts: { input?: string; timeoutMs?: number } = {},
): Promise<KubectlResult> {
  return new Promise((resolve) => {
    const child = spawn(kubectlBin, [`--kubeconfig=${kubeconfigPath}`, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, KUBECONFIG: kubeconfigPath },
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 60_000);
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: 127, stdout, stderr: stderr + e.message });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (timedOut) resolve({ code: 124, stdout, stderr: `${stderr}\nkubectl ${args.join(' ')} timed out` });
      else resolve({ code: code ?? 1, stdout, stderr });
    });
    child.stdin.on('error', noop);
    child.stdin.end(opts.input ?? '');
  });
}

/** GET /readyz with the admin client cert of a plane's certs dir. */
export async function probeReady(server: string, certsDir: string): Promise<boolean> {
  const tls: TlsClientFiles = {
    caCert: join(certsDir, 'ca.crt'),
    clientCert: join(certsDir, 'admin.crt'),
    clientKey: join(certsDir, 'admin.key'),
  };
  try {
    return (await get(`${server}/readyz`, tls, 3_000)).status === 200;
  } catch {
    return false;
  }
}

export { isAlive, terminate };
