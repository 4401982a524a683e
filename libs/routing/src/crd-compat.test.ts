import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { crdFileName, KIND_DEFINITIONS, kindDefinition, type KaosKind } from '@kaos/api-types';
import { parse } from 'yaml';
import { CRD_FIX_COMMAND, CRD_FIX_COMMAND_FROM_REPOSITORY, crdCompatibility, crdConsequences, crdIncompatibilityMessage, crdRequirements, crdRequirementsOf, type CrdCompatibility } from './crd-compat.js';

const here = dirname(fileURLToPath(import.meta.url));
/** Upstream KAOS's CRDs (commit 43f4851), what a cluster that runs KAOS has installed. */
const UPSTREAM_CRDS = join(here, '../../api-types/upstream/kaos');
/** The CRDs the chart ships, generated from libs/api-types. */
const CHART_CRDS = join(here, '../../../charts/kaos-operator/crds');

type Crd = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const parsed = new Map<string, Crd>();
/** A fresh copy of a CRD file (parsed once: they are ~0.5 MB each), free to mutate. */
const load = (directory: string, kind: KaosKind): Crd => {
  const path = join(directory, crdFileName(kindDefinition(kind)));
  if (!parsed.has(path)) parsed.set(path, parse(readFileSync(path, 'utf8')) as Crd);
  return structuredClone(parsed.get(path)!);
};
const upstream = (kind: KaosKind) => load(UPSTREAM_CRDS, kind);
const chart = (kind: KaosKind) => load(CHART_CRDS, kind);
const kinds = KIND_DEFINITIONS.map((definition) => definition.kind);
/** The v1alpha1 version of a CRD object, to mutate in a test. */
const v1alpha1 = (crd: Crd) => crd.spec.versions.find((version: Crd) => version.name === 'v1alpha1') as Crd;
const schemaOf = (crd: Crd) => v1alpha1(crd).schema.openAPIV3Schema as Crd;
const agentRequirements = crdRequirements('Agent');
const ROUTE_COLUMNS = ['printer column Route', 'printer column URL', 'printer column Timeout'];

describe('crdRequirements', () => {
  it.each(kinds)('%s: what the generated CRD provides is exactly what the chart ships', (kind) => {
    expect(crdRequirements(kind)).toEqual(crdRequirementsOf(chart(kind), kind, 'v1alpha1'));
    expect(crdRequirements(kind)).toMatchObject({ name: `${kindDefinition(kind).plural}.kaos.tools`, version: 'v1alpha1', statusSubresource: true, categories: ['kaos'] });
  });

  it('keeps only what decides pruning and types: no descriptions, patterns or validations', () => {
    // As keys with a value (`description` is also the name of a field of Agent spec.config).
    expect(JSON.stringify(crdRequirements('Agent').schema)).not.toMatch(/"(description|pattern|x-kubernetes-validations|maxLength|enum)":[^{]/);
    expect(crdRequirements('Agent').schema.properties?.status?.properties?.gateway?.type).toBe('object');
  });
});

describe('crdCompatibility against the real CRDs', () => {
  it.each(kinds)('%s: the chart CRD provides everything', (kind) => {
    expect(crdCompatibility(chart(kind), crdRequirements(kind))).toEqual({ crd: `${kindDefinition(kind).plural}.kaos.tools`, installed: true, compatible: true, missing: [] });
  });

  it.each(kinds)('%s: upstream KAOS CRD lacks status.gateway (first), the route columns and our names, and no other field', (kind) => {
    const report = crdCompatibility(upstream(kind), crdRequirements(kind));
    expect(report.compatible).toBe(false);
    expect(report.installed).toBe(true);
    expect(report.missing[0]).toBe('status.gateway');
    // Upstream has the status subresource and spec.gatewayRoute.timeout; the chart CRD is a superset
    // of upstream's schema, so status.gateway is the only field it lacks.
    expect(report.missing.filter((entry) => !/^(printer column|short name|category) /.test(entry))).toEqual(['status.gateway']);
    expect(report.missing).toEqual(expect.arrayContaining([...ROUTE_COLUMNS, 'category kaos']));
  });

  it.each(kinds)('%s: the upstream CRD provides everything upstream provides (the check is one-directional)', (kind) => {
    expect(crdCompatibility(upstream(kind), crdRequirementsOf(upstream(kind), kind, 'v1alpha1')).missing).toEqual([]);
    expect(crdCompatibility(chart(kind), crdRequirementsOf(upstream(kind), kind, 'v1alpha1')).missing).toEqual([]);
  });
});

describe('crdCompatibility: what an installed CRD can lack', () => {
  const required = agentRequirements;
  it.each<[string, (crd: Crd) => unknown, string[]]>([
    ['nothing changed', () => undefined, []],
    ['no status subresource', (crd) => delete v1alpha1(crd).subresources, ['subresources.status']],
    ['no spec.gatewayRoute.timeout', (crd) => delete schemaOf(crd).properties.spec.properties.gatewayRoute.properties.timeout, ['spec.gatewayRoute.timeout']],
    ['no spec.gatewayRoute at all (named once, not each field under it)', (crd) => delete schemaOf(crd).properties.spec.properties.gatewayRoute, ['spec.gatewayRoute']],
    ['no status.gateway.url', (crd) => delete schemaOf(crd).properties.status.properties.gateway.properties.url, ['status.gateway.url']],
    ['status with preserved unknown fields and no gateway (nothing is pruned)', (crd) => {
      const status = schemaOf(crd).properties.status;
      status['x-kubernetes-preserve-unknown-fields'] = true;
      delete status.properties.gateway;
    }, []],
    ['status.gateway as a map of anything (nothing is pruned)', (crd) => (schemaOf(crd).properties.status.properties.gateway = { type: 'object', additionalProperties: true }), []],
    ['status.gateway.conditions items missing', (crd) => delete schemaOf(crd).properties.status.properties.gateway.properties.conditions.items, ['status.gateway.conditions[]']],
    ['a routing field typed differently', (crd) => (schemaOf(crd).properties.spec.properties.gatewayRoute.properties.timeout = { type: 'integer' }), ['spec.gatewayRoute.timeout (type string, installed integer)']],
    ['routing fields first, other fields after', (crd) => {
      delete schemaOf(crd).properties.spec.properties.modelAPI;
      delete schemaOf(crd).properties.status.properties.gateway;
    }, ['status.gateway', 'spec.modelAPI']],
    ['a printer column with another jsonPath', (crd) => (v1alpha1(crd).additionalPrinterColumns.find((column: Crd) => column.name === 'URL').jsonPath = '.status.endpoint'), ['printer column URL']],
    ['no category, one short name fewer', (crd) => {
      delete crd.spec.names.categories;
      crd.spec.names.shortNames = crd.spec.names.shortNames.filter((name: string) => name !== 'agt');
    }, ['short name agt', 'category kaos']],
    ['v1alpha1 not served', (crd) => (v1alpha1(crd).served = false), ['version v1alpha1']],
    ['only another version', (crd) => (v1alpha1(crd).name = 'v1beta1'), ['version v1alpha1']],
    ['another version next to v1alpha1', (crd) => crd.spec.versions.push({ ...v1alpha1(crd), name: 'v1beta1', storage: false }), []],
    ['more fields and columns than ours', (crd) => {
      schemaOf(crd).properties.status.properties.extra = { type: 'string' };
      v1alpha1(crd).additionalPrinterColumns.push({ name: 'Extra', type: 'string', jsonPath: '.status.extra' });
    }, []],
  ])('%s', (_name, mutate, missing) => {
    const crd = chart('Agent');
    mutate(crd);
    expect(crdCompatibility(crd, required)).toEqual({ crd: 'agents.kaos.tools', installed: true, compatible: missing.length === 0, missing });
  });

  it.each([undefined, null, 'agents'])('%p: not installed', (installed) => {
    expect(crdCompatibility(installed, required)).toEqual({ crd: 'agents.kaos.tools', installed: false, compatible: false, missing: ['CustomResourceDefinition agents.kaos.tools'] });
  });

  it('a map (additionalProperties schema) is compared value by value', () => {
    const expected = crdRequirementsOf({ metadata: { name: 'x' }, spec: { versions: [{ name: 'v1', served: true, schema: { openAPIV3Schema: { type: 'object', properties: { m: { type: 'object', additionalProperties: { type: 'object', properties: { a: { type: 'string' } } } } } } } }] } }, 'Agent', 'v1');
    const installed = (m: unknown) => ({ spec: { versions: [{ name: 'v1', served: true, schema: { openAPIV3Schema: { type: 'object', properties: { m } } } }] } });
    expect(crdCompatibility(installed({ type: 'object', additionalProperties: { type: 'object', properties: { a: { type: 'string' } } } }), expected).missing).toEqual([]);
    expect(crdCompatibility(installed({ type: 'object', additionalProperties: { type: 'object' } }), expected).missing).toEqual(['m.*.a']);
    expect(crdCompatibility(installed({ type: 'object', properties: {} }), expected).missing).toEqual(['m.*']);
    // Declared properties of a map-like object are looked up in additionalProperties.
    expect(crdCompatibility(installed({ type: 'object', properties: { a: { type: 'string' } } }), crdRequirementsOf(installed({ type: 'object', properties: { a: { type: 'string' } } }), 'Agent', 'v1')).missing).toEqual([]);
    expect(crdCompatibility(installed({ type: 'object', additionalProperties: { type: 'string' } }), crdRequirementsOf(installed({ type: 'object', properties: { a: { type: 'string' } } }), 'Agent', 'v1')).missing).toEqual([]);
  });
});

describe('consequences and message', () => {
  const report = (missing: string[], installed = true): CrdCompatibility => ({ crd: 'agents.kaos.tools', installed, compatible: missing.length === 0, missing });

  it.each<[string[], string[]]>([
    [['status.gateway'], ['the API server prunes status.gateway (routes are created, but resources show no URL or route state)']],
    [['status'], ['the API server prunes status.gateway (routes are created, but resources show no URL or route state)']],
    [['status.gateway.url'], ['the API server prunes status.gateway (routes are created, but resources show no URL or route state)']],
    [['subresources.status', 'status.gateway'], ['status.gateway cannot be written (no status subresource)']],
    [['spec.gatewayRoute'], ['spec.gatewayRoute.timeout is pruned (per-resource timeouts are lost)']],
    [['spec.gatewayRoute.timeout (type string, installed integer)'], ['spec.gatewayRoute.timeout is pruned (per-resource timeouts are lost)']],
    [['version v1alpha1'], ['the resources cannot be read at the version the controller uses']],
    [['printer column Route'], ['the route columns are missing from `kubectl get`']],
    [['spec.podSpec.hostnameOverride'], ['other fields the chart CRD declares are pruned']],
    [['short name agt'], ['some short names or `kubectl get kaos` do not work']],
    [['category kaos'], ['some short names or `kubectl get kaos` do not work']],
  ])('%p → %p', (missing, consequences) => {
    expect(crdConsequences(report(missing))).toEqual(consequences);
  });

  it('names the CRD, what it lacks (grouped), what that breaks and the fix command', () => {
    expect(crdIncompatibilityMessage(crdCompatibility(upstream('MCPServer'), crdRequirements('MCPServer')))).toBe(
      'CustomResourceDefinition mcpservers.kaos.tools lacks what KAOS routing needs [status.gateway; printer columns Route, URL, Timeout, Age; category kaos]: ' +
        'the API server prunes status.gateway (routes are created, but resources show no URL or route state); the route columns are missing from `kubectl get`; ' +
        'some short names or `kubectl get kaos` do not work. Fix: kubectl apply --server-side --force-conflicts -f charts/kaos-operator/crds/ ' +
        '(chart from a repository: helm show crds <repo>/kaos-operator --version <version> | kubectl apply --server-side --force-conflicts -f -)',
    );
  });

  it('shows at most `limit` entries and counts the rest', () => {
    const message = crdIncompatibilityMessage(report(['status.gateway', 'spec.a', 'spec.b', 'spec.c', 'printer column Route']), 2);
    expect(message).toContain('[status.gateway; spec.a and 3 more]');
  });

  it('a CRD that is not installed', () => {
    expect(crdIncompatibilityMessage(crdCompatibility(undefined, crdRequirements('Agent')))).toBe(`CustomResourceDefinition agents.kaos.tools is not installed: the agents cannot be listed or routed. Fix: ${CRD_FIX_COMMAND} (chart from a repository: ${CRD_FIX_COMMAND_FROM_REPOSITORY})`);
  });

  it('the fix is server-side (the CRDs exceed the 256 KiB last-applied annotation) and takes the fields over', () => {
    expect(CRD_FIX_COMMAND).toBe('kubectl apply --server-side --force-conflicts -f charts/kaos-operator/crds/');
    for (const kind of kinds) expect(readFileSync(join(CHART_CRDS, crdFileName(kindDefinition(kind)))).length).toBeGreaterThan(256 * 1024);
  });
});
