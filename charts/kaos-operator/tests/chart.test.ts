import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { helmValuesJsonSchema, type HelmValues } from '@kaos/api-types';
import { chartDirectory, find, helmTemplate, render, setArgs, type RenderedObject } from './render.js';

type Container = {
  name: string;
  image: string;
  env?: Array<{ name: string; value?: string; valueFrom?: unknown }>;
  envFrom?: Array<{ configMapRef?: { name: string } }>;
  securityContext?: Record<string, unknown>;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  livenessProbe?: unknown;
  readinessProbe?: unknown;
  volumeMounts?: Array<{ name: string; mountPath: string }>;
  lifecycle?: { preStop?: Record<string, unknown> };
};
type PodSpec = { serviceAccountName: string; securityContext: Record<string, unknown>; containers: Container[]; volumes?: unknown[]; terminationGracePeriodSeconds?: number };
type Webhook = {
  name: string;
  clientConfig: { url?: string; caBundle?: string; service?: { name: string; namespace: string; path: string; port: number } };
  failurePolicy: string;
  sideEffects: string;
  timeoutSeconds: number;
  namespaceSelector: { matchExpressions: Array<{ key: string; operator: string; values: string[] }> };
  matchConditions?: Array<{ name: string; expression: string }>;
  rules: Array<{ apiGroups: string[]; resources: string[] }>;
};
// nonResourceURLs rules (the metrics reader) have no apiGroups or resources.
type Rule = { apiGroups?: string[]; resources?: string[]; nonResourceURLs?: string[]; verbs: string[]; resourceNames?: string[] };

const podSpec = (deployment: RenderedObject) => (deployment.spec as { template: { spec: PodSpec } }).template.spec;
const podAnnotations = (deployment: RenderedObject) => (deployment.spec as { template: { metadata: { annotations: Record<string, string> } } }).template.metadata.annotations;
const envOf = (container: Container) => Object.fromEntries((container.env ?? []).map((variable) => [variable.name, variable.value ?? variable.valueFrom]));
const configData = (objects: RenderedObject[]) => find(objects, 'ConfigMap', 'kaos-operator-config').data as Record<string, string>;
const webhooksOf = (objects: RenderedObject[], kind: string) => find(objects, kind, 'kaos-operator-webhook').webhooks as Webhook[];
const rulesOf = (objects: RenderedObject[], kind: string, name: string) => find(objects, kind, name).rules as Rule[];
const deployments = (objects: RenderedObject[]) => objects.filter((object) => object.kind === 'Deployment');

const ENABLED = { 'gatewayAPI.enabled': true };
const CREATE_GATEWAY = { ...ENABLED, 'gatewayAPI.createGateway': true, 'gatewayAPI.gatewayClassName': 'envoy-gateway' };
const EXISTING_GATEWAY = { ...ENABLED, 'gatewayAPI.gatewayName': 'my-gateway', 'gatewayAPI.gatewayNamespace': 'gateway-ns' };

describe('values', () => {
  it('values.schema.json is committed exactly as generated from libs/api-types (run `npm run generate`)', () => {
    expect(readFileSync(join(chartDirectory, 'values.schema.json'), 'utf8')).toBe(helmValuesJsonSchema());
  });

  // The user documentation's "Helm Values" table, row by row.
  it.each([
    ['gatewayAPI.enabled', false],
    ['gatewayAPI.gatewayName', 'kaos-gateway'],
    ['gatewayAPI.gatewayNamespace', ''],
    ['gatewayAPI.createGateway', false],
    ['gatewayAPI.gatewayClassName', ''],
    ['gatewayAPI.listenerPort', 80],
    ['gateway.defaultTimeouts.agent', '120s'],
    ['gateway.defaultTimeouts.modelAPI', '120s'],
    ['gateway.defaultTimeouts.mcp', '30s'],
  ])('%s defaults to %j', (path, expected) => {
    const values = parse(readFileSync(join(chartDirectory, 'values.yaml'), 'utf8')) as HelmValues;
    const actual = path.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], values);
    expect(actual).toEqual(expected);
  });
});

describe('the configurations of the user documentation', () => {
  it.each([
    ['disabled (default)', {}, { GATEWAY_API_ENABLED: 'false', GATEWAY_NAME: 'kaos-gateway', GATEWAY_NAMESPACE: 'kaos-system' }],
    ['enabled, create the Gateway', CREATE_GATEWAY, { GATEWAY_API_ENABLED: 'true', GATEWAY_NAME: 'kaos-gateway', GATEWAY_NAMESPACE: 'kaos-system' }],
    ['enabled, existing Gateway in another namespace', EXISTING_GATEWAY, { GATEWAY_API_ENABLED: 'true', GATEWAY_NAME: 'my-gateway', GATEWAY_NAMESPACE: 'gateway-ns' }],
  ])('%s: the ConfigMap carries the GATEWAY_* variables', (_name, values, expected) => {
    expect(configData(render(setArgs(values)))).toEqual({
      ...expected,
      GATEWAY_DEFAULT_AGENT_TIMEOUT: '120s',
      GATEWAY_DEFAULT_MODELAPI_TIMEOUT: '120s',
      GATEWAY_DEFAULT_MCP_TIMEOUT: '30s',
    });
  });

  it.each([
    ['disabled (default)', {}, undefined],
    ['enabled without createGateway', ENABLED, undefined],
    ['existing Gateway', EXISTING_GATEWAY, undefined],
    ['createGateway', CREATE_GATEWAY, { namespace: 'kaos-system', className: 'envoy-gateway', port: 80 }],
    ['createGateway in the Gateway namespace, custom port', { ...CREATE_GATEWAY, 'gatewayAPI.gatewayNamespace': 'gateway-ns', 'gatewayAPI.listenerPort': 8080 }, { namespace: 'gateway-ns', className: 'envoy-gateway', port: 8080 }],
  ])('%s: Gateway %j', (_name, values, expected) => {
    const gateways = render(setArgs(values)).filter((object) => object.kind === 'Gateway');
    if (expected === undefined) {
      expect(gateways).toEqual([]);
      return;
    }
    expect(gateways).toHaveLength(1);
    expect(gateways[0]).toMatchObject({
      apiVersion: 'gateway.networking.k8s.io/v1',
      metadata: { name: 'kaos-gateway', namespace: expected.namespace },
      spec: { gatewayClassName: expected.className, listeners: [{ name: 'http', protocol: 'HTTP', port: expected.port, allowedRoutes: { namespaces: { from: 'All' } } }] },
    });
  });

  it('custom default timeouts reach the ConfigMap and change the pods checksum', () => {
    const plain = render();
    const custom = render(setArgs({ 'gateway.defaultTimeouts.agent': '300s', 'gateway.defaultTimeouts.modelAPI': '5m', 'gateway.defaultTimeouts.mcp': '0s' }));
    expect(configData(custom)).toMatchObject({ GATEWAY_DEFAULT_AGENT_TIMEOUT: '300s', GATEWAY_DEFAULT_MODELAPI_TIMEOUT: '5m', GATEWAY_DEFAULT_MCP_TIMEOUT: '0s' });
    for (const name of ['kaos-operator-controller-manager', 'kaos-operator-webhook']) {
      const before = podAnnotations(find(plain, 'Deployment', name))['checksum/config'];
      const after = podAnnotations(find(custom, 'Deployment', name))['checksum/config'];
      expect(before).toMatch(/^[a-f0-9]{64}$/);
      expect(after).not.toBe(before);
    }
  });
});

describe('bad values fail the render with a message naming the value', () => {
  it.each([
    ['createGateway without gatewayClassName', { 'gatewayAPI.enabled': true, 'gatewayAPI.createGateway': true }, 'gatewayAPI.gatewayClassName is required when gatewayAPI.createGateway is true'],
    ['createGateway without enabled', { 'gatewayAPI.createGateway': true, 'gatewayAPI.gatewayClassName': 'x' }, 'gatewayAPI.createGateway=true needs gatewayAPI.enabled=true'],
    ['a timeout in words', { 'gateway.defaultTimeouts.agent': '5 minutes' }, "at '/gateway/defaultTimeouts/agent': '5 minutes' does not match pattern"],
    ['a timeout without unit', { 'gateway.defaultTimeouts.mcp': '300' }, "at '/gateway/defaultTimeouts/mcp'"],
    ['a fractional timeout', { 'gateway.defaultTimeouts.modelAPI': '1.5s' }, "at '/gateway/defaultTimeouts/modelAPI'"],
    ['listener port 0', { 'gatewayAPI.listenerPort': 0 }, "at '/gatewayAPI/listenerPort': minimum: got 0, want 1"],
    ['listener port above 65535', { 'gatewayAPI.listenerPort': 70000 }, "at '/gatewayAPI/listenerPort': maximum"],
    ['a Gateway name with capitals', { 'gatewayAPI.gatewayName': 'My_Gateway' }, "at '/gatewayAPI/gatewayName'"],
    ['a Gateway namespace that is not a label', { 'gatewayAPI.gatewayNamespace': 'gw.ns' }, "at '/gatewayAPI/gatewayNamespace'"],
    ['a misspelt key', { 'gatewayAPI.enable': true }, "additional properties 'enable' not allowed"],
    ['a webhook timeout above 30 s', { 'webhook.timeoutSeconds': 31 }, "at '/webhook/timeoutSeconds'"],
    ['a negative shutdown delay', { 'webhook.shutdownDelaySeconds': -1 }, "at '/webhook/shutdownDelaySeconds'"],
    ['a drain over two minutes', { 'webhook.drainSeconds': 121 }, "at '/webhook/drainSeconds'"],
    ['no concurrent reviews', { 'webhook.maxConcurrentReviews': 0 }, "at '/webhook/maxConcurrentReviews'"],
    ['no bytes in flight', { 'webhook.maxInFlightMiB': 0 }, "at '/webhook/maxInFlightMiB'"],
    ['cert-manager in local mode', { 'certManager.enabled': true, 'localMode.enabled': true }, 'certManager.enabled and localMode.enabled cannot be combined'],
  ])('%s', (_name, values, message) => {
    const result = helmTemplate(setArgs(values));
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(message);
  });
});

describe('names the troubleshooting guide uses', () => {
  const objects = render();

  it('Deployment kaos-operator-controller-manager runs the controller with the ConfigMap as environment', () => {
    const manager = podSpec(find(objects, 'Deployment', 'kaos-operator-controller-manager')).containers[0]!;
    expect(manager.image).toBe('ghcr.io/kaos-tools/kaos-routing-controller:0.1.0');
    expect(manager.envFrom).toEqual([{ configMapRef: { name: 'kaos-operator-config' } }]);
    expect(envOf(manager)).toMatchObject({ LEADER_ELECTION: 'true', LEADER_ELECTION_LEASE_NAME: 'kaos-operator-controller-leader', MALLOC_ARENA_MAX: '2' });
  });

  it('ClusterRole kaos-operator-kaos-operator holds the gateway.networking.k8s.io rules', () => {
    const gatewayRules = rulesOf(objects, 'ClusterRole', 'kaos-operator-kaos-operator').filter((rule) => rule.apiGroups?.includes('gateway.networking.k8s.io'));
    expect(gatewayRules).toEqual([
      { apiGroups: ['gateway.networking.k8s.io'], resources: ['httproutes'], verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'] },
    ]);
  });

  it.each([
    ['disabled: no Gateway access', {}, undefined],
    ['enabled: the Gateway in the release namespace', ENABLED, 'kaos-system'],
    ['existing Gateway: only that name, only in its namespace', EXISTING_GATEWAY, 'gateway-ns'],
  ])('%s', (_name, values, namespace) => {
    const objects = render(setArgs(values));
    const roles = objects.filter((object) => object.kind === 'Role' && object.metadata.name === 'kaos-operator-controller-gateway');
    if (namespace === undefined) {
      expect(roles).toEqual([]);
      return;
    }
    const gatewayName = (values as Record<string, unknown>)['gatewayAPI.gatewayName'] ?? 'kaos-gateway';
    expect(roles).toEqual([expect.objectContaining({ metadata: expect.objectContaining({ namespace }), rules: [{ apiGroups: ['gateway.networking.k8s.io'], resources: ['gateways'], resourceNames: [gatewayName], verbs: ['get', 'list', 'watch'] }] })]);
    expect(find(objects, 'RoleBinding', 'kaos-operator-controller-gateway')).toMatchObject({ metadata: { namespace }, subjects: [{ name: 'kaos-operator-controller', namespace: 'kaos-system' }] });
  });

  it('the webhook is its own Deployment and Service, two replicas and a PodDisruptionBudget', () => {
    const webhook = find(objects, 'Deployment', 'kaos-operator-webhook');
    expect((webhook.spec as { replicas: number }).replicas).toBe(2);
    expect(find(objects, 'Service', 'kaos-operator-webhook').spec).toMatchObject({ ports: [{ port: 443, targetPort: 'https' }] });
    expect(find(objects, 'PodDisruptionBudget', 'kaos-operator-webhook').spec).toMatchObject({ minAvailable: 1 });
    expect(envOf(podSpec(webhook).containers[0]!)).toMatchObject({
      TLS_MODE: 'generate',
      WEBHOOK_SERVICE_NAME: 'kaos-operator-webhook',
      WEBHOOK_SECRET_NAME: 'kaos-operator-webhook-tls',
      MUTATING_WEBHOOK_CONFIGURATION: 'kaos-operator-webhook',
      VALIDATING_WEBHOOK_CONFIGURATION: 'kaos-operator-webhook',
    });
  });
});

describe('pods', () => {
  const objects = render();

  it.each(deployments(objects).map((deployment) => [deployment.metadata.name, deployment] as const))('%s runs restricted', (_name, deployment) => {
    const spec = podSpec(deployment);
    expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    for (const container of spec.containers) {
      expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
      expect(container.resources?.requests?.memory).toBeDefined();
      expect(container.resources?.limits?.memory).toBeDefined();
      expect(container.livenessProbe).toBeDefined();
      expect(container.readinessProbe).toBeDefined();
      expect(envOf(container).NODE_OPTIONS).toMatch(/--max-old-space-size=\d+/);
    }
  });

  // Rollouts, evictions and deletions under load: the endpoint leaves every kube-proxy before
  // SIGTERM, then the webhook drains its kept-alive connections, all within the grace period.
  it.each([
    ['defaults', {}, { preStop: { sleep: { seconds: 10 } } }, { SHUTDOWN_DRAIN_SECONDS: '5', SHUTDOWN_GRACE_SECONDS: '10' }, 30],
    ['longer delay and drain, shorter timeout', { 'webhook.shutdownDelaySeconds': 20, 'webhook.drainSeconds': 8, 'webhook.timeoutSeconds': 5 }, { preStop: { sleep: { seconds: 20 } } }, { SHUTDOWN_DRAIN_SECONDS: '8', SHUTDOWN_GRACE_SECONDS: '5' }, 38],
    ['no delay', { 'webhook.shutdownDelaySeconds': 0 }, undefined, { SHUTDOWN_DRAIN_SECONDS: '5' }, 20],
  ])('webhook shutdown, %s: preStop sleep (no exec: the image has no shell) and a grace period covering sleep, drain and in-flight reviews', (_name, values, lifecycle, env, grace) => {
    const spec = podSpec(find(render(setArgs(values)), 'Deployment', 'kaos-operator-webhook'));
    const container = spec.containers[0]!;
    expect(container.lifecycle).toEqual(lifecycle);
    expect(envOf(container)).toMatchObject(env);
    expect(spec.terminationGracePeriodSeconds).toBe(grace);
  });

  it.each([
    ['default: 4 of the largest reviews (14 MiB), 64 reviews', {}, { MAX_IN_FLIGHT_BYTES: String(14 * 1048576), MAX_CONCURRENT_REVIEWS: '64' }],
    ['from the values', { 'webhook.maxInFlightMiB': 12, 'webhook.maxConcurrentReviews': 20 }, { MAX_IN_FLIGHT_BYTES: String(12 * 1048576), MAX_CONCURRENT_REVIEWS: '20' }],
  ])('webhook load shedding caps, %s', (_name, values, expected) => {
    const container = podSpec(find(render(setArgs(values)), 'Deployment', 'kaos-operator-webhook')).containers[0]!;
    expect(envOf(container)).toMatchObject(expected);
    expect(container.resources?.limits?.memory).toBe('256Mi');
  });

  it.each([
    ['the chart appVersion by default', {}, 'ghcr.io/kaos-tools/kaos-routing-webhook:0.1.0'],
    ['an explicit tag', { 'webhook.image.tag': '1.2.3' }, 'ghcr.io/kaos-tools/kaos-routing-webhook:1.2.3'],
    ['a digest over the tag', { 'webhook.image.tag': '1.2.3', 'webhook.image.digest': `sha256:${'a'.repeat(64)}` }, `ghcr.io/kaos-tools/kaos-routing-webhook@sha256:${'a'.repeat(64)}`],
    ['another registry', { 'image.registry': 'registry.example.com' }, 'registry.example.com/kaos-tools/kaos-routing-webhook:0.1.0'],
  ])('the webhook image is %s', (_name, values, image) => {
    expect(podSpec(find(render(setArgs(values)), 'Deployment', 'kaos-operator-webhook')).containers[0]!.image).toBe(image);
  });
});

describe('webhook configurations', () => {
  it.each([
    ['MutatingWebhookConfiguration', ['default.kaos.tools']],
    ['ValidatingWebhookConfiguration', ['validate.kaos.tools', 'routes.kaos.tools']],
  ])('%s: no caBundle, Fail, at most 10 s, no side effects, kube-system and the release namespace excluded', (kind, names) => {
    const webhooks = webhooksOf(render(setArgs({ ...ENABLED, 'webhook.excludedNamespaces[0]': 'ops' })), kind);
    expect(webhooks.map((webhook) => webhook.name)).toEqual(names);
    for (const webhook of webhooks) {
      expect(webhook.clientConfig.caBundle).toBeUndefined();
      expect(webhook.clientConfig.service).toEqual({ name: 'kaos-operator-webhook', namespace: 'kaos-system', path: kind.startsWith('Mutating') ? '/mutate' : '/validate', port: 443 });
      expect(webhook.failurePolicy).toBe('Fail');
      expect(webhook.sideEffects).toBe('None');
      expect(webhook.timeoutSeconds).toBeLessThanOrEqual(10);
      expect(webhook.namespaceSelector.matchExpressions).toEqual([{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'kaos-system', 'ops'] }]);
    }
  });

  it.each([
    ['disabled: no HTTPRoute guard', {}, undefined],
    ['enabled: guard scoped to the release-namespace Gateway', ENABLED, ["p.name == 'kaos-gateway'", "== 'kaos-system'"]],
    ['existing Gateway: guard scoped to it', EXISTING_GATEWAY, ["p.name == 'my-gateway'", "== 'gateway-ns'"]],
  ])('%s', (_name, values, fragments) => {
    const guard = webhooksOf(render(setArgs(values)), 'ValidatingWebhookConfiguration').find((webhook) => webhook.name === 'routes.kaos.tools');
    if (fragments === undefined) {
      expect(guard).toBeUndefined();
      return;
    }
    expect(guard?.rules).toEqual([{ apiGroups: ['gateway.networking.k8s.io'], apiVersions: ['*'], resources: ['httproutes'], operations: ['CREATE', 'UPDATE'], scope: 'Namespaced' }]);
    for (const fragment of fragments) expect(guard?.matchConditions?.[0]?.expression).toContain(fragment);
  });
});

describe('RBAC is least privilege', () => {
  const objects = render(setArgs(ENABLED));
  const allRules = objects.filter((object) => object.kind === 'ClusterRole' || object.kind === 'Role').flatMap((role) => role.rules as Rule[]);

  it('grants no wildcard', () => {
    expect(allRules.length).toBeGreaterThan(0);
    for (const rule of allRules) {
      expect([...(rule.apiGroups ?? []), ...(rule.resources ?? []), ...(rule.nonResourceURLs ?? []), ...rule.verbs]).not.toContain('*');
    }
  });

  it('reads, updates and watches only the webhook certificate Secret; creates Secrets (to recreate it) only in the release namespace', () => {
    const secretRules = allRules.filter((rule) => rule.resources?.includes('secrets'));
    expect(secretRules).toEqual([
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['kaos-operator-webhook-tls'], verbs: ['get', 'update', 'watch'] },
      // RBAC cannot restrict create by name.
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
    ]);
    const role = find(objects, 'Role', 'kaos-operator-webhook-certificates');
    expect(role.metadata.namespace).toBe('kaos-system');
    for (const clusterRole of objects.filter((object) => object.kind === 'ClusterRole')) {
      expect((clusterRole.rules as Rule[]).filter((rule) => rule.resources?.includes('secrets'))).toEqual([]);
    }
  });

  it('gives the webhook the labels of its Secret, for a Secret it recreates without having seen it', () => {
    const container = podSpec(find(objects, 'Deployment', 'kaos-operator-webhook')).containers[0]!;
    const labels = JSON.parse(envOf(container).WEBHOOK_SECRET_LABELS as string) as Record<string, string>;
    expect(labels).toEqual(find(objects, 'Secret', 'kaos-operator-webhook-tls').metadata.labels);
    expect(labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'Helm', 'app.kubernetes.io/instance': 'kaos-operator' });
  });

  it('patches only its own webhook configurations', () => {
    expect(rulesOf(objects, 'ClusterRole', 'kaos-operator-webhook-ca-injection')).toEqual([
      { apiGroups: ['admissionregistration.k8s.io'], resources: ['mutatingwebhookconfigurations', 'validatingwebhookconfigurations'], resourceNames: ['kaos-operator-webhook'], verbs: ['get', 'patch'] },
    ]);
  });

  it('reads and updates only its own Lease, which the chart creates (no create: see lease.test.ts)', () => {
    expect(rulesOf(objects, 'Role', 'kaos-operator-controller-leader-election')).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['kaos-operator-controller-leader'], verbs: ['get', 'update'] },
    ]);
  });

  it('binds each role to its own service account', () => {
    const bindings = objects.filter((object) => object.kind.endsWith('Binding'));
    // 5 + the TokenReview/SubjectAccessReview binding of each app (metrics.secure).
    expect(bindings.length).toBe(7);
    for (const binding of bindings) {
      const subjects = binding.subjects as Array<{ name: string }>;
      const expected = binding.metadata.name.includes('webhook') ? 'kaos-operator-webhook' : 'kaos-operator-controller';
      expect(subjects.map((subject) => subject.name)).toEqual([expected]);
    }
  });
});

describe('modes', () => {
  it('local mode installs no Deployments and points both configurations at the local URL', () => {
    const objects = render(setArgs({ ...ENABLED, 'localMode.enabled': true, 'localMode.webhookPort': 19443 }));
    expect(deployments(objects)).toEqual([]);
    expect(objects.filter((object) => object.kind === 'Service')).toEqual([]);
    for (const kind of ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']) {
      for (const webhook of webhooksOf(objects, kind)) {
        expect(webhook.clientConfig).toEqual({ url: `https://127.0.0.1:19443${kind.startsWith('Mutating') ? '/mutate' : '/validate'}` });
      }
    }
    expect(find(objects, 'ServiceAccount', 'kaos-operator-controller')).toBeDefined();
  });

  it.each([
    ['a self-signed CA when no issuer is given', {}, { name: 'kaos-operator-webhook-ca', kind: 'Issuer' }, 3],
    ['the given issuer', { 'certManager.issuerRef.name': 'corp-ca', 'certManager.issuerRef.kind': 'ClusterIssuer' }, { name: 'corp-ca', kind: 'ClusterIssuer' }, 0],
  ])('cert-manager mode with %s', (_name, values, issuerRef, extraObjects) => {
    const objects = render(setArgs({ 'certManager.enabled': true, ...values }));
    const certificate = find(objects, 'Certificate', 'kaos-operator-webhook');
    expect(certificate.spec).toMatchObject({
      secretName: 'kaos-operator-webhook-tls',
      dnsNames: ['kaos-operator-webhook.kaos-system.svc', 'kaos-operator-webhook.kaos-system.svc.cluster.local'],
      issuerRef,
    });
    expect(objects.filter((object) => ['Issuer', 'Certificate'].includes(object.kind) && object !== certificate)).toHaveLength(extraObjects);
    for (const kind of ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']) {
      expect(find(objects, kind, 'kaos-operator-webhook').metadata.annotations).toEqual({ 'cert-manager.io/inject-ca-from': 'kaos-system/kaos-operator-webhook' });
    }
    const container = podSpec(find(objects, 'Deployment', 'kaos-operator-webhook')).containers[0]!;
    expect(envOf(container)).toMatchObject({ TLS_MODE: 'files', TLS_CERT_DIR: '/etc/kaos/webhook-tls' });
    expect(envOf(container).MUTATING_WEBHOOK_CONFIGURATION).toBeUndefined();
    expect(container.volumeMounts).toEqual([{ name: 'tls', mountPath: '/etc/kaos/webhook-tls', readOnly: true }]);
    expect(objects.filter((object) => object.kind === 'Secret')).toEqual([]);
    expect(objects.filter((object) => object.metadata.name === 'kaos-operator-webhook-certificates')).toEqual([]);
  });
});
