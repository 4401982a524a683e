// A small test backend that stands in for an agent, a model API or an MCP server behind the
// Gateway. It echoes what it received (method, path as received, headers, body) as JSON so a
// test can see exactly what the Gateway forwarded. Run directly by Node 22 (type stripping):
//
//   node e2e/src/gateway/backend.ts --host 10.213.0.2 --port 8080 --name agent-x
//
// Every response carries `x-kaos-backend: <name>`, so a test can tell a backend's answer (even
// its 404) from the Gateway's own 404. Exits when the process given by --parent-pid (default: its
// parent) is gone, so a killed test run does not leave it behind inside a network namespace.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { pathToFileURL } from 'node:url';

/** What every endpoint answers with: the request as this backend saw it. */
export interface EchoBody {
  backend: string;
  method: string;
  /** Path and query exactly as received (after any Gateway rewrite). */
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** Request body as text ('' when none). */
  body: string;
  /** The parsed JSON body, when the body is JSON. */
  json?: unknown;
  status?: string;
  sleptMs?: number;
}

/** Longest delay /slow accepts, so a mistaken request cannot hold a test for long. */
export const MAX_SLOW_MS = 60_000;
/** Largest request body read; more is refused with 413. */
const MAX_BODY_BYTES = 1024 * 1024;

function readArgs(argv: string[]): { host: string; port: number; name: string; parentPid: number } {
  const value = (flag: string, fallback?: string): string => {
    const i = argv.indexOf(flag);
    const found = i >= 0 ? argv[i + 1] : undefined;
    if (found === undefined && fallback === undefined) throw new Error(`backend: missing ${flag}`);
    return found ?? fallback!;
  };
  const port = Number(value('--port', '8080'));
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`backend: bad --port ${String(port)}`);
  return { host: value('--host', '0.0.0.0'), port, name: value('--name', 'backend'), parentPid: Number(value('--parent-pid', String(process.ppid))) };
}

function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        resolve(undefined);
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, name: string, status: number, body: EchoBody | Record<string, unknown>): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'x-kaos-backend': name });
  res.end(text);
}

/** Starts the echo server; resolves once it listens. */
export function startBackend(host: string, port: number, name: string): Promise<ReturnType<typeof createServer>> {
  const server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      if (body === undefined) {
        send(res, name, 413, { backend: name, error: 'body too large' });
        return;
      }
      const url = new URL(req.url ?? '/', 'http://backend');
      const echo: EchoBody = { backend: name, method: req.method ?? '', path: req.url ?? '', headers: req.headers, body };
      if (body.length > 0 && /json/.test(req.headers['content-type'] ?? '')) {
        try {
          echo.json = JSON.parse(body);
        } catch {
          // not JSON after all: the text is still echoed
        }
      }
      switch (url.pathname) {
        case '/':
        case '/health':
          send(res, name, 200, { ...echo, status: 'ok' });
          return;
        case '/.well-known/agent':
          send(res, name, 200, { ...echo, status: 'ok', card: { name, description: `test backend ${name}` } });
          return;
        case '/v1/chat/completions':
          if (req.method !== 'POST') {
            send(res, name, 405, { ...echo, status: 'method not allowed' });
            return;
          }
          send(res, name, 200, { ...echo, status: 'ok' });
          return;
        case '/slow': {
          const ms = Math.min(Math.max(Number(url.searchParams.get('ms') ?? '1000') || 0, 0), MAX_SLOW_MS);
          await new Promise((resolve) => setTimeout(resolve, ms));
          send(res, name, 200, { ...echo, status: 'ok', sleptMs: ms });
          return;
        }
        default:
          send(res, name, 404, { ...echo, status: 'not found' });
      }
    })().catch((error: unknown) => {
      if (!res.headersSent) send(res, name, 500, { backend: name, error: String(error) });
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

// Run as a program (not when imported for its types).
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { host, port, name, parentPid } = readArgs(process.argv.slice(2));
  const parentAlive = (): boolean => {
    try {
      process.kill(parentPid, 0);
      return true;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'EPERM';
    }
  };
  startBackend(host, port, name).then(
    () => {
      process.stdout.write(`backend ${name} listening on ${host}:${port}\n`);
      // The test process died without stopping us: leave too. Watched by PID (--parent-pid),
      // as the parent may already be gone when this starts.
      // --parent-pid 0: a long-lived backend (npm run up) that only a signal stops.
      if (parentPid > 0) {
        setInterval(() => {
          if (!parentAlive()) process.exit(0);
        }, 1000).unref();
      }
    },
    (error: unknown) => {
      process.stderr.write(`backend ${name}: ${String(error)}\n`);
      process.exit(1);
    },
  );
  process.on('SIGTERM', () => process.exit(0));
}
