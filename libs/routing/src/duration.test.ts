import { describe, expect, it } from '@jest/globals';
import {
  DurationError,
  compareGatewayDurations,
  formatGatewayDuration,
  isGatewayDuration,
  isZeroDuration,
  parseGatewayDuration,
} from './duration.js';

describe('parseGatewayDuration', () => {
  it.each([
    ['0s', 0],
    ['0ms', 0],
    ['0m', 0],
    ['0h', 0],
    ['0h0m0s0ms', 0],
    ['00000s', 0],
    ['1ms', 1],
    ['30s', 30_000],
    ['120s', 120_000],
    ['1m', 60_000],
    ['1h30m', 5_400_000],
    ['90m', 5_400_000],
    ['1s500ms', 1_500],
    ['99999ms', 99_999],
    ['99999h', 99_999 * 3_600_000],
    ['1h1m1s1ms', 3_661_001],
    ['1s1h', 3_601_000],
  ])('%s is %d ms', (value, milliseconds) => {
    expect(isGatewayDuration(value)).toBe(true);
    expect(parseGatewayDuration(value)).toBe(milliseconds);
  });

  it.each([
    ['empty', ''],
    ['a number without unit', '30'],
    ['six digits', '100000s'],
    ['five components', '1h1m1s1ms1h'],
    ['a fraction', '1.5s'],
    ['a negative value', '-1s'],
    ['words', '5 minutes'],
    ['a space', '1h 30m'],
    ['microseconds', '10us'],
    ['days', '1d'],
    ['upper case', '30S'],
    ['a leading sign', '+30s'],
  ])('rejects %s (%j)', (_name, value) => {
    expect(isGatewayDuration(value)).toBe(false);
    expect(() => parseGatewayDuration(value)).toThrow(DurationError);
    expect(() => parseGatewayDuration(value)).toThrow(`${JSON.stringify(value)} is not a Gateway API duration (e.g. 30s, 1m, 1h30m)`);
  });

  it.each([[undefined], [null], [30], [{}]])('isGatewayDuration(%j) is false', (value) => {
    expect(isGatewayDuration(value)).toBe(false);
  });
});

describe('isZeroDuration', () => {
  it.each([
    ['0s', true],
    ['0ms', true],
    ['0m', true],
    ['0h', true],
    ['0h0m', true],
    ['1ms', false],
    ['0h1s', false],
  ])('%s → %s', (value, zero) => {
    expect(isZeroDuration(value)).toBe(zero);
  });
});

describe('formatGatewayDuration', () => {
  it.each([
    [0, '0s'],
    [1, '1ms'],
    [1_500, '1s500ms'],
    [30_000, '30s'],
    [120_000, '2m'],
    [5_400_000, '1h30m'],
    [3_661_001, '1h1m1s1ms'],
    [99_999 * 3_600_000 + 3_599_999, '99999h59m59s999ms'],
  ])('%d ms → %s, which parses back', (milliseconds, text) => {
    expect(formatGatewayDuration(milliseconds)).toBe(text);
    expect(parseGatewayDuration(text)).toBe(milliseconds);
  });

  it.each([[-1], [1.5], [Number.NaN], [Infinity], [100_000 * 3_600_000]])('refuses %d', (milliseconds) => {
    expect(() => formatGatewayDuration(milliseconds)).toThrow(RangeError);
  });
});

describe('compareGatewayDurations', () => {
  it.each([
    ['1h30m', '90m', 0],
    ['0s', '0ms', 0],
    ['30s', '1m', -1],
    ['1h', '3599s', 1],
    ['999ms', '1s', -1],
  ])('%s vs %s → %d', (a, b, order) => {
    expect(compareGatewayDurations(a, b)).toBe(order);
  });

  it('throws on an invalid operand', () => {
    expect(() => compareGatewayDurations('1s', 'soon')).toThrow(DurationError);
  });
});
