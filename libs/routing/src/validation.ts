/** DNS-1123 label: lowercase alphanumerics and '-', at most 63 characters (namespace names). */
export const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** DNS-1123 subdomain: dot-separated DNS-1123 labels, at most 253 characters (most object names). */
export const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** DNS-1035 label: like DNS-1123 but starting with a letter, at most 63 characters (Service names). */
export const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** Why `name` is not a DNS-1123 label, or undefined when it is one. */
export function dns1123LabelProblem(name: string): string | undefined {
  if (name.length > 63) return `must be at most 63 characters (is ${name.length})`;
  if (!DNS1123_LABEL.test(name)) return "must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit";
  return undefined;
}

/** Why `name` is not a DNS-1123 subdomain, or undefined when it is one. */
export function dns1123SubdomainProblem(name: string): string | undefined {
  if (name.length > 253) return `must be at most 253 characters (is ${name.length})`;
  if (!DNS1123_SUBDOMAIN.test(name)) {
    return "must be a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit";
  }
  return undefined;
}

/** Why `name` is not a DNS-1035 label, or undefined when it is one. */
export function dns1035LabelProblem(name: string): string | undefined {
  if (name.length > 63) return `must be at most 63 characters (is ${name.length})`;
  if (!DNS1035_LABEL.test(name)) {
    return "must be a DNS-1035 label: lowercase letters, digits and '-', starting with a letter and ending with a letter or digit";
  }
  return undefined;
}

/** Gateway API's limit on HTTPRoute path values. */
export const MAX_PATH_LENGTH = 1024;
const PATH_CHARACTERS = /^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|%[0-9a-fA-F]{2})+$/;

/** Every reason Gateway API would reject `path` as a PathPrefix match value (its CRD's rules). */
export function pathPrefixProblems(path: string): string[] {
  const problems: string[] = [];
  if (!path.startsWith('/')) problems.push("must start with '/'");
  if (path.length > MAX_PATH_LENGTH) problems.push(`must be at most ${MAX_PATH_LENGTH} characters (is ${path.length})`);
  if (!PATH_CHARACTERS.test(path)) problems.push("may contain only letters, digits, -._~!$&'()*+,;=:@/ and %-escapes");
  if (path.includes('//')) problems.push("must not contain '//'");
  if (path.includes('/./') || path.endsWith('/.')) problems.push("must not contain a '.' segment");
  if (path.includes('/../') || path.endsWith('/..')) problems.push("must not contain a '..' segment");
  if (/%2f/i.test(path)) problems.push("must not contain an escaped '/' (%2F)");
  if (path.includes('#')) problems.push("must not contain '#'");
  return problems;
}
