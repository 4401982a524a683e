/** One reason an object is invalid: the field path as kubectl prints it, and a message for people. */
export interface FieldProblem {
  /** Dotted path such as `spec.gatewayRoute.timeout` or `spec.env[2].name`. */
  field: string;
  message: string;
}

/** Turns a JSON Pointer (`/spec/env/2/name`) into the dotted path kubectl prints (`spec.env[2].name`). */
export function fieldPathFromPointer(pointer: string): string {
  if (pointer === '') return '';
  return pointer
    .slice(1)
    .split('/')
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((path, segment) => {
      if (/^\d+$/.test(segment)) return `${path}[${segment}]`;
      if (!/^[A-Za-z_$][\w$-]*$/.test(segment)) return `${path}[${JSON.stringify(segment)}]`;
      return path === '' ? segment : `${path}.${segment}`;
    }, '');
}

/** Formats problems as one line each, `field: message`, as admission denials and status messages show them. */
export function formatProblems(problems: readonly FieldProblem[]): string {
  return problems.map((problem) => (problem.field ? `${problem.field}: ${problem.message}` : problem.message)).join('; ');
}
