// What the informer caches keep of each object, and how they list. At 10,000 resources the caches
// are most of the controller's live heap: every object drops what no decision reads before it is
// stored (like client-go's cache transform that drops managedFields), and a relist arrives in pages
// instead of one response of tens of megabytes.
import { ListWatch, type Informer, type KubeConfig, type KubernetesListObject, type KubernetesObject, type ObjectCache } from '@kubernetes/client-node';
import { LeanWatch } from './lean-watch.js';

/** Written by `kubectl apply`: a copy of the whole object as last applied, read by nothing here. */
export const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';

/** Objects per page of a relist: a page is ~1 MB of JSON, the relist of 10,000 objects 20 round trips. */
export const LIST_PAGE_SIZE = 500;

/** Which parts of `status` the cache keeps: all of it (routes: the Gateway's `parents`), or only the named keys. */
export type StatusKept = 'all' | readonly string[];

/**
 * The object as the caches keep it: without `metadata.managedFields` and the last-applied
 * annotation, and with only the `status` keys the reconciler reads (`status.gateway` of our kinds;
 * the KAOS operator's part of the status is not ours). Everything a decision reads stays: name,
 * namespace, uid, generation, resourceVersion, deletionTimestamp, labels, owner references, spec.
 * Builds fresh objects rather than deleting keys (V8 turns objects with deleted keys into slower, larger dictionaries).
 */
export function slimForCache<T extends KubernetesObject>(object: T, statusKept: StatusKept = 'all'): T {
  const metadata = object.metadata;
  if (!metadata) return object;
  const { managedFields: _managedFields, annotations, ...keptMetadata } = metadata;
  let keptAnnotations: Record<string, string> | undefined;
  if (annotations) {
    const { [LAST_APPLIED_ANNOTATION]: _lastApplied, ...rest } = annotations;
    if (Object.keys(rest).length > 0) keptAnnotations = rest;
  }
  const slim = { ...object, metadata: { ...keptMetadata, ...(keptAnnotations ? { annotations: keptAnnotations } : {}) } } as T & { status?: Record<string, unknown> };
  const status = (object as { status?: unknown }).status;
  if (statusKept !== 'all' && status && typeof status === 'object') {
    const kept = Object.fromEntries(statusKept.filter((key) => key in status).map((key) => [key, (status as Record<string, unknown>)[key]]));
    if (Object.keys(kept).length > 0) slim.status = kept;
    else delete slim.status;
  }
  return slim;
}

/** A list response as JSON: custom objects arrive undeserialized, so the token is `metadata.continue`. */
export interface RawList {
  metadata?: { continue?: string; resourceVersion?: string };
  items?: KubernetesObject[];
}

/** One page of a list call: `continueToken` is undefined for the first page. */
export type ListPage = (continueToken: string | undefined, limit: number) => Promise<RawList>;

/**
 * Lists every object page by page (`limit` and `continue`), slimming each page as it arrives so
 * the full objects of one page at most are alive at once. The pages are one consistent snapshot;
 * the result carries its resourceVersion, from which the informer's watch continues.
 */
export async function listAllPages(listPage: ListPage, slim: (object: KubernetesObject) => KubernetesObject, limit = LIST_PAGE_SIZE): Promise<KubernetesListObject<KubernetesObject>> {
  const items: KubernetesObject[] = [];
  let continueToken: string | undefined;
  let resourceVersion: string | undefined;
  do {
    const page = await listPage(continueToken, limit);
    for (const item of page.items ?? []) items.push(slim(item));
    resourceVersion = page.metadata?.resourceVersion;
    continueToken = page.metadata?.continue || undefined;
  } while (continueToken);
  return { metadata: { resourceVersion }, items };
}

/** A watch (LeanWatch: client-node's Watch without fetch) whose added, modified and deleted objects are slimmed before anything sees them. */
class SlimWatch extends LeanWatch {
  readonly #slim: (object: KubernetesObject) => KubernetesObject;
  constructor(kubeConfig: KubeConfig, slim: (object: KubernetesObject) => KubernetesObject) {
    super(kubeConfig);
    this.#slim = slim;
  }
  override watch(path: string, queryParams: Record<string, string | number | boolean | undefined>, callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void, done: (err: unknown) => void): Promise<AbortController> {
    return super.watch(path, queryParams, (phase, object, watchObject) => callback(phase, phase === 'ADDED' || phase === 'MODIFIED' || phase === 'DELETED' ? this.#slim(object as KubernetesObject) : object, watchObject), done);
  }
}

/**
 * client-node's informer (list+watch cache) over slimmed objects, listing page by page: what
 * `makeInformer` builds, with the transform client-node lacks.
 */
export function makeSlimInformer(
  kubeConfig: KubeConfig,
  path: string,
  listPage: ListPage,
  slim: (object: KubernetesObject) => KubernetesObject,
  labelSelector?: string,
  fieldSelector?: string,
): Informer<KubernetesObject> & ObjectCache<KubernetesObject> {
  return new ListWatch<KubernetesObject>(path, new SlimWatch(kubeConfig, slim), () => listAllPages(listPage, slim), false, labelSelector, fieldSelector);
}
