import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ResourceValidator } from '@kaos/api-types';
import { createAdmissionHandler } from './admission-handler.js';
import { serveForTest, testRoutingConfig } from './handler.test-helpers.js';
import { silentLogger } from './logger.js';
import { createMetrics } from './metrics.js';

const metrics = createMetrics(false);
const handler = createAdmissionHandler({ config: testRoutingConfig, validator: new ResourceValidator(), logger: silentLogger(), metrics, maxBodyBytes: 64 * 1024 });
let served: Awaited<ReturnType<typeof serveForTest>>;

beforeAll(async () => {
  served = await serveForTest(handler);
});
afterAll(() => served.close());

const send = (...args: Parameters<typeof served.send>) => served.send(...args);

const agentReview = (object: unknown = { kind: 'Agent', apiVersion: 'kaos.tools/v1alpha1', metadata: { name: 'a', namespace: 'prod' }, spec: { modelAPI: 'm' } }) =>
  JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid: 'u-1', kind: { group: 'kaos.tools', version: 'v1alpha1', kind: 'Agent' }, operation: 'CREATE', namespace: 'prod', name: 'a', object },
  });

describe('admission handler', () => {
  it('answers /mutate with the defaulting patch and echoes the uid', async () => {
    const { status, body } = await send('/mutate', agentReview());
    expect(status).toBe(200);
    const review = JSON.parse(body);
    expect(review).toMatchObject({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'u-1', allowed: true, patchType: 'JSONPatch' } });
    expect(JSON.parse(Buffer.from(review.response.patch, 'base64').toString())).toEqual([
      { op: 'add', path: '/spec/gatewayRoute', value: { timeout: '120s' } },
    ]);
  });

  it('answers /validate with a denial that names the field', async () => {
    const object = { kind: 'Agent', metadata: { name: 'a', namespace: 'prod' }, spec: { modelAPI: 'm', gatewayRoute: { timeout: '5 minutes' } } };
    const { status, body } = await send('/validate?timeout=10s', agentReview(object), { 'content-type': 'application/json; charset=utf-8' });
    expect(status).toBe(200);
    expect(JSON.parse(body).response).toEqual({
      uid: 'u-1',
      allowed: false,
      status: { code: 422, reason: 'Invalid', message: 'Agent prod/a is invalid: spec.gatewayRoute.timeout: "5 minutes" is not a Gateway API duration (e.g. 30s, 1m, 1h30m)' },
    });
  });

  it.each<[string, string, string | Buffer, Record<string, string> | undefined, string, number, string]>([
    ['malformed JSON', '/validate', '{"apiVersion":', undefined, 'POST', 400, 'body is not valid JSON'],
    ['a non-AdmissionReview', '/validate', '{"kind":"Pod"}', undefined, 'POST', 400, 'kind must be "AdmissionReview"'],
    ['a review without request', '/mutate', '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}', undefined, 'POST', 400, 'request is missing'],
    [
      'an unknown kind',
      '/validate',
      JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'x', kind: { group: 'apps', version: 'v1', kind: 'Deployment' }, operation: 'CREATE' } }),
      undefined,
      'POST',
      400,
      'this webhook does not handle Deployment.v1.apps',
    ],
    ['a wrong content type', '/validate', agentReview(), { 'content-type': 'text/plain' }, 'POST', 415, 'content-type must be application/json, not "text/plain"'],
    ['no content type', '/validate', agentReview(), {}, 'POST', 415, 'content-type must be application/json, not ""'],
    ['a GET', '/validate', '', undefined, 'GET', 405, 'GET is not allowed'],
    ['a body over the limit (declared)', '/validate', Buffer.alloc(70 * 1024, 32), undefined, 'POST', 413, 'exceeds the limit of 65536 bytes'],
    ['a body over the limit (chunked)', '/validate', Buffer.alloc(70 * 1024, 32), { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, 'POST', 413, 'exceeds the limit'],
    ['invalid UTF-8 and binary', '/mutate', Buffer.from([0xff, 0xfe, 0x00, 0x7b]), undefined, 'POST', 400, 'body is not valid JSON'],
  ])('refuses %s with a 4xx and a reason', async (_name, path, body, headers, method, status, message) => {
    const response = await send(path, body, headers ?? { 'content-type': 'application/json' }, method);
    expect(response.status).toBe(status);
    expect(JSON.parse(response.body).error).toContain(message);
  });

  it('lets other paths through to the next handler', async () => {
    expect((await send('/other', '{}')).status).toBe(404);
  });

  it('counts decisions and refusals in its metrics', async () => {
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/kaos_webhook_admissions_total\{webhook="mutate",kind="Agent",operation="CREATE",result="patched"\} [1-9]/);
    expect(text).toMatch(/kaos_webhook_admissions_total\{webhook="validate",kind="Agent",operation="CREATE",result="denied"\} [1-9]/);
    expect(text).toMatch(/kaos_webhook_bad_requests_total\{reason="malformed_json"\} [1-9]/);
    expect(text).toMatch(/kaos_webhook_admission_duration_seconds_count\{webhook="validate"\} [1-9]/);
  });
});
