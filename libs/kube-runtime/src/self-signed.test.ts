import { describe, expect, it } from '@jest/globals';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { selfSignedCertificate } from './self-signed.js';

describe('selfSignedCertificate', () => {
  it.each([
    [['localhost'], 365],
    [['localhost', 'kaos-operator-controller-manager-7c846bf8c5-sdfc4'], 30],
  ])('makes a self-signed serving certificate for %j valid %d days', async (dnsNames, days) => {
    const { cert, key, notAfter } = await selfSignedCertificate('kaos-metrics', dnsNames, days);
    const x509 = new X509Certificate(cert);
    expect(x509.checkPrivateKey(createPrivateKey(key))).toBe(true);
    expect(x509.verify(x509.publicKey)).toBe(true);
    expect(x509.subject).toBe('CN=kaos-metrics');
    expect(x509.ca).toBe(false);
    for (const name of dnsNames) expect(x509.checkHost(name)).toBe(name);
    expect(x509.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(Math.round((notAfter.getTime() - Date.now()) / 86_400_000)).toBe(days);
    // A positive serial in minimal DER (Go's parser refuses others): 16 bytes, the first 0x01-0x7f.
    expect(x509.serialNumber).toMatch(/^[0-9A-F]{32}$/);
    expect(parseInt(x509.serialNumber.slice(0, 2), 16)).toBeGreaterThanOrEqual(1);
    expect(parseInt(x509.serialNumber.slice(0, 2), 16)).toBeLessThanOrEqual(0x7f);
  }, 60_000);
});
