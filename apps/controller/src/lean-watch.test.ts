import { afterEach, describe, expect, it } from '@jest/globals';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import { LeanWatch, WATCH_TIMEOUT_MS, watchQuery } from './lean-watch.js';

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

const servers: Array<ReturnType<typeof createServer>> = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** A KubeConfig on a local plain-HTTP server running `handler`, with a bearer token. */
async function serve(handler: Handler): Promise<KubeConfig> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'watch-token' }],
    contexts: [{ name: 'ctx', cluster: 'c', user: 'u' }],
    currentContext: 'ctx',
  });
  return config;
}

/** Runs one watch to its end: the events its callback saw and what `done` got, and how often. */
async function run(watch: Watch, path = '/apis/kaos.tools/v1alpha1/agents', query: Record<string, string | number | boolean | undefined> = {}, stop?: (controller: AbortController) => void) {
  const events: Array<[string, unknown]> = [];
  let doneCalls = 0;
  const finished = new Promise<unknown>((resolve) => {
    void watch
      .watch(path, query, (phase, object) => void events.push([phase, object]), (error) => {
        doneCalls++;
        resolve(error);
      })
      .then((controller) => stop?.(controller));
  });
  const error = await finished;
  await new Promise((resolve) => setTimeout(resolve, 50));
  return { events, error, doneCalls };
}

const line = (type: string, name: string) => `${JSON.stringify({ type, object: { metadata: { name } } })}\n`;

describe('watchQuery', () => {
  it.each<[string, Record<string, string | number | boolean | undefined>, Record<string, string>]>([
    ['none', {}, { watch: 'true' }],
    ['the informer\'s parameters, undefined ones left out', { resourceVersion: '42', labelSelector: 'a=b', fieldSelector: undefined, allowWatchBookmarks: true, timeoutSeconds: 5 }, { watch: 'true', resourceVersion: '42', labelSelector: 'a=b', allowWatchBookmarks: 'true', timeoutSeconds: '5' }],
  ])('%s', (_name, params, query) => {
    expect(watchQuery(params)).toEqual(query);
  });
});

describe('LeanWatch', () => {
  it("has client-node Watch's timeout", () => {
    expect(WATCH_TIMEOUT_MS).toBe((new Watch(new KubeConfig()) as unknown as { requestTimeoutMs: number }).requestTimeoutMs);
  });

  it('delivers what client-node\'s Watch delivers: the same request, events split across chunks, bad lines skipped, one done at the end', async () => {
    const requests: IncomingMessage[] = [];
    const config = await serve((request, response) => {
      requests.push(request);
      response.writeHead(200, { 'content-type': 'application/json' });
      const text = `${line('ADDED', 'a')}not json\n${line('MODIFIED', 'a')}${line('DELETED', 'a')}`;
      response.write(text.slice(0, 30));
      setTimeout(() => response.end(text.slice(30)), 20);
    });
    const query = { resourceVersion: '7', labelSelector: 'app.kubernetes.io/managed-by=kaos-routing', fieldSelector: undefined };
    const stock = await run(new Watch(config), '/apis/kaos.tools/v1alpha1/agents', query);
    const lean = await run(new LeanWatch(config), '/apis/kaos.tools/v1alpha1/agents', query);
    expect(lean.events).toEqual([
      ['ADDED', { metadata: { name: 'a' } }],
      ['MODIFIED', { metadata: { name: 'a' } }],
      ['DELETED', { metadata: { name: 'a' } }],
    ]);
    expect(lean).toEqual(stock);
    expect(lean).toMatchObject({ error: null, doneCalls: 1 });
    expect(requests[1]!.url).toBe(requests[0]!.url);
    expect(requests[1]!.url).toBe('/apis/kaos.tools/v1alpha1/agents?watch=true&resourceVersion=7&labelSelector=app.kubernetes.io%2Fmanaged-by%3Dkaos-routing');
    expect(requests[1]!.headers).toMatchObject({ authorization: 'Bearer watch-token', accept: '*/*' });
  });

  it('sends the Accept of a KubeConfig that sets one (the metadata watch)', async () => {
    const accepts: Array<string | undefined> = [];
    const config = await serve((request, response) => {
      accepts.push(request.headers.accept);
      response.writeHead(200).end();
    });
    const withAccept = Object.create(config) as KubeConfig;
    withAccept.applySecurityAuthentication = async (context) => {
      await config.applySecurityAuthentication(context);
      context.setHeaderParam('Accept', 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1');
    };
    await run(new LeanWatch(withAccept));
    expect(accepts).toEqual(['application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1']);
  });

  it('ends a refused watch with an Error carrying the status code, as client-node does', async () => {
    const config = await serve((_request, response) => response.writeHead(403, { 'content-type': 'application/json' }).end('{"kind":"Status"}'));
    const stock = await run(new Watch(config));
    const lean = await run(new LeanWatch(config));
    expect(lean.error).toMatchObject({ message: 'Forbidden', statusCode: 403 });
    expect(lean.error).toMatchObject({ message: (stock.error as Error).message, statusCode: (stock.error as { statusCode: number }).statusCode });
    expect(lean.doneCalls).toBe(1);
  });

  it('is stopped by its AbortController, with an AbortError (which the supervisor does not count as a failure)', async () => {
    let delivered = 0;
    const config = await serve((_request, response) => {
      response.writeHead(200);
      response.write(line('ADDED', 'a'), () => setTimeout(() => delivered++, 50));
    });
    // Stopped once the first event is in (not after a fixed time: on a loaded machine it may not be connected yet).
    const watch = new LeanWatch(config);
    const lean = await run(watch, undefined, undefined, (controller) => {
      const stopWhenDelivered = setInterval(() => {
        if (delivered > 0) {
          clearInterval(stopWhenDelivered);
          controller.abort();
        }
      }, 10);
    });
    expect(lean.events).toEqual([['ADDED', { metadata: { name: 'a' } }]]);
    expect((lean.error as Error).name).toBe('AbortError');
    expect(lean.doneCalls).toBe(1);
  });

  it.each<[string, Handler]>([
    ['a watch quiet for too long', (_request, response) => void response.writeHead(200).write(line('ADDED', 'a'))],
    ['a server that never answers', () => {}],
  ])('ends %s with a TimeoutError', async (_name, handler) => {
    const config = await serve(handler);
    const lean = await run(new LeanWatch(config, undefined, 200));
    expect((lean.error as Error).name).toBe('TimeoutError');
    expect(lean.doneCalls).toBe(1);
  });

  it('refuses a KubeConfig without a cluster', async () => {
    await expect(new LeanWatch(new KubeConfig()).watch('/x', {}, () => {}, () => {})).rejects.toThrow('No currently active cluster');
  });
});
