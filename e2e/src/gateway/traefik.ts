/**
 * Traefik v3 as the e2e Gateway API implementation: one binary (control plane and data plane)
 * run as a plain process outside the cluster, reading the cluster through a kubeconfig
 * (KUBECONFIG), built by e2e/scripts/build-traefik.sh.
 *
 *   const gw = await startTraefik({ kubeconfigPath: plane.kubeconfigPath, port, logFile });
 *   await fetch(`${gw.url}/ns/agent/x/health`);
 *   await gw.stop();
 *
 * Traefik maps a Gateway listener to the entryPoint whose address ends in `:<listener port>`
 * (any entryPoint name), so the Gateway's listener port must equal `port`.
 */
import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { repoRoot } from '../control-plane/index.js';
import { freePort, isAlive, tail, terminate } from '../control-plane/proc.js';

/** The controllerName a GatewayClass needs for Traefik to take its Gateways. */
export const TRAEFIK_CONTROLLER_NAME = 'traefik.io/gateway-controller';

/** Name of the entryPoint that serves Gateway listeners (Traefik matches listeners by port, not by name). */
export const TRAEFIK_ENTRYPOINT = 'web';

/** The script that builds Traefik into the e2e cache. */
export const buildTraefikScript: string = join(repoRoot, 'e2e/scripts/build-traefik.sh');

function runBuildScript(args: string[], log: (msg: string) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('bash', [buildTraefikScript, ...args], { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`build-traefik.sh ${args.join(' ')} failed: ${err.message}\n${stderr.split('\n').slice(-40).join('\n')}`));
        return;
      }
      resolve(stdout.trim().split('\n').pop()?.trim() ?? '');
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) if (line.trim()) log(line);
    });
  });
}

/**
 * Path of the Traefik binary: $KAOS_E2E_TRAEFIK, else the cached build, built now if missing
 * (minutes the first time) unless `build` is false, which throws instead (tests bounded in time).
 */
export async function resolveTraefikBinary(opts: { build?: boolean; log?: (msg: string) => void } = {}): Promise<string> {
  const log = opts.log ?? (() => undefined);
  const explicit = process.env['KAOS_E2E_TRAEFIK'];
  if (explicit) {
    if (!existsSync(explicit)) throw new Error(`KAOS_E2E_TRAEFIK=${explicit} does not exist`);
    return explicit;
  }
  const path = await runBuildScript(['--print-path'], log);
  if (existsSync(path)) return path;
  if (opts.build === false) throw new Error(`traefik is not built (${path}); run: bash e2e/scripts/build-traefik.sh (nx run e2e:test does it first)`);
  log(`traefik missing at ${path}; building it (first run is slow)`);
  return runBuildScript([], log);
}

export interface StartTraefikOptions {
  /** Kubeconfig of the cluster whose Gateway API objects Traefik serves. */
  kubeconfigPath: string;
  /** Port of the Gateway entryPoint; must equal the Gateway listener's port. */
  port: number;
  /** Address the entryPoint binds to. Default 127.0.0.1. */
  host?: string;
  /** stdout+stderr (Traefik log and access log) go here. */
  logFile: string;
  /** Port for ping and the API (/api/rawdata). Default: a free loopback port. */
  adminPort?: number;
  /** What Traefik writes to Gateway.status.addresses. Default: `host`. */
  statusAddress?: string;
  /**
   * Also serve experimental-channel kinds (TCPRoute, TLSRoute, BackendTLSPolicy); their CRDs must
   * be installed then. HTTPRoute, rules[].timeouts included, needs none of it. Default false.
   */
  experimentalChannel?: boolean;
  /** Traefik log level. Default INFO. */
  logLevel?: 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /** Binary; default resolveTraefikBinary(). */
  bin?: string;
  /** Start in its own session so it outlives this process (for `npm run up`). Default false. */
  detached?: boolean;
  /** How long to wait for /ping. Default 30 s. */
  readyTimeoutMs?: number;
  extraArgs?: string[];
}

/** A running Traefik. */
export interface Traefik {
  pid: number;
  bin: string;
  port: number;
  adminPort: number;
  /** http://{host}:{port}, the Gateway's address. */
  url: string;
  logFile: string;
  /** Throws with the log tail if Traefik has exited. */
  assertRunning(): void;
  /** Traefik's current dynamic configuration (routers, services, middlewares) from /api/rawdata. */
  rawData(): Promise<TraefikRawData>;
  /** SIGTERM (SIGKILL after a grace period), by PID; safe to call twice. */
  stop(): Promise<void>;
}

/** The parts of /api/rawdata the tests read. */
export interface TraefikRawData {
  routers?: Record<string, { rule?: string; service?: string; status?: string; middlewares?: string[]; entryPoints?: string[] }>;
  services?: Record<string, { status?: string; serverStatus?: Record<string, string> }>;
  middlewares?: Record<string, unknown>;
}

/** The command line for Traefik serving the Gateway API on one entryPoint. */
export function traefikArgs(opts: Required<Pick<StartTraefikOptions, 'port' | 'host' | 'adminPort' | 'statusAddress' | 'experimentalChannel' | 'logLevel'>>): string[] {
  return [
    // No calls home from a test run.
    '--global.checkNewVersion=false',
    '--global.sendAnonymousUsage=false',
    `--entryPoints.${TRAEFIK_ENTRYPOINT}.address=${opts.host}:${opts.port}`,
    `--entryPoints.traefik.address=127.0.0.1:${opts.adminPort}`,
    '--ping=true',
    '--ping.entryPoint=traefik',
    '--api=true',
    '--api.insecure=true',
    '--api.dashboard=false',
    '--providers.kubernetesGateway=true',
    `--providers.kubernetesGateway.statusAddress.ip=${opts.statusAddress}`,
    `--providers.kubernetesGateway.experimentalChannel=${String(opts.experimentalChannel)}`,
    `--log.level=${opts.logLevel}`,
    '--log.noColor=true',
    '--accessLog=true',
  ];
}

/** Starts Traefik against the cluster in `kubeconfigPath` and waits until it answers /ping. */
export async function startTraefik(opts: StartTraefikOptions): Promise<Traefik> {
  const bin = opts.bin ?? (await resolveTraefikBinary());
  const host = opts.host ?? '127.0.0.1';
  const adminPort = opts.adminPort ?? (await freePort());
  const args = [
    ...traefikArgs({
      port: opts.port,
      host,
      adminPort,
      statusAddress: opts.statusAddress ?? host,
      experimentalChannel: opts.experimentalChannel ?? false,
      logLevel: opts.logLevel ?? 'INFO',
    }),
    ...(opts.extraArgs ?? []),
  ];
  // Traefik reads the kubeconfig from KUBECONFIG, and would switch to the in-cluster config if
  // KUBERNETES_SERVICE_HOST were set.
  const env: NodeJS.ProcessEnv = { ...process.env, KUBECONFIG: opts.kubeconfigPath };
  delete env['KUBERNETES_SERVICE_HOST'];
  const fd = openSync(opts.logFile, 'a');
  let child;
  try {
    child = spawn(bin, args, { stdio: ['ignore', fd, fd], env, detached: opts.detached ?? false });
  } finally {
    closeSync(fd); // the child holds its own copy
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`failed to spawn traefik (${bin})`);
  let exit: string | undefined;
  child.once('exit', (code, signal) => {
    exit = String(code ?? signal);
  });
  child.once('error', (error) => {
    exit = error.message;
  });
  if (opts.detached) child.unref();
  const admin = `http://127.0.0.1:${adminPort}`;
  const assertRunning = (): void => {
    if (exit !== undefined) throw new Error(`traefik exited (${exit}):\n${tail(opts.logFile)}`);
  };
  const traefik: Traefik = {
    pid,
    bin,
    port: opts.port,
    adminPort,
    url: `http://${host}:${opts.port}`,
    logFile: opts.logFile,
    assertRunning,
    async rawData() {
      assertRunning();
      const res = await fetch(`${admin}/api/rawdata`, { signal: AbortSignal.timeout(5_000) });
      if (!res.ok) throw new Error(`traefik /api/rawdata answered ${res.status}`);
      return (await res.json()) as TraefikRawData;
    },
    async stop() {
      if (exit === undefined && isAlive(pid, bin)) await terminate(pid, bin, 10_000);
    },
  };
  const timeoutMs = opts.readyTimeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      assertRunning();
    } catch (error) {
      await traefik.stop();
      throw error;
    }
    try {
      const res = await fetch(`${admin}/ping`, { signal: AbortSignal.timeout(1_000) });
      if (res.ok) return traefik;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await traefik.stop();
      throw new Error(`traefik did not answer ${admin}/ping within ${timeoutMs} ms:\n${tail(opts.logFile)}`);
    }
    await sleep(200);
  }
}
