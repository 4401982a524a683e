import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { stringify } from 'yaml';
import { KubeCredentialsError, inClusterCredentials, kubeconfigCredentials, loadKubeCredentials, type KubeCredentials } from './kube-credentials.js';
import { KubernetesApiError, kubernetesRequest, restSecretsApi } from './kube-rest.js';
import { inspectCertificate, type KeyAndCertificate } from './tls/certificates.js';
import { apiStatus, describeError } from './tls/kubernetes-errors.js';
import { ca, days, leaf } from './tls/tls.test-helpers.js';

// A loopback "API server" over HTTPS that records who called (bearer token, client certificate)
// and answers a Secret or a 404 Status, so credentials are checked end to end through real TLS.
let root: KeyAndCertificate;
let serving: KeyAndCertificate;
let client: KeyAndCertificate;
let server: Server;
let port: number;
let directory: string;
const seen: { authorization: string | undefined; clientFingerprint: string | undefined; path: string | undefined }[] = [];

beforeAll(async () => {
  const wall = new Date();
  root = await ca(days(-1, wall), days(30, wall), 'api-ca');
  const sans = { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] };
  [serving, client] = await Promise.all([leaf(root, days(-1, wall), days(30, wall), sans), leaf(root, days(-1, wall), days(30, wall), { dnsNames: ['client'], ipAddresses: [] })]);
  server = createServer({ cert: serving.certificatePem, key: serving.privateKeyPem, requestCert: true, rejectUnauthorized: false }, (request, response) => {
    const peer = (request.socket as TLSSocket).getPeerCertificate();
    seen.push({ authorization: request.headers.authorization, clientFingerprint: peer.fingerprint256 || undefined, path: request.url });
    if (request.url?.endsWith('/missing')) {
      response.writeHead(404, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ kind: 'Status', code: 404, message: 'secrets "missing" not found' }));
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ kind: 'Secret', metadata: { name: 'tls', resourceVersion: '7' } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  directory = mkdtempSync(join(tmpdir(), 'kaos-kube-credentials-'));
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  rmSync(directory, { recursive: true, force: true });
});

const b64 = (text: string) => Buffer.from(text).toString('base64');

/** Writes a kubeconfig (one context "main") into its own directory and returns its path. */
function kubeconfig(name: string, cluster: Record<string, unknown>, user: Record<string, unknown>, extraFiles: Record<string, string> = {}): string {
  const dir = join(directory, name);
  mkdirSync(dir, { recursive: true });
  for (const [file, content] of Object.entries(extraFiles)) writeFileSync(join(dir, file), content);
  const path = join(dir, 'config');
  writeFileSync(
    path,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster }],
      users: [{ name: 'u', user }],
      contexts: [{ name: 'main', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'main',
    }),
  );
  return path;
}

function serviceAccount(name: string, token: string): string {
  const dir = join(directory, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'ca.crt'), root.certificatePem);
  writeFileSync(join(dir, 'token'), `${token}\n`);
  return dir;
}

async function readSecret(credentials: KubeCredentials, name = 'tls'): Promise<unknown> {
  return restSecretsApi(credentials).readNamespacedSecret({ name, namespace: 'kaos-system' });
}

describe('kubeconfig credentials reach a TLS API server', () => {
  const apiUrl = () => `https://127.0.0.1:${port}`;
  const clientFingerprint = () => inspectCertificate(client.certificatePem).fingerprint;
  const cases: { name: string; config: () => string; authorization: string | undefined; withClientCertificate: boolean }[] = [
    {
      name: 'embedded CA and client certificate (-data fields)',
      config: () => kubeconfig('data', { server: apiUrl(), 'certificate-authority-data': b64(root.certificatePem) }, { 'client-certificate-data': b64(client.certificatePem), 'client-key-data': b64(client.privateKeyPem) }),
      authorization: undefined,
      withClientCertificate: true,
    },
    {
      name: 'files relative to the kubeconfig',
      config: () =>
        kubeconfig('files', { server: apiUrl(), 'certificate-authority': 'ca.pem' }, { 'client-certificate': 'client.pem', 'client-key': 'client-key.pem' }, { 'ca.pem': root.certificatePem, 'client.pem': client.certificatePem, 'client-key.pem': client.privateKeyPem }),
      authorization: undefined,
      withClientCertificate: true,
    },
    {
      name: 'a static token',
      config: () => kubeconfig('token', { server: apiUrl(), 'certificate-authority-data': b64(root.certificatePem) }, { token: 'static-token' }),
      authorization: 'Bearer static-token',
      withClientCertificate: false,
    },
    {
      name: 'a token file',
      config: () => kubeconfig('token-file', { server: apiUrl(), 'certificate-authority-data': b64(root.certificatePem) }, { tokenFile: 'token' }, { token: 'file-token\n' }),
      authorization: 'Bearer file-token',
      withClientCertificate: false,
    },
    {
      name: 'no CA check (insecure-skip-tls-verify)',
      config: () => kubeconfig('insecure', { server: apiUrl(), 'insecure-skip-tls-verify': true }, { token: 't' }),
      authorization: 'Bearer t',
      withClientCertificate: false,
    },
  ];
  it.each(cases)('$name', async ({ config, authorization, withClientCertificate }) => {
    const credentials = await kubeconfigCredentials([config()]);
    seen.length = 0;
    await expect(readSecret(credentials)).resolves.toMatchObject({ kind: 'Secret', metadata: { name: 'tls' } });
    expect(seen).toEqual([{ authorization, clientFingerprint: withClientCertificate ? clientFingerprint() : undefined, path: '/api/v1/namespaces/kaos-system/secrets/tls' }]);
  });

  it('refuses a server certificate the kubeconfig CA did not sign', async () => {
    const other = await ca(days(-1, new Date()), days(30, new Date()), 'other-ca');
    const credentials = await kubeconfigCredentials([kubeconfig('wrong-ca', { server: apiUrl(), 'certificate-authority-data': b64(other.certificatePem) }, { token: 't' })]);
    await expect(readSecret(credentials)).rejects.toThrow(/certificate/);
  });
});

describe('in-cluster credentials', () => {
  it('use the mounted CA and re-read the rotating token on every call', async () => {
    const dir = serviceAccount('sa', 'first');
    const credentials = inClusterCredentials({ KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(port) }, dir);
    expect(credentials.server).toBe(`https://127.0.0.1:${port}`);
    seen.length = 0;
    await readSecret(credentials);
    writeFileSync(join(dir, 'token'), 'second');
    await readSecret(credentials);
    expect(seen.map((call) => call.authorization)).toEqual(['Bearer first', 'Bearer second']);
  });

  it.each([
    { host: '10.96.0.1', server: 'https://10.96.0.1:443' },
    { host: 'fd00::1', server: 'https://[fd00::1]:443' },
  ])('dial $server for KUBERNETES_SERVICE_HOST=$host', ({ host, server }) => {
    expect(inClusterCredentials({ KUBERNETES_SERVICE_HOST: host, KUBERNETES_SERVICE_PORT: '443' }, serviceAccount('sa-host', 't')).server).toBe(server);
  });
});

describe('API errors', () => {
  it('a 404 Status becomes a KubernetesApiError the TLS code understands', async () => {
    const credentials = inClusterCredentials({ KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(port) }, serviceAccount('sa-errors', 't'));
    const error = await readSecret(credentials, 'missing').then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(KubernetesApiError);
    expect(apiStatus(error)).toBe(404);
    expect(describeError(error)).toBe('HTTP 404: secrets "missing" not found');
  });

  it.each([
    { name: 'a network error (string code)', error: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), status: undefined },
    { name: 'a plain error', error: new Error('boom'), status: undefined },
    { name: 'a client-node style ApiException', error: Object.assign(new Error('x'), { code: 409, body: '{"message":"conflict"}' }), status: 409 },
  ])('apiStatus of $name is $status', ({ error, status }) => {
    expect(apiStatus(error)).toBe(status);
  });

  it('keeps a server path prefix (API proxies)', async () => {
    seen.length = 0;
    await kubernetesRequest({ source: 'test', server: `https://127.0.0.1:${port}/proxy/c1/`, applyTo: (options) => Object.assign(options, { ca: root.certificatePem }) }, 'GET', '/api/v1/x');
    expect(seen.map((call) => call.path)).toEqual(['/proxy/c1/api/v1/x']);
  });
});

describe('which credentials are used', () => {
  const home = () => {
    const dir = join(directory, 'home-with-config');
    mkdirSync(join(dir, '.kube'), { recursive: true });
    writeFileSync(join(dir, '.kube', 'config'), stringify({ clusters: [{ name: 'c', cluster: { server: 'https://home.example:6443' } }], users: [{ name: 'u', user: { token: 't' } }], contexts: [{ name: 'h', context: { cluster: 'c', user: 'u' } }], 'current-context': 'h' }));
    return dir;
  };
  const env = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };
  it.each([
    { name: '$KUBECONFIG first', sources: () => ({ env: { ...env, KUBECONFIG: kubeconfig('kc-first', { server: 'https://kubeconfig.example:6443' }, { token: 't' }) }, home: home(), serviceAccountDir: serviceAccount('sa-1', 't') }), server: 'https://kubeconfig.example:6443' },
    { name: '~/.kube/config next', sources: () => ({ env, home: home(), serviceAccountDir: serviceAccount('sa-2', 't') }), server: 'https://home.example:6443' },
    { name: 'the service account in a pod', sources: () => ({ env, home: join(directory, 'no-home'), serviceAccountDir: serviceAccount('sa-3', 't') }), server: 'https://10.96.0.1:443' },
  ])('$name', async ({ sources, server }) => {
    expect((await loadKubeCredentials(sources())).server).toBe(server);
  });

  it('fails clearly with none of them', async () => {
    await expect(loadKubeCredentials({ env: {}, home: join(directory, 'no-home'), serviceAccountDir: join(directory, 'no-sa') })).rejects.toThrow(/no Kubernetes credentials: set KUBECONFIG/);
  });

  it('merges $KUBECONFIG files, the first definition of a name winning', async () => {
    const first = kubeconfig('merge-1', { server: 'https://first.example' }, { token: 'a' });
    const second = kubeconfig('merge-2', { server: 'https://second.example' }, { token: 'b' });
    expect((await loadKubeCredentials({ env: { KUBECONFIG: `${first}:${second}` }, home: '/nonexistent', serviceAccountDir: '/nonexistent' })).server).toBe('https://first.example');
  });
});

describe('unusable kubeconfigs are refused with the reason', () => {
  it.each([
    { name: 'exec plugin', cluster: { server: 'https://x' }, user: { exec: { command: 'aws' } }, message: /authenticates with exec, which the webhook does not support/ },
    { name: 'auth-provider', cluster: { server: 'https://x' }, user: { 'auth-provider': { name: 'oidc' } }, message: /authenticates with auth-provider/ },
    { name: 'plain http', cluster: { server: 'http://x:8080' }, user: {}, message: /needs an https:\/\/ server/ },
    { name: 'missing CA file', cluster: { server: 'https://x', 'certificate-authority': 'nope.pem' }, user: {}, message: /certificate-authority nope.pem: ENOENT/ },
  ])('$name', async ({ name, cluster, user, message }) => {
    const error = await kubeconfigCredentials([kubeconfig(`bad-${name.replace(/\W/g, '-')}`, cluster, user)]).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(KubeCredentialsError);
    expect((error as Error).message).toMatch(message);
  });

  it('names a missing context', async () => {
    const path = join(directory, 'no-context.yaml');
    writeFileSync(path, stringify({ clusters: [], users: [], contexts: [], 'current-context': 'gone' }));
    await expect(kubeconfigCredentials([path])).rejects.toThrow(/context "gone" not found/);
  });
});
