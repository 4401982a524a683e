// client-node's Watch reads every watch through fetch, and turns fetch's web stream back into a
// Node stream before splitting it into lines: per event, both stream machineries run. LeanWatch
// sends the same GET with undici's Dispatcher.request on the watches' pool of the KubeConfig's
// dispatcher (connections.ts: a connection apart from the writes') and splits the Node stream it answers, keeping Watch's contract exactly:
// the URL (watch=true, then the defined query parameters), credentials and headers from the
// KubeConfig, a 30 s timeout to connect that then becomes an inactivity timeout, `done` called once
// (a TimeoutError after a timeout; an Error with `statusCode` for a refused watch), unparsable
// lines skipped, and the AbortController that stops it (ADR 0022).
import { STATUS_CODES } from 'node:http';
import { createInterface } from 'node:readline';
import { HttpMethod, RequestContext, Watch, type KubeConfig } from '@kubernetes/client-node';
import { requestTarget } from '@kaos/kube-runtime';
import { getGlobalDispatcher, type Dispatcher } from 'undici';
import { watchDispatcher } from './connections.js';

/** client-node Watch's timeout: to connect, then without data (it is private there; a unit test keeps them equal). */
export const WATCH_TIMEOUT_MS = 30_000;

type Requester = Pick<Dispatcher, 'request'>;

/** The query of a watch: `watch=true`, then each defined parameter as a string, as client-node's Watch builds it. */
export function watchQuery(queryParams: Record<string, string | number | boolean | undefined>): Record<string, string> {
  const query: Record<string, string> = { watch: 'true' };
  for (const [key, value] of Object.entries(queryParams)) if (value !== undefined) query[key] = value.toString();
  return query;
}

/** client-node's Watch on undici's Dispatcher.request instead of fetch; `fallback` is the dispatcher when the KubeConfig has none. */
export class LeanWatch extends Watch {
  readonly #fallback: () => Requester;
  readonly #timeoutMs: number;

  constructor(config: KubeConfig, fallback: () => Requester = getGlobalDispatcher, timeoutMs = WATCH_TIMEOUT_MS) {
    super(config);
    this.#fallback = fallback;
    this.#timeoutMs = timeoutMs;
  }

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    const cluster = this.config.getCurrentCluster();
    if (!cluster) throw new Error('No currently active cluster');
    const target = requestTarget(cluster.server, { path, query: watchQuery(queryParams ?? {}) });
    const controller = new AbortController();
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const clearTimer = () => {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    };
    const resetTimer = () => {
      clearTimer();
      timer = setTimeout(() => {
        timedOut = true;
        controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
      }, this.#timeoutMs);
      timer.unref();
    };
    const context = new RequestContext(`${target.origin}${target.path}`, HttpMethod.GET);
    // Credentials, and headers a wrapping KubeConfig adds (the metadata watch's Accept), as for client-node's Watch.
    await this.config.applySecurityAuthentication(context);
    let doneCalled = false;
    const doneOnce = (error: unknown) => {
      if (doneCalled) return;
      doneCalled = true;
      clearTimer();
      controller.abort();
      done(error && timedOut ? new DOMException('The operation was aborted due to timeout', 'TimeoutError') : error);
    };
    try {
      resetTimer();
      const dispatcher: Requester = watchDispatcher(context.getDispatcher()) ?? this.#fallback();
      const response = await dispatcher.request({ origin: target.origin, path: target.path, method: 'GET', headers: { accept: '*/*', ...lowerCased(context.getHeaders()) }, signal: controller.signal });
      if (response.statusCode !== 200) {
        response.body.destroy();
        const error = new Error(STATUS_CODES[response.statusCode] ?? 'Internal Server Error') as Error & { statusCode: number };
        error.statusCode = response.statusCode;
        throw error;
      }
      // Connected: from here on the timeout is one of inactivity.
      resetTimer();
      const body = response.body;
      body.on('error', doneOnce);
      body.on('close', () => doneOnce(null));
      body.on('end', () => doneOnce(null));
      const lines = createInterface({ input: body, crlfDelay: Infinity });
      lines.on('error', doneOnce);
      lines.on('close', () => doneOnce(null));
      lines.on('line', (line) => {
        try {
          const event = JSON.parse(line) as { type: string; object: unknown };
          callback(event.type, event.object, event);
        } catch {
          // As client-node's Watch: a line that is not JSON (or a callback that throws) is skipped.
        }
      });
      body.on('data', resetTimer);
    } catch (error) {
      doneOnce(error);
    }
    return controller;
  }
}

/** Header names in lower case, so a KubeConfig's `Accept` replaces the default rather than doubling it. */
function lowerCased(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}
