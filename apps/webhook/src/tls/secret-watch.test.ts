import { afterEach, describe, expect, it } from '@jest/globals';
import { silentLogger } from '@kaos/kube-runtime';
import { watchSecretChanges, type SecretWatchApi, type WatchEvent } from './secret-watch.js';
import { FakeTimers, apiError, eventually } from './tls.test-helpers.js';

/** One watch call the test drives: push events, end it, or fail it. */
interface OpenWatch {
  params: { name: string; namespace: string };
  signal: AbortSignal;
  emit(event: WatchEvent): void;
  end(): void;
  fail(error: Error): void;
}

class FakeWatchApi implements SecretWatchApi {
  readonly watches: OpenWatch[] = [];

  watchNamespacedSecret(params: { name: string; namespace: string }, onEvent: (event: WatchEvent) => void, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      signal.addEventListener('abort', () => resolve(), { once: true });
      this.watches.push({ params, signal, emit: onEvent, end: resolve, fail: reject });
    });
  }

  current(): OpenWatch {
    return this.watches.at(-1)!;
  }
}

const stops: Array<() => void> = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

function start() {
  const api = new FakeWatchApi();
  const timers = new FakeTimers();
  const changes: string[] = [];
  const stop = watchSecretChanges({ api, name: 'webhook-tls', namespace: 'kaos-system', logger: silentLogger(), onChange: (reason) => changes.push(reason), timers, random: () => 0.5 });
  stops.push(stop);
  return { api, timers, changes, stop };
}

describe('watchSecretChanges', () => {
  it('watches the Secret by name and reports every event, a deletion included', async () => {
    const h = start();
    await eventually(() => h.api.watches.length === 1);
    expect(h.api.current().params).toEqual({ name: 'webhook-tls', namespace: 'kaos-system' });
    h.api.current().emit({ type: 'MODIFIED', object: {} });
    h.api.current().emit({ type: 'DELETED', object: {} });
    expect(h.changes).toEqual(['MODIFIED', 'DELETED']);
  });

  it('re-opens a watch the server ended and reports that as a change (events in between are not replayed)', async () => {
    const h = start();
    await eventually(() => h.api.watches.length === 1);
    h.timers.advance(300_000);
    h.api.current().end();
    await eventually(() => h.api.watches.length === 2);
    expect(h.changes).toEqual(['watch re-opened']);
  });

  it('retries a failing watch with backoff, and one the server ends at once too', async () => {
    const h = start();
    await eventually(() => h.api.watches.length === 1);
    h.api.current().fail(apiError(403, 'Forbidden'));
    await eventually(() => h.timers.delays().length === 1);
    expect(h.timers.delays()).toEqual([1000]);
    h.timers.advance(1000);
    await eventually(() => h.api.watches.length === 2);
    h.api.current().end(); // ended at once: a broken proxy must not make it spin
    await eventually(() => h.timers.delays().length === 1);
    expect(h.timers.delays()).toEqual([2000]);
    h.timers.advance(2000);
    await eventually(() => h.api.watches.length === 3);
    expect(h.changes).toEqual(['watch re-opened', 'watch re-opened']);
  });

  it('stops: aborts the open watch and opens no other', async () => {
    const h = start();
    await eventually(() => h.api.watches.length === 1);
    h.stop();
    expect(h.api.current().signal.aborted).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(h.api.watches).toHaveLength(1);
    expect(h.timers.delays()).toEqual([]);
  });
});
