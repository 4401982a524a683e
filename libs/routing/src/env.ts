import type { FieldProblem } from '@kaos/api-types';

/** Environment variables as `process.env` holds them. */
export type Environment = Readonly<Record<string, string | undefined>>;

/** A variable's trimmed value; empty counts as unset (Helm renders unset values as empty strings). */
export function envValue(env: Environment, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

/** A whole number in [min, max], or `fallback` when unset; a bad value is added to `problems`, naming the variable. */
export function envWholeNumber(env: Environment, name: string, fallback: number, min: number, max: number, problems: FieldProblem[]): number {
  const value = envValue(env, name);
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    problems.push({ field: name, message: `must be a whole number from ${min} to ${max}, not ${JSON.stringify(value)}` });
    return fallback;
  }
  return Number(value);
}

/** `true` or `false` (any case), or `fallback` when unset; anything else is added to `problems`. */
export function envBoolean(env: Environment, name: string, fallback: boolean, problems: FieldProblem[]): boolean {
  const value = envValue(env, name)?.toLowerCase();
  if (value === undefined) return fallback;
  if (value !== 'true' && value !== 'false') {
    problems.push({ field: name, message: `must be "true" or "false", not ${JSON.stringify(env[name]?.trim())}` });
    return fallback;
  }
  return value === 'true';
}
