// The API server's largest legal AdmissionReview, and a client that sends reviews the way the API
// server's webhook client (client-go over Go's net/http transport) does: keep-alive HTTP/1.1, a 429
// with an integer Retry-After is re-sent after that many seconds, at most 10 times and within the
// webhook's timeoutSeconds (ADR 0010); anything else is final. An answer that arrives while the
// body is still being written is used, and the connection is closed if the write has not finished
// 50 ms later, as Go's transport does.
import { Agent, request } from 'node:https';

/**
 * Object-heavy, not one long string: the worst case for the parsed size. object + oldObject ≈ 3.35 MiB,
 * under the webhook's 3.5 MiB body limit (the API server's objects are at most 1.5 MiB each).
 */
export function largeReview(): string {
  const env = Array.from({ length: 20_000 }, (_, index) => ({ name: `VARIABLE_${index}`, value: `value-${index}-${'x'.repeat(40)}` }));
  const object = { apiVersion: 'kaos.tools/v1alpha1', kind: 'Agent', metadata: { name: 'big', namespace: 'prod' }, spec: { modelAPI: 'm', config: { env } } };
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid: 'u', kind: { group: 'kaos.tools', version: 'v1alpha1', kind: 'Agent' }, resource: { group: 'kaos.tools', version: 'v1alpha1', resource: 'agents' }, name: 'big', namespace: 'prod', operation: 'UPDATE', userInfo: { username: 'a' }, object, oldObject: object },
  });
}

/** client-go's rest.Request default maxRetries. */
export const CLIENT_GO_MAX_RETRIES = 10;
/**
 * Go's transport reuses a connection whose request body write is unfinished when the answer has been
 * read only if the write ends within this time; otherwise it closes the connection
 * (net/http transport.go, maxWriteWaitBeforeConnReuse and persistConn.wroteRequest).
 */
export const GO_MAX_WRITE_WAIT_BEFORE_CONN_REUSE_MS = 50;

/** The chart's webhook.timeoutSeconds: the API server's context for one webhook call, retries included. */
export const WEBHOOK_TIMEOUT_MS = 10_000;

/** How one review ended: its final status (or error message: 'timeout' past timeoutMs), after how many 429s. */
export interface ReviewOutcome {
  /** HTTP status of the final answer, or a client error message. */
  final: number | string;
  /** 429s answered to it (each retried, unless the retry would pass the timeout). */
  shed: number;
  /** Milliseconds from the first send to the final answer. */
  ms: number;
}

/**
 * Sends one review like the API server: re-sent after Retry-After on a 429 that carries one, while
 * fewer than `maxRetries` retries were made and the retry would start within `timeoutMs` of the first
 * send. A 429 it gives up on is its final answer (the user's error).
 */
export function sendReview(options: { agent: Agent; port: number; path: string; body: string; timeoutMs?: number; maxRetries?: number }): Promise<ReviewOutcome> {
  const { agent, port, path, body } = options;
  const timeoutMs = options.timeoutMs ?? WEBHOOK_TIMEOUT_MS;
  const maxRetries = options.maxRetries ?? CLIENT_GO_MAX_RETRIES;
  const length = Buffer.byteLength(body);
  const start = performance.now();
  let shed = 0;
  return new Promise<ReviewOutcome>((resolve) => {
    let current: ReturnType<typeof request> | undefined;
    let finished = false;
    // The API server's context ends the call at timeoutSeconds, answer or not (its connection is closed).
    const deadline = Number.isFinite(timeoutMs)
      ? setTimeout(() => {
          done('timeout');
          current?.destroy();
        }, timeoutMs)
      : undefined;
    function done(final: number | string): void {
      if (finished) return;
      finished = true;
      clearTimeout(deadline);
      resolve({ final, shed, ms: performance.now() - start });
    }
    const attempt = () => {
      let answered = false;
      const req = (current = request({ host: '127.0.0.1', port, path, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': length } }, (res) => {
        answered = true;
        res.resume();
        res.on('end', () => {
          if (!req.writableFinished) {
            const drop = setTimeout(() => req.destroy(), GO_MAX_WRITE_WAIT_BEFORE_CONN_REUSE_MS);
            req.once('finish', () => clearTimeout(drop));
          }
          const retryAfter = Number(res.headers['retry-after']);
          if (res.statusCode === 429) {
            shed++;
            const waitMs = retryAfter * 1000;
            if (Number.isInteger(retryAfter) && shed <= maxRetries && performance.now() + waitMs - start < timeoutMs) {
              setTimeout(attempt, waitMs);
              return;
            }
          }
          done(res.statusCode ?? 0);
        });
      }));
      // Go's round trip has returned the answer already; a later error of its connection is not the review's.
      req.on('error', (error) => {
        if (!answered) done(error.message);
      });
      req.end(body);
    };
    attempt();
  });
}

/** What a flood did: final answers by status, 429s received, and how long it took. */
export interface FloodResult {
  connections: number;
  rounds: number;
  reviews: number;
  /** Final answers by status (or error message); 429 here means given up at the timeout. */
  finals: Record<string, number>;
  /** Every 429 received, retried or not. */
  shed: number;
  seconds: number;
}

/**
 * A bounded flood: `connections` keep-alive connections, each sending `rounds` reviews one after the
 * other (retrying 429s as above), alternating `paths`; resolves when every review has a final answer.
 */
export async function flood(options: { port: number; body: string; connections: number; rounds: number; paths: string[]; timeoutMs?: number }): Promise<FloodResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections, rejectUnauthorized: false });
  const finals: Record<string, number> = {};
  let shed = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: options.connections }, async (_, connection) => {
      for (let round = 0; round < options.rounds; round++) {
        const path = options.paths[(connection + round) % options.paths.length]!;
        const outcome = await sendReview({ agent, port: options.port, path, body: options.body, timeoutMs: options.timeoutMs });
        finals[outcome.final] = (finals[outcome.final] ?? 0) + 1;
        shed += outcome.shed;
      }
    }),
  );
  agent.destroy();
  return { connections: options.connections, rounds: options.rounds, reviews: options.connections * options.rounds, finals, shed, seconds: (performance.now() - start) / 1000 };
}
