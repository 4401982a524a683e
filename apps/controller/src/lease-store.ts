// The leader-election Lease on the API server, for leader-election.ts. Each call takes the
// elector's AbortSignal down to the HTTP request: a renewal that outlives the renew deadline is
// aborted instead of answering after the elector has given the Lease up.
import { Observable, type CustomObjectsApi, type RequestContext, type ResponseContext } from '@kubernetes/client-node';
import { apiStatus } from './kube-boundary.js';
import type { LeaseSpec, LeaseStore } from './leader-election.js';

/** The API calls the Lease store makes. */
export type LeaseApi = Pick<CustomObjectsApi, 'getNamespacedCustomObject' | 'createNamespacedCustomObject' | 'replaceNamespacedCustomObject'>;

const leasePath = (namespace: string, name: string) => ({ group: 'coordination.k8s.io', version: 'v1', namespace, plural: 'leases', name });

/** Per-request options that abort the request when `signal` aborts; none without a signal. */
function abortOn(signal: AbortSignal | undefined) {
  return (
    signal && {
      middleware: [
        {
          pre: (context: RequestContext) => {
            context.setSignal(signal);
            return new Observable(Promise.resolve(context));
          },
          post: (response: ResponseContext) => new Observable(Promise.resolve(response)),
        },
      ],
      middlewareMergeStrategy: 'append' as const,
    }
  );
}

/** The Lease `namespace/name`, read and written as plain JSON (MicroTime stays a string). */
export function createLeaseStore(api: LeaseApi, namespace: string, name: string): LeaseStore {
  return {
    async read(signal) {
      try {
        const lease = (await api.getNamespacedCustomObject(leasePath(namespace, name), abortOn(signal))) as { spec?: LeaseSpec; metadata: { resourceVersion: string } };
        return { spec: lease.spec ?? {}, resourceVersion: lease.metadata.resourceVersion };
      } catch (error) {
        if (apiStatus(error) === 404) return undefined;
        throw error;
      }
    },
    async create(spec, signal) {
      await api.createNamespacedCustomObject({ ...leasePath(namespace, name), body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace }, spec } }, abortOn(signal));
    },
    async write(spec, resourceVersion, signal) {
      await api.replaceNamespacedCustomObject({ ...leasePath(namespace, name), body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace, resourceVersion }, spec } }, abortOn(signal));
    },
  };
}
