// Fuzz: thousands of mutated AdmissionReviews against the real handler. Bounded in count and time;
// every answer must be a well-formed 200 or 4xx, and the server must keep serving.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ResourceValidator } from '@kaos/api-types';
import { createAdmissionHandler } from './admission-handler.js';
import { serveForTest, testRoutingConfig } from './handler.test-helpers.js';
import { silentLogger } from '@kaos/kube-runtime';
import { createMetrics } from './metrics.js';

const ITERATIONS = 3_000;
const TIME_BUDGET_MS = 30_000;

/** Small deterministic PRNG (mulberry32) so a failure reproduces from its seed. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const seedReview = {
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: {
    uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
    kind: { group: 'kaos.tools', version: 'v1alpha1', kind: 'Agent' },
    resource: { group: 'kaos.tools', version: 'v1alpha1', resource: 'agents' },
    namespace: 'prod',
    name: 'coordinator',
    operation: 'CREATE',
    userInfo: { username: 'admin', groups: ['system:masters'] },
    object: {
      apiVersion: 'kaos.tools/v1alpha1',
      kind: 'Agent',
      metadata: { name: 'coordinator', namespace: 'prod', labels: { a: 'b' } },
      spec: { modelAPI: 'm', mcpServers: ['echo'], config: { reasoningLoopMaxSteps: 5, env: [{ name: 'X', value: 'y' }] }, gatewayRoute: { timeout: '30s' } },
    },
    dryRun: false,
  },
};

/**
 * An UPDATE of an Agent stored before the webhook (its name is too long for a route) that changes
 * its description: allowed by validation ratcheting, so fuzzing it reaches the code comparing
 * object and oldObject.
 */
const legacyAgent = {
  apiVersion: 'kaos.tools/v1alpha1',
  kind: 'Agent',
  metadata: { name: 'c'.repeat(58), namespace: 'prod', labels: { a: 'b' }, finalizers: ['example.com/hold'] },
  spec: { modelAPI: 'm', mcpServers: ['echo'], config: { description: 'old', env: [{ name: 'X', value: 'y' }] }, gatewayRoute: { timeout: '100000s' } },
};
const updateSeedReview = {
  ...seedReview,
  request: {
    ...seedReview.request,
    name: legacyAgent.metadata.name,
    operation: 'UPDATE',
    object: { ...legacyAgent, spec: { ...legacyAgent.spec, config: { ...legacyAgent.spec.config, description: 'new' } } },
    oldObject: legacyAgent,
  },
};

const weirdValues = (random: () => number): unknown[] => [
  null,
  undefined,
  true,
  0,
  -1,
  1e308,
  Number.MAX_SAFE_INTEGER,
  '',
  'x'.repeat(Math.floor(random() * 5000)),
  '\u0000\ud800',
  '0s',
  '99999h',
  '/../',
  [],
  [null],
  {},
  { kind: 'HTTPRoute' },
  { group: 'gateway.networking.k8s.io', version: 'v1', kind: 'HTTPRoute' },
  { group: 'kaos.tools', version: 'v1alpha1', kind: ['ModelAPI', 'MCPServer', 'Pod'][Math.floor(random() * 3)] },
  'UPDATE',
  'DELETE',
  Array.from({ length: 50 }, () => ({ a: [{}] })),
];

/** Applies 1–4 random edits (delete, replace with a weird value, nest) anywhere in the review. */
function mutateReview(random: () => number, seed: object): unknown {
  const review = structuredClone(seed) as Record<string, unknown>;
  const edits = 1 + Math.floor(random() * 4);
  for (let edit = 0; edit < edits; edit++) {
    let node: Record<string, unknown> = review;
    while (true) {
      const keys = Object.keys(node);
      if (keys.length === 0) break;
      const key = keys[Math.floor(random() * keys.length)]!;
      const child = node[key];
      if (typeof child === 'object' && child !== null && !Array.isArray(child) && random() < 0.6) {
        node = child as Record<string, unknown>;
        continue;
      }
      const choice = random();
      if (choice < 0.3) delete node[key];
      else if (choice < 0.9) {
        const values = weirdValues(random);
        node[key] = values[Math.floor(random() * values.length)];
      } else node[key] = { nested: node[key], deep: [[[[node[key]]]]] };
      break;
    }
  }
  return review;
}

const metrics = createMetrics(false);
const handler = createAdmissionHandler({ config: testRoutingConfig, validator: new ResourceValidator(), logger: silentLogger(), metrics });
let served: Awaited<ReturnType<typeof serveForTest>>;

beforeAll(async () => {
  served = await serveForTest(handler);
});
afterAll(() => served.close());

const post = (path: string, body: string) => served.send(path, body);

describe('admission handler under fuzzing', () => {
  it.each([
    ['CREATE', seedReview],
    ['UPDATE (ratcheting)', updateSeedReview],
  ])(`answers ${ITERATIONS} mutated %s reviews with 200 or 4xx, never crashing`, async (_name, seedObject) => {
    const seed = Number(process.env.FUZZ_SEED ?? 20261126);
    const random = prng(seed);
    const deadline = Date.now() + TIME_BUDGET_MS;
    const statuses = new Map<number, number>();
    let sent = 0;
    let ratcheted = 0;
    for (; sent < ITERATIONS && Date.now() < deadline; sent++) {
      const review = mutateReview(random, seedObject);
      const text = random() < 0.05 ? JSON.stringify(review).slice(0, Math.floor(random() * 200)) : JSON.stringify(review) ?? 'null';
      const path = random() < 0.5 ? '/mutate' : '/validate';
      const { status, body } = await post(path, text);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      if (![200, 400].includes(status)) throw new Error(`seed ${seed}, case ${sent}: status ${status} for ${path} ${text.slice(0, 500)}`);
      const parsed = JSON.parse(body);
      if (status === 200) expect(parsed).toMatchObject({ kind: 'AdmissionReview', response: { allowed: expect.any(Boolean) } });
      else expect(typeof parsed.error).toBe('string');
      if (parsed.response?.warnings?.some((warning: string) => warning.includes('already invalid before this update'))) ratcheted++;
    }
    expect(sent).toBeGreaterThanOrEqual(500);
    expect(statuses.get(200)).toBeGreaterThan(0);
    expect(statuses.get(400)).toBeGreaterThan(0);
    // The UPDATE seed mostly stays an update that ratcheting allows: the comparison code was reached.
    if (seedObject === updateSeedReview) expect(ratcheted).toBeGreaterThan(0);
    // No input reached the catch-all that stands for an unexpected exception in the decision code.
    expect(await metrics.registry.getSingleMetricAsString('kaos_webhook_bad_requests_total')).not.toContain('reason="unreadable"');
    // Still serving a normal review afterwards.
    expect((await post('/mutate', JSON.stringify(seedObject))).status).toBe(200);
  }, TIME_BUDGET_MS + 15_000);
});
