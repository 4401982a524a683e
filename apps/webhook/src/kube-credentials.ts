// Credentials for the webhook's few Kubernetes calls, without @kubernetes/client-node: loading
// client-node costs about 30 MB of RSS (a third of the webhook's 100 MB budget) for what is, here,
// a token file or a client certificate (ADR 0008). Same lookup order as client-node's
// loadFromDefault: $KUBECONFIG (paths joined with ':', first definition wins), ~/.kube/config, the
// pod's service account. Kubeconfigs with exec or auth-provider plugins are refused with a clear
// message: those belong to people's laptops, and the webhook runs in a pod.
import { existsSync, readFileSync } from 'node:fs';
import { Agent, type RequestOptions } from 'node:https';
import { isIP } from 'node:net';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join } from 'node:path';

/** Where the service-account token, CA and namespace are mounted in every pod. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** How to reach the API server: its base URL and the TLS/auth options of each request. */
export interface KubeCredentials {
  /** Where the credentials came from, for the start-up log. */
  readonly source: string;
  readonly server: string;
  /** Adds the agent (CA, client certificate) and a current bearer token to one request's options. */
  applyTo(options: RequestOptions): void;
}

/** Credentials that cannot be used: names the file and what is wrong. */
export class KubeCredentialsError extends Error {
  override readonly name = 'KubeCredentialsError';
}

/** What the lookup reads from the process; injectable for tests. */
export interface CredentialSources {
  readonly env: NodeJS.ProcessEnv;
  readonly home: string;
  readonly serviceAccountDir: string;
}

const defaultSources = (): CredentialSources => ({ env: process.env, home: homedir(), serviceAccountDir: SERVICE_ACCOUNT_DIR });

/** Finds credentials the way kubectl and client-node do; throws KubeCredentialsError when none are usable. */
export async function loadKubeCredentials(sources: CredentialSources = defaultSources()): Promise<KubeCredentials> {
  const files = (sources.env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
  if (files.length > 0) return kubeconfigCredentials(files);
  const homeConfig = join(sources.home, '.kube', 'config');
  if (existsSync(homeConfig)) return kubeconfigCredentials([homeConfig]);
  if (existsSync(join(sources.serviceAccountDir, 'token'))) return inClusterCredentials(sources.env, sources.serviceAccountDir);
  throw new KubeCredentialsError(`no Kubernetes credentials: set KUBECONFIG, create ~/.kube/config, or run in a pod (no token in ${sources.serviceAccountDir})`);
}

/**
 * Pod credentials: `https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT`, the mounted CA, and
 * the token re-read on every call (the kubelet rotates it; the webhook calls rarely).
 */
export function inClusterCredentials(env: NodeJS.ProcessEnv, directory = SERVICE_ACCOUNT_DIR): KubeCredentials {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) throw new KubeCredentialsError('in a pod but KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are not set');
  const tokenFile = join(directory, 'token');
  const agent = new Agent({ keepAlive: true, maxSockets: 4, ca: readFileSync(join(directory, 'ca.crt')) });
  return {
    source: `service account (${directory})`,
    server: `https://${isIP(host) === 6 ? `[${host}]` : host}:${port}`,
    applyTo: (options) => authorize(options, agent, readFileSync(tokenFile, 'utf8').trim()),
  };
}

interface NamedEntry {
  name?: unknown;
  [key: string]: unknown;
}

interface Kubeconfig {
  currentContext: string | undefined;
  contexts: Map<string, Record<string, unknown>>;
  clusters: Map<string, { entry: Record<string, unknown>; directory: string }>;
  users: Map<string, { entry: Record<string, unknown>; directory: string }>;
}

/** Credentials of the current context of the merged kubeconfig files (client certificate or token). */
export async function kubeconfigCredentials(files: readonly string[]): Promise<KubeCredentials> {
  // yaml is loaded only here: a pod never reads a kubeconfig.
  const { parse } = await import('yaml');
  const merged: Kubeconfig = { currentContext: undefined, contexts: new Map(), clusters: new Map(), users: new Map() };
  for (const file of files) {
    let document: Record<string, unknown>;
    try {
      document = (parse(readFileSync(file, 'utf8')) ?? {}) as Record<string, unknown>;
    } catch (error) {
      throw new KubeCredentialsError(`kubeconfig ${file}: ${(error as Error).message}`);
    }
    const directory = dirname(file);
    merged.currentContext ??= typeof document['current-context'] === 'string' && document['current-context'] !== '' ? document['current-context'] : undefined;
    for (const item of entries(document.contexts)) addFirst(merged.contexts, item, 'context', () => object(item.context));
    for (const item of entries(document.clusters)) addFirst(merged.clusters, item, 'cluster', () => ({ entry: object(item.cluster), directory }));
    for (const item of entries(document.users)) addFirst(merged.users, item, 'user', () => ({ entry: object(item.user), directory }));
  }
  const where = `kubeconfig ${files.join(delimiter)}`;
  if (merged.currentContext === undefined) throw new KubeCredentialsError(`${where}: no current-context`);
  const context = merged.contexts.get(merged.currentContext);
  if (context === undefined) throw new KubeCredentialsError(`${where}: context "${merged.currentContext}" not found`);
  const cluster = merged.clusters.get(String(context.cluster));
  if (cluster === undefined) throw new KubeCredentialsError(`${where}: cluster "${String(context.cluster)}" of context "${merged.currentContext}" not found`);
  const user = context.user === undefined ? { entry: {}, directory: '' } : merged.users.get(String(context.user));
  if (user === undefined) throw new KubeCredentialsError(`${where}: user "${String(context.user)}" of context "${merged.currentContext}" not found`);

  const server = cluster.entry.server;
  if (typeof server !== 'string' || !server.startsWith('https://')) {
    throw new KubeCredentialsError(`${where}: cluster "${String(context.cluster)}" needs an https:// server (got ${JSON.stringify(server)})`);
  }
  for (const unsupported of ['exec', 'auth-provider', 'username']) {
    if (user.entry[unsupported] !== undefined) {
      throw new KubeCredentialsError(
        `${where}: user "${String(context.user)}" authenticates with ${unsupported}, which the webhook does not support; use a client certificate or a token, or run it in a pod`,
      );
    }
  }
  const tlsServerName = cluster.entry['tls-server-name'];
  const agent = new Agent({
    keepAlive: true,
    maxSockets: 4,
    ...pemOption('ca', cluster, 'certificate-authority', where),
    ...pemOption('cert', user, 'client-certificate', where),
    ...pemOption('key', user, 'client-key', where),
    ...(cluster.entry['insecure-skip-tls-verify'] === true ? { rejectUnauthorized: false } : {}),
    ...(typeof tlsServerName === 'string' && tlsServerName !== '' ? { servername: tlsServerName } : {}),
  });
  const token = typeof user.entry.token === 'string' && user.entry.token !== '' ? user.entry.token : undefined;
  const tokenFile = typeof user.entry.tokenFile === 'string' && user.entry.tokenFile !== '' ? resolvePath(user.directory, user.entry.tokenFile) : undefined;
  return {
    source: `kubeconfig context "${merged.currentContext}"`,
    server,
    // A token file is re-read on every call: whoever writes it may rotate it.
    applyTo: (options) => authorize(options, agent, token ?? (tokenFile === undefined ? undefined : readFileSync(tokenFile, 'utf8').trim())),
  };
}

function authorize(options: RequestOptions, agent: Agent, token: string | undefined): void {
  options.agent = agent;
  if (token !== undefined) options.headers = { ...options.headers, authorization: `Bearer ${token}` };
}

function entries(value: unknown): NamedEntry[] {
  return Array.isArray(value) ? value.filter((item): item is NamedEntry => item !== null && typeof item === 'object') : [];
}

function object(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : {};
}

// kubectl's merge rule: the first file that defines a name wins.
function addFirst<T>(map: Map<string, T>, item: NamedEntry, kind: string, value: () => T): void {
  if (typeof item.name !== 'string') throw new KubeCredentialsError(`kubeconfig: a ${kind} without a name`);
  if (!map.has(item.name)) map.set(item.name, value());
}

function resolvePath(directory: string, path: string): string {
  return isAbsolute(path) ? path : join(directory, path);
}

// `{field}-data` (base64 PEM) or `{field}` (a file, relative to its kubeconfig), as kubectl reads them.
function pemOption(
  option: 'ca' | 'cert' | 'key',
  source: { entry: Record<string, unknown>; directory: string },
  field: string,
  where: string,
): Partial<Record<'ca' | 'cert' | 'key', Buffer>> {
  const data = source.entry[`${field}-data`];
  if (typeof data === 'string' && data !== '') return { [option]: Buffer.from(data, 'base64') };
  const file = source.entry[field];
  if (typeof file !== 'string' || file === '') return {};
  try {
    return { [option]: readFileSync(resolvePath(source.directory, file)) };
  } catch (error) {
    throw new KubeCredentialsError(`${where}: ${field} ${file}: ${(error as Error).message}`);
  }
}
