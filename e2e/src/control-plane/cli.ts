/**
 * Local control plane for development and e2e runs.
 *
 *   e2e/scripts/control-plane.sh up   [--name N] [--node] [--crd PATH]... [--gateway-api VER:CHANNEL | --no-gateway-api]
 *   e2e/scripts/control-plane.sh down [--name N]
 *   e2e/scripts/control-plane.sh status [--name N]
 *
 * `up` starts etcd, kube-apiserver and kube-controller-manager detached (they outlive this
 * CLI), records their PIDs in ${XDG_CACHE_HOME:-~/.cache}/kaos-e2e/run/<name>.json and prints
 * `export KUBECONFIG=...` as the last stdout line. `--node` adds the real node (e2e/src/node:
 * kube-scheduler, containerd, kubelet, kube-proxy) with the project's images imported, built
 * first by e2e/scripts/build-images.sh. Both commands are idempotent; `down` also stops the node
 * and puts the host back as it was.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';

import { buildImages, type ImageManifest } from '../images/manifest.js';
import { imageRef, nodeImages, startNodeCluster } from '../node/cluster.js';
import { deleteBridge, importMissingImages, readNodeState, stopNodeFromState } from '../node/index.js';
import { buildToolsScript, gatewayApiBundlePath, isAlive, probeReady, runDir, runKubectl, startControlPlane, terminate } from './index.js';

interface State {
  name: string;
  workDir: string;
  kubeconfigPath: string;
  server: string;
  binDir: string;
  components: { name: string; pid: number; bin: string; logFile: string }[];
  startedAt: string;
  /** With --node: the images imported into the node, by name (webhook, controller, sample-backend, pause, ...). */
  node?: { images: Record<string, string> };
}

const log = (msg: string): void => void process.stderr.write(`[control-plane] ${msg}\n`);

interface Args {
  cmd: string;
  name: string;
  crds: string[];
  gateway: string | null;
  node: boolean;
}

function parseArgs(argv: string[]): Args {
  const [cmd = 'help', ...rest] = argv;
  let name = 'default';
  const crds: string[] = [];
  let gateway: string | null = 'v1.3.0:experimental';
  let node = false;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i] ?? '';
    const val = (): string => {
      const eq = a.indexOf('=');
      if (eq >= 0) return a.slice(eq + 1);
      const v = rest[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--name' || a.startsWith('--name=')) name = val();
    else if (a === '--crd' || a.startsWith('--crd=')) crds.push(val());
    else if (a === '--gateway-api' || a.startsWith('--gateway-api=')) gateway = val();
    else if (a === '--no-gateway-api') gateway = null;
    else if (a === '--node') node = true;
    else throw new Error(`unknown argument: ${a}`);
  }
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new Error(`invalid --name: ${name}`);
  return { cmd, name, crds, gateway, node };
}

const statePath = (name: string): string => join(runDir(), `${name}.json`);

function readState(name: string): State | undefined {
  try {
    return JSON.parse(readFileSync(statePath(name), 'utf8')) as State;
  } catch {
    return undefined;
  }
}

/** The node recorded for this plane, if any. */
function nodeOf(state: State) {
  const node = readNodeState();
  return node && node.owner.plane === state.name ? node : undefined;
}

async function healthy(state: State): Promise<boolean> {
  const node = nodeOf(state);
  if (state.node && (!node || !node.components.every((c) => isAlive(c.pid, c.bin)))) return false;
  return state.components.every((c) => isAlive(c.pid, c.bin)) && (await probeReady(state.server, join(state.workDir, 'certs')));
}

async function down(name: string): Promise<void> {
  const state = readState(name);
  if (!state) {
    // `up` interrupted between starting the node and recording the plane: the node is still ours.
    const orphan = readNodeState();
    if (orphan?.owner.plane === name) {
      log(`stopping a node of "${name}" whose control plane was never recorded`);
      await stopNodeFromState(orphan, undefined, log);
    }
    log(`"${name}" is not running (no ${statePath(name)})`);
    return;
  }
  const node = nodeOf(state);
  if (node) {
    log('stopping the node (pods, kube-proxy, kubelet, containerd) and restoring the host');
    const kubectl = { kubectl: (args: string[], opts?: { input?: string; timeoutMs?: number }) => runKubectl(join(state.binDir, 'kubectl'), state.kubeconfigPath, args, opts) };
    await stopNodeFromState(node, kubectl, log, { keepBridge: true });
  }
  for (const cname of ['kube-scheduler', 'kube-controller-manager', 'kube-apiserver', 'etcd']) {
    for (const c of state.components.filter((x) => x.name === cname)) {
      if (isAlive(c.pid, c.bin)) {
        log(`stopping ${c.name} (pid ${c.pid})`);
        await terminate(c.pid, c.bin);
      }
    }
  }
  if (node) await deleteBridge(log);
  await rm(state.workDir, { recursive: true, force: true });
  await rm(statePath(name), { force: true });
  log(`"${name}" is down`);
}

async function up({ name, crds, gateway, node }: Args): Promise<void> {
  const existing = readState(name);
  if (existing) {
    if (node && !existing.node) {
      log(`"${name}" runs without a node; restarting it with one (its objects are lost)`);
      await down(name);
    } else if (await healthy(existing)) {
      log(`"${name}" already up: ${existing.server}`);
      const nodeState = nodeOf(existing);
      if (existing.node && nodeState) {
        // A rebuilt app has a new tag: import it, so `helm upgrade` can roll its pods onto it.
        const manifest = await buildImages(log);
        const imported = await importMissingImages(nodeState, nodeImages(manifest), log);
        if (imported > 0) log(`imported ${imported} rebuilt image(s) into the node`);
        existing.node.images = Object.fromEntries(manifest.images.map((image) => [image.name, image.ref]));
        await writeState(existing);
      }
      process.stdout.write(`export KUBECONFIG=${existing.kubeconfigPath}\n`);
      return;
    }
    log(`"${name}" recorded but not healthy; restarting`);
    await down(name);
  }
  let gatewayApiBundle: string | undefined;
  if (gateway) {
    const [ver = 'v1.3.0', channel = 'experimental'] = gateway.split(':');
    if (channel !== 'experimental' && channel !== 'standard') throw new Error(`bad --gateway-api channel: ${channel}`);
    gatewayApiBundle = gatewayApiBundlePath(ver, channel);
    if (!existsSync(gatewayApiBundle)) {
      log(`${gatewayApiBundle} missing; running build-tools.sh`);
      execFileSync('bash', [buildToolsScript], {
        stdio: ['ignore', 'ignore', 'inherit'],
        env: { ...process.env, GATEWAY_API_BUNDLES: `${ver}:${channel}` },
      });
    }
  }
  await mkdir(runDir(), { recursive: true });
  const workDir = join(runDir(), name);
  let manifest: ImageManifest | undefined;
  if (node) {
    log('images: bash e2e/scripts/build-images.sh (the first run builds the base with debootstrap and both apps, a few minutes)');
    manifest = await buildImages(log);
  }
  const common = { workDir, removeWorkDir: false, detached: true, crdPaths: crds, ...(gatewayApiBundle ? { gatewayApiBundle } : {}), log };
  const cp = manifest
    ? (await startNodeCluster({ ...common, owner: { plane: name, pid: null }, pauseImage: imageRef(manifest, 'pause'), images: nodeImages(manifest) })).cp
    : await startControlPlane(common);
  const state: State = {
    name, workDir, kubeconfigPath: cp.kubeconfigPath, server: cp.server, binDir: cp.binDir,
    components: cp.components, startedAt: new Date().toISOString(),
    ...(manifest ? { node: { images: Object.fromEntries(manifest.images.map((image) => [image.name, image.ref])) } } : {}),
  };
  await writeState(state);
  log(`"${name}" up: ${cp.server} (pids ${cp.components.map((c) => `${c.name}=${c.pid}`).join(' ')}); logs in ${workDir}`);
  process.stdout.write(`export KUBECONFIG=${cp.kubeconfigPath}\n`);
}

async function writeState(state: State): Promise<void> {
  const tmp = `${statePath(state.name)}.tmp`;
  await writeFile(tmp, JSON.stringify(state, null, 2) + '\n');
  await rename(tmp, statePath(state.name));
}

async function status(name: string): Promise<number> {
  const state = readState(name);
  if (!state) {
    process.stdout.write(`${name}: down\n`);
    return 1;
  }
  const ok = await healthy(state);
  process.stdout.write(`${name}: ${ok ? 'up' : 'UNHEALTHY'} ${state.server}\n`);
  for (const c of [...state.components, ...(nodeOf(state)?.components ?? [])]) {
    process.stdout.write(`  ${c.name} pid ${c.pid} ${isAlive(c.pid, c.bin) ? 'running' : 'exited'} (${c.logFile})\n`);
  }
  process.stdout.write(`export KUBECONFIG=${state.kubeconfigPath}\n`);
  return ok ? 0 : 1;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const { cmd, name } = args;
  switch (cmd) {
    case 'up':
      await up(args);
      return 0;
    case 'down':
      await down(name);
      return 0;
    case 'status':
      return status(name);
    default:
      process.stderr.write('usage: cli.ts up|down|status [--name N] [--node] [--crd PATH]... [--gateway-api VER:CHANNEL | --no-gateway-api]\n');
      return cmd === 'help' || cmd === '--help' ? 0 : 2;
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    log(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  },
);
