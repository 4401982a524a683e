// A steady, bounded stream of applies of new KAOS resources, as a user's CI or GitOps tool would
// send them, while a disruption happens. Every apply goes through both webhooks (defaulting and
// validation); an apply that fails for any reason is an admission failure the disruption caused.
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { mixedResource } from './cluster.js';
import { kindDefinition, type KaosResource } from '@kaos/api-types';

/** Where the load goes and how fast. */
export interface ApplyLoadOptions {
  server: string;
  caCert: string;
  clientCert: string;
  clientKey: string;
  namespace: string;
  /** Names are `<prefix>-<n>`. */
  prefix: string;
  /** Applies started per second (each waits for the previous one: at most one in flight). */
  ratePerSecond: number;
  /** Hard stop, so a hung test cannot leave the load running. */
  maxDurationMs: number;
}

/** What a load run saw. */
export interface ApplyLoadResult {
  attempted: number;
  failed: number;
  /** Up to 20 failure messages, with the time since the start. */
  failures: string[];
  /** The resources that were admitted (created), for route checks. */
  created: KaosResource[];
  /** The load stopped at maxDurationMs, before stop() was called: the disruption outlasted it. */
  endedByDeadline: boolean;
}

/** A running load; stop() ends it and returns what it saw. */
export interface ApplyLoad {
  stop(): Promise<ApplyLoadResult>;
}

/** Server-side apply of one object; resolves with the HTTP status and body (status 0 for a network error). */
function apply(options: ApplyLoadOptions, agent: Agent, resource: KaosResource): Promise<{ status: number; body: string }> {
  const url = new URL(`${options.server}/apis/kaos.tools/v1alpha1/namespaces/${options.namespace}/${kindDefinition(resource.kind).plural}/${resource.metadata.name}?fieldManager=e2e-load&force=true`);
  const payload = JSON.stringify(resource);
  return new Promise((resolve) => {
    const req = request(
      url,
      { method: 'PATCH', agent, headers: { 'content-type': 'application/apply-patch+yaml', 'content-length': Buffer.byteLength(payload) }, timeout: 30_000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', (error) => resolve({ status: 0, body: error.message }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out after 30 s')));
    req.on('error', (error) => resolve({ status: 0, body: error.message }));
    req.end(payload);
  });
}

/** Starts applying new resources at a steady rate until stop() (or maxDurationMs). */
export function startApplyLoad(options: ApplyLoadOptions): ApplyLoad {
  const agent = new Agent({
    keepAlive: true,
    maxSockets: 1,
    ca: readFileSync(options.caCert),
    cert: readFileSync(options.clientCert),
    key: readFileSync(options.clientKey),
  });
  const result: ApplyLoadResult = { attempted: 0, failed: 0, failures: [], created: [], endedByDeadline: false };
  const started = Date.now();
  let stopping = false;
  const intervalMs = 1000 / options.ratePerSecond;
  const loop = (async () => {
    for (let n = 0; !stopping && Date.now() - started < options.maxDurationMs; n++) {
      const tick = Date.now();
      const resource = mixedResource(n, options.namespace);
      resource.metadata.name = `${options.prefix}-${n}`;
      result.attempted++;
      const { status, body } = await apply(options, agent, resource);
      if (status >= 200 && status < 300) {
        result.created.push(resource);
      } else {
        result.failed++;
        if (result.failures.length < 20) {
          let message = body;
          try {
            message = (JSON.parse(body) as { message?: string }).message ?? body;
          } catch {
            // not a Status: keep the text
          }
          result.failures.push(`+${((tick - started) / 1000).toFixed(1)}s ${resource.kind} ${resource.metadata.name}: HTTP ${status} ${message.slice(0, 300)}`);
        }
      }
      await sleep(Math.max(0, intervalMs - (Date.now() - tick)));
    }
    result.endedByDeadline = !stopping;
  })();
  return {
    async stop() {
      stopping = true;
      await loop;
      agent.destroy();
      return result;
    },
  };
}
