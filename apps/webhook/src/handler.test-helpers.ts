import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RoutingConfig } from '@kaos/routing';
import type { RouteHandler } from './server.js';

/** Routing switched on, Gateway kaos-gateway in kaos-system, built-in timeouts. */
export const testRoutingConfig: RoutingConfig = {
  gatewayApiEnabled: true,
  gatewayName: 'kaos-gateway',
  gatewayNamespace: 'kaos-system',
  defaultTimeouts: { Agent: '120s', ModelAPI: '120s', MCPServer: '30s' },
};

/** A plain-HTTP loopback server around an admission handler (404 for other paths), for tests. */
export async function serveForTest(handler: RouteHandler) {
  const server = createServer((req, res) => {
    if (!handler(req, res)) {
      res.writeHead(404);
      res.end();
    }
  });
  // Node's client agent drops a kept-alive socket a second before the server's advertised timeout.
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    /** Sends one request and collects the status and body. */
    send(path: string, body: string | Buffer, headers: Record<string, string> = { 'content-type': 'application/json' }, method = 'POST') {
      return new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, path, method, headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        });
        req.on('error', reject);
        req.end(body);
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
