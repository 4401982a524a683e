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

  /** Routes expected. */
  get expectedCount(): number {
    return this.expected.size;
  }

  /** A route was added or changed at `at`. */
  updated(route: HTTPRoute, at: number): void {
    const name = route.metadata?.name;
    const check = name ? this.expected.get(name) : undefined;
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

/** How long after a failed watch it is started again. */
const RESTART_AFTER_MS = 500;

/**
 * Feeds `tracker` from a list-and-watch of the routes (client-node's informer) until `stop` is
 * called. Start it before the resources are created. A watch that fails is started again: it resumes
 * from the last resourceVersion it saw (a 410 relists), and the events it then delivers carry the
 * time they arrive, so `failures` says whether the convergence time may be late.
 */
export async function watchConvergence(options: ConvergenceWatchOptions): Promise<{ stop: () => Promise<void>; failures: () => string[] }> {
  const { kubeConfig, custom, namespace, labelSelector, tracker } = options;
  const now = options.now ?? Date.now;
  const informer = makeInformer<KubernetesObject>(
    kubeConfig,
    `/apis/gateway.networking.k8s.io/v1/namespaces/${namespace}/httproutes`,
    () => custom.listNamespacedCustomObject({ group: 'gateway.networking.k8s.io', version: 'v1', namespace, plural: 'httproutes', labelSelector }),
    labelSelector,
  );
  let stopped = false;
  let restart: NodeJS.Timeout | undefined;
  const failures: string[] = [];
  const failed = (error: unknown) => {
    // stop() aborts the watch's request, which the informer reports as an error: that one is ours.
    if (stopped) return;
    failures.push(error instanceof Error ? error.message : String(error));
    clearTimeout(restart);
    restart = setTimeout(() => {
      if (!stopped) informer.start().catch(failed);
    }, RESTART_AFTER_MS);
  };
  informer.on('add', (object) => tracker.updated(object as HTTPRoute, now()));
  informer.on('update', (object) => tracker.updated(object as HTTPRoute, now()));
  informer.on('delete', (object) => tracker.deleted(object as HTTPRoute));
  informer.on('error', failed);
  await informer.start();
  return {
    stop: async () => {
      stopped = true;
      clearTimeout(restart);
      await informer.stop();
    },
    failures: () => [...failures],
  };
}
