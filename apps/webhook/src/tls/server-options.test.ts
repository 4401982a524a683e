import { createServer, request, Agent, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { connect, type SecureVersion, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { inspectCertificate, type KeyAndCertificate } from './certificates.js';
import { TLS_MIN_VERSION, tlsServerOptions } from './server-options.js';
import { ca, days, leaf } from './tls.test-helpers.js';

// A real HTTPS server on loopback: the protocol floor holds, and a hot reload through
// setSecureContext serves new connections with the new certificate while a kept-alive connection
// opened before the reload keeps working.
let root: KeyAndCertificate;
let first: KeyAndCertificate;
let second: KeyAndCertificate;
let server: Server;
let port: number;

beforeAll(async () => {
  // OpenSSL checks validity against the wall clock, so these certificates are valid around it.
  const wall = new Date();
  root = await ca(days(-1, wall), days(365, wall), 'root');
  const sans = { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] };
  [first, second] = await Promise.all([leaf(root, days(-1, wall), days(90, wall), sans), leaf(root, days(-1, wall), days(90, wall), sans)]);
  server = createServer({ ...tlsServerOptions(cert(first)), keepAliveTimeout: 30_000 }, (_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function cert(pair: KeyAndCertificate): { cert: string; key: string } {
  return { cert: pair.certificatePem, key: pair.privateKeyPem };
}

function handshake(version: SecureVersion): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, ca: root.certificatePem, servername: 'localhost', minVersion: version, maxVersion: version });
    socket.once('secureConnect', () => {
      resolve(socket.getProtocol() ?? 'unknown');
      socket.end();
    });
    socket.once('error', (error) => resolve(`error: ${error.message}`));
  });
}

// The peer certificate is read once per socket: Node no longer exposes it on a reused keep-alive socket.
const peerFingerprints = new WeakMap<object, string>();

function get(agent: Agent): Promise<{ body: string; fingerprint: string | undefined; reusedSocket: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent, ca: root.certificatePem, servername: 'localhost' }, (res) => {
      const socket = res.socket as TLSSocket;
      const peer = socket.getPeerX509Certificate();
      if (peer !== undefined) peerFingerprints.set(socket, peer.fingerprint256);
      const fingerprint = peerFingerprints.get(socket);
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ body, fingerprint, reusedSocket: req.reusedSocket }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('tlsServerOptions', () => {
  it.each<[SecureVersion, string]>([
    ['TLSv1.3', 'TLSv1.3'],
    ['TLSv1.2', 'TLSv1.2'],
  ])('accepts %s', async (version, expected) => {
    expect(await handshake(version)).toBe(expected);
  });

  it('refuses TLS 1.1', async () => {
    expect(await handshake('TLSv1.1')).toMatch(/^error: /);
    expect(TLS_MIN_VERSION).toBe('TLSv1.2');
  });

  it('hot-reloads the certificate without dropping a kept-alive connection', async () => {
    const keptAlive = new Agent({ keepAlive: true, maxSockets: 1 });
    const before = await get(keptAlive);
    expect(before).toEqual({ body: 'ok', fingerprint: inspectCertificate(first.certificatePem).fingerprint, reusedSocket: false });

    server.setSecureContext(tlsServerOptions(cert(second)));

    const fresh = new Agent({ keepAlive: false });
    expect((await get(fresh)).fingerprint).toBe(inspectCertificate(second.certificatePem).fingerprint);
    // Same socket as before the reload: still answered, still the old certificate.
    expect(await get(keptAlive)).toEqual({ ...before, reusedSocket: true });
    expect(await handshake('TLSv1.1')).toMatch(/^error: /); // the reload kept the protocol floor
    keptAlive.destroy();
    fresh.destroy();
  });
});
