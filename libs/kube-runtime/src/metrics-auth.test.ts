import { describe, expect, it } from '@jest/globals';
import {
  DEFAULT_AUTH_CACHE_TTLS,
  bearerToken,
  createRequestAuthorizer,
  delegatedAuthApi,
  subjectAccessReviewBody,
  tokenReviewBody,
  type AccessReviewRequest,
  type DelegatedAuthApi,
} from './metrics-auth.js';

const users: Record<string, { username: string; groups: string[] }> = {
  'reader-token': { username: 'system:serviceaccount:monitoring:prometheus', groups: ['system:serviceaccounts'] },
  'other-token': { username: 'system:serviceaccount:default:nobody', groups: ['system:serviceaccounts'] },
};

/** A fake API server: tokens in `users` are valid; only prometheus may get /metrics. */
function fakeApi(fail: Partial<Record<'tokenReview' | 'subjectAccessReview', boolean>> = {}) {
  const calls = { tokenReview: 0, subjectAccessReview: 0, reviews: [] as AccessReviewRequest[] };
  const api: DelegatedAuthApi = {
    async tokenReview(token) {
      calls.tokenReview++;
      if (fail.tokenReview) throw new Error('connection refused');
      const user = users[token];
      return user ? { authenticated: true, user } : { authenticated: false };
    },
    async subjectAccessReview(request) {
      calls.subjectAccessReview++;
      calls.reviews.push(request);
      if (fail.subjectAccessReview) throw new Error('HTTP 503');
      return { allowed: request.user.username.endsWith(':prometheus') && request.verb === 'get' && request.path === '/metrics' };
    },
  };
  return { api, calls };
}

describe('bearerToken', () => {
  it.each([
    [undefined, undefined],
    ['', undefined],
    ['Basic dXNlcjpwYXNz', undefined],
    ['Bearer', undefined],
    ['Bearer abc', 'abc'],
    ['bearer abc', 'abc'],
    ['  Bearer   abc  ', 'abc'],
    ['Bearer abc def', undefined],
  ])('reads %j as %j', (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });
});

describe('createRequestAuthorizer', () => {
  it.each([
    ['no Authorization header', undefined, 'GET', 401, 0, 0],
    ['a Basic header', 'Basic dXNlcjpwYXNz', 'GET', 401, 0, 0],
    ['an invalid token', 'Bearer forged', 'GET', 401, 1, 0],
    ['a valid token without the reader role', 'Bearer other-token', 'GET', 403, 1, 1],
    ['a valid token with the reader role', 'Bearer reader-token', 'GET', 200, 1, 1],
    ['HEAD with the reader role (verb get)', 'Bearer reader-token', 'HEAD', 200, 1, 1],
  ] as const)('%s: %d', async (_name, header, method, status, tokenReviews, accessReviews) => {
    const { api, calls } = fakeApi();
    const decision = await createRequestAuthorizer({ api }).authorize(header, method, '/metrics');
    expect(decision.status).toBe(status);
    expect(calls.tokenReview).toBe(tokenReviews);
    expect(calls.subjectAccessReview).toBe(accessReviews);
    if (accessReviews) expect(calls.reviews[0]).toMatchObject({ verb: 'get', path: '/metrics', user: { groups: ['system:serviceaccounts'] } });
    if (decision.status === 403) expect(decision.message).toContain('kaos-operator-metrics-reader');
  });

  it.each([
    ['TokenReview', { tokenReview: true }, 'TokenReview: connection refused'],
    ['SubjectAccessReview', { subjectAccessReview: true }, 'SubjectAccessReview: HTTP 503'],
  ] as const)('answers 500 when the %s call fails, and does not cache the failure', async (_name, fail, message) => {
    const { api, calls } = fakeApi(fail);
    const authorizer = createRequestAuthorizer({ api });
    const decision = await authorizer.authorize('Bearer reader-token', 'GET', '/metrics');
    expect(decision).toEqual({ status: 500, message: expect.stringContaining(message) });
    await authorizer.authorize('Bearer reader-token', 'GET', '/metrics');
    expect(calls.tokenReview + calls.subjectAccessReview).toBe('tokenReview' in fail ? 2 : 3);
  });

  it.each([
    // token, elapsed ms, TokenReviews and SubjectAccessReviews after the second request
    ['reader-token', 59_000, 1, 1],
    ['reader-token', 61_000, 2, 1],
    ['reader-token', 301_000, 2, 2],
    ['other-token', 29_000, 1, 1],
    ['other-token', 31_000, 1, 2],
    ['forged', 59_000, 1, 0],
    ['forged', 61_000, 2, 0],
  ])('caches like controller-runtime (%s again after %d ms: %d TokenReviews, %d SubjectAccessReviews)', async (token, elapsed, tokenReviews, accessReviews) => {
    const { api, calls } = fakeApi();
    let now = 1_000_000;
    const authorizer = createRequestAuthorizer({ api, now: () => now });
    const first = await authorizer.authorize(`Bearer ${token}`, 'GET', '/metrics');
    now += elapsed;
    expect(await authorizer.authorize(`Bearer ${token}`, 'GET', '/metrics')).toEqual(first);
    expect(calls.tokenReview).toBe(tokenReviews);
    expect(calls.subjectAccessReview).toBe(accessReviews);
  });

  it('keeps at most maxEntries decisions, dropping the oldest', async () => {
    const { api } = fakeApi();
    const authorizer = createRequestAuthorizer({ api, maxEntries: 3 });
    for (let i = 0; i < 10; i++) await authorizer.authorize(`Bearer random-${i}`, 'GET', '/metrics');
    expect(authorizer.cacheSizes()).toEqual({ tokens: 3, decisions: 0 });
  });

  it('uses controller-runtime\'s lifetimes by default', () => {
    expect(DEFAULT_AUTH_CACHE_TTLS).toEqual({ tokenMs: 60_000, allowMs: 300_000, denyMs: 30_000 });
  });
});

describe('delegatedAuthApi', () => {
  it.each([
    ['an authenticated token', { status: { authenticated: true, user: { username: 'u', uid: '1', groups: ['g'], extra: { k: ['v'] } } } }, { authenticated: true, user: { username: 'u', uid: '1', groups: ['g'], extra: { k: ['v'] } } }],
    ['a minimal user', { status: { authenticated: true, user: { username: 'u' } } }, { authenticated: true, user: { username: 'u' } }],
    ['an unauthenticated token', { status: { authenticated: false, error: 'invalid bearer token' } }, { authenticated: false }],
    ['no status', {}, { authenticated: false }],
    ['no user name', { status: { authenticated: true, user: {} } }, { authenticated: false }],
  ])('reads a TokenReview answer with %s', async (_name, answer, outcome) => {
    const posted: Array<[string, object]> = [];
    const api = delegatedAuthApi(async (path, body) => {
      posted.push([path, body]);
      return answer;
    });
    expect(await api.tokenReview('t')).toEqual(outcome);
    expect(posted).toEqual([['/apis/authentication.k8s.io/v1/tokenreviews', tokenReviewBody('t')]]);
  });

  it.each([
    [{ status: { allowed: true } }, { allowed: true }],
    [{ status: { allowed: false, reason: 'no RBAC policy matched' } }, { allowed: false, reason: 'no RBAC policy matched' }],
    [undefined, { allowed: false }],
  ])('reads the SubjectAccessReview answer %j', async (answer, outcome) => {
    const posted: Array<[string, object]> = [];
    const api = delegatedAuthApi(async (path, body) => {
      posted.push([path, body]);
      return answer;
    });
    const request = { user: { username: 'u', uid: '1', groups: ['g'], extra: { k: ['v'] } }, verb: 'get', path: '/metrics' };
    expect(await api.subjectAccessReview(request)).toEqual(outcome);
    expect(posted[0]![0]).toBe('/apis/authorization.k8s.io/v1/subjectaccessreviews');
    expect(posted[0]![1]).toEqual({
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: { user: 'u', uid: '1', groups: ['g'], extra: { k: ['v'] }, nonResourceAttributes: { path: '/metrics', verb: 'get' } },
    });
    expect(subjectAccessReviewBody({ user: { username: 'u' }, verb: 'get', path: '/metrics' })).toEqual({
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: { user: 'u', nonResourceAttributes: { path: '/metrics', verb: 'get' } },
    });
  });
});
