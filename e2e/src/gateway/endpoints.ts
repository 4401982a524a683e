/**
 * A Service without a selector plus an EndpointSlice that this test manages, pointing at a
 * backend in a network namespace: there is no kubelet to run pods, so nothing else would fill
 * the endpoints. Traefik routes only to endpoints whose `ready` condition is true and whose
 * EndpointSlice port name equals the Service port's name, so both are set here.
 */
import type { ControlPlane } from '../control-plane/index.js';
import { kubectlOk } from '../support/cluster.js';

/** Value of `endpointslice.kubernetes.io/managed-by`, so no controller adopts the slice. */
export const ENDPOINTS_MANAGED_BY = 'e2e.kaos.tools';

export interface ExposeBackendOptions {
  namespace: string;
  /** Service name (what an HTTPRoute's backendRef names). */
  service: string;
  /** The backend's non-loopback address (e.g. a netns address). */
  address: string;
  /** The backend's port (the EndpointSlice port). */
  targetPort: number;
  /** The Service port (what an HTTPRoute's backendRef port names). Default 80. */
  servicePort?: number;
  /** Name shared by the Service port and the EndpointSlice port. Default 'http'. */
  portName?: string;
  /** The endpoint's `ready` condition. Default true. */
  ready?: boolean;
}

/** The Service and EndpointSlice manifests for one backend. */
export function backendManifests(opts: ExposeBackendOptions): { service: unknown; endpointSlice: unknown } {
  const portName = opts.portName ?? 'http';
  return {
    service: {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: opts.service, namespace: opts.namespace },
      spec: { ports: [{ name: portName, port: opts.servicePort ?? 80, targetPort: opts.targetPort, protocol: 'TCP' }] },
    },
    endpointSlice: {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: `${opts.service}-e2e`,
        namespace: opts.namespace,
        labels: { 'kubernetes.io/service-name': opts.service, 'endpointslice.kubernetes.io/managed-by': ENDPOINTS_MANAGED_BY },
      },
      addressType: 'IPv4',
      endpoints: [{ addresses: [opts.address], conditions: { ready: opts.ready ?? true } }],
      ports: [{ name: portName, port: opts.targetPort, protocol: 'TCP' }],
    },
  };
}

/** Creates or updates the Service and EndpointSlice for one backend (kubectl apply, so it can re-point or flip readiness). */
export async function exposeBackend(plane: Pick<ControlPlane, 'kubectl'>, opts: ExposeBackendOptions): Promise<void> {
  const { service, endpointSlice } = backendManifests(opts);
  await kubectlOk(plane, ['apply'], { apiVersion: 'v1', kind: 'List', items: [service, endpointSlice] });
}

/** Deletes the Service and EndpointSlice of one backend; missing objects are fine. */
export async function unexposeBackend(plane: Pick<ControlPlane, 'kubectl'>, namespace: string, service: string): Promise<void> {
  await kubectlOk(plane, ['delete', 'endpointslice', `${service}-e2e`, '-n', namespace, '--ignore-not-found']);
  await kubectlOk(plane, ['delete', 'service', service, '-n', namespace, '--ignore-not-found']);
}
