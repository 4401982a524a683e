import { describe, expect, it } from '@jest/globals';
import { dns1035LabelProblem, dns1123LabelProblem, dns1123SubdomainProblem, pathPrefixProblems } from './validation.js';

describe('DNS name rules', () => {
  it.each<[string, string | undefined, string | undefined, string | undefined]>([
    // name, DNS-1123 label, DNS-1123 subdomain, DNS-1035 label (undefined = valid)
    ['a', undefined, undefined, undefined],
    ['a-1', undefined, undefined, undefined],
    ['1a', undefined, undefined, 'must be a DNS-1035 label'],
    ['a.b', 'must be a DNS-1123 label', undefined, 'must be a DNS-1035 label'],
    ['A', 'must be a DNS-1123 label', 'must be a DNS-1123 subdomain', 'must be a DNS-1035 label'],
    ['a-', 'must be a DNS-1123 label', 'must be a DNS-1123 subdomain', 'must be a DNS-1035 label'],
    ['', 'must be a DNS-1123 label', 'must be a DNS-1123 subdomain', 'must be a DNS-1035 label'],
    ['a'.repeat(63), undefined, undefined, undefined],
    ['a'.repeat(64), 'must be at most 63 characters (is 64)', undefined, 'must be at most 63 characters (is 64)'],
    [`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`, 'must be at most 63', undefined, 'must be at most 63'],
    ['a'.repeat(254), 'must be at most 63', 'must be at most 253 characters (is 254)', 'must be at most 63'],
  ])('%s', (name, label, subdomain, label1035) => {
    const check = (problem: string | undefined, expected: string | undefined) =>
      expected === undefined ? expect(problem).toBeUndefined() : expect(problem).toContain(expected);
    check(dns1123LabelProblem(name), label);
    check(dns1123SubdomainProblem(name), subdomain);
    check(dns1035LabelProblem(name), label1035);
  });
});

describe('pathPrefixProblems', () => {
  it.each<[string, string[]]>([
    ['/prod/agent/a', []],
    ["/a-b_c.d~e!$&'()*+,;=:@/%20", []],
    [`/${'a'.repeat(1023)}`, []],
    [`/${'a'.repeat(1024)}`, ['must be at most 1024 characters (is 1025)']],
    ['prod/agent/a', ["must start with '/'"]],
    ['/a//b', ["must not contain '//'"]],
    ['/a/./b', ["must not contain a '.' segment"]],
    ['/a/.', ["must not contain a '.' segment"]],
    ['/a/../b', ["must not contain a '..' segment"]],
    ['/a/..', ["must not contain a '..' segment"]],
    ['/a%2fb', ["must not contain an escaped '/' (%2F)"]],
    ['/a%2Fb', ["must not contain an escaped '/' (%2F)"]],
    ['/a#b', ["may contain only letters, digits, -._~!$&'()*+,;=:@/ and %-escapes", "must not contain '#'"]],
    ['/a b', ["may contain only letters, digits, -._~!$&'()*+,;=:@/ and %-escapes"]],
    ['/a%zz', ["may contain only letters, digits, -._~!$&'()*+,;=:@/ and %-escapes"]],
  ])('%s', (path, problems) => {
    expect(pathPrefixProblems(path)).toEqual(problems);
  });
});
