// One benchmark server per process, chosen by argv[2]; prints its port on stdout when listening.
//   transport: bare https answering a fixed AdmissionReview (the transport floor)
//   work:      bare https doing the same work as the webhook, no framework, no metrics (the work floor)
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { ResourceValidator, type AdmissionRequest } from '@kaos/api-types';
import { resourceProblems, timeoutDefaultPatch, type RoutingConfig } from '@kaos/routing';
import { tlsServerOptions } from '../src/tls/server-options.js';

const config: RoutingConfig = {
  gatewayApiEnabled: true,
  gatewayName: 'kaos-gateway',
  gatewayNamespace: 'kaos-system',
  defaultTimeouts: { Agent: '120s', ModelAPI: '120s', MCPServer: '30s' },
};

const kind = process.argv[2];
// The bench generates the certificate once (as the webhook gets it: mounted files), so no floor
// loads node-forge or generates keys, which would inflate its memory.
const tlsDir = process.env.BENCH_TLS_DIR;
if (!tlsDir) throw new Error('BENCH_TLS_DIR (tls.crt, tls.key) is required');
const tls = { cert: readFileSync(`${tlsDir}/tls.crt`, 'utf8'), key: readFileSync(`${tlsDir}/tls.key`, 'utf8') };
const validator = new ResourceValidator();

const fixedAnswer = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'x', allowed: true } });

const server = createServer(tlsServerOptions(tls), (request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    if (kind === 'transport') {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(fixedAnswer);
      return;
    }
    const review = JSON.parse(Buffer.concat(chunks).toString()) as { request: AdmissionRequest };
    const problems = resourceProblems(review.request.object, config, validator);
    const patch = timeoutDefaultPatch(review.request.object, config);
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(
      JSON.stringify({
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        response: {
          uid: review.request.uid,
          allowed: problems.length === 0,
          ...(patch.length > 0 ? { patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') } : {}),
        },
      }),
    );
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${(server.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
