// Which requests reach the webhooks at all (ADR 0012): never a DELETE, never a status write. An
// object stored before the webhook (or before a stricter rule) can then always be deleted, and its
// status always written, whatever the webhook would say about it.
import { describe, expect, it } from '@jest/globals';
import { find, render, setArgs } from './render.js';

type Rule = { apiGroups: string[]; apiVersions: string[]; resources: string[]; operations: string[]; scope?: string };
type Webhook = { name: string; rules: Rule[] };

const configurations = ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration'] as const;

describe.each([
  ['Gateway API disabled', {}],
  ['Gateway API enabled', { 'gatewayAPI.enabled': true }],
  ['local mode', { 'gatewayAPI.enabled': true, 'localMode.enabled': true, 'localMode.webhookHost': '127.0.0.1', 'localMode.webhookPort': 9443 }],
])('webhook rules, %s', (_name, values) => {
  const objects = render(setArgs(values));
  const webhooks = configurations.flatMap((kind) => (find(objects, kind, 'kaos-operator-webhook').webhooks as Webhook[]).map((webhook) => ({ kind, webhook })));

  it.each(webhooks.map(({ kind, webhook }) => [`${kind} ${webhook.name}`, webhook] as const))('%s: only CREATE and UPDATE, never DELETE or CONNECT', (_label, webhook) => {
    expect(webhook.rules.length).toBeGreaterThan(0);
    for (const rule of webhook.rules) expect([...rule.operations].sort()).toEqual(['CREATE', 'UPDATE']);
  });

  it.each(webhooks.map(({ kind, webhook }) => [`${kind} ${webhook.name}`, webhook] as const))('%s: main resources only, no subresource (status writes never reach it)', (_label, webhook) => {
    for (const rule of webhook.rules) {
      for (const resource of rule.resources) expect(resource).not.toContain('/');
    }
  });

  it('the KAOS kinds are covered by both the defaulting and the validating webhook', () => {
    for (const kind of configurations) {
      const kaos = (find(objects, kind, 'kaos-operator-webhook').webhooks as Webhook[]).filter((webhook) => webhook.rules.some((rule) => rule.apiGroups.includes('kaos.tools')));
      expect(kaos).toHaveLength(1);
      expect(kaos[0]!.rules).toEqual([{ apiGroups: ['kaos.tools'], apiVersions: ['v1alpha1'], resources: ['agents', 'modelapis', 'mcpservers'], operations: ['CREATE', 'UPDATE'], scope: 'Namespaced' }]);
    }
  });
});
