// Drains the admission server's connections on shutdown without cutting a request in two.
//
// The API server calls a Service webhook over HTTP/1.1 keep-alive connections (k8s.io/apiserver
// pkg/util/webhook/client.go forces http/1.1) and does not retry a POST whose connection broke
// (client-go rest/request.go retries connection errors for GET only), so with failurePolicy Fail a
// connection closed while the API server is writing a review on it fails that write. HTTP/1.1 has no
// GOAWAY: the only clean end of a kept-alive connection is a response saying `Connection: close`.
// A kept-alive connection also outlives the pod's removal from the Service (kube-proxy's rules only
// steer new connections), so the API server keeps sending on it until it is closed. While draining:
// - every response says `Connection: close`, so busy connections end cleanly after their next answer;
// - a connection is closed by us only after it has been idle for `idleCloseMs`: the API server's
//   pool reuses its most recently used connection first, so a long-idle one is the least likely to
//   be picked in the instant it closes;
// - new connections are still accepted for the whole drain, even when none is left: a node whose
//   kube-proxy still routes to this pod sends new ones, and a closed port would refuse them (the
//   API server does not retry a refused review; the rollout e2e caught an early end doing that).
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';

/** How long a drain may take and when an idle connection is closed. */
export interface DrainOptions {
  /** Length of the drain: new connections are accepted until then, even when none is left. */
  readonly maxMs: number;
  /** A connection without a request for this long is closed while draining. */
  readonly idleCloseMs: number;
}

/** What a drain ended with. */
export interface DrainResult {
  /** Connections still open when the drain ended (they get `Connection: close` and the shutdown grace). */
  readonly remaining: number;
  readonly elapsedMs: number;
}

/** The connections of one server, and the drain over them. */
export interface ConnectionTracker {
  /** True from the start of the drain: every response then closes its connection. */
  readonly draining: boolean;
  /** Open connections, and those with a request being handled. */
  counts(): { open: number; active: number };
  /** Starts draining; resolves after `maxMs`, accepting new connections until then. */
  drain(options: DrainOptions): Promise<DrainResult>;
}

/** Default idle time after which a draining server closes a kept-alive connection. */
export const DEFAULT_IDLE_CLOSE_MS = 1000;

interface ConnectionState {
  active: number;
  idleSince: number;
  closing: boolean;
}

/** Tracks the connections of `server` from now on (call before listen); `now` is injectable for tests. */
export function trackConnections(server: HttpServer | HttpsServer, now: () => number = () => performance.now()): ConnectionTracker {
  const connections = new Map<Socket, ConnectionState>();
  const pending = new Set<ServerResponse>();
  let draining = false;

  function track(socket: Socket): ConnectionState {
    let state = connections.get(socket);
    if (state === undefined) {
      state = { active: 0, idleSince: now(), closing: false };
      connections.set(socket, state);
      socket.once('close', () => connections.delete(socket));
    }
    return state;
  }

  // After the TLS handshake for HTTPS: a connection still shaking hands is never closed by the drain.
  server.on(server instanceof TlsServer ? 'secureConnection' : 'connection', (socket: Socket) => {
    track(socket);
  });
  // Prepended so the header is in place before the handler can answer synchronously (404, 429).
  server.prependListener('request', (request: IncomingMessage, response: ServerResponse) => {
    const state = track(request.socket);
    state.active++;
    pending.add(response);
    if (draining) response.setHeader('connection', 'close');
    response.once('close', () => {
      pending.delete(response);
      state.active--;
      if (state.active === 0) state.idleSince = now();
    });
  });

  function closeIdle(idleCloseMs: number): void {
    const at = now();
    for (const [socket, state] of connections) {
      if (state.active > 0 || state.closing || at - state.idleSince < idleCloseMs) continue;
      state.closing = true;
      // end(), not destroy(): close_notify and FIN, so the peer sees an orderly close.
      socket.end();
    }
  }

  return {
    get draining() {
      return draining;
    },
    counts() {
      let active = 0;
      for (const state of connections.values()) if (state.active > 0) active++;
      return { open: connections.size, active };
    },
    drain(options) {
      draining = true;
      const started = now();
      // Reviews already being handled answer with close too, unless their headers are already out.
      for (const response of pending) if (!response.headersSent) response.setHeader('connection', 'close');
      return new Promise((resolve) => {
        const sweepMs = Math.max(10, Math.min(100, Math.floor(options.idleCloseMs / 4)));
        const finish = () => {
          clearInterval(sweep);
          clearTimeout(deadline);
          // Idle ones end now, so the shutdown waits only for reviews still running.
          closeIdle(0);
          resolve({ remaining: connections.size, elapsedMs: Math.round(now() - started) });
        };
        const sweep = setInterval(() => closeIdle(options.idleCloseMs), sweepMs);
        const deadline = setTimeout(finish, options.maxMs);
        closeIdle(options.idleCloseMs);
      });
    },
  };
}
