// The controller-runtime (Go) peer of the webhook, for bench:webhook: the same AdmissionReviews,
// answered by a controller-runtime webhook.Server (../shared/anchors/webhook, see its README). Built
// and cached by scripts/bench/go-peers.ts (shared with bench:controller's controller peer); without
// ../shared/anchors or `go` the bench runs alone.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
// eslint-disable-next-line @nx/enforce-module-boundaries -- bench tooling shared by the webhook's and the controller's benches, not a library of the apps
import { goPeer, type GoPeer } from '../../../scripts/bench/go-peers.js';
import { freePort } from './harness.js';

/** The peer binary, built or found in the cache, or why there is none (the bench then runs without it). */
export function goWebhookPeer(): GoPeer {
  return goPeer('webhook');
}

/**
 * Starts the peer in `mode` (raw: an admission.Handler; typed: the kubebuilder scaffold) serving the
 * bench's certificate on 127.0.0.1; resolves once it says it is listening.
 */
export async function startGoWebhook(binary: string, mode: 'raw' | 'typed', tlsDir: string): Promise<{ pid: number; port: number; stop(): void }> {
  const port = await freePort();
  // Its controller-runtime log (JSON on stderr, a few lines a start) is left out of the bench's output.
  const child = spawn(binary, [], {
    stdio: ['ignore', 'pipe', 'ignore'],
    env: { PATH: process.env.PATH, WEBHOOK_MODE: mode, TLS_CERT_DIR: tlsDir, WEBHOOK_PORT: String(port), BIND_ADDRESS: '127.0.0.1', GATEWAY_API_ENABLED: 'true', GATEWAY_NAMESPACE: 'kaos-system' },
  });
  return new Promise((resolvePeer, reject) => {
    child.once('exit', (code, signal) => reject(new Error(`controller-runtime peer (${mode}) exited with ${signal ?? code}`)));
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      if (line.includes('admission webhook listening')) {
        lines.close();
        child.stdout!.resume();
        resolvePeer({ pid: child.pid!, port, stop: () => child.kill('SIGTERM') });
      }
    });
  });
}
