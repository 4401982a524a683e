import { describe, expect, it } from '@jest/globals';
import { find, helmTemplate, render, setArgs, type RenderedObject } from './render.js';

type Rule = { apiGroups?: string[]; resources?: string[]; nonResourceURLs?: string[]; verbs: string[] };
type Container = { name: string; env?: Array<{ name: string; value?: string }>; ports?: Array<{ name: string; containerPort: number }> };
type ServicePort = { name: string; port: number; targetPort: string | number };

const deploymentOf = (objects: RenderedObject[], name: string) => (find(objects, 'Deployment', name).spec as { template: { spec: { containers: Container[] } } }).template.spec.containers[0]!;
const envOf = (container: Container) => Object.fromEntries((container.env ?? []).map((variable) => [variable.name, variable.value]));
const portsOf = (container: Container) => Object.fromEntries((container.ports ?? []).map((port) => [port.name, port.containerPort]));
const servicePorts = (objects: RenderedObject[], name: string) => (find(objects, 'Service', name).spec as { ports: ServicePort[] }).ports;
const deployments = { controller: 'kaos-operator-controller-manager', webhook: 'kaos-operator-webhook' } as const;

describe('metrics: secure by default', () => {
  const objects = render();

  it('lets both ServiceAccounts create TokenReviews and SubjectAccessReviews, and nothing else', () => {
    expect(find(objects, 'ClusterRole', 'kaos-operator-metrics-auth').rules as Rule[]).toEqual([
      { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
      { apiGroups: ['authorization.k8s.io'], resources: ['subjectaccessreviews'], verbs: ['create'] },
    ]);
    // One binding per ServiceAccount, each the account its Deployment runs as.
    for (const [component, name] of Object.entries(deployments)) {
      const binding = find(objects, 'ClusterRoleBinding', `kaos-operator-${component}-metrics-auth`);
      expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'kaos-operator-metrics-auth' });
      const account = (find(objects, 'Deployment', name).spec as { template: { spec: { serviceAccountName: string } } }).template.spec.serviceAccountName;
      expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: account, namespace: 'kaos-system' }]);
      expect(account).toBe(`kaos-operator-${component}`);
    }
  });

  it('has a metrics-reader ClusterRole users bind: get on the non-resource URL /metrics only', () => {
    expect(find(objects, 'ClusterRole', 'kaos-operator-metrics-reader').rules as Rule[]).toEqual([{ nonResourceURLs: ['/metrics'], verbs: ['get'] }]);
  });

  it.each(Object.entries(deployments))('%s: METRICS_SECURE=true, METRICS_PORT and a "metrics" container port behind an https-metrics Service', (component, name) => {
    const container = deploymentOf(objects, name);
    expect(envOf(container)).toMatchObject({ METRICS_SECURE: 'true', METRICS_PORT: '8443' });
    expect(portsOf(container)).toMatchObject({ metrics: 8443 });
    expect(servicePorts(objects, `kaos-operator-${component}-metrics`)).toEqual([{ name: 'https-metrics', port: 8443, targetPort: 'metrics', protocol: 'TCP' }]);
    const selector = (find(objects, 'Service', `kaos-operator-${component}-metrics`).spec as { selector: Record<string, string> }).selector;
    expect(selector['app.kubernetes.io/component']).toBe(component);
  });
});

describe('metrics.secure=false', () => {
  const objects = render(setArgs({ 'metrics.secure': false }));

  it('creates no review permissions and no reader role', () => {
    expect(objects.filter((object) => String(object.metadata.name).includes('metrics-auth') || String(object.metadata.name).includes('metrics-reader'))).toEqual([]);
  });

  it.each([
    ['controller', 8082],
    ['webhook', 8081],
  ] as const)('%s: serves /metrics on the health port, exposed as http-metrics', (component, healthPort) => {
    const container = deploymentOf(objects, deployments[component]);
    expect(envOf(container)).toMatchObject({ METRICS_SECURE: 'false' });
    expect(portsOf(container).metrics).toBeUndefined();
    expect(servicePorts(objects, `kaos-operator-${component}-metrics`)).toEqual([{ name: 'http-metrics', port: healthPort, targetPort: 'health', protocol: 'TCP' }]);
  });
});

describe('metrics values', () => {
  it.each([
    [{ 'metrics.port': 9443 }, 9443],
    [{ 'metrics.port': 10443 }, 10443],
  ])('%j moves the HTTPS port', (values, port) => {
    const objects = render(setArgs(values));
    expect(envOf(deploymentOf(objects, deployments.controller)).METRICS_PORT).toBe(String(port));
    expect(servicePorts(objects, 'kaos-operator-webhook-metrics')[0]!.port).toBe(port);
  });

  it.each([
    [{ 'metrics.port': 0 }],
    [{ 'metrics.port': 70000 }],
    [{ 'metrics.secure': 'yes' }],
  ])('rejects %j', (values) => {
    expect(helmTemplate(setArgs(values)).status).not.toBe(0);
  });

  it('local mode: no metrics Services (no pods), the RBAC still applies to the local processes', () => {
    const objects = render(setArgs({ 'localMode.enabled': true }));
    expect(objects.filter((object) => object.kind === 'Service')).toEqual([]);
    expect(find(objects, 'ClusterRole', 'kaos-operator-metrics-reader')).toBeDefined();
  });
});
