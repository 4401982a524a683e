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

  // The delay after 3 failures (d = 400) with each shape: additive (the default, wait.Jitter)
  // d + random·jitter·d; symmetric d·(1 − jitter + 2·random·jitter), i.e. d ± jitter·d.
  it.each([
    { random: 0, jitter: 0.25, additive: 400, symmetric: 300 },
    { random: 0.5, jitter: 0.25, additive: 450, symmetric: 400 },
    { random: 0.999, jitter: 0.25, additive: 500, symmetric: 500 },
    { random: 0, jitter: 0.5, additive: 400, symmetric: 200 },
    { random: 0.5, jitter: 0.5, additive: 500, symmetric: 400 },
    { random: 0.999, jitter: 0.5, additive: 600, symmetric: 600 },
    { random: 0, jitter: 1, additive: 400, symmetric: 0 },
    { random: 0.5, jitter: 1, additive: 600, symmetric: 400 },
    { random: 0.9, jitter: 0, additive: 400, symmetric: 400 },
  ])('with random $random and jitter $jitter waits $additive ms (additive) or $symmetric ms (symmetric)', ({ random, jitter, additive, symmetric }) => {
    const policy = { baseMs: 100, maxMs: 1_000, jitter };
    expect(exponentialBackoffMs(3, policy, () => random)).toBe(additive);
    expect(exponentialBackoffMs(3, { ...policy, jitterShape: 'additive' }, () => random)).toBe(additive);
    expect(exponentialBackoffMs(3, { ...policy, jitterShape: 'symmetric' }, () => random)).toBe(symmetric);
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
