// The controller's leader-election Lease: the chart creates it (so `helm uninstall` deletes it) and
// the controller may only get and update that one Lease — RBAC cannot limit `create` by name, so no
// rule in the chart may grant `create` (or any verb without resourceNames) on Leases.
import { describe, expect, it } from '@jest/globals';
import { find, render, setArgs, type RenderedObject } from './render.js';

type Rule = { apiGroups?: string[]; resources?: string[]; verbs: string[]; resourceNames?: string[] };
type Container = { name: string; env?: Array<{ name: string; value?: string }> };

const leaseRules = (objects: RenderedObject[]) =>
  objects
    .filter((object) => object.kind === 'Role' || object.kind === 'ClusterRole')
    .flatMap((role) => ((role.rules as Rule[] | undefined) ?? []).map((rule) => ({ role: `${role.kind}/${role.metadata.name}`, ...rule })))
    .filter((rule) => (rule.apiGroups ?? []).some((group) => group === 'coordination.k8s.io' || group === '*') && (rule.resources ?? []).some((resource) => resource === 'leases' || resource === '*'));
const controllerEnv = (objects: RenderedObject[], fullname = 'kaos-operator') => {
  const deployment = find(objects, 'Deployment', `${fullname}-controller-manager`);
  const containers = (deployment.spec as { template: { spec: { containers: Container[] } } }).template.spec.containers;
  return Object.fromEntries((containers[0]!.env ?? []).map((variable) => [variable.name, variable.value]));
};

describe('the leader-election Lease', () => {
  it.each([
    ['defaults', 'kaos-operator-controller-leader', []],
    ['Gateway API enabled', 'kaos-operator-controller-leader', setArgs({ 'gatewayAPI.enabled': true })],
    ['another full name', 'routing-controller-leader', setArgs({ fullnameOverride: 'routing' })],
  ])('%s: the chart creates the Lease %s, empty, in the release namespace, with the release labels', (_name, leaseName, args) => {
    const objects = render(args);
    const lease = find(objects, 'Lease', leaseName);
    expect(lease).toMatchObject({ apiVersion: 'coordination.k8s.io/v1', metadata: { name: leaseName, namespace: 'kaos-system' } });
    expect(lease.metadata.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'Helm', 'app.kubernetes.io/instance': 'kaos-operator', 'app.kubernetes.io/component': 'controller' });
    // No holder: the controller treats it as free (leaseAction → acquire); Helm's three-way merge
    // on upgrade leaves the fields the controller writes alone, since neither manifest has them.
    expect(lease.spec ?? {}).toEqual({});
    // Exactly one Lease, the one the controller is told to use and the Role names.
    expect(objects.filter((object) => object.kind === 'Lease')).toHaveLength(1);
    const fullname = leaseName.replace(/-controller-leader$/, '');
    expect(controllerEnv(objects, fullname)).toMatchObject({ LEADER_ELECTION: 'true', LEADER_ELECTION_LEASE_NAME: leaseName });
    expect(leaseRules(objects)).toEqual([
      { role: `Role/${fullname}-controller-leader-election`, apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: [leaseName], verbs: ['get', 'update'] },
    ]);
    expect(find(objects, 'Role', `${fullname}-controller-leader-election`).metadata.namespace).toBe('kaos-system');
  });

  it.each([
    ['defaults', []],
    ['Gateway API enabled', setArgs({ 'gatewayAPI.enabled': true, 'gatewayAPI.createGateway': true, 'gatewayAPI.gatewayClassName': 'c' })],
    ['local mode', setArgs({ 'localMode.enabled': true })],
    ['cert-manager', setArgs({ 'certManager.enabled': true })],
    ['leader election off', setArgs({ 'controller.leaderElection.enabled': false })],
  ])('%s: no rule anywhere in the chart grants create on Leases, or any Lease verb without resourceNames', (_name, args) => {
    for (const rule of leaseRules(render(args))) {
      expect(rule.verbs).not.toContain('create');
      expect(rule.verbs).not.toContain('*');
      expect(rule.resourceNames?.length).toBeGreaterThan(0);
    }
  });

  it('local mode: the chart still creates the Lease (the host controller uses it) and uninstall deletes it', () => {
    const objects = render(setArgs({ 'localMode.enabled': true }));
    expect(find(objects, 'Lease', 'kaos-operator-controller-leader').metadata.namespace).toBe('kaos-system');
  });

  it('leader election off: no Lease and no leader-election Role', () => {
    const objects = render(setArgs({ 'controller.leaderElection.enabled': false }));
    expect(objects.filter((object) => object.kind === 'Lease')).toEqual([]);
    expect(leaseRules(objects)).toEqual([]);
    expect(controllerEnv(objects)).toMatchObject({ LEADER_ELECTION: 'false' });
  });
});
