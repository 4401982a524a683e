// A steady, bounded stream of applies of new KAOS resources, as a user's CI or GitOps tool would
// send them, while a disruption happens. Every apply goes through both webhooks (defaulting and
// validation). Every failed write is counted, and by cause (`failureCause`): admission (a webhook
// named in the error), the API server away, or other.
// With `changes`, one operation in five changes the timeout of an earlier resource and one in five
// deletes one, so a missed update or delete shows up as a wrong or orphaned route.
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
  /** Also update and delete earlier resources (see above). Default false: creates only. */
  changes?: boolean;
}

/** Why a write failed: refused or failed by admission (a webhook named in the error), the API server unreachable or unable to serve, or anything else. */
export type FailureCause = 'admission' | 'unavailable' | 'other';

/** What a load run saw. */
export interface ApplyLoadResult {
  attempted: number;
  failed: number;
  /** Up to 20 failure messages, with the time since the start. */
  failures: string[];
  /** The resources that were admitted and not deleted since, as last applied, for route checks. */
  created: KaosResource[];
  /** Failed writes by cause. */
  byCause: Record<FailureCause, number>;
  /** When the load started and stopped (ms since the epoch). */
  startedAt: number;
  stoppedAt: number;
  /** The load stopped at maxDurationMs, before stop() was called: the disruption outlasted it. */
  endedByDeadline: boolean;
}

/** A running load; stop() ends it and returns what it saw. */
export interface ApplyLoad {
  stop(): Promise<ApplyLoadResult>;
}

/** The cause of a failed write from its status and message (status 0: no HTTP answer). */
export function failureCause(status: number, message: string): FailureCause {
  if (/webhook/i.test(message)) return 'admission';
  if (status === 0 || status === 429 || status >= 500) return 'unavailable';
  return 'other';
}

/** Server-side apply of one object, or its deletion; resolves with the HTTP status and body (status 0 for a network error). */
function write(options: ApplyLoadOptions, agent: Agent, resource: KaosResource, method: 'PATCH' | 'DELETE'): Promise<{ status: number; body: string }> {
  const path = `${options.server}/apis/kaos.tools/v1alpha1/namespaces/${options.namespace}/${kindDefinition(resource.kind).plural}/${resource.metadata.name}`;
  const url = new URL(method === 'PATCH' ? `${path}?fieldManager=e2e-load&force=true` : path);
  const payload = method === 'PATCH' ? JSON.stringify(resource) : '';
  const headers: Record<string, string | number> = method === 'PATCH' ? { 'content-type': 'application/apply-patch+yaml', 'content-length': Buffer.byteLength(payload) } : {};
  return new Promise((resolve) => {
    const req = request(
      url,
      { method, agent, headers, timeout: 30_000 },
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
  const started = Date.now();
  const result: ApplyLoadResult = { attempted: 0, failed: 0, failures: [], created: [], byCause: { admission: 0, unavailable: 0, other: 0 }, startedAt: started, stoppedAt: 0, endedByDeadline: false };
  const live = new Map<string, KaosResource>();
  let stopping = false;
  const intervalMs = 1000 / options.ratePerSecond;
  const loop = (async () => {
    for (let n = 0; !stopping && Date.now() - started < options.maxDurationMs; n++) {
      const tick = Date.now();
      const earlier = [...live.values()];
      const change = options.changes && earlier.length > 5 ? n % 5 : 0;
      let resource: KaosResource;
      let method: 'PATCH' | 'DELETE' = 'PATCH';
      if (change === 3) {
        resource = structuredClone(earlier[n % earlier.length]!);
        resource.spec = { ...resource.spec, gatewayRoute: { timeout: `${10 + (n % 200)}s` } };
      } else if (change === 4) {
        resource = earlier[(n * 7) % earlier.length]!;
        method = 'DELETE';
      } else {
        resource = mixedResource(n, options.namespace);
        resource.metadata.name = `${options.prefix}-${n}`;
      }
      result.attempted++;
      const { status, body } = await write(options, agent, resource, method);
      // A delete whose answer was lost in an outage may have happened: the next one finds it gone.
      const alreadyGone = method === 'DELETE' && status === 404;
      if ((status >= 200 && status < 300) || alreadyGone) {
        if (method === 'DELETE') live.delete(resource.metadata.name!);
        else live.set(resource.metadata.name!, resource);
      } else {
        result.failed++;
        let message = body;
        try {
          message = (JSON.parse(body) as { message?: string }).message ?? body;
        } catch {
          // not a Status: keep the text
        }
        const cause = failureCause(status, message);
        result.byCause[cause]++;
        if (result.failures.length < 20) result.failures.push(`+${((tick - started) / 1000).toFixed(1)}s ${method === 'DELETE' ? 'delete' : 'apply'} ${resource.kind} ${resource.metadata.name}: ${cause}: HTTP ${status} ${message.slice(0, 300)}`);
      }
      await sleep(Math.max(0, intervalMs - (Date.now() - tick)));
    }
    result.endedByDeadline = !stopping;
    result.stoppedAt = Date.now();
    result.created = [...live.values()];
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
