import { GATEWAY_DURATION_HINT, GATEWAY_DURATION_PATTERN } from '@kaos/api-types';

const durationRegExp = new RegExp(GATEWAY_DURATION_PATTERN);
const componentRegExp = /([0-9]{1,5})(ms|h|m|s)/g;
const MILLISECONDS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 };
/** Largest number a single duration component can carry (five digits). */
const MAX_COMPONENT = 99_999;

/** Thrown for a string that is not a Gateway API duration. */
export class DurationError extends Error {
  readonly value: unknown;

  constructor(value: unknown) {
    super(`${JSON.stringify(value)} ${GATEWAY_DURATION_HINT}`);
    this.value = value;
    this.name = 'DurationError';
  }
}

/** Whether `value` is a Gateway API duration (GEP-2257), e.g. `30s`, `1h30m`, `500ms`. */
export function isGatewayDuration(value: unknown): value is string {
  return typeof value === 'string' && durationRegExp.test(value);
}

/** Milliseconds of a Gateway API duration; throws DurationError for anything else. */
export function parseGatewayDuration(value: string): number {
  if (!isGatewayDuration(value)) throw new DurationError(value);
  let total = 0;
  for (const [, amount, unit] of value.matchAll(componentRegExp)) {
    total += Number(amount) * MILLISECONDS[unit!]!;
  }
  return total;
}

/** Whether a Gateway API duration is zero, in any spelling (`0s`, `0ms`, `0m`, `0h`, `0h0m`, `00s`). */
export function isZeroDuration(value: string): boolean {
  return parseGatewayDuration(value) === 0;
}

/**
 * The canonical Gateway API spelling of a number of milliseconds: largest units first, zero parts
 * left out, `0s` for zero (e.g. 5_400_000 → `1h30m`, 1_500 → `1s500ms`).
 */
export function formatGatewayDuration(milliseconds: number): string {
  if (!Number.isSafeInteger(milliseconds) || milliseconds < 0) {
    throw new RangeError(`a Gateway API duration is a whole, non-negative number of milliseconds, not ${milliseconds}`);
  }
  if (milliseconds === 0) return '0s';
  const hours = Math.floor(milliseconds / MILLISECONDS.h!);
  if (hours > MAX_COMPONENT) {
    throw new RangeError(`${milliseconds}ms is longer than the longest Gateway API duration (${MAX_COMPONENT}h59m59s999ms)`);
  }
  const parts: Array<[number, string]> = [
    [hours, 'h'],
    [Math.floor(milliseconds / MILLISECONDS.m!) % 60, 'm'],
    [Math.floor(milliseconds / MILLISECONDS.s!) % 60, 's'],
    [milliseconds % 1_000, 'ms'],
  ];
  return parts
    .filter(([amount]) => amount > 0)
    .map(([amount, unit]) => `${amount}${unit}`)
    .join('');
}

/** Orders two Gateway API durations by length: negative, zero or positive like a sort comparator. */
export function compareGatewayDurations(a: string, b: string): number {
  return Math.sign(parseGatewayDuration(a) - parseGatewayDuration(b));
}
