// When did a controller's routes become correct? The bench watches the managed HTTPRoutes of a
// namespace and notes the moment the last expected route became correct, as it sees the event.
// Polling (a list of every route, then a pause) measured that moment only to within a list and a
// pause — about 2 s at 10,000 routes, where each list is tens of MB for the API server to send
// while the controller under test still writes.
import { makeInformer, type CustomObjectsApi, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import type { HTTPRoute } from '@kaos/api-types';

/** Whether a live route is the one its resource should have. */
export type RouteCheck = (live: HTTPRoute) => boolean;

/**
 * Which of the expected routes are correct right now, from the routes' add/update/delete events
 * (pure: the caller passes the time of each event). `convergedAt` is the time of the first event
 * after which every expected route was correct.
 */
export class ConvergenceTracker {
  private readonly expected: ReadonlyMap<string, RouteCheck>;
  private readonly correct = new Set<string>();
  /** The time every expected route was first correct at once, if they have been. */
  convergedAt: number | undefined;

  constructor(expected: ReadonlyMap<string, RouteCheck>) {
    this.expected = expected;
  }

  /** Routes correct now. */
  get correctCount(): number {
    return this.correct.size;
  }

  /** A route was added or changed at `at`. */
  updated(route: HTTPRoute, at: number): void {
    const name = route.metadata?.name;
    const check = name === undefined ? undefined : this.expected.get(name);
    if (!name || !check) return;
    if (check(route)) this.correct.add(name);
    else this.correct.delete(name);
    if (this.convergedAt === undefined && this.correct.size === this.expected.size) this.convergedAt = at;
  }

  /** A route was deleted. */
  deleted(route: HTTPRoute): void {
    if (route.metadata?.name) this.correct.delete(route.metadata.name);
  }
}

/** What a convergence watch needs: the routes' namespace and label selector, and the API to list them with. */
export interface ConvergenceWatchOptions {
  kubeConfig: KubeConfig;
  custom: Pick<CustomObjectsApi, 'listNamespacedCustomObject'>;
  namespace: string;
  labelSelector: string;
  tracker: ConvergenceTracker;
  /** The clock of the events (default Date.now). */
  now?: () => number;
}

/**
 * Feeds `tracker` from a list-and-watch of the routes (client-node's informer, restarted after an
 * error) until `stop` is called. Start it before the resources are created.
 */
export async function watchConvergence(options: ConvergenceWatchOptions): Promise<{ stop: () => Promise<void>; errors: () => number }> {
  const { kubeConfig, custom, namespace, labelSelector, tracker } = options;
  const now = options.now ?? Date.now;
  const informer = makeInformer<KubernetesObject>(
    kubeConfig,
    `/apis/gateway.networking.k8s.io/v1/namespaces/${namespace}/httproutes`,
    () => custom.listNamespacedCustomObject({ group: 'gateway.networking.k8s.io', version: 'v1', namespace, plural: 'httproutes', labelSelector }) as never,
    labelSelector,
  );
  let stopped = false;
  let errors = 0;
  informer.on('add', (object) => tracker.updated(object as HTTPRoute, now()));
  informer.on('update', (object) => tracker.updated(object as HTTPRoute, now()));
  informer.on('delete', (object) => tracker.deleted(object as HTTPRoute));
  informer.on('error', () => {
    // client-node's informer stops on an error; a relist brings the tracker up to date again.
    errors++;
    if (!stopped) setTimeout(() => void informer.start().catch(() => undefined), 500);
  });
  await informer.start();
  return {
    stop: async () => {
      stopped = true;
      await informer.stop();
    },
    errors: () => errors,
  };
}
