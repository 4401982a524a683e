import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot } from '../control-plane/index.js';

/** One of our apps, started from its production bundle for an e2e test. */
export interface AppProcess {
  pid: number;
  logFile: string;
  /** Sends a signal to the process. */
  signal(signal: NodeJS.Signals): void;
  /** Waits until `GET http://127.0.0.1:{healthPort}/readyz` answers 200, or throws with the log tail. */
  waitReady(timeoutMs?: number): Promise<void>;
  /** SIGTERM, then SIGKILL after 15 s; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `dist/apps/{app}/main.js` (built by nx before the e2e tests) with the given environment. */
export function startApp(app: 'webhook' | 'controller', env: Record<string, string>, logFile: string, healthPort: number): AppProcess {
  const log = createWriteStream(logFile);
  const child: ChildProcess = spawn(process.execPath, [join(repoRoot, `dist/apps/${app}/main.js`)], {
    // Tests scrape /metrics over plain HTTP on the health port; metrics-auth.e2e sets METRICS_SECURE=true.
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'debug', METRICS_SECURE: 'false', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve((exitCode = code))));
  const logTail = () => readFileSync(logFile, 'utf8').split('\n').slice(-40).join('\n');
  return {
    pid: child.pid!,
    logFile,
    signal: (signal) => child.kill(signal),
    async waitReady(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (exitCode !== undefined) throw new Error(`${app} exited with ${exitCode}:\n${logTail()}`);
        try {
          if ((await fetch(`http://127.0.0.1:${healthPort}/readyz`)).status === 200) return;
        } catch {
          // not listening yet
        }
        await sleep(200);
      }
      throw new Error(`${app} not ready after ${timeoutMs} ms:\n${logTail()}`);
    },
    async stop() {
      if (exitCode !== undefined) return exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(timer);
      log.end();
      return code;
    },
  };
}

/**
 * The controller as a host process against a test control plane: Gateway API on (Gateway in
 * kaos-system), no leader election, the given resync period; waits until it is ready.
 */
export async function startTestController(plane: { kubeconfigPath: string; workDir: string }, podName: string, healthPort: number, resyncSeconds: number): Promise<AppProcess> {
  const controller = startApp(
    'controller',
    {
      KUBECONFIG: plane.kubeconfigPath,
      GATEWAY_API_ENABLED: 'true',
      GATEWAY_NAMESPACE: 'kaos-system',
      POD_NAMESPACE: 'kaos-system',
      POD_NAME: podName,
      HEALTH_PORT: String(healthPort),
      BIND_ADDRESS: '127.0.0.1',
      LEADER_ELECTION: 'false',
      RESYNC_PERIOD_SECONDS: String(resyncSeconds),
    },
    join(plane.workDir, 'controller.log'),
    healthPort,
  );
  await controller.waitReady();
  return controller;
}
