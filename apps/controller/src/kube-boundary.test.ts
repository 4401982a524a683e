import { describe, expect, it } from '@jest/globals';
import { ApiException } from '@kubernetes/client-node';
import { apiStatus, typed } from './kube-boundary.js';

describe('apiStatus', () => {
  it.each<[string, unknown, number | undefined]>([
    ['an API answer', new ApiException(404, 'not found', {}, {}), 404],
    ['a conflict', new ApiException(409, 'conflict', {}, {}), 409],
    ['a network error (no answer)', new Error('ECONNREFUSED'), undefined],
    ['something thrown that is not an Error', 'boom', undefined],
  ])('of %s is %s', (_name, error, status) => {
    expect(apiStatus(error)).toBe(status);
  });
});

describe('typed', () => {
  it('only changes the type', () => {
    const object = { metadata: { name: 'a', creationTimestamp: '2026-11-30T10:00:00Z' } };
    expect(typed<{ metadata: { creationTimestamp: string } }>(object as never)).toBe(object);
    expect(typed(undefined)).toBeUndefined();
  });
});
