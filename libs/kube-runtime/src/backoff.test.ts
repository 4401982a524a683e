import { describe, expect, it } from '@jest/globals';
import { exponentialBackoffMs } from './backoff.js';

describe('exponentialBackoffMs', () => {
  it.each([
    // failures, base, max, expected: base·2^(failures-1), capped (client-go ItemExponentialFailureRateLimiter)
    [1, 100, 1_000, 100],
    [2, 100, 1_000, 200],
    [3, 100, 1_000, 400],
    [4, 100, 1_000, 800],
    [5, 100, 1_000, 1_000],
    [50, 100, 1_000, 1_000],
    [10_000, 5, 1_000_000, 1_000_000],
    [0, 100, 1_000, 100],
    [-3, 100, 1_000, 100],
    [2.7, 100, 1_000, 200],
  ])('after %d failures with base %d and max %d waits %d ms', (failures, baseMs, maxMs, expected) => {
    expect(exponentialBackoffMs(failures, { baseMs, maxMs })).toBe(expected);
  });

  it.each([
    // random, jitter, expected: d + random·jitter·d with d = 400 (wait.Jitter only adds)
    [0, 0.25, 400],
    [0.5, 0.25, 450],
    [0.999, 0.25, 500],
    [0.5, 1, 600],
    [0.9, 0, 400],
  ])('with random %d and jitter %d after 3 failures waits %d ms', (random, jitter, expected) => {
    expect(exponentialBackoffMs(3, { baseMs: 100, maxMs: 1_000, jitter }, () => random)).toBe(expected);
  });

  it.each([
    // random, jitter, expected: d·(1 − jitter + 2·random·jitter) with d = 400 (symmetric: d ± jitter·d)
    [0, 0.5, 200],
    [0.5, 0.5, 400],
    [0.999, 0.5, 600],
    [0, 0.25, 300],
    [0.5, 0.25, 400],
    [0.999, 0.25, 500],
    [0.9, 0, 400],
  ])('with symmetric jitter, random %d and jitter %d after 3 failures waits %d ms', (random, jitter, expected) => {
    expect(exponentialBackoffMs(3, { baseMs: 100, maxMs: 1_000, jitter, jitterShape: 'symmetric' }, () => random)).toBe(expected);
  });

  it.each([
    // The formulas the callers had before they shared this one: the same delay to the millisecond.
    ['the webhook TLS retries (±50 %)', 1_000, 300_000, 0.5, (d: number, r: number) => d * (0.5 + r)],
    ['the controller watch restarts (±25 %)', 500, 60_000, 0.25, (d: number, r: number) => d * (0.75 + r / 2)],
  ])('gives %s what their own formula gave', (_caller, baseMs, maxMs, jitter, former) => {
    for (let failures = 1; failures <= 12; failures++) {
      for (const random of [0, 0.1, 0.25, 0.333, 0.5, 0.6180339887, 0.75, 0.999999]) {
        const delay = Math.min(maxMs, baseMs * 2 ** (failures - 1));
        expect(exponentialBackoffMs(failures, { baseMs, maxMs, jitter, jitterShape: 'symmetric' }, () => random)).toBe(Math.round(former(delay, random)));
      }
    }
  });

  it('jitters on top of the cap, like wait.Backoff', () => {
    expect(exponentialBackoffMs(20, { baseMs: 100, maxMs: 1_000, jitter: 0.5 }, () => 1)).toBe(1_500);
  });

  it('uses Math.random by default', () => {
    for (let i = 0; i < 100; i++) {
      const delay = exponentialBackoffMs(1, { baseMs: 100, maxMs: 1_000, jitter: 0.25 });
      expect(delay).toBeGreaterThanOrEqual(100);
      expect(delay).toBeLessThanOrEqual(125);
    }
  });
});
