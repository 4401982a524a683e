/**
 * A real Kubernetes node on this machine, next to a local control plane: containerd (Debian) with
 * runc and the CNI bridge/host-local/portmap plugins, and kubelet + kube-proxy built from the same
 * k8s.io/kubernetes module as the control plane. One node per machine (the kubelet's and
 * kube-proxy's ports and a few kernel paths are fixed), so its state lives in one file,
 * `<cache>/run/node.json`, which also records the host as it was: stopping the node (or the next
 * start, after a crashed run) puts the host back (sysctls, iptables, network namespaces, mounts,
 * cgroups, the bridge, paths).
 *
 *   const network = await prepareNodeNetwork({ owner });        // before the control plane
 *   const cp = await startControlPlane({ nodeNetwork: network.controlPlane, ... });
 *   const node = await startNode(cp, network, { images });      // Ready when this resolves
 *   await node.stop();                                           // then cp.stop()
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import { link, mkdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

import { generateNodeClientCerts } from '../control-plane/certs.js';
import { kubeconfigYaml, type ControlPlane } from '../control-plane/index.js';
import { runDir } from '../control-plane/paths.js';
import { isAlive, startComponent, tail, terminate, type Component } from '../control-plane/proc.js';
import { currentBootId, restoreHost, snapshotHost, type HostSnapshot } from './host-state.js';

const run = promisify(execFile);

/** The node's name in the API and in its client certificate. */
export const NODE_NAME = 'kaos-node';
/** The bridge the pods hang off; the API server and the kubelet listen on its address. */
export const BRIDGE = { name: 'kaosbr0', address: '10.244.0.1', prefixLength: 24, podSubnet: '10.244.0.0/24' } as const;

/** Debian packages and files the node needs, with the package that provides each. */
const REQUIREMENTS: Array<{ path: string; pkg: string }> = [
  { path: '/usr/bin/containerd', pkg: 'containerd' },
  { path: '/usr/bin/ctr', pkg: 'containerd' },
  { path: '/usr/bin/containerd-shim-runc-v2', pkg: 'containerd' },
  { path: '/usr/sbin/runc', pkg: 'runc' },
  { path: '/usr/lib/cni/bridge', pkg: 'containernetworking-plugins' },
  { path: '/usr/lib/cni/host-local', pkg: 'containernetworking-plugins' },
  { path: '/usr/lib/cni/portmap', pkg: 'containernetworking-plugins' },
  { path: '/usr/lib/cni/loopback', pkg: 'containernetworking-plugins' },
  { path: '/usr/sbin/iptables', pkg: 'iptables' },
  { path: '/usr/sbin/conntrack', pkg: 'conntrack' },
  { path: '/usr/sbin/ip', pkg: 'iproute2' },
];

/** Who runs the node: a plane name, and the PID whose death makes the node stale (none when detached). */
export interface NodeOwner {
  plane: string;
  pid: number | null;
  /** The owner's start time (field 22 of /proc/<pid>/stat), so a reused PID is not taken for the owner. */
  startTime?: string;
}

/** A process's start time in clock ticks since boot, or undefined when it is gone. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

interface NodeComponentState {
  name: string;
  pid: number;
  bin: string;
  logFile: string;
}

/** What `<cache>/run/node.json` holds. */
export interface NodeState {
  owner: NodeOwner;
  workDir: string;
  containerdSocket: string;
  components: NodeComponentState[];
  snapshot: HostSnapshot;
  /** cgroup directories named kubepods* that existed before; any other is removed after the pods are gone. */
  cgroupsBefore: string[];
  bridgeCreated: boolean;
  startedAt: string;
}

const statePath = (): string => join(runDir(), 'node.json');

/** The recorded node, if any. */
export function readNodeState(): NodeState | undefined {
  try {
    return JSON.parse(readFileSync(statePath(), 'utf8')) as NodeState;
  } catch {
    return undefined;
  }
}

async function writeNodeState(state: NodeState): Promise<void> {
  await mkdir(runDir(), { recursive: true });
  const tmp = `${statePath()}.tmp.${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`);
  await rename(tmp, statePath());
}

/** Everything that is missing for a node, as one message naming the packages and capabilities. */
export function nodePrerequisiteProblems(): string[] {
  const problems: string[] = [];
  if (process.getuid?.() !== 0) problems.push('a node needs root (containerd, kubelet, iptables, network namespaces)');
  const missing = REQUIREMENTS.filter((r) => !existsSync(r.path));
  const packages = [...new Set(missing.map((r) => r.pkg))];
  if (packages.length > 0) {
    problems.push(`missing ${missing.map((r) => r.path).join(', ')}: apt-get install -y ${packages.join(' ')}`);
  }
  if (!existsSync('/sys/fs/cgroup/memory') && !existsSync('/sys/fs/cgroup/cgroup.controllers')) problems.push('no memory cgroup under /sys/fs/cgroup');
  return problems;
}

/** /sys/fs/cgroup and one directory per cgroup v1 controller (comma-joined aliases skipped). */
function cgroupControllerDirs(): string[] {
  const base = '/sys/fs/cgroup';
  const dirs = [base];
  try {
    for (const entry of readdirSync(base)) {
      const path = join(base, entry);
      if (statSync(path).isDirectory() && !entry.includes(',')) dirs.push(path);
    }
  } catch {
    // no cgroup fs: nothing to clean either
  }
  return dirs;
}

function kubepodsCgroups(): string[] {
  return cgroupControllerDirs().flatMap((dir) => {
    try {
      return readdirSync(dir).filter((entry) => entry.startsWith('kubepods')).map((entry) => join(dir, entry));
    } catch {
      return [];
    }
  });
}

/** Removes a cgroup tree (children first); cgroup directories go with rmdir, never rm -r. */
function removeCgroupTree(path: string): void {
  let entries: string[] = [];
  try {
    entries = readdirSync(path, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(path, e.name));
  } catch {
    return;
  }
  for (const child of entries) removeCgroupTree(child);
  try {
    rmdirSync(path);
  } catch {
    // busy (a process is still in it) or gone
  }
}

/** Mount points under `prefix`, deepest first (from /proc/self/mountinfo). */
function mountsUnder(prefix: string): string[] {
  const decode = (field: string): string => field.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => decode(line.split(' ')[4] ?? ''))
    .filter((point) => point === prefix || point.startsWith(`${prefix}/`));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

async function unmountAll(prefix: string, log: (message: string) => void): Promise<void> {
  for (let pass = 0; pass < 3; pass++) {
    const points = mountsUnder(prefix);
    if (points.length === 0) return;
    for (const point of points) {
      try {
        await run('umount', [point]);
      } catch {
        await run('umount', ['-l', point]).catch((error: Error) => log(`could not unmount ${point}: ${error.message}`));
      }
    }
  }
}

async function bridgeExists(): Promise<boolean> {
  return existsSync(`/sys/class/net/${BRIDGE.name}`);
}

/** Deletes the node's bridge if it exists. */
export async function deleteBridge(log: (message: string) => void = () => {}): Promise<void> {
  if (await bridgeExists()) await run('ip', ['link', 'delete', BRIDGE.name]).catch((error: Error) => log(`could not delete ${BRIDGE.name}: ${error.message}`));
}

/** The pieces of a node that are ready before the control plane starts. */
export interface NodeNetwork {
  owner: NodeOwner;
  workDir: string;
  /** What startControlPlane's nodeNetwork option takes. */
  controlPlane: { address: string; nodeName: string };
}

/**
 * Checks the prerequisites, cleans up a node left behind by a run that died, records the host
 * as it is, and creates the bridge the API server will listen on. Refuses (naming the owner) when
 * a live node already runs on this machine.
 */
export async function prepareNodeNetwork(options: { owner: NodeOwner; workDir: string; log?: (message: string) => void }): Promise<NodeNetwork> {
  const problems = nodePrerequisiteProblems();
  if (problems.length > 0) throw new Error(`cannot start a node here:\n- ${problems.join('\n- ')}`);
  // Two test files may start at the same instant: reading and recording the owner must be one step.
  return withNodeStateLock(() => claimNodeAndCreateBridge(options));
}

/**
 * The bridge exists but no node is recorded: left behind, or another process is between stopping
 * its node (state removed) and deleting the bridge (after its API server, which listens on it).
 */
export class StrayBridgeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StrayBridgeError';
  }
}

/** A node already runs on this machine for a live owner; `owner` names it. */
export class NodeBusyError extends Error {
  readonly owner: NodeOwner;
  constructor(owner: NodeOwner, message: string) {
    super(message);
    this.name = 'NodeBusyError';
    this.owner = owner;
  }
}

/**
 * Runs `claim` holding `<run>/node.lock`, created atomically (a hard link of a file holding our
 * PID, which fails when the lock exists). A lock whose holder is gone is taken over.
 */
async function withNodeStateLock<T>(claim: () => Promise<T>): Promise<T> {
  await mkdir(runDir(), { recursive: true });
  const lock = join(runDir(), 'node.lock');
  const mine = `${lock}.${process.pid}`;
  await writeFile(mine, String(process.pid));
  const deadline = Date.now() + 60_000;
  try {
    for (;;) {
      try {
        await link(mine, lock);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const holder = Number(await readFile(lock, 'utf8').catch(() => '0'));
        if (!holder || !isAlive(holder)) {
          await rm(lock, { force: true });
          continue;
        }
        if (Date.now() > deadline) throw new Error(`${lock} is held by process ${holder} for more than 60 s`);
        await sleep(100);
      }
    }
  } finally {
    await unlink(mine).catch(() => {});
  }
  try {
    return await claim();
  } finally {
    await rm(lock, { force: true });
  }
}

async function claimNodeAndCreateBridge(options: { owner: NodeOwner; workDir: string; log?: (message: string) => void }): Promise<NodeNetwork> {
  const log = options.log ?? (() => {});
  const owner: NodeOwner = options.owner.pid === null ? options.owner : { ...options.owner, startTime: processStartTime(options.owner.pid) ?? '' };
  const existing = readNodeState();
  if (existing && existing.snapshot.bootId !== currentBootId()) {
    await stopNodeFromState(existing, undefined, log); // forgets it without touching the host
  } else if (existing) {
    const ownerAlive = existing.owner.pid !== null && isAlive(existing.owner.pid) && (existing.owner.startTime === undefined || processStartTime(existing.owner.pid) === existing.owner.startTime);
    const componentsAlive = existing.components.some((c) => isAlive(c.pid, c.bin));
    if (ownerAlive || (existing.owner.pid === null && componentsAlive)) {
      const how = existing.owner.plane === 'default' ? 'run `npm run down` first' : `wait for process ${existing.owner.pid ?? '?'} to finish`;
      throw new NodeBusyError(existing.owner, `a node already runs on this machine for the control plane "${existing.owner.plane}" (state ${statePath()}); only one fits: ${how}`);
    }
    log(`cleaning up a node left behind by "${existing.owner.plane}" (process ${existing.owner.pid ?? 'detached'} gone)`);
    await stopNodeFromState(existing, undefined, log);
  }
  if (await bridgeExists()) throw new StrayBridgeError(`network interface ${BRIDGE.name} already exists but no node is recorded; remove it (ip link delete ${BRIDGE.name}) if nothing else uses it`);
  const snapshot = await snapshotHost();
  await mkdir(options.workDir, { recursive: true });
  const state: NodeState = {
    owner, workDir: options.workDir, containerdSocket: join(options.workDir, 'containerd', 'containerd.sock'),
    components: [], snapshot, cgroupsBefore: kubepodsCgroups(), bridgeCreated: false, startedAt: new Date().toISOString(),
  };
  // Recorded before it exists: a crash right after creating it still leaves a state that removes it.
  state.bridgeCreated = true;
  await writeNodeState(state);
  try {
    await run('ip', ['link', 'add', BRIDGE.name, 'type', 'bridge']);
    await run('ip', ['addr', 'add', `${BRIDGE.address}/${BRIDGE.prefixLength}`, 'dev', BRIDGE.name]);
    await run('ip', ['link', 'set', BRIDGE.name, 'up']);
  } catch (error) {
    await stopNodeFromState(state, undefined, log);
    throw new Error(`creating bridge ${BRIDGE.name} failed (needs CAP_NET_ADMIN and the bridge module): ${(error as Error).message}`);
  }
  log(`bridge ${BRIDGE.name} ${BRIDGE.address}/${BRIDGE.prefixLength} up; host state recorded in ${statePath()}`);
  return { owner, workDir: options.workDir, controlPlane: { address: BRIDGE.address, nodeName: NODE_NAME } };
}

/** An image archive to import into the node's containerd (what build-images.sh writes). */
export interface NodeImage {
  ref: string;
  archive: string;
}

/** Options of startNode. */
export interface StartNodeOptions {
  /** The pod sandbox image (must be among `images` or already imported). */
  pauseImage: string;
  /** Archives imported into containerd before the kubelet starts. */
  images: NodeImage[];
  /** Start the components in their own session so they outlive this process. Default false. */
  detached?: boolean;
  readyTimeoutMs?: number;
  log?: (message: string) => void;
}

/** A running node. */
export interface RealNode {
  name: string;
  workDir: string;
  containerdSocket: string;
  components: NodeComponentState[];
  /** `ctr -n k8s.io` against this node's containerd; never throws for a non-zero exit. */
  ctr(args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Imports more image archives (e.g. a rebuilt app). */
  importImages(images: NodeImage[]): Promise<void>;
  /** Deletes the pods, stops the components, and puts the host back as it was (the bridge too, unless keepBridge). Idempotent. */
  stop(options?: { keepBridge?: boolean }): Promise<void>;
}

/** `ctr -n k8s.io --address <socket> ...`, never rejecting. */
async function ctrAt(socket: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('ctr', ['--address', socket, '--namespace', 'k8s.io', ...args], { maxBuffer: 64 * 1024 * 1024, timeout: 300_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string; message: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? e.message };
  }
}

/** Imports one archive and pins the image, so the kubelet never removes it (an imported image cannot be pulled again). */
async function importImage(socket: string, image: NodeImage, log: (message: string) => void): Promise<void> {
  const started = Date.now();
  const imported = await ctrAt(socket, ['images', 'import', image.archive]);
  if (imported.code !== 0) throw new Error(`ctr images import ${image.archive} failed: ${imported.stderr}`);
  const pinned = await ctrAt(socket, ['images', 'label', image.ref, 'io.cri-containerd.pinned=pinned']);
  if (pinned.code !== 0) throw new Error(`ctr images label ${image.ref} failed: ${pinned.stderr}`);
  log(`imported ${image.ref} in ${Date.now() - started} ms`);
}

function containerdConfig(workDir: string, socket: string, pauseImage: string): string {
  const dir = join(workDir, 'containerd');
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return `# Generated by e2e/src/node: everything under ${dir}, nothing in /etc or /var/lib.
version = 2
root = "${dir}/root"
state = "${dir}/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "${socket}"

[ttrpc]
  address = "${socket}.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "${dir}/opt"

[${cri}]
  sandbox_image = "${pauseImage}"
  # The VM withholds CAP_SYS_RESOURCE: runc cannot lower oom_score_adj below the shim's.
  restrict_oom_score_adj = true
  # Pod network namespaces under the state dir, not /var/run/netns: \`ip netns add\` (other
  # programs, the gateway tests) turns /run/netns into a shared bind mount of itself, after which
  # a netns mounted there before cannot be removed (EBUSY) and its pod stays Terminating.
  netns_mounts_under_state_dir = true
  enable_selinux = false

[${cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[${cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[${cri}.containerd.runtimes.runc.options]
  BinaryName = "/usr/sbin/runc"
  Root = "${dir}/runc"
  SystemdCgroup = false

[${cri}.cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = "${workDir}/cni/net.d"
`;
}

function cniConfig(workDir: string): string {
  return JSON.stringify(
    {
      cniVersion: '0.4.0',
      name: 'kaos',
      plugins: [
        {
          type: 'bridge',
          bridge: BRIDGE.name,
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            ranges: [[{ subnet: BRIDGE.podSubnet, rangeStart: '10.244.0.10', gateway: BRIDGE.address }]],
            routes: [{ dst: '0.0.0.0/0' }],
            dataDir: join(workDir, 'cni', 'ipam'),
          },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  );
}

function kubeletConfig(workDir: string, caCert: string, socket: string): string {
  return `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: ${BRIDGE.address}
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: ${caCert}}
authorization:
  mode: Webhook
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://${socket}
podLogsDir: ${join(workDir, 'pod-logs')}
# Imported images cannot be pulled again: never garbage-collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 100Mi
  nodefs.available: "1%"
  nodefs.inodesFree: "1%"
  imagefs.available: "1%"
serializeImagePulls: false
resolvConf: /etc/resolv.conf
maxPods: 110
`;
}

function kubeProxyConfig(kubeconfig: string): string {
  return `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: ${kubeconfig}
mode: iptables
clusterCIDR: ${BRIDGE.podSubnet}
hostnameOverride: ${NODE_NAME}
bindAddress: ${BRIDGE.address}
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: ["${BRIDGE.address}/32"]
# Zeros leave the host's conntrack sysctls alone.
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
iptables:
  # true would set net.ipv4.conf.all.route_localnet=1 on the host.
  localhostNodePorts: false
`;
}

/**
 * Starts containerd, imports the images, then the kubelet and kube-proxy, and waits until the
 * node is Ready. `network` comes from prepareNodeNetwork, `cp` was started with its controlPlane.
 */
export async function startNode(cp: ControlPlane, network: NodeNetwork, options: StartNodeOptions): Promise<RealNode> {
  const log = options.log ?? (() => {});
  const detached = options.detached ?? false;
  const state = readNodeState();
  if (!state || state.workDir !== network.workDir) throw new Error('startNode: prepareNodeNetwork was not called for this work directory');
  const workDir = network.workDir;
  const components: Component[] = [];
  // If this process exits without stop() (a crashed test runner), do not leave the node running;
  // the next start then finds its owner gone and cleans up the rest.
  const exitHook = (): void => {
    for (const c of components) {
      if (c.exit !== undefined) continue;
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  };
  if (!detached) process.on('exit', exitHook);
  const record = async (component: Component): Promise<void> => {
    components.push(component);
    state.components.push({ name: component.name, pid: component.pid, bin: component.bin, logFile: component.logFile });
    await writeNodeState(state);
  };
  const assertRunning = (what: string): void => {
    for (const c of components) {
      if (c.exit !== undefined) throw new Error(`${c.name} (pid ${c.pid}) exited while ${what}; last lines of ${c.logFile}:\n${tail(c.logFile, 30)}`);
    }
  };
  const waitFor = async (what: string, probe: () => Promise<boolean>, timeoutMs = options.readyTimeoutMs ?? 120_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      assertRunning(`waiting for ${what}`);
      if (await probe().catch(() => false)) return;
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${components.map((c) => `--- ${c.name} (${c.logFile}):\n${tail(c.logFile, 15)}`).join('\n')}`);
      }
      await sleep(500);
    }
  };

  try {
    const t0 = Date.now();
    for (const dir of ['containerd', 'cni/net.d', 'cni/ipam', 'kubelet', 'pod-logs', 'pki']) await mkdir(join(workDir, dir), { recursive: true });
    const socket = state.containerdSocket;

    // --- containerd
    const containerdConfigPath = join(workDir, 'containerd', 'config.toml');
    await writeFile(containerdConfigPath, containerdConfig(workDir, socket, options.pauseImage));
    await writeFile(join(workDir, 'cni', 'net.d', '10-kaos.conflist'), cniConfig(workDir));
    await record(startComponent('containerd', '/usr/bin/containerd', ['--config', containerdConfigPath, '--log-level', 'warn'], join(workDir, 'containerd.log'), detached));
    await waitFor('containerd', async () => (await ctrAt(socket, ['version'])).code === 0, 30_000);
    log(`containerd pid ${components[0]?.pid} on ${socket}`);

    const importImages = async (images: NodeImage[]): Promise<void> => {
      for (const image of images) await importImage(socket, image, log);
    };
    await importImages(options.images);

    // --- kubelet and kube-proxy, with client certificates signed by the plane's CA
    const nodeCerts = await generateNodeClientCerts(cp.certs, NODE_NAME, join(workDir, 'pki'));
    const ca = await readFile(cp.caCertPath);
    const kubeconfigFor = async (name: string, user: string, pair: { cert: string; key: string }): Promise<string> => {
      const path = join(workDir, `${name}.kubeconfig`);
      await writeFile(path, kubeconfigYaml(cp.server, cp.certs, user, await readFile(pair.cert), await readFile(pair.key), ca), { mode: 0o600 });
      return path;
    };
    const kubeletKubeconfig = await kubeconfigFor('kubelet', `system:node:${NODE_NAME}`, nodeCerts.kubelet);
    const proxyKubeconfig = await kubeconfigFor('kube-proxy', 'system:kube-proxy', nodeCerts.kubeProxy);
    const kubeletConfigPath = join(workDir, 'kubelet-config.yaml');
    await writeFile(kubeletConfigPath, kubeletConfig(workDir, cp.caCertPath, socket));
    const proxyConfigPath = join(workDir, 'kube-proxy-config.yaml');
    await writeFile(proxyConfigPath, kubeProxyConfig(proxyKubeconfig));

    await record(
      startComponent('kubelet', join(cp.binDir, 'kubelet'), [
        `--config=${kubeletConfigPath}`,
        `--kubeconfig=${kubeletKubeconfig}`,
        `--root-dir=${join(workDir, 'kubelet')}`,
        `--cert-dir=${join(workDir, 'kubelet', 'pki')}`,
        `--hostname-override=${NODE_NAME}`,
        `--node-ip=${BRIDGE.address}`,
        '--v=1',
      ], join(workDir, 'kubelet.log'), detached),
    );
    await record(startComponent('kube-proxy', join(cp.binDir, 'kube-proxy'), [`--config=${proxyConfigPath}`, '--v=1'], join(workDir, 'kube-proxy.log'), detached));
    log(`kubelet pid ${components[1]?.pid}, kube-proxy pid ${components[2]?.pid}`);

    await waitFor(`node ${NODE_NAME} Ready`, async () => {
      const result = await cp.kubectl(['get', 'node', NODE_NAME, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}']);
      return result.code === 0 && result.stdout.trim() === 'True';
    });
    log(`node ${NODE_NAME} Ready after ${Date.now() - t0} ms`);

    let stopped = false;
    return {
      name: NODE_NAME,
      workDir,
      containerdSocket: socket,
      components: state.components,
      ctr: (args) => ctrAt(socket, args),
      importImages,
      async stop(stopOptions = {}) {
        if (stopped) return;
        stopped = true;
        process.off('exit', exitHook);
        await stopNodeFromState(readNodeState() ?? state, cp, log, stopOptions);
      },
    };
  } catch (error) {
    process.off('exit', exitHook);
    await stopNodeFromState(readNodeState() ?? state, cp, log).catch((cleanupError: Error) => log(`cleanup after a failed start: ${cleanupError.message}`));
    throw error;
  }
}

/** Imports into a recorded node's containerd the images it does not have yet; returns how many it imported. */
export async function importMissingImages(state: NodeState, images: NodeImage[], log: (message: string) => void = () => {}): Promise<number> {
  const listed = await ctrAt(state.containerdSocket, ['images', 'ls', '-q']);
  if (listed.code !== 0) throw new Error(`ctr images ls failed: ${listed.stderr}`);
  const present = new Set(listed.stdout.split('\n').map((line) => line.trim()));
  let imported = 0;
  for (const image of images.filter((candidate) => !present.has(candidate.ref))) {
    await importImage(state.containerdSocket, image, log);
    imported++;
  }
  return imported;
}

/** Processes of containerd's runc shims that belong to the containerd at `socket`. */
function shimPids(socket: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if ((argv[0] ?? '').endsWith('containerd-shim-runc-v2') && argv.includes(socket)) pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids;
}

/** Every process in a cgroup tree (cgroup.procs of the directory and all below it). */
function cgroupProcesses(path: string): number[] {
  const pids: number[] = [];
  const walk = (dir: string): void => {
    try {
      for (const line of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n')) if (/^\d+$/.test(line.trim())) pids.push(Number(line.trim()));
      for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) walk(join(dir, entry.name));
    } catch {
      // gone meanwhile
    }
  };
  walk(path);
  return [...new Set(pids)];
}

/**
 * Stops a recorded node and puts the host back: the node cordoned and its pods deleted through
 * the API (when `cp` is given and answers) so the kubelet tears their networks down, then
 * kube-proxy and the kubelet stopped, containerd's tasks killed and containerd stopped, whatever
 * still runs in the node's kubepods cgroups killed, mounts under the work directory released,
 * the cgroups removed, and the recorded host state restored. Every step runs even when one fails;
 * then the failures are thrown together and the state file is kept, so `down` can be run again.
 * Idempotent; used by RealNode.stop, by `down`, and to clean up after a run that died.
 */
export async function stopNodeFromState(
  state: NodeState,
  cp: Pick<ControlPlane, 'kubectl'> | undefined,
  log: (message: string) => void = () => {},
  options: { keepBridge?: boolean } = {},
): Promise<void> {
  if (state.snapshot.bootId !== currentBootId()) {
    // Recorded before a reboot: nothing of it runs any more, and its snapshot says nothing about
    // this boot's host, so restoring it could undo what this boot's services set up.
    log(`forgetting a node recorded before the last reboot (${statePath()})`);
    await rm(state.workDir, { recursive: true, force: true }).catch(() => undefined);
    const current = readNodeState();
    if (current && current.workDir === state.workDir) await rm(statePath(), { force: true });
    return;
  }
  const failures: string[] = [];
  const step = async (what: string, action: () => Promise<unknown>): Promise<void> => {
    try {
      await action();
    } catch (error) {
      failures.push(`${what}: ${(error as Error).message}`);
    }
  };
  const running = (name: string): NodeComponentState | undefined => state.components.find((c) => c.name === name && isAlive(c.pid, c.bin));
  const stopComponents = async (name: string): Promise<void> => {
    for (const component of state.components.filter((c) => c.name === name)) {
      if (!isAlive(component.pid, component.bin)) continue;
      log(`stopping ${name} (pid ${component.pid})`);
      await step(`stopping ${name} (pid ${component.pid})`, () => terminate(component.pid, component.bin, 10_000));
    }
  };
  const socket = state.containerdSocket;
  if (cp && running('kubelet') && running('containerd')) {
    // Cordoned first, so the pods the ReplicaSets create again stay Pending instead of starting here.
    await cp.kubectl(['cordon', NODE_NAME], { timeoutMs: 15_000 });
    // Deleting the pods lets the kubelet stop their sandboxes, which runs CNI DEL and removes the netns.
    const deleted = await cp.kubectl(['delete', 'pods', '--all', '--all-namespaces', '--grace-period=0', '--force', '--wait=false'], { timeoutMs: 30_000 });
    if (deleted.code === 0) {
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        const tasks = await ctrAt(socket, ['tasks', 'ls', '-q']);
        if (tasks.code !== 0 || tasks.stdout.trim() === '') break;
        await sleep(500);
      }
    }
  }
  await stopComponents('kube-proxy');
  await stopComponents('kubelet');
  if (running('containerd')) {
    const tasks = await ctrAt(socket, ['tasks', 'ls', '-q']);
    for (const id of tasks.stdout.split('\n').map((line) => line.trim()).filter(Boolean)) {
      await ctrAt(socket, ['tasks', 'kill', '--all', '--signal', 'SIGKILL', id]);
    }
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && (await ctrAt(socket, ['tasks', 'ls', '-q'])).stdout.trim() !== '') await sleep(250);
  }
  await stopComponents('containerd');
  for (const pid of shimPids(socket)) await step(`stopping shim ${pid}`, () => terminate(pid, 'containerd-shim-runc-v2', 5_000));
  // With containerd gone before its tasks (a crash), containers outlive their shims: kill what is
  // left in the node's cgroups (only cgroups this node created; never one that existed before).
  const nodeCgroups = kubepodsCgroups().filter((path) => !state.cgroupsBefore.includes(path));
  for (const pid of nodeCgroups.flatMap(cgroupProcesses)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  if (nodeCgroups.length > 0) await sleep(500);
  await step('unmounting the work directory', () => unmountAll(state.workDir, log));
  for (const root of nodeCgroups) removeCgroupTree(root);
  const busy = nodeCgroups.filter((path) => existsSync(path));
  if (busy.length > 0) failures.push(`cgroups still in use: ${busy.join(', ')}`);
  await step('restoring the host', async () => {
    const report = await restoreHost(state.snapshot, log);
    log(`host restored: ${report.iptablesCommands} iptables commands, tables [${report.tables.join(', ')}], sysctls [${report.sysctls.join(', ')}], netns [${report.netns.join(', ')}], paths [${report.paths.join(', ')}]`);
    const undone = [...report.iptablesFailures, ...report.failures];
    if (undone.length > 0) throw new Error(undone.join('; '));
  });
  // The API server listens on the bridge: with keepBridge the caller deletes it after stopping the plane.
  if (state.bridgeCreated && !options.keepBridge) await deleteBridge(log);
  if (failures.length > 0) {
    throw new Error(`stopping the node left work undone (state kept in ${statePath()}; run the stop again):\n- ${failures.join('\n- ')}`);
  }
  // The work directory holds the containerd content store (large); remove all but the logs.
  for (const dir of ['containerd', 'kubelet', 'cni', 'pod-logs']) {
    const path = join(state.workDir, dir);
    if (mountsUnder(path).length === 0) await rm(path, { recursive: true, force: true }).catch(() => undefined);
  }
  const current = readNodeState();
  if (current && current.workDir === state.workDir) await rm(statePath(), { force: true });
}
