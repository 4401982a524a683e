// TLS settings of the admission endpoint. `server.setSecureContext(options)` resets every option it
// is not given (minVersion, ciphers, ...) to Node's defaults, so hot reloads must pass the same full
// set as `https.createServer`: both take `tlsServerOptions(material)`.
import type { SecureContextOptions } from 'node:tls';
import type { TlsMaterial } from './rotation.js';

/** TLS 1.2 is the floor (issue 4); the API server speaks 1.3 too. */
export const TLS_MIN_VERSION = 'TLSv1.2' as const;

/** Forward-secret AEAD suites only (Mozilla "intermediate"); the TLS_ names are the TLS 1.3 suites. */
export const TLS_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** Full secure-context options for serving the material: use for createServer and every setSecureContext. */
export function tlsServerOptions(material: Pick<TlsMaterial, 'cert' | 'key'>): SecureContextOptions {
  return { key: material.key, cert: material.cert, minVersion: TLS_MIN_VERSION, ciphers: TLS_CIPHERS, honorCipherOrder: true };
}
