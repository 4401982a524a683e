import { X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from '@jest/globals';
import forge from 'node-forge';
import {
  CertificateError,
  chainVerifies,
  generateCa,
  generateServingCertificate,
  inspectCertificate,
  keyMatchesCertificate,
  normalizeSans,
  sameSans,
  splitPemCertificates,
  webhookSubjectAltNames,
  type KeyAndCertificate,
} from './certificates.js';
import { DAY, ECDSA_CERT, ECDSA_KEY, NOW, SANS, ca, days, leaf } from './tls.test-helpers.js';

let root: KeyAndCertificate;
let other: KeyAndCertificate;
let serving: KeyAndCertificate;

beforeAll(async () => {
  [root, other] = await Promise.all([ca(days(-1), days(365 * 5), 'root'), ca(days(-1), days(365), 'other')]);
  serving = await generateServingCertificate({
    ca: root,
    sans: { dnsNames: [...SANS.dnsNames, 'localhost'], ipAddresses: ['127.0.0.1', '0:0:0:0:0:0:0:1'] },
    notBefore: days(-1),
    notAfter: days(90),
  });
});

describe('webhookSubjectAltNames', () => {
  it.each([
    ['service and namespace', { service: 'kaos-webhook', namespace: 'kaos-system' }, ['kaos-webhook.kaos-system.svc', 'kaos-webhook.kaos-system.svc.cluster.local'], []],
    [
      'extra names and IPs for local runs, normalised',
      { service: 'w', namespace: 'n', extraDnsNames: ['LocalHost', 'host.docker.internal'], extraIpAddresses: ['127.0.0.1', '::0001'] },
      ['host.docker.internal', 'localhost', 'w.n.svc', 'w.n.svc.cluster.local'],
      ['127.0.0.1', '::1'],
    ],
  ])('builds %s', (_name, input, dnsNames, ipAddresses) => {
    expect(webhookSubjectAltNames(input)).toEqual({ dnsNames, ipAddresses });
  });
});

describe('normalizeSans', () => {
  it.each([
    ['an invalid DNS name', { dnsNames: ['bad_name.svc'], ipAddresses: [] }, /not a valid DNS name/],
    ['an invalid IP', { dnsNames: ['a.svc'], ipAddresses: ['300.1.1.1'] }, /not a valid IP address/],
    ['no names at all', { dnsNames: [], ipAddresses: [] }, /at least one/],
  ])('rejects %s', (_name, sans, message) => {
    expect(() => normalizeSans(sans)).toThrow(message);
  });

  it.each([
    ['same names in another order and case', { dnsNames: ['B.svc', 'a.svc'], ipAddresses: [] }, { dnsNames: ['a.svc', 'b.svc'], ipAddresses: [] }, true],
    ['IPv6 spellings', { dnsNames: ['a.svc'], ipAddresses: ['FD00:0:0:0:0:0:10:1'] }, { dnsNames: ['a.svc'], ipAddresses: ['fd00::10:1'] }, true],
    ['a missing name', { dnsNames: ['a.svc', 'b.svc'], ipAddresses: [] }, { dnsNames: ['a.svc'], ipAddresses: [] }, false],
  ])('compares %s', (_name, a, b, same) => {
    expect(sameSans(a, b)).toBe(same);
  });
});

describe('generateCa', () => {
  it('makes a self-signed RSA-2048 CA with CA:true and keyCertSign', () => {
    const x509 = new X509Certificate(root.certificatePem);
    expect(x509.ca).toBe(true);
    expect(x509.checkIssued(x509)).toBe(true);
    expect(x509.verify(x509.publicKey)).toBe(true);
    const extensions = forge.pki.certificateFromPem(root.certificatePem);
    expect(extensions.getExtension('basicConstraints')).toMatchObject({ cA: true, critical: true });
    expect(extensions.getExtension('keyUsage')).toMatchObject({ keyCertSign: true, critical: true });
    const info = inspectCertificate(root.certificatePem);
    expect(info).toMatchObject({ isCA: true, subjectCommonName: 'root', issuerCommonName: 'root', publicKeyAlgorithm: 'rsa', keyBits: 2048 });
    expect(info.notBefore).toEqual(days(-1));
    expect(info.notAfter).toEqual(days(365 * 5));
  });

  it.each([
    ['1024-bit keys', 1024],
    ['a fractional size', 2048.5],
  ])('refuses %s', async (_name, keyBits) => {
    await expect(generateCa({ commonName: 'x', notBefore: NOW, notAfter: days(1), keyBits })).rejects.toThrow(CertificateError);
  });

  it('encodes common names as UTF8String, so Go (the API server) parses names with @ or _', async () => {
    const named = await generateCa({ commonName: 'kaos-webhook-ca@1764140000', notBefore: NOW, notAfter: days(1) });
    const leafOfNamed = await generateServingCertificate({ ca: named, sans: SANS, notBefore: NOW, notAfter: days(1), commonName: 'web_hook' });
    for (const pem of [named.certificatePem, leafOfNamed.certificatePem]) {
      const certificate = forge.pki.certificateFromPem(pem);
      for (const field of [...certificate.subject.attributes, ...certificate.issuer.attributes]) {
        expect(field.valueTagClass).toBe(forge.asn1.Type.UTF8);
      }
    }
    expect(inspectCertificate(named.certificatePem).subjectCommonName).toBe('kaos-webhook-ca@1764140000');
  });

  it('uses distinct positive, minimally encoded 128-bit serial numbers', async () => {
    const serials = [root, other, serving].map((pair) => inspectCertificate(pair.certificatePem).serialNumber);
    expect(new Set(serials).size).toBe(3);
    for (const serial of serials) {
      expect(serial).toMatch(/^[0-7][0-9a-f]{31}$/);
      expect(serial.startsWith('00')).toBe(false);
    }
  });
});

describe('generateServingCertificate', () => {
  it('issues a serverAuth leaf with the requested SANs, signed by the CA', () => {
    const info = inspectCertificate(serving.certificatePem);
    expect(info).toMatchObject({
      isCA: false,
      subjectCommonName: 'kaos-webhook.kaos-system.svc',
      issuerCommonName: 'root',
      dnsNames: ['kaos-webhook.kaos-system.svc', 'kaos-webhook.kaos-system.svc.cluster.local', 'localhost'],
      ipAddresses: ['127.0.0.1', '::1'],
      keyBits: 2048,
    });
    expect(new X509Certificate(serving.certificatePem).keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(info.notBefore).toEqual(days(-1));
    expect(info.notAfter).toEqual(days(90));
  });

  it('clamps the leaf to the CA lifetime', async () => {
    const shortCa = await ca(days(-1), days(10));
    const clamped = await leaf(shortCa, NOW, days(90));
    expect(inspectCertificate(clamped.certificatePem).notAfter).toEqual(days(10));
  });

  it('reuses a given RSA key and refuses others', async () => {
    const reused = await generateServingCertificate({ ca: root, sans: SANS, notBefore: NOW, notAfter: days(1), privateKeyPem: serving.privateKeyPem });
    expect(reused.privateKeyPem).toBe(serving.privateKeyPem);
    expect(keyMatchesCertificate(reused.certificatePem, serving.privateKeyPem)).toBe(true);
    await expect(generateCa({ commonName: 'x', notBefore: NOW, notAfter: days(1), privateKeyPem: ECDSA_KEY })).rejects.toThrow(/must be RSA/);
    await expect(generateCa({ commonName: 'x', notBefore: NOW, notAfter: days(1), privateKeyPem: 'nope' })).rejects.toThrow(/not a valid private key/);
  });

  it('generates 3072-bit keys on request', async () => {
    const big = await generateServingCertificate({ ca: root, sans: SANS, notBefore: NOW, notAfter: days(1), keyBits: 3072 });
    expect(inspectCertificate(big.certificatePem).keyBits).toBe(3072);
  });
});

describe('chainVerifies', () => {
  it.each<[string, boolean, () => string, () => string[]]>([
    ['the issuing CA', true, () => serving.certificatePem, () => [root.certificatePem]],
    ['a bundle holding the issuer second', true, () => serving.certificatePem, () => [other.certificatePem, root.certificatePem]],
    ['another CA only', false, () => serving.certificatePem, () => [other.certificatePem]],
    ['a leaf posing as CA', false, () => serving.certificatePem, () => [serving.certificatePem]],
    ['garbage as leaf', false, () => 'not a pem', () => [root.certificatePem]],
    ['garbage as CA', false, () => serving.certificatePem, () => ['-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n']],
  ])('against %s → %s', (_name, expected, leafPem, caPems) => {
    expect(chainVerifies(leafPem(), caPems())).toBe(expected);
  });
});

describe('keyMatchesCertificate', () => {
  it.each<[string, boolean, () => [string, string]]>([
    ['the leaf and its key', true, () => [serving.certificatePem, serving.privateKeyPem]],
    ['the CA and its key', true, () => [root.certificatePem, root.privateKeyPem]],
    ['the leaf and the CA key', false, () => [serving.certificatePem, root.privateKeyPem]],
    ['an ECDSA pair', true, () => [ECDSA_CERT, ECDSA_KEY]],
    ['an unparseable key', false, () => [serving.certificatePem, 'nope']],
  ])('%s → %s', (_name, expected, pair) => {
    expect(keyMatchesCertificate(...pair())).toBe(expected);
  });
});

describe('inspectCertificate', () => {
  it('reads an ECDSA P-256 certificate, as cert-manager issues them', () => {
    expect(inspectCertificate(ECDSA_CERT)).toMatchObject({
      publicKeyAlgorithm: 'ec',
      namedCurve: 'prime256v1',
      dnsNames: ['kaos-webhook.kaos-system.svc'],
      ipAddresses: ['127.0.0.1', '::1'],
      isCA: false,
    });
  });

  it.each([
    ['no PEM block', 'hello', /no PEM certificate block/],
    ['a corrupt block', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----', /not a valid certificate/],
  ])('rejects %s', (_name, pem, message) => {
    expect(() => inspectCertificate(pem)).toThrow(message);
  });

  it('reads the first certificate of a chain and gives a SHA-256 fingerprint', () => {
    const info = inspectCertificate(serving.certificatePem + root.certificatePem);
    expect(info.subjectCommonName).toBe('kaos-webhook.kaos-system.svc');
    expect(info.fingerprint).toBe(new X509Certificate(serving.certificatePem).fingerprint256);
  });
});

describe('splitPemCertificates', () => {
  it('ignores text between blocks and keeps order', () => {
    const text = `subject=root\n${root.certificatePem}\n\nsome comment\n${other.certificatePem}`;
    expect(splitPemCertificates(text).map((pem) => inspectCertificate(pem).subjectCommonName)).toEqual(['root', 'other']);
  });
});

describe('speed', () => {
  // Native key generation keeps a CA plus leaf well under a second even on a slow CI machine; pure-JS
  // RSA would take seconds. The budget is loose on purpose: this guards the code path, not the CPU.
  it('generates a CA and a leaf quickly', async () => {
    const start = performance.now();
    const fresh = await generateCa({ commonName: 'speed', notBefore: NOW, notAfter: new Date(NOW.getTime() + DAY) });
    await generateServingCertificate({ ca: fresh, sans: SANS, notBefore: NOW, notAfter: new Date(NOW.getTime() + DAY) });
    expect(performance.now() - start).toBeLessThan(2000);
  });
});
