// The controller reads the installed KAOS CRDs (to report one that lacks what crds/ provides), by name only.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { chartDirectory, find, render, setArgs } from './render.js';

type Rule = { apiGroups?: string[]; resources?: string[]; verbs: string[]; resourceNames?: string[] };
const crdNames = readdirSync(join(chartDirectory, 'crds')).map((file) => (parse(readFileSync(join(chartDirectory, 'crds', file), 'utf8')) as { metadata: { name: string } }).metadata.name);

describe('RBAC for the CRD compatibility check', () => {
  it.each([
    ['defaults', []],
    ['Gateway API enabled', setArgs({ 'gatewayAPI.enabled': true })],
    ['local mode', setArgs({ 'localMode.enabled': true })],
    ['cert-manager', setArgs({ 'certManager.enabled': true })],
  ])('%s: the controller ClusterRole gets, lists and watches exactly the chart CRDs, by name', (_name, args) => {
    const clusterRole = 'kaos-operator-kaos-operator';
    const objects = render(args);
    const rules = find(objects, 'ClusterRole', clusterRole).rules as Rule[];
    expect(rules.filter((rule) => rule.apiGroups?.includes('apiextensions.k8s.io'))).toEqual([
      { apiGroups: ['apiextensions.k8s.io'], resources: ['customresourcedefinitions'], resourceNames: ['agents.kaos.tools', 'modelapis.kaos.tools', 'mcpservers.kaos.tools'], verbs: ['get', 'list', 'watch'] },
    ]);
    expect([...crdNames].sort()).toEqual(['agents.kaos.tools', 'mcpservers.kaos.tools', 'modelapis.kaos.tools']);
    // Nothing else in the chart touches CRDs.
    const others = objects.filter((object) => (object.kind === 'ClusterRole' || object.kind === 'Role') && object.metadata.name !== clusterRole);
    for (const role of others) expect((role.rules as Rule[]).filter((rule) => rule.resources?.includes('customresourcedefinitions'))).toEqual([]);
  });
});
