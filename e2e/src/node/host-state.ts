// What a node changes on the host, and how to put it back. The kubelet, kube-proxy and the CNI
// plugins set sysctls, add iptables chains and rules, and create network namespaces and
// directories; none of them undo all of it (`kube-proxy --cleanup` leaves the kubelet's chains).
// A snapshot taken before the node starts is compared with the host after it stops, and only the
// difference that belongs to the node is removed (chains named KUBE-*/CNI-* and the rules that jump
// to them, network namespaces named cni-*), so what other programs changed meanwhile is left alone.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Sysctls the kubelet (kernel tunables), kube-proxy and the CNI bridge plugin are known to set. */
export const WATCHED_SYSCTLS = [
  'kernel.panic',
  'kernel.panic_on_oops',
  'kernel.keys.root_maxkeys',
  'kernel.keys.root_maxbytes',
  'vm.overcommit_memory',
  'vm.panic_on_oom',
  'net.ipv4.ip_forward',
  'net.ipv4.conf.all.route_localnet',
  'net.ipv6.conf.all.forwarding',
  'net.bridge.bridge-nf-call-iptables',
  'net.bridge.bridge-nf-call-ip6tables',
] as const;

/** Paths a node may create outside its work directory (hard-coded in the kubelet or CRI). */
export const WATCHED_PATHS = ['/var/log/containers', '/var/log/pods', '/var/run/netns', '/var/lib/kubelet', '/run/containerd', '/etc/cni/net.d', '/var/lib/cni'] as const;

/** One table of an `iptables-save` dump: its chains and its rules, each rule as its `-A` line. */
export interface IptablesTable {
  chains: string[];
  /** Built-in chains (they have a policy): never flushed or deleted, even in a table that is new. */
  builtins: string[];
  rules: string[];
}

/** The host as it was before the node started. */
export interface HostSnapshot {
  /** The kernel boot this snapshot belongs to (/proc/sys/kernel/random/boot_id): after a reboot it is void. */
  bootId: string;
  sysctls: Record<string, string>;
  /** family → table → chains and rules; a family whose tool is missing is absent. */
  iptables: Partial<Record<'ip' | 'ip6', Record<string, IptablesTable>>>;
  netns: string[];
  existingPaths: string[];
}

/** Parses `iptables-save` output into tables of chains and `-A` rules. */
export function parseIptablesSave(text: string): Record<string, IptablesTable> {
  const tables: Record<string, IptablesTable> = {};
  let current: IptablesTable | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('*')) {
      current = { chains: [], builtins: [], rules: [] };
      tables[line.slice(1)] = current;
    } else if (line.startsWith(':') && current) {
      const [chain = '', policy = '-'] = line.slice(1).split(/\s+/);
      current.chains.push(chain);
      if (policy !== '-') current.builtins.push(chain);
    } else if (line.startsWith('-A ') && current) {
      current.rules.push(line);
    }
  }
  return tables;
}

/** The chain a `-A CHAIN ...` rule belongs to. */
function ruleChain(rule: string): string {
  return rule.split(/\s+/)[1] ?? '';
}

/** Chains the kubelet, kube-proxy and the CNI plugins create; nothing else is ever removed. */
export function isNodeChain(chain: string): boolean {
  return /^(KUBE-|CNI-)/.test(chain);
}

/** The chain a rule jumps or goes to, if any. */
function ruleTarget(rule: string): string | undefined {
  const args = splitRule(rule);
  const index = args.findIndex((arg) => arg === '-j' || arg === '-g' || arg === '--jump' || arg === '--goto');
  return index >= 0 ? args[index + 1] : undefined;
}

/**
 * The iptables commands (arguments after `-t <table>`) that remove what was added since `before`:
 * first the added rules in chains that existed before (they may jump to new chains), then every
 * new chain flushed, then deleted. Rules and chains that were there before are never touched.
 */
export function iptablesUndo(before: Record<string, IptablesTable>, after: Record<string, IptablesTable>): Array<{ table: string; args: string[] }> {
  const commands: Array<{ table: string; args: string[] }> = [];
  for (const [table, now] of Object.entries(after)) {
    const then = before[table] ?? { chains: [], builtins: [], rules: [] };
    const oldChains = new Set([...then.chains, ...now.builtins]);
    const oldRules = new Set(then.rules);
    const newChains = now.chains.filter((chain) => !oldChains.has(chain) && isNodeChain(chain));
    for (const rule of now.rules) {
      const target = ruleTarget(rule);
      const ours = target !== undefined && isNodeChain(target);
      if (ours && oldChains.has(ruleChain(rule)) && !oldRules.has(rule)) commands.push({ table, args: ['-D', ...splitRule(rule.slice(3))] });
    }
    for (const chain of newChains) commands.push({ table, args: ['-F', chain] });
    for (const chain of newChains) commands.push({ table, args: ['-X', chain] });
  }
  return commands;
}

/** Splits an iptables-save rule into arguments, honouring the double quotes iptables-save writes around comments. */
export function splitRule(rule: string): string[] {
  const args: string[] = [];
  let current = '';
  let quoted = false;
  let started = false;
  for (let i = 0; i < rule.length; i++) {
    const ch = rule[i]!;
    if (ch === '\\' && quoted && i + 1 < rule.length) {
      current += rule[++i];
    } else if (ch === '"') {
      quoted = !quoted;
      started = true;
    } else if (/\s/.test(ch) && !quoted) {
      if (started) args.push(current);
      current = '';
      started = false;
    } else {
      current += ch;
      started = true;
    }
  }
  if (started) args.push(current);
  return args;
}

/** Reads one sysctl from /proc/sys (undefined when the kernel has no such key). */
export function readSysctl(key: string): string | undefined {
  try {
    return readFileSync(`/proc/sys/${key.replaceAll('.', '/')}`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

async function iptablesSave(family: 'ip' | 'ip6'): Promise<Record<string, IptablesTable> | undefined> {
  try {
    const { stdout } = await run(family === 'ip' ? 'iptables-save' : 'ip6tables-save', [], { maxBuffer: 64 * 1024 * 1024 });
    return parseIptablesSave(stdout);
  } catch (error) {
    // Only a missing tool means "nothing to record"; any other failure would silently skip the undo.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`${family === 'ip' ? 'iptables-save' : 'ip6tables-save'} failed: ${(error as Error).message}`);
  }
}

/** Network namespaces the CRI creates for pod sandboxes (containerd names them cni-<uuid>). */
function listPodNetns(): string[] {
  try {
    return readdirSync('/var/run/netns').filter((name) => name.startsWith('cni-'));
  } catch {
    return [];
  }
}

/** This kernel boot's id. */
export function currentBootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

/** Records the sysctls, iptables rules, network namespaces and paths a node may change. */
export async function snapshotHost(): Promise<HostSnapshot> {
  const sysctls: Record<string, string> = {};
  for (const key of WATCHED_SYSCTLS) {
    const value = readSysctl(key);
    if (value !== undefined) sysctls[key] = value;
  }
  const iptables: HostSnapshot['iptables'] = {};
  for (const family of ['ip', 'ip6'] as const) {
    const tables = await iptablesSave(family);
    if (tables) iptables[family] = tables;
  }
  return { bootId: currentBootId(), sysctls, iptables, netns: listPodNetns(), existingPaths: WATCHED_PATHS.filter((path) => existsSync(path)) };
}

/** What restoring changed, for the log and for tests. */
export interface RestoreReport {
  sysctls: string[];
  iptablesCommands: number;
  iptablesFailures: string[];
  /** Network namespaces and paths that could not be removed. */
  failures: string[];
  /** Tables created since the snapshot and deleted once empty (`ip mangle`). */
  tables: string[];
  netns: string[];
  paths: string[];
}

/**
 * Puts back what the node changed: sysctls to their recorded values, iptables rules and chains
 * added since the snapshot removed, network namespaces created since removed, and the watched
 * paths that did not exist before removed (only when empty of mounts; the caller unmounts first).
 */
export async function restoreHost(snapshot: HostSnapshot, log: (message: string) => void = () => {}): Promise<RestoreReport> {
  const report: RestoreReport = { sysctls: [], iptablesCommands: 0, iptablesFailures: [], failures: [], tables: [], netns: [], paths: [] };
  for (const name of listPodNetns()) {
    if (snapshot.netns.includes(name)) continue;
    const path = `/var/run/netns/${name}`;
    // Once `ip netns add` (the gateway tests) has made /run/netns a shared bind mount, a pod's
    // netns can be mounted there twice: unmount until nothing is left, then remove the file.
    await unmountRepeatedly(path);
    try {
      await run('rm', ['-f', path]);
      report.netns.push(name);
    } catch (error) {
      report.failures.push(`network namespace ${name}: ${(error as Error).message}`);
    }
  }
  for (const family of ['ip', 'ip6'] as const) {
    const before = snapshot.iptables[family];
    if (!before) continue;
    const after = await iptablesSave(family);
    if (!after) continue;
    const tool = family === 'ip' ? 'iptables' : 'ip6tables';
    for (const { table, args } of iptablesUndo(before, after)) {
      report.iptablesCommands++;
      try {
        await run(tool, ['-w', '5', '-t', table, ...args]);
      } catch (error) {
        report.iptablesFailures.push(`${tool} -t ${table} ${args.join(' ')}: ${(error as Error).message.split('\n')[0]}`);
      }
    }
  }
  // iptables-nft keeps a table it created even when emptied; drop the ones that were not there.
  for (const family of ['ip', 'ip6'] as const) {
    const before = snapshot.iptables[family];
    const after = before ? await iptablesSave(family) : undefined;
    if (!before || !after) continue;
    for (const [table, now] of Object.entries(after)) {
      if (before[table] || now.rules.length > 0 || now.chains.length !== now.builtins.length) continue;
      try {
        await run('nft', ['delete', 'table', family, table]);
        report.tables.push(`${family} ${table}`);
      } catch (error) {
        log(`could not delete the empty table ${family} ${table}: ${(error as Error).message.split('\n')[0]}`);
      }
    }
  }
  for (const [key, value] of Object.entries(snapshot.sysctls)) {
    if (readSysctl(key) === value) continue;
    try {
      await run('sysctl', ['-q', '-w', `${key}=${value}`]);
      report.sysctls.push(`${key}=${value}`);
    } catch (error) {
      log(`could not restore sysctl ${key}=${value}: ${(error as Error).message}`);
    }
  }
  for (const path of WATCHED_PATHS) {
    if (snapshot.existingPaths.includes(path) || !existsSync(path)) continue;
    try {
      if (path === '/var/run/netns') {
        // Shared with other programs (ip netns): removed only when nothing else is in it.
        if (readdirSync(path).length > 0) continue;
        await unmountRepeatedly(path);
        await run('rmdir', [path]);
      } else {
        await run('rm', ['-rf', '--one-file-system', path]);
      }
      report.paths.push(path);
    } catch (error) {
      report.failures.push(`${path}: ${(error as Error).message}`);
    }
  }
  return report;
}

/** Unmounts `path` until it is no longer a mount point (mounts can be stacked); at most 5 times. */
async function unmountRepeatedly(path: string): Promise<void> {
  for (let i = 0; i < 5; i++) {
    try {
      await run('umount', [path]);
    } catch {
      return; // not mounted (any more)
    }
  }
}
