import { describe, expect, it } from '@jest/globals';
import { fieldPathFromPointer, formatProblems } from './problems.js';

describe('fieldPathFromPointer', () => {
  it.each([
    ['', ''],
    ['/spec', 'spec'],
    ['/spec/gatewayRoute/timeout', 'spec.gatewayRoute.timeout'],
    ['/spec/config/env/2/name', 'spec.config.env[2].name'],
    ['/metadata/labels/app.kubernetes.io~1name', 'metadata.labels["app.kubernetes.io/name"]'],
    ['/a~0b', '["a~b"]'],
    ['/0', '[0]'],
  ])('%s → %s', (pointer, path) => {
    expect(fieldPathFromPointer(pointer)).toBe(path);
  });
});

describe('formatProblems', () => {
  it('joins problems as field: message, leaving out an empty field', () => {
    expect(
      formatProblems([
        { field: 'spec.modelAPI', message: 'Required value' },
        { field: '', message: 'object is not an AdmissionReview' },
      ]),
    ).toBe('spec.modelAPI: Required value; object is not an AdmissionReview');
  });
});
