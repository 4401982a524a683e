import { describe, expect, it } from '@jest/globals';
import type { FieldProblem } from '@kaos/api-types';
import { envBoolean, envValue, envWholeNumber } from './env.js';

describe('envValue', () => {
  it.each([
    [undefined, undefined],
    ['', undefined],
    ['  ', undefined],
    [' x ', 'x'],
  ])('%j → %j', (raw, value) => {
    expect(envValue({ X: raw }, 'X')).toBe(value);
  });
});

describe('envWholeNumber', () => {
  it.each<[string | undefined, number, string[]]>([
    [undefined, 7, []],
    ['', 7, []],
    ['10', 10, []],
    ['1', 1, []],
    ['100', 100, []],
    ['0', 7, ['X: must be a whole number from 1 to 100, not "0"']],
    ['101', 7, ['X: must be a whole number from 1 to 100, not "101"']],
    ['1.5', 7, ['X: must be a whole number from 1 to 100, not "1.5"']],
    ['-3', 7, ['X: must be a whole number from 1 to 100, not "-3"']],
    ['ten', 7, ['X: must be a whole number from 1 to 100, not "ten"']],
  ])('%j → %d', (raw, value, expected) => {
    const problems: FieldProblem[] = [];
    expect(envWholeNumber({ X: raw }, 'X', 7, 1, 100, problems)).toBe(value);
    expect(problems.map((p) => `${p.field}: ${p.message}`)).toEqual(expected);
  });
});

describe('envBoolean', () => {
  it.each<[string | undefined, boolean, string[]]>([
    [undefined, true, []],
    ['false', false, []],
    ['FALSE', false, []],
    ['True', true, []],
    ['yes', true, ['X: must be "true" or "false", not "yes"']],
    ['0', true, ['X: must be "true" or "false", not "0"']],
  ])('%j → %s', (raw, value, expected) => {
    const problems: FieldProblem[] = [];
    expect(envBoolean({ X: raw }, 'X', true, problems)).toBe(value);
    expect(problems.map((p) => `${p.field}: ${p.message}`)).toEqual(expected);
  });
});
