import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import type { KubernetesObject } from '@kubernetes/client-node';
import { CRD_FIX_COMMAND, CRD_FIX_COMMAND_FROM_REPOSITORY, crdCompatibility, crdRequirements, type CrdCompatibility } from '@kaos/routing';
import { Registry } from 'prom-client';
import { parse } from 'yaml';
import { CrdCompatibilityTracker, summarizeCrd, type CrdReference } from './crd-compat-watch.js';
import type { Logger } from '@kaos/kube-runtime';

const here = dirname(fileURLToPath(import.meta.url));
/** Upstream KAOS's Agent CRD, as a cluster that runs KAOS has it installed. */
const upstreamAgentCrd = parse(readFileSync(join(here, '../../../libs/api-types/upstream/kaos/kaos.tools_agents.yaml'), 'utf8')) as KubernetesObject;
const agentRequirements = crdRequirements('Agent');
const upstreamReport = crdCompatibility(upstreamAgentCrd, agentRequirements);
const fixedReport: CrdCompatibility = { crd: 'agents.kaos.tools', installed: true, compatible: true, missing: [] };
const NAMES = ['agents.kaos.tools', 'modelapis.kaos.tools', 'mcpservers.kaos.tools'];

function setup() {
  const logs: Array<{ level: string; message: string; meta?: Record<string, unknown> }> = [];
  const log = (level: string) => (message: string, meta?: Record<string, unknown>) => void logs.push({ level, message, meta });
  const logger = { info: log('info'), warn: log('warn'), error: log('error') } as unknown as Logger;
  const events: Array<{ crd: CrdReference; type: string; reason: string; message: string }> = [];
  let requeues = 0;
  const registry = new Registry();
  const tracker = new CrdCompatibilityTracker(NAMES, {
    logger,
    recordEvent: (crd, type, reason, message) => void events.push({ crd, type, reason, message }),
    onCompatible: () => void requeues++,
    registry,
  });
  const gauge = async () => {
    const metric = (await registry.getMetricsAsJSON()).find((entry) => entry.name === 'kaos_controller_crd_compatible');
    return Object.fromEntries((metric?.values ?? []).map((value) => [String(value.labels.crd), value.value]));
  };
  const drain = () => logs.splice(0).map(({ level, message }) => `${level}: ${message}`);
  return { tracker, logs, events, gauge, requeues: () => requeues, drain };
}

describe('CrdCompatibilityTracker', () => {
  it('an upstream CRD: an error log line with the missing paths and the fix on every replica, the Event only from the leader', async () => {
    const { tracker, logs, events, gauge } = setup();
    tracker.observe(upstreamReport, 'uid-1');
    expect(logs).toEqual([
      {
        level: 'error',
        message: expect.stringMatching(/^CustomResourceDefinition agents\.kaos\.tools lacks what KAOS routing needs \[status\.gateway; printer columns Route, URL, Timeout, Age.*Fix: kubectl apply --server-side --force-conflicts -f charts\/kaos-operator\/crds\/ \(chart from a repository: helm show crds .* -f -\)$/),
        meta: { crd: 'agents.kaos.tools', missing: upstreamReport.missing, fix: CRD_FIX_COMMAND },
      },
    ]);
    expect(events).toEqual([]);
    expect(await gauge()).toEqual({ 'agents.kaos.tools': 0 });

    tracker.lead();
    expect(events).toEqual([{ crd: { name: 'agents.kaos.tools', uid: 'uid-1' }, type: 'Warning', reason: 'CRDIncompatible', message: logs[0]!.message }]);
  });

  it('readiness: unknown until every CRD was read, then incompatible with each CRD and the fix', () => {
    const { tracker } = setup();
    expect(tracker.readiness()).toEqual({ status: 'unknown', crds: NAMES.map((name) => ({ name, state: 'unknown' })) });
    tracker.observe(upstreamReport, 'uid-1');
    tracker.observe({ ...fixedReport, crd: 'modelapis.kaos.tools' });
    expect(tracker.readiness()).toEqual({
      status: 'incompatible',
      fix: CRD_FIX_COMMAND,
      crds: [
        { name: 'agents.kaos.tools', state: 'incompatible', missing: upstreamReport.missing },
        { name: 'modelapis.kaos.tools', state: 'compatible' },
        { name: 'mcpservers.kaos.tools', state: 'unknown' },
      ],
    });
    tracker.observe({ ...fixedReport, crd: 'mcpservers.kaos.tools' });
    tracker.observe(fixedReport);
    expect(tracker.readiness()).toEqual({ status: 'compatible', crds: NAMES.map((name) => ({ name, state: 'compatible' })) });
  });

  it('the same verdict again (a relist, an unrelated CRD change) says nothing new', () => {
    const { tracker, logs, events } = setup();
    tracker.lead();
    tracker.observe(upstreamReport, 'uid-1');
    tracker.observe(upstreamReport, 'uid-1');
    expect(logs).toHaveLength(1);
    expect(events).toHaveLength(1);
  });

  it('a partial fix (other paths missing) is reported again', () => {
    const { tracker, drain, events } = setup();
    tracker.lead();
    tracker.observe(upstreamReport, 'uid-1');
    tracker.observe({ ...upstreamReport, missing: ['category kaos'] }, 'uid-1');
    expect(drain()).toEqual([expect.stringMatching(/^error: .*\[status\.gateway;/), expect.stringMatching(/^error: .*\[category kaos\]/)]);
    expect(events.map((event) => event.reason)).toEqual(['CRDIncompatible', 'CRDIncompatible']);
  });

  it('fixed: logs that it clears, records CRDCompatible, requeues every resource once', async () => {
    const { tracker, drain, events, gauge, requeues } = setup();
    tracker.lead();
    expect(tracker.compatible('agents.kaos.tools')).toBe(false);
    tracker.observe(upstreamReport, 'uid-1');
    expect(tracker.compatible('agents.kaos.tools')).toBe(false);
    drain();
    tracker.observe(fixedReport, 'uid-1');
    // The reconciles the requeue starts see it compatible: a write still pruned then is retried.
    expect(tracker.compatible('agents.kaos.tools')).toBe(true);
    expect(drain()).toEqual(['info: CustomResourceDefinition agents.kaos.tools now provides what KAOS routing needs; requeueing every resource to write status.gateway']);
    expect(events.map(({ type, reason, crd }) => [type, reason, crd.uid])).toEqual([
      ['Warning', 'CRDIncompatible', 'uid-1'],
      ['Normal', 'CRDCompatible', 'uid-1'],
    ]);
    expect(requeues()).toBe(1);
    expect(await gauge()).toEqual({ 'agents.kaos.tools': 1 });
    tracker.observe(fixedReport, 'uid-1');
    expect(requeues()).toBe(1);
  });

  it('compatible from the start: one info line, no Event, no requeue', () => {
    const { tracker, drain, events, requeues } = setup();
    tracker.lead();
    tracker.observe(fixedReport, 'uid-1');
    expect(drain()).toEqual(['info: CustomResourceDefinition agents.kaos.tools provides what KAOS routing needs']);
    expect(events).toEqual([]);
    expect(requeues()).toBe(0);
  });

  it('a CRD that is not installed: an error line, no Event (no object to attach it to); installing it clears it', () => {
    const { tracker, drain, events, requeues } = setup();
    tracker.lead();
    tracker.observe(crdCompatibility(undefined, agentRequirements));
    expect(drain()).toEqual([`error: CustomResourceDefinition agents.kaos.tools is not installed: the agents cannot be listed or routed. Fix: ${CRD_FIX_COMMAND} (chart from a repository: ${CRD_FIX_COMMAND_FROM_REPOSITORY})`]);
    expect(tracker.readiness().crds[0]).toEqual({ name: 'agents.kaos.tools', state: 'missing', missing: ['CustomResourceDefinition agents.kaos.tools'] });
    expect(tracker.readiness().status).toBe('incompatible');
    tracker.observe(fixedReport, 'uid-2');
    expect(drain()).toEqual([expect.stringMatching(/^info: .* now provides/)]);
    expect(events).toEqual([]);
    expect(requeues()).toBe(1);
  });

  it('reminders repeat the line and the Event while it lasts (Events expire after an hour)', () => {
    const { tracker, drain, events } = setup();
    tracker.observe(upstreamReport, 'uid-1');
    tracker.observe({ ...fixedReport, crd: 'modelapis.kaos.tools' });
    tracker.observe(crdCompatibility(undefined, crdRequirements('MCPServer')));
    drain();
    tracker.remind();
    expect(drain()).toEqual([expect.stringMatching(/^error: CustomResourceDefinition agents/), expect.stringMatching(/^error: CustomResourceDefinition mcpservers.* is not installed/)]);
    expect(events).toEqual([]); // a follower
    tracker.lead();
    tracker.remind();
    expect(events.map((event) => event.crd.name)).toEqual(['agents.kaos.tools', 'agents.kaos.tools']);
  });

  it('ignores a CRD it does not track', () => {
    const { tracker, logs } = setup();
    tracker.observe({ ...upstreamReport, crd: 'other.example.com' });
    expect(logs).toEqual([]);
  });
});

describe('summarizeCrd', () => {
  it('keeps the identity and the verdict, not the half megabyte of schema', () => {
    const crd = { ...upstreamAgentCrd, metadata: { ...upstreamAgentCrd.metadata, uid: 'uid-1', resourceVersion: '42', managedFields: [] } };
    const summary = summarizeCrd(crd, agentRequirements);
    expect(summary).toEqual({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'agents.kaos.tools', uid: 'uid-1', resourceVersion: '42' }, compatibility: upstreamReport });
    expect(JSON.stringify(summary).length).toBeLessThan(1000);
  });
});
