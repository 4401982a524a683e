// Backends for KAOS resources as real pods on the node: for each resource a Deployment and a
// Service with a selector, named and ported as the KAOS operator names them (`agent-my-agent`,
// port 8000), running the echo backend (backend.ts) from the sample-backend image. With them the
// user guide's `kubectl port-forward svc/agent-my-agent 8080:8000` works, and the Gateway routes
// to pod IPs from the Service's EndpointSlices, as on any cluster.
import { serviceName, servicePort } from '@kaos/routing';
import type { KaosResource } from '@kaos/api-types';

/** Port the echo backend listens on inside its pod. */
export const BACKEND_CONTAINER_PORT = 8000;

/** The Deployment and Service that stand in for what the KAOS operator creates for `resource`. */
export function sampleBackendManifests(resource: KaosResource, image: string): Array<Record<string, unknown>> {
  const name = serviceName(resource);
  const namespace = resource.metadata.namespace ?? 'default';
  const labels = { 'app.kubernetes.io/name': name, 'app.kubernetes.io/part-of': 'kaos-samples' };
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace, labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: { 'app.kubernetes.io/name': name } },
        template: {
          metadata: { labels },
          spec: {
            securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
            // Nothing can be pulled here: the image was imported into the node's containerd.
            containers: [
              {
                name: 'backend',
                image,
                imagePullPolicy: 'Never',
                args: ['--host', '0.0.0.0', '--port', String(BACKEND_CONTAINER_PORT), '--name', name, '--parent-pid', '0'],
                ports: [{ name: 'http', containerPort: BACKEND_CONTAINER_PORT }],
                readinessProbe: { httpGet: { path: '/health', port: 'http' }, periodSeconds: 2 },
                resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '96Mi' } },
                securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace, labels },
      spec: {
        selector: { 'app.kubernetes.io/name': name },
        ports: [{ name: 'http', port: servicePort(resource), targetPort: 'http', protocol: 'TCP' }],
      },
    },
  ];
}

/** All manifests for `resources` as one kubectl-applicable List. */
export function sampleBackendList(resources: KaosResource[], image: string): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'List', items: resources.flatMap((resource) => sampleBackendManifests(resource, image)) };
}
