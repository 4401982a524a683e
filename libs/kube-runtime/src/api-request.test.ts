import { describe, expect, it } from '@jest/globals';
import {
  ACCEPT,
  applyRequest,
  createRequest,
  deleteRequest,
  flatHeaders,
  isSuccess,
  mergePatchRequest,
  requestBody,
  requestHeaders,
  requestTarget,
  resourcePath,
  successBody,
  type ApiRequest,
  type ResourceRef,
} from './api-request.js';

const route: ResourceRef = { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'httproutes', namespace: 'prod', name: 'agent-a' };

describe('resourcePath', () => {
  it.each<[string, ResourceRef, string]>([
    ['a namespaced custom object', route, '/apis/gateway.networking.k8s.io/v1/namespaces/prod/httproutes/agent-a'],
    ['its collection', { ...route, name: undefined }, '/apis/gateway.networking.k8s.io/v1/namespaces/prod/httproutes'],
    ['a status subresource', { group: 'kaos.tools', version: 'v1alpha1', plural: 'agents', namespace: 'prod', name: 'a', subresource: 'status' }, '/apis/kaos.tools/v1alpha1/namespaces/prod/agents/a/status'],
    ['the core group', { group: '', version: 'v1', plural: 'events', namespace: 'prod' }, '/api/v1/namespaces/prod/events'],
    ['a cluster-scoped collection', { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'httproutes' }, '/apis/gateway.networking.k8s.io/v1/httproutes'],
    ['segments URL-encoded, as client-node encodes them', { ...route, name: 'a/b c' }, '/apis/gateway.networking.k8s.io/v1/namespaces/prod/httproutes/a%2Fb%20c'],
  ])('%s', (_name, ref, path) => {
    expect(resourcePath(ref)).toBe(path);
  });
});

describe('requestTarget', () => {
  it.each<[string, string, Pick<ApiRequest, 'path' | 'query'>, { origin: string; path: string }]>([
    ['no query', 'https://127.0.0.1:6443', { path: '/api/v1/namespaces/p/events' }, { origin: 'https://127.0.0.1:6443', path: '/api/v1/namespaces/p/events' }],
    ['an empty query', 'https://127.0.0.1:6443', { path: '/api/v1/x', query: {} }, { origin: 'https://127.0.0.1:6443', path: '/api/v1/x' }],
    ['a query, in order', 'https://k8s:443', { path: '/apis/g/v1/x', query: { fieldManager: 'kaos-routing-controller', force: 'true' } }, { origin: 'https://k8s', path: '/apis/g/v1/x?fieldManager=kaos-routing-controller&force=true' }],
    ['a query value encoded', 'https://k8s', { path: '/x', query: { fieldManager: 'a b&c' } }, { origin: 'https://k8s', path: '/x?fieldManager=a+b%26c' }],
    ['a server behind a proxy, with a path prefix', 'https://rancher.example/k8s/clusters/c-1/', { path: '/api/v1/x' }, { origin: 'https://rancher.example', path: '/k8s/clusters/c-1/api/v1/x' }],
    ['a server with a trailing slash', 'https://k8s:6443/', { path: '/api/v1/x' }, { origin: 'https://k8s:6443', path: '/api/v1/x' }],
    ['plain HTTP', 'http://localhost:8080', { path: '/api/v1/x' }, { origin: 'http://localhost:8080', path: '/api/v1/x' }],
  ])('%s', (_name, server, request, target) => {
    expect(requestTarget(server, request)).toEqual(target);
  });
});

describe('requestHeaders', () => {
  it.each<[string, Pick<ApiRequest, 'body' | 'contentType'>, Record<string, string>, Record<string, string>]>([
    ['no body: no Content-Type', {}, { Authorization: 'Bearer t' }, { Authorization: 'Bearer t', accept: ACCEPT, 'user-agent': 'ua/1' }],
    ['a server-side apply', { body: {}, contentType: 'application/apply-patch+yaml' }, {}, { accept: ACCEPT, 'user-agent': 'ua/1', 'content-type': 'application/apply-patch+yaml' }],
    ['a merge patch, impersonating', { body: {}, contentType: 'application/merge-patch+json' }, { 'Impersonate-User': 'u' }, { 'Impersonate-User': 'u', accept: ACCEPT, 'user-agent': 'ua/1', 'content-type': 'application/merge-patch+json' }],
  ])('%s', (_name, request, credentials, headers) => {
    expect(requestHeaders(request, credentials, 'ua/1')).toEqual(headers);
  });

  it('refuses a body without a content type', () => {
    expect(() => requestHeaders({ body: {} }, {}, 'ua')).toThrow('content type');
  });
});

describe('requestBody', () => {
  it.each<[string, unknown, string | undefined]>([
    ['none', undefined, undefined],
    ['JSON, nulls kept (a merge patch removes with them)', { status: { gateway: null } }, '{"status":{"gateway":null}}'],
  ])('%s', (_name, body, text) => {
    expect(requestBody({ body })).toBe(text);
  });
});

describe('flatHeaders', () => {
  it('lower-cases names, joins repeated values and drops absent ones', () => {
    expect(flatHeaders({ 'Content-Type': 'application/json', warning: ['299 - "a"', '299 - "b"'], gone: undefined })).toEqual({ 'content-type': 'application/json', warning: '299 - "a", 299 - "b"' });
  });
});

describe('successBody', () => {
  it.each<[string, string | undefined, string, unknown]>([
    ['JSON', 'application/json', '{"kind":"HTTPRoute"}', { kind: 'HTTPRoute' }],
    ['JSON with a charset', 'application/json; charset=utf-8', '{"a":1}', { a: 1 }],
    ['a +json type', 'application/merge-patch+json', '{"a":1}', { a: 1 }],
    ['an empty body', undefined, '', undefined],
  ])('%s', (_name, contentType, text, body) => {
    expect(successBody(contentType, text)).toEqual(body);
  });

  it.each<[string, string | undefined]>([
    ['text', 'text/plain'],
    ['no content type', undefined],
    ['a look-alike', 'application/jsonp'],
  ])('refuses a body that is not JSON: %s', (_name, contentType) => {
    expect(() => successBody(contentType, 'x')).toThrow('not JSON');
  });
});

describe('isSuccess', () => {
  it.each<[number, boolean]>([
    [199, false],
    [200, true],
    [201, true],
    [299, true],
    [300, false],
    [404, false],
    [409, false],
    [422, false],
    [429, false],
    [500, false],
  ])('%i: %s', (status, success) => {
    expect(isSuccess(status)).toBe(success);
  });
});

describe('write requests', () => {
  it.each<[string, ApiRequest, ApiRequest]>([
    [
      'create, by a field manager',
      createRequest(route, { kind: 'HTTPRoute' }, 'kaos-routing-controller'),
      { method: 'POST', path: '/apis/gateway.networking.k8s.io/v1/namespaces/prod/httproutes', query: { fieldManager: 'kaos-routing-controller' }, body: { kind: 'HTTPRoute' }, contentType: 'application/json' },
    ],
    [
      'create without a field manager (an Event, as client-node posts it)',
      createRequest({ group: '', version: 'v1', plural: 'events', namespace: 'prod' }, { reason: 'R' }),
      { method: 'POST', path: '/api/v1/namespaces/prod/events', body: { reason: 'R' }, contentType: 'application/json' },
    ],
    [
      'server-side apply, forced',
      applyRequest(route, { kind: 'HTTPRoute' }, 'kaos-routing-controller', true),
      { method: 'PATCH', path: '/apis/gateway.networking.k8s.io/v1/namespaces/prod/httproutes/agent-a', query: { fieldManager: 'kaos-routing-controller', force: 'true' }, body: { kind: 'HTTPRoute' }, contentType: 'application/apply-patch+yaml' },
    ],
    [
      'merge patch of a status subresource',
      mergePatchRequest({ group: 'kaos.tools', version: 'v1alpha1', plural: 'agents', namespace: 'prod', name: 'a', subresource: 'status' }, { status: { gateway: null } }, 'kaos-routing-controller'),
      { method: 'PATCH', path: '/apis/kaos.tools/v1alpha1/namespaces/prod/agents/a/status', query: { fieldManager: 'kaos-routing-controller' }, body: { status: { gateway: null } }, contentType: 'application/merge-patch+json' },
    ],
    ['delete with a uid precondition', deleteRequest(route, 'u-1'), { method: 'DELETE', path: '/apis/gateway.networking.k8s.io/v1/namespaces/prod/httproutes/agent-a', body: { preconditions: { uid: 'u-1' } }, contentType: 'application/json' }],
    ['delete without one: no body', deleteRequest(route), { method: 'DELETE', path: '/apis/gateway.networking.k8s.io/v1/namespaces/prod/httproutes/agent-a' }],
  ])('%s', (_name, request, expected) => {
    expect(request).toEqual(expected);
  });
});
