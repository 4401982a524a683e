import { describe, expect, it } from '@jest/globals';
import type { HTTPRoute } from '@kaos/api-types';
import { ConvergenceTracker, type RouteCheck } from './route-convergence.js';

const route = (name: string, port: number): HTTPRoute =>
  ({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name, namespace: 'bench' }, spec: { rules: [{ backendRefs: [{ name, port }] }] } }) as HTTPRoute;
const portIs80: RouteCheck = (live) => live.spec.rules?.[0]?.backendRefs?.[0]?.port === 80;
const expecting = (...names: string[]) => new ConvergenceTracker(new Map(names.map((name) => [name, portIs80])));

describe('ConvergenceTracker', () => {
  it.each<[string, Array<['updated' | 'deleted', HTTPRoute, number]>, number, number | undefined]>([
    ['no events', [], 0, undefined],
    ['one of two correct', [['updated', route('a', 80), 1]], 1, undefined],
    ['both correct: the time of the second', [['updated', route('a', 80), 1], ['updated', route('b', 80), 2]], 2, 2],
    ['a wrong route first, then corrected', [['updated', route('a', 80), 1], ['updated', route('b', 81), 2], ['updated', route('b', 80), 3]], 2, 3],
    ['a correct route made wrong before the other comes', [['updated', route('a', 80), 1], ['updated', route('a', 81), 2], ['updated', route('b', 80), 3]], 1, undefined],
    ['a correct route deleted before the other comes', [['updated', route('a', 80), 1], ['deleted', route('a', 80), 2], ['updated', route('b', 80), 3]], 1, undefined],
    ['routes it does not expect are ignored', [['updated', route('a', 80), 1], ['updated', route('other', 80), 2]], 1, undefined],
    ['the first moment stays once reached', [['updated', route('a', 80), 1], ['updated', route('b', 80), 2], ['updated', route('b', 81), 3], ['updated', route('b', 80), 4]], 2, 2],
  ])('%s', (_name, events, correct, convergedAt) => {
    const tracker = expecting('a', 'b');
    for (const [kind, live, at] of events) {
      if (kind === 'updated') tracker.updated(live, at);
      else tracker.deleted(live);
    }
    expect(tracker.correctCount).toBe(correct);
    expect(tracker.expectedCount).toBe(2);
    expect(tracker.convergedAt).toBe(convergedAt);
  });
});
