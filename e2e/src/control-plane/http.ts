import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface TlsClientFiles {
  caCert: string;
  clientCert: string;
  clientKey: string;
}

export interface HttpResult {
  status: number;
  body: string;
}

/** GET `url` (http or https with client cert), never throwing: network errors give status 0. */
export function get(url: string, tls?: TlsClientFiles, timeoutMs = 5_000): Promise<HttpResult> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const onResponse = (res: IncomingMessage): void => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        if (body.length < 64 * 1024) body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', (e) => resolve({ status: 0, body: String(e) }));
    };
    const req =
      u.protocol === 'https:'
        ? httpsRequest(
            u,
            {
              method: 'GET',
              timeout: timeoutMs,
              ...(tls
                ? { ca: readFileSync(tls.caCert), cert: readFileSync(tls.clientCert), key: readFileSync(tls.clientKey) }
                : {}),
            },
            onResponse,
          )
        : httpRequest(u, { method: 'GET', timeout: timeoutMs }, onResponse);
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs}ms`)));
    req.on('error', (e) => resolve({ status: 0, body: e.message }));
    req.end();
  });
}
