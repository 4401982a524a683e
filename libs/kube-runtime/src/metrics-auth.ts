// Authentication and authorization of /metrics requests, as controller-runtime's
// filters.WithAuthenticationAndAuthorization does: the bearer token is checked with a TokenReview,
// the user it names with a SubjectAccessReview for the non-resource URL and the request's verb, and
// both answers are cached like k8s.io/apiserver's delegating authenticator (1 min) and authorizer
// (allowed 5 min, denied 30 s). The two API calls come in as functions: this module does no I/O.
import { createHash } from 'node:crypto';

/** The user a TokenReview names (authentication.k8s.io/v1 UserInfo). */
export interface ReviewedUser {
  username: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

/** What a TokenReview answered: the token is valid and belongs to `user`, or it is not. */
export interface TokenReviewOutcome {
  authenticated: boolean;
  user?: ReviewedUser;
}

/** What a SubjectAccessReview asks: may `user` do `verb` on the non-resource URL `path`? */
export interface AccessReviewRequest {
  user: ReviewedUser;
  verb: string;
  path: string;
}

/** The API calls the authorizer makes; the apps wire them to their Kubernetes clients. */
export interface DelegatedAuthApi {
  /** POST a TokenReview of `token`; rejects when the API server could not be asked. */
  tokenReview(token: string): Promise<TokenReviewOutcome>;
  /** POST a SubjectAccessReview; resolves `allowed` (and the reason the API server gave). */
  subjectAccessReview(request: AccessReviewRequest): Promise<{ allowed: boolean; reason?: string }>;
}

/** How long decisions are remembered. */
export interface AuthCacheTtls {
  /** TokenReview answers, valid or not (DelegatingAuthenticatorConfig.CacheTTL: 1 min). */
  tokenMs: number;
  /** Allowed SubjectAccessReviews (DelegatingAuthorizerConfig.AllowCacheTTL: 5 min). */
  allowMs: number;
  /** Denied SubjectAccessReviews (DenyCacheTTL: 30 s). */
  denyMs: number;
}

/** controller-runtime's cache lifetimes. */
export const DEFAULT_AUTH_CACHE_TTLS: AuthCacheTtls = { tokenMs: 60_000, allowMs: 300_000, denyMs: 30_000 };

/** The answer for one request: serve it (200), or refuse it with this status and message. */
export type AuthDecision = { status: 200; user: string } | { status: 401 | 403 | 500; message: string };

/** Options of createRequestAuthorizer. */
export interface RequestAuthorizerOptions {
  api: DelegatedAuthApi;
  ttls?: AuthCacheTtls;
  /** Most entries per cache; the oldest go first (bounds memory against floods of random tokens). */
  maxEntries?: number;
  now?: () => number;
}

class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; expires: number }>();
  private readonly maxEntries: number;
  constructor(maxEntries: number) {
    this.maxEntries = maxEntries;
  }

  get(key: string, now: number): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expires > now) return entry.value;
    this.entries.delete(key);
    return undefined;
  }

  set(key: string, value: V, expires: number): void {
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { value, expires });
  }

  get size(): number {
    return this.entries.size;
  }
}

/** The bearer token of an Authorization header, or undefined (RFC 6750: scheme case-insensitive). */
export function bearerToken(authorization: string | undefined): string | undefined {
  const match = /^\s*bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  return match?.[1];
}

/** Decides on requests: `authorize(authorizationHeader, method, path)`. */
export interface RequestAuthorizer {
  authorize(authorization: string | undefined, method: string, path: string): Promise<AuthDecision>;
  /** Entries held, for tests. */
  cacheSizes(): { tokens: number; decisions: number };
}

/** Creates the authorizer of the metrics endpoint. API errors answer 500 and are not cached. */
export function createRequestAuthorizer({ api, ttls = DEFAULT_AUTH_CACHE_TTLS, maxEntries = 4096, now = Date.now }: RequestAuthorizerOptions): RequestAuthorizer {
  const tokens = new TtlCache<TokenReviewOutcome>(maxEntries);
  const decisions = new TtlCache<{ allowed: boolean; reason?: string }>(maxEntries);
  // Tokens are cached by their hash: the cache never holds a credential.
  const hash = (text: string) => createHash('sha256').update(text).digest('base64url');

  return {
    async authorize(authorization, method, path) {
      const token = bearerToken(authorization);
      if (!token) return { status: 401, message: 'Unauthorized: send a ServiceAccount token as "Authorization: Bearer <token>"' };
      const tokenKey = hash(token);
      let identity = tokens.get(tokenKey, now());
      if (!identity) {
        try {
          identity = await api.tokenReview(token);
        } catch (error) {
          return { status: 500, message: `Authentication failed: TokenReview: ${(error as Error).message}` };
        }
        tokens.set(tokenKey, identity, now() + ttls.tokenMs);
      }
      if (!identity.authenticated || !identity.user) return { status: 401, message: 'Unauthorized: the token was not accepted by a TokenReview' };

      const user = identity.user;
      const verb = method.toLowerCase() === 'head' ? 'get' : method.toLowerCase();
      const decisionKey = hash(JSON.stringify([user.username, user.uid ?? '', [...(user.groups ?? [])].sort(), user.extra ?? {}, verb, path]));
      let decision = decisions.get(decisionKey, now());
      if (!decision) {
        try {
          decision = await api.subjectAccessReview({ user, verb, path });
        } catch (error) {
          return { status: 500, message: `Authorization for user ${user.username} failed: SubjectAccessReview: ${(error as Error).message}` };
        }
        decisions.set(decisionKey, decision, now() + (decision.allowed ? ttls.allowMs : ttls.denyMs));
      }
      if (!decision.allowed) {
        return { status: 403, message: `Authorization denied for user ${user.username}: needs "${verb}" on the non-resource URL ${path} (bind the ClusterRole kaos-operator-metrics-reader)` };
      }
      return { status: 200, user: user.username };
    },
    cacheSizes: () => ({ tokens: tokens.size, decisions: decisions.size }),
  };
}

/** The TokenReview object to POST to /apis/authentication.k8s.io/v1/tokenreviews. */
export function tokenReviewBody(token: string): object {
  return { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } };
}

/** Reads a TokenReview answer (its status). */
export function tokenReviewOutcome(review: { status?: { authenticated?: boolean; user?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> } } } | undefined): TokenReviewOutcome {
  const status = review?.status;
  if (!status?.authenticated || !status.user?.username) return { authenticated: false };
  const { username, uid, groups, extra } = status.user;
  return { authenticated: true, user: { username, ...(uid ? { uid } : {}), ...(groups ? { groups } : {}), ...(extra ? { extra } : {}) } };
}

/** The SubjectAccessReview object to POST to /apis/authorization.k8s.io/v1/subjectaccessreviews. */
export function subjectAccessReviewBody({ user, verb, path }: AccessReviewRequest): object {
  return {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SubjectAccessReview',
    spec: { user: user.username, ...(user.uid ? { uid: user.uid } : {}), ...(user.groups ? { groups: user.groups } : {}), ...(user.extra ? { extra: user.extra } : {}), nonResourceAttributes: { path, verb } },
  };
}

/** Reads a SubjectAccessReview answer. */
export function subjectAccessReviewOutcome(review: { status?: { allowed?: boolean; reason?: string } } | undefined): { allowed: boolean; reason?: string } {
  return { allowed: review?.status?.allowed === true, ...(review?.status?.reason ? { reason: review.status.reason } : {}) };
}

/** Wires DelegatedAuthApi to any "POST this object to that path" function (the apps' Kubernetes clients). */
export function delegatedAuthApi(post: (path: string, body: object) => Promise<unknown>): DelegatedAuthApi {
  return {
    tokenReview: async (token) => tokenReviewOutcome((await post('/apis/authentication.k8s.io/v1/tokenreviews', tokenReviewBody(token))) as Parameters<typeof tokenReviewOutcome>[0]),
    subjectAccessReview: async (request) =>
      subjectAccessReviewOutcome((await post('/apis/authorization.k8s.io/v1/subjectaccessreviews', subjectAccessReviewBody(request))) as Parameters<typeof subjectAccessReviewOutcome>[0]),
  };
}
