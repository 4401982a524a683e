// Kubernetes Events about our resources and CRDs, posted as client-go's recorder posts them, and
// rate-limited so that a resource failing on every reconcile does not flood etcd.
import type { CoreV1Event, V1ObjectReference } from '@kubernetes/client-node';
import { KAOS_GROUP, KAOS_VERSION, type KaosResource } from '@kaos/api-types';
import { createRequest, type Logger } from '@kaos/kube-runtime';
import { FIELD_MANAGER } from '@kaos/routing';
import type { ApiSend } from './api-transport.js';

/** At most one Event per resource and reason in this long. */
export const EVENT_INTERVAL_MS = 60_000;

/** The Event of one occurrence (`at`, an ISO time) about `involvedObject`, in `namespace`, reported by our field manager. */
export function eventBody(namespace: string, involvedObject: V1ObjectReference, type: 'Normal' | 'Warning', reason: string, message: string, at: string): CoreV1Event {
  // Events are sent as JSON: the ISO string is what client-node would make of a Date, without the Date.
  const time = at as unknown as Date;
  return {
    metadata: { generateName: `${involvedObject.name}.`, namespace },
    involvedObject,
    type,
    reason,
    message,
    firstTimestamp: time,
    lastTimestamp: time,
    count: 1,
    source: { component: FIELD_MANAGER },
    reportingComponent: FIELD_MANAGER,
  };
}

/** Posts one Event in `namespace`. */
export type PostEvent = (namespace: string, event: CoreV1Event) => Promise<unknown>;

/** Posts Events with the transport, as client-node's createNamespacedEvent posts them (no field manager, no query); the answer is not read. */
export function eventPoster(send: ApiSend): PostEvent {
  return (namespace, event) => send(createRequest({ group: '', version: 'v1', plural: 'events', namespace }, event), { answer: false });
}

/** Records Events on our resources, at most one per resource (uid) and reason a minute; a failed post is logged, not thrown. */
export function createEventRecorder(post: PostEvent, logger: Pick<Logger, 'warn'>, onWrite: () => void = () => {}, now: () => number = Date.now) {
  const lastSent = new Map<string, number>();
  let sweptAt = now();
  return (resource: KaosResource, type: 'Normal' | 'Warning', reason: string, message: string): void => {
    const at = now();
    // A failing resource is reconciled again and again: without the limit each retry would write to etcd.
    const key = `${resource.metadata.uid}/${reason}`;
    if (at - (lastSent.get(key) ?? 0) < EVENT_INTERVAL_MS) return;
    // Entries older than the interval decide nothing: drop them (once an interval) so the map
    // holds only the last minute's Events, not one entry per resource ever seen.
    if (at - sweptAt >= EVENT_INTERVAL_MS) {
      sweptAt = at;
      for (const [seen, sentAt] of lastSent) if (sweptAt - sentAt >= EVENT_INTERVAL_MS) lastSent.delete(seen);
    }
    lastSent.set(key, at);
    onWrite();
    const { name, namespace, uid } = resource.metadata;
    const involvedObject = { apiVersion: resource.apiVersion ?? `${KAOS_GROUP}/${KAOS_VERSION}`, kind: resource.kind, name, namespace, uid };
    post(namespace!, eventBody(namespace!, involvedObject, type, reason, message, new Date(at).toISOString()))
      // An Event is a courtesy, not part of the reconcile: its failure must not fail the reconcile.
      .catch((error: unknown) => logger.warn('could not record event', { reason, namespace, name, error: (error as Error).message }));
  };
}
