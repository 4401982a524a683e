// Manifests as KAOS users write them (e2e/corpus/kaos-users), round-tripped through a real API
// server: first under upstream KAOS's own CRDs (what a cluster running KAOS has installed), then
// under ours with the webhook in front. Ours must accept every manifest upstream accepts, store it
// exactly as upstream stores it (defaults included) plus the route timeout the webhook defaults,
// keep objects stored under upstream's CRDs unchanged across the switch, and take upstream's status.
//
// KAOS_E2E_OUR_CRD_DIR=<dir> runs it against other CRD files than charts/kaos-operator/crds (e.g. a
// scratch copy with a field removed, to see the test catch it).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parse, parseAllDocuments } from 'yaml';
import { gatewayApiBundlePath, repoRoot, startControlPlane, type ControlPlane, type KubectlResult } from './control-plane/index.js';
import { createNamespace, KAOS_CRD_DIR, kubectlOk, kubectlWithManifest, runCleanup } from './support/cluster.js';
import { applyCrds, crdsIn, lostOrChangedFields, schemaOf, UPSTREAM_CRD_DIR, waitForCrdSchemas, withoutServerMetadata, type KubeObject } from './support/crds.js';
import { CHART_DIR, helmOk } from './support/release.js';
import { startWebhook, type RunningWebhook } from './support/webhook.js';

const CORPUS_DIR = join(repoRoot, 'e2e/corpus/kaos-users');
const OUR_CRD_DIR = process.env.KAOS_E2E_OUR_CRD_DIR || KAOS_CRD_DIR;
const log = (message: string) => process.env.E2E_VERBOSE && process.stderr.write(`[upstream-corpus] ${message}\n`);

interface CorpusEntry {
  /** `Kind/name`, unique in the corpus. */
  key: string;
  kind: 'Agent' | 'ModelAPI' | 'MCPServer';
  name: string;
  file: string;
  /** The document as the `yaml` package reads it (YAML 1.2): for test names and expectations known before kubectl runs. */
  source: KubeObject;
}

/** The corpus objects in file order (read here for the test names; the test uses kubectl's own reading of the files). */
const corpus: CorpusEntry[] = readdirSync(CORPUS_DIR)
  .filter((file) => file.endsWith('.yaml'))
  .sort()
  .flatMap((file) =>
    parseAllDocuments(readFileSync(join(CORPUS_DIR, file), 'utf8'))
      .map((document) => document.toJS() as KubeObject | null)
      .filter((object): object is KubeObject => object !== null)
      .map((source) => ({ key: `${source.kind}/${source.metadata.name}`, kind: source.kind, name: source.metadata.name, file, source })),
  );

/**
 * Where upstream's CRD refuses a corpus manifest on purpose-documented grounds (ours accepts it):
 * the error upstream gives, and a stand-in change that makes upstream accept it, undone on
 * upstream's result, to learn what upstream would store (its defaults) for the comparison.
 */
function deliberateDifference(manifest: KubeObject): { upstreamError: string; standIn: (object: KubeObject) => void; undo: (object: KubeObject) => void } | undefined {
  // The user guide's Agents have no model (the KAOS operator then uses the ModelAPI's); upstream's CRD requires one.
  if (manifest.kind === 'Agent' && manifest.spec?.model === undefined) {
    return {
      upstreamError: 'spec.model: Required value',
      standIn: (object) => (object.spec.model = 'stand-in/model'),
      undo: (object) => delete object.spec.model,
    };
  }
  return undefined;
}

/** Status as the KAOS operator writes it: every upstream status field, per kind. */
function upstreamStatus(kind: CorpusEntry['kind'], name: string, namespace: string, manifest: KubeObject, phase: 'Ready' | 'Pending'): KubeObject {
  const ready = phase === 'Ready';
  const prefix = { Agent: 'agent', ModelAPI: 'modelapi', MCPServer: 'mcpserver' }[kind];
  const condition = (type: string, reason: string, message: string) => ({
    type,
    status: ready ? 'True' : 'False',
    reason,
    message,
    lastTransitionTime: ready ? '2026-01-31T22:48:20Z' : '2026-01-31T22:40:00Z',
    observedGeneration: 1,
  });
  return {
    phase,
    ready,
    endpoint: `http://${prefix}-${name}.${namespace}.svc.cluster.local:8000`,
    message: ready ? 'Deployment ready replicas: 1/1' : 'Waiting for deployment',
    deployment: {
      replicas: 1,
      readyReplicas: ready ? 1 : 0,
      availableReplicas: ready ? 1 : 0,
      updatedReplicas: 1,
      conditions: [
        condition('Available', ready ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable', ready ? 'Deployment has minimum availability.' : 'Deployment does not have minimum availability.'),
        condition('Progressing', 'NewReplicaSetAvailable', `ReplicaSet "${prefix}-${name}-7d9c8b6f5" has successfully progressed.`),
      ],
    },
    ...(kind === 'Agent' ? { linkedResources: { modelAPI: manifest.spec.modelAPI, ...(manifest.spec.mcpServers ? { mcpServers: manifest.spec.mcpServers.join(',') } : {}) } } : {}),
    ...(kind === 'MCPServer' ? { availableTools: ready ? ['echo', 'add', 'calculate'] : [] } : {}),
  };
}

/** What one kubectl call answered. */
type Outcome = KubectlResult;

const manifests = new Map<string, KubeObject>();
/** `kubectl apply --dry-run=server -o json` under upstream's CRDs. */
const upstreamDryRun = new Map<string, Outcome>();
/** What upstream's CRD would store for each manifest (for a deliberate difference: via its stand-in). */
const upstreamStored = new Map<string, KubeObject>();
/** Objects stored for real under upstream's CRDs (with status), read before and after the switch. */
const storedBefore = new Map<string, KubeObject>();
const storedAfter = new Map<string, KubeObject>();
const storedStatusAfterSwitch = new Map<string, { written: KubeObject; apply: Outcome; read: KubeObject }>();
/** The corpus applied under our CRDs through the webhook, and what was read back. */
const oursApply = new Map<string, Outcome>();
const oursStored = new Map<string, KubeObject>();
const oursStatus = new Map<string, { written: KubeObject; apply: Outcome; read: KubeObject }>();

let plane: ControlPlane | undefined;
let webhook: RunningWebhook | undefined;
let corpusNamespace: string;
let storedNamespace: string;
/** The chart's route defaults, as its ConfigMap gives them to the webhook. */
let chartConfig: Record<string, string>;
const timings: Record<string, number> = {};

const DEFAULT_TIMEOUT_VARIABLE = { Agent: 'GATEWAY_DEFAULT_AGENT_TIMEOUT', ModelAPI: 'GATEWAY_DEFAULT_MODELAPI_TIMEOUT', MCPServer: 'GATEWAY_DEFAULT_MCP_TIMEOUT' } as const;

/** Runs `task` over `items`, `limit` at a time. */
async function eachLimited<T>(items: T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(Array.from({ length: limit }, async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await task(item);
  }));
}

/** Every KAOS object in a namespace as the API server returns it, by `Kind/name`. */
async function readBack(namespace: string): Promise<Map<string, KubeObject>> {
  const list = JSON.parse(await kubectlOk(plane!, ['get', 'agents.kaos.tools,modelapis.kaos.tools,mcpservers.kaos.tools', '-n', namespace, '-o', 'json'])) as KubeObject;
  return new Map((list.items as KubeObject[]).map((object) => [`${object.kind}/${object.metadata.name}`, object]));
}

/** Writes status through the status subresource with server-side apply (as a controller does), strict field validation. */
const applyStatus = (entry: CorpusEntry, namespace: string, status: KubeObject) =>
  kubectlWithManifest(
    plane!,
    ['apply', '--server-side', '--subresource=status', '--field-manager=kaos-operator', '--validate=strict', '-n', namespace],
    { apiVersion: 'kaos.tools/v1alpha1', kind: entry.kind, metadata: { name: entry.name }, status },
  );

/** Per kind, an object with a six-digit timeout: upstream's pattern allows it, our CRD's CEL rule (Gateway API duration) does not. */
const PROBE_SPECS: Record<string, Record<string, unknown>> = {
  Agent: { modelAPI: 'm', model: 'x' },
  ModelAPI: { mode: 'Hosted', hostedConfig: { model: 'x' } },
  MCPServer: { runtime: 'r' },
};
const ourSchemaServed = async (): Promise<boolean> => {
  for (const [kind, spec] of Object.entries(PROBE_SPECS)) {
    const probe = await kubectlWithManifest(plane!, ['create', '--dry-run=server', '-n', corpusNamespace], {
      apiVersion: 'kaos.tools/v1alpha1',
      kind,
      metadata: { name: 'probe' },
      spec: { ...spec, gatewayRoute: { timeout: '100000s' } },
    });
    if (probe.code === 0 || !probe.stderr.includes('must be a Gateway API duration')) return false;
  }
  return true;
};

beforeAll(async () => {
  const started = Date.now();
  const lap = (what: string, since: number) => {
    timings[what] = Date.now() - since;
    log(`${what}: ${timings[what]} ms`);
  };
  // A control plane with Gateway API but none of the KAOS CRDs, then upstream's.
  plane = await startControlPlane({ gatewayApiBundle: gatewayApiBundlePath(), log: process.env.E2E_VERBOSE ? (message) => log(message) : undefined });
  lap('control plane', started);
  let since = Date.now();
  await applyCrds(plane, UPSTREAM_CRD_DIR);
  lap('upstream CRDs', since);
  corpusNamespace = await createNamespace(plane, 'corpus');
  storedNamespace = await createNamespace(plane, 'stored');

  // kubectl's own reading of the files (YAML 1.1, as users' kubectl reads them: 0444 is octal).
  since = Date.now();
  for (const file of [...new Set(corpus.map((entry) => entry.file))]) {
    // One pretty-printed JSON object per document: each ends with a `}` alone on its line.
    const printed = await kubectlOk(plane, ['create', '--dry-run=client', '-o', 'json', '-f', join(CORPUS_DIR, file)]);
    for (const text of printed.split(/^}$/m).filter((part) => part.trim() !== '')) {
      const object = JSON.parse(`${text}}`) as KubeObject;
      // kubectl fills in its context's namespace; the files leave it to `-n` (checked below).
      delete object.metadata.namespace;
      manifests.set(`${object.kind}/${object.metadata.name}`, object);
    }
  }

  // Under upstream's CRDs, no webhook: what upstream stores (dry run), then the corpus stored for real with status.
  await eachLimited(corpus, 4, async (entry) => {
    const manifest = manifests.get(entry.key)!;
    const dryRun = await kubectlWithManifest(plane!, ['apply', '--dry-run=server', '-o', 'json', '-n', corpusNamespace], manifest);
    upstreamDryRun.set(entry.key, dryRun);
    const deliberate = deliberateDifference(manifest);
    if (dryRun.code === 0) {
      upstreamStored.set(entry.key, JSON.parse(dryRun.stdout) as KubeObject);
      await kubectlOk(plane!, ['apply', '-n', storedNamespace], manifest);
      await kubectlOk(plane!, ['apply', '--server-side', '--subresource=status', '--field-manager=kaos-operator', '-n', storedNamespace], {
        apiVersion: 'kaos.tools/v1alpha1',
        kind: entry.kind,
        metadata: { name: entry.name },
        status: upstreamStatus(entry.kind, entry.name, storedNamespace, manifest, 'Ready'),
      });
    } else if (deliberate) {
      const standIn = structuredClone(manifest);
      deliberate.standIn(standIn);
      const stored = JSON.parse(await kubectlOk(plane!, ['apply', '--dry-run=server', '-o', 'json', '-n', corpusNamespace], standIn)) as KubeObject;
      deliberate.undo(stored);
      upstreamStored.set(entry.key, stored);
    }
  });
  for (const [key, object] of await readBack(storedNamespace)) storedBefore.set(key, object);
  lap('corpus under upstream CRDs', since);

  // Our CRDs replace upstream's.
  since = Date.now();
  await applyCrds(plane, OUR_CRD_DIR);
  await waitForCrdSchemas(plane, OUR_CRD_DIR, ourSchemaServed);
  lap('switch to our CRDs', since);
  for (const [key, object] of await readBack(storedNamespace)) storedAfter.set(key, object);

  // The webhook, configured as the chart configures it (its rendered ConfigMap, Gateway API on).
  since = Date.now();
  chartConfig = (parse(await helmOk(plane, ['template', 'kaos', CHART_DIR, '--namespace', 'kaos-system', '--set', 'gatewayAPI.enabled=true', '--show-only', 'templates/configmap.yaml'])) as KubeObject).data;
  webhook = await startWebhook(plane, chartConfig);
  await webhook.waitReady();
  lap('webhook ready', since);

  since = Date.now();
  await eachLimited(corpus, 4, async (entry) => {
    oursApply.set(entry.key, await kubectlWithManifest(plane!, ['apply', '-n', corpusNamespace], manifests.get(entry.key)!));
  });
  for (const [key, object] of await readBack(corpusNamespace)) oursStored.set(key, object);
  // Status as the KAOS operator writes it, on the corpus and on the objects stored before the switch.
  const statusWrites = new Map<string, { written: KubeObject; apply: Outcome }>();
  await eachLimited(
    [...corpus.filter((entry) => oursStored.has(entry.key)).map((entry) => [entry, corpusNamespace] as const), ...corpus.filter((entry) => storedBefore.has(entry.key)).map((entry) => [entry, storedNamespace] as const)],
    4,
    async ([entry, namespace]) => {
      const written = upstreamStatus(entry.kind, entry.name, namespace, manifests.get(entry.key)!, 'Pending');
      statusWrites.set(`${namespace}/${entry.key}`, { written, apply: await applyStatus(entry, namespace, written) });
    },
  );
  for (const [namespace, results] of [[corpusNamespace, oursStatus], [storedNamespace, storedStatusAfterSwitch]] as const) {
    for (const [key, read] of await readBack(namespace)) {
      const write = statusWrites.get(`${namespace}/${key}`);
      if (write) results.set(key, { ...write, read });
    }
  }
  lap('corpus under our CRDs', since);
  timings.total = Date.now() - started;
  process.stderr.write(`[upstream-corpus] ${corpus.length} objects in ${new Set(corpus.map((entry) => entry.file)).size} files; ${JSON.stringify(timings)}\n`);
}, 600_000);

afterAll(async () => {
  await runCleanup([
    ['webhook', webhook && (() => webhook!.stop())],
    ['control plane', plane && (() => plane!.stop())],
  ]);
});

const storedUnderUpstream = corpus.filter((entry) => deliberateDifference(entry.source) === undefined);

describe('the corpus', () => {
  it('covers every kind and mode, each object once, as kubectl reads the files', () => {
    expect(new Set(corpus.map((entry) => entry.key)).size).toBe(corpus.length);
    expect(corpus.filter((entry) => entry.source.metadata.namespace !== undefined).map((entry) => entry.key)).toEqual([]);
    expect([...manifests.keys()].sort()).toEqual(corpus.map((entry) => entry.key).sort());
    const specs = (kind: string) => [...manifests.values()].filter((object) => object.kind === kind).map((object) => object.spec);
    expect(new Set(specs('ModelAPI').map((spec) => spec.mode))).toEqual(new Set(['Proxy', 'Hosted']));
    expect(specs('MCPServer').map((spec) => spec.runtime)).toEqual(expect.arrayContaining(['python-string', 'kubernetes', 'custom']));
    expect(specs('Agent').length).toBeGreaterThan(5);
  });
});

describe('under upstream KAOS CRDs', () => {
  it.each(corpus)('$key ($file): accepted with strict field validation and no warnings', ({ key }) => {
    const outcome = upstreamDryRun.get(key)!;
    const deliberate = deliberateDifference(manifests.get(key)!);
    if (deliberate) {
      // Refused by upstream on purpose-documented grounds; ours must accept it (checked below).
      expect({ code: outcome.code, refusedFor: outcome.stderr.includes(deliberate.upstreamError) }).toEqual({ code: 1, refusedFor: true });
    } else {
      expect({ code: outcome.code, stderr: outcome.stderr }).toEqual({ code: 0, stderr: '' });
    }
  });
});

describe('switching to our CRDs', () => {
  it('installs our CRDs in place of upstream\u2019s', async () => {
    for (const [name, crd] of crdsIn(OUR_CRD_DIR)) {
      const installed = JSON.parse(await kubectlOk(plane!, ['get', 'crd', name, '-o', 'json'])) as KubeObject;
      expect(schemaOf(installed)).toEqual(schemaOf(crd));
      expect(installed.status.storedVersions).toEqual(['v1alpha1']);
    }
  });

  it.each(storedUnderUpstream)('$key stored under upstream\u2019s CRDs reads back unchanged, status included', ({ key }) => {
    expect(storedBefore.has(key)).toBe(true);
    expect(storedAfter.get(key)).toEqual(storedBefore.get(key));
  });

  it.each(storedUnderUpstream)('$key stored under upstream\u2019s CRDs takes a status update under ours', ({ key }) => {
    expect(storedStatusAfterSwitch.has(key)).toBe(true);
    const { written, apply, read } = storedStatusAfterSwitch.get(key)!;
    expect({ code: apply.code, stderr: apply.stderr }).toEqual({ code: 0, stderr: '' });
    expect(read.status).toEqual(written);
    expect(read.spec).toEqual(storedBefore.get(key)!.spec);
  });
});

describe('under our CRDs, through the webhook', () => {
  // A warning is a finding too: upstream applies these silently, so every user would see it.
  it.each(corpus)('$key ($file): accepted with strict field validation and no warnings', ({ key }) => {
    const outcome = oursApply.get(key)!;
    expect({ code: outcome.code, stderr: outcome.stderr }).toEqual({ code: 0, stderr: '' });
  });

  it.each(corpus)('$key: stored as upstream stores it, plus the chart\u2019s default route timeout when it sets none', ({ key, kind }) => {
    const manifest = manifests.get(key)!;
    expect({ upstream: upstreamStored.has(key), ours: oursStored.has(key) }).toEqual({ upstream: true, ours: true });
    const expected = withoutServerMetadata(upstreamStored.get(key)!);
    if (manifest.spec?.gatewayRoute?.timeout === undefined) {
      expected.spec.gatewayRoute = { ...expected.spec.gatewayRoute, timeout: chartConfig[DEFAULT_TIMEOUT_VARIABLE[kind]] };
    }
    expect(withoutServerMetadata(oursStored.get(key)!)).toEqual(expected);
  });

  it.each(corpus)('$key: keeps every field of the manifest unchanged', ({ key }) => {
    const manifest = manifests.get(key)!;
    const stored = oursStored.get(key);
    expect(stored).toBeDefined();
    expect(lostOrChangedFields({ spec: manifest.spec, metadata: { ...manifest.metadata } }, { spec: stored!.spec, metadata: stored!.metadata })).toEqual([]);
  });

  it.each(corpus)('$key: upstream\u2019s status round-trips through the status subresource', ({ key }) => {
    expect(oursStatus.has(key)).toBe(true);
    const { written, apply, read } = oursStatus.get(key)!;
    expect({ code: apply.code, stderr: apply.stderr }).toEqual({ code: 0, stderr: '' });
    expect(read.status).toEqual(written);
  });
});
