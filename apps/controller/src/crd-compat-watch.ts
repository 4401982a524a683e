// Watches the three installed KAOS CRDs and reports one that lacks what the chart's CRD provides
// (libs/routing crd-compat.ts): Helm skips crds/ when the CRDs exist, so a cluster that runs
// upstream KAOS keeps upstream's, and the API server prunes every status.gateway this controller
// writes. Reported in the log (error, with the missing paths and the fix command), in /readyz (a
// detail: routes still work, so the controller stays ready), as gauge
// kaos_controller_crd_compatible{crd}, and as a Warning Event `CRDIncompatible` on the CRD itself.
// When the CRD is fixed it logs that, records `CRDCompatible`, and requeues every resource so
// status.gateway is written at once.
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { KIND_DEFINITIONS, type KaosKind } from '@kaos/api-types';
import { CRD_FIX_COMMAND, crdCompatibility, crdIncompatibilityMessage, crdRequirements, type CrdCompatibility, type CrdRequirements } from '@kaos/routing';
import { Gauge, type Registry } from 'prom-client';
import type { Logger } from '@kaos/kube-runtime';
import { eventBody } from './event-recorder.js';
import type { WatchRestartReason } from './metrics.js';
import { makeSlimInformer, type RawList } from './slim-cache.js';
import { DEFAULT_SUPERVISION, supervise } from './watch-supervisor.js';

/** Events about a cluster-scoped object live in `default`, as client-go's recorder puts them. */
export const CRD_EVENT_NAMESPACE = 'default';
/** While a CRD stays incompatible, the log line and the Event are repeated this often (Events expire after 1 h). */
export const CRD_REMINDER_MS = 30 * 60_000;
export const CRD_INCOMPATIBLE_REASON = 'CRDIncompatible';
export const CRD_COMPATIBLE_REASON = 'CRDCompatible';

const CRD_GROUP = 'apiextensions.k8s.io';
const CRD_VERSION = 'v1';

/** `unknown` until the CRD was read; `missing` when it is not installed. */
export type CrdState = 'unknown' | 'compatible' | 'incompatible' | 'missing';

/** The `crds` detail of /readyz. */
export interface CrdReadiness {
  /** `incompatible` when any CRD is missing or lacks something; `unknown` while one was never read. */
  status: 'compatible' | 'incompatible' | 'unknown';
  /** The command that fixes it, while `incompatible`. */
  fix?: string;
  crds: Array<{ name: string; state: CrdState; missing?: string[] }>;
}

/** The installed CRD an Event is about. */
export interface CrdReference {
  name: string;
  uid?: string;
}

/** Records an Event on a CRD; failures are the recorder's to log. */
export type CrdEventRecorder = (crd: CrdReference, type: 'Warning' | 'Normal', reason: string, message: string) => void;

export interface CrdTrackerOptions {
  logger: Logger;
  recordEvent: CrdEventRecorder;
  /** After a CRD became compatible again: requeue every resource, so status.gateway is written now. */
  onCompatible: () => void;
  /** Registers kaos_controller_crd_compatible{crd} here. */
  registry?: Registry;
}

interface Tracked {
  state: CrdState;
  report?: CrdCompatibility;
  uid?: string;
}

/**
 * What the controller knows about each KAOS CRD, and what it says when that changes. Every
 * replica logs and reports readiness; only the leader records Events (once, not once per replica).
 */
export class CrdCompatibilityTracker {
  readonly #crds = new Map<string, Tracked>();
  readonly #options: CrdTrackerOptions;
  #leading = false;

  constructor(names: readonly string[], options: CrdTrackerOptions) {
    this.#options = options;
    for (const name of names) this.#crds.set(name, { state: 'unknown' });
    if (options.registry) {
      const crds = this.#crds;
      new Gauge({
        name: 'kaos_controller_crd_compatible',
        help: 'Per KAOS CRD: 1 when the installed CRD provides what the chart CRD provides, 0 when it lacks something or is not installed (see /readyz and the log).',
        labelNames: ['crd'],
        registers: [options.registry],
        collect() {
          this.reset();
          for (const [crd, tracked] of crds) if (tracked.state !== 'unknown') this.set({ crd }, tracked.state === 'compatible' ? 1 : 0);
        },
      });
    }
  }

  /** A verdict on the installed CRD (or on its absence), from the watch. */
  observe(report: CrdCompatibility, uid?: string): void {
    const tracked = this.#crds.get(report.crd);
    if (!tracked) return;
    const state: CrdState = !report.installed ? 'missing' : report.compatible ? 'compatible' : 'incompatible';
    const changed = state !== tracked.state || JSON.stringify(report.missing) !== JSON.stringify(tracked.report?.missing);
    const before = tracked.state;
    Object.assign(tracked, { state, report, uid });
    if (!changed) return;
    const { logger } = this.#options;
    if (state === 'compatible') {
      if (before === 'unknown') {
        logger.info(`CustomResourceDefinition ${report.crd} provides what KAOS routing needs`, { crd: report.crd });
        return;
      }
      logger.info(`CustomResourceDefinition ${report.crd} now provides what KAOS routing needs; requeueing every resource to write status.gateway`, { crd: report.crd, before });
      if (this.#leading && before === 'incompatible') this.#options.recordEvent({ name: report.crd, uid }, 'Normal', CRD_COMPATIBLE_REASON, `CustomResourceDefinition ${report.crd} now provides what KAOS routing needs`);
      this.#options.onCompatible();
      return;
    }
    this.#report(report.crd, tracked);
  }

  /** This replica now writes: record the Events a follower left out. */
  lead(): void {
    this.#leading = true;
    for (const [name, tracked] of this.#crds) if (tracked.state === 'incompatible') this.#event(name, tracked);
  }

  /** Repeats the log line and the Event of every CRD that is still incompatible or missing. */
  remind(): void {
    for (const [name, tracked] of this.#crds) if (tracked.state === 'incompatible' || tracked.state === 'missing') this.#report(name, tracked);
  }

  /** Whether the watch last saw this CRD installed and keeping everything ours writes (status.gateway among it). */
  compatible(crd: string): boolean {
    return this.#crds.get(crd)?.state === 'compatible';
  }

  readiness(): CrdReadiness {
    const crds = [...this.#crds].map(([name, { state, report }]) => ({ name, state, ...(state === 'incompatible' || state === 'missing' ? { missing: report?.missing ?? [] } : {}) }));
    const status = crds.some((crd) => crd.state === 'incompatible' || crd.state === 'missing') ? 'incompatible' : crds.some((crd) => crd.state === 'unknown') ? 'unknown' : 'compatible';
    return { status, ...(status === 'incompatible' ? { fix: CRD_FIX_COMMAND } : {}), crds };
  }

  #report(name: string, tracked: Tracked): void {
    const report = tracked.report!;
    this.#options.logger.error(crdIncompatibilityMessage(report), { crd: name, missing: report.missing, fix: CRD_FIX_COMMAND });
    this.#event(name, tracked);
  }

  #event(name: string, tracked: Tracked): void {
    // A CRD that is not installed has no object to attach an Event to; the log says it.
    if (!this.#leading || tracked.state !== 'incompatible') return;
    this.#options.recordEvent({ name, uid: tracked.uid }, 'Warning', CRD_INCOMPATIBLE_REASON, crdIncompatibilityMessage(tracked.report!));
  }
}

/** A CRD as the watch cache keeps it: its identity and the verdict, not the ~0.5 MB of schema. */
export interface CrdSummary extends KubernetesObject {
  compatibility: CrdCompatibility;
}

/** Reduces a watched CRD to its identity and its verdict against `required`. */
export function summarizeCrd(crd: KubernetesObject, required: CrdRequirements): CrdSummary {
  const { name, uid, resourceVersion } = crd.metadata ?? {};
  return { apiVersion: crd.apiVersion, kind: crd.kind, metadata: { name, uid, resourceVersion }, compatibility: crdCompatibility(crd, required) };
}

export interface CrdWatchObservers {
  write?: (verb: 'event') => void;
  watchRestarted?: (watch: string, reason: WatchRestartReason) => void;
}

/**
 * Watches each KAOS CRD by name (fieldSelector metadata.name, so RBAC can name the three CRDs:
 * the authorizer takes a list or watch with that selector as a request for that name) and feeds
 * the tracker. Watch failures (e.g. a ClusterRole without the CRD rule) are retried with backoff
 * and leave the state `unknown`; they never stop the controller.
 */
export function watchCrdCompatibility(kubeConfig: KubeConfig, logger: Logger, options: Omit<CrdTrackerOptions, 'logger' | 'recordEvent'> & { observers?: CrdWatchObservers; reminderMs?: number }) {
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const recordEvent: CrdEventRecorder = (crd, type, reason, message) => {
    options.observers?.write?.('event');
    const involvedObject = { apiVersion: `${CRD_GROUP}/${CRD_VERSION}`, kind: 'CustomResourceDefinition', name: crd.name, uid: crd.uid };
    core
      .createNamespacedEvent({ namespace: CRD_EVENT_NAMESPACE, body: eventBody(CRD_EVENT_NAMESPACE, involvedObject, type, reason, message, new Date().toISOString()) })
      .catch((error: unknown) => logger.warn('could not record event', { reason, crd: crd.name, error: (error as Error).message }));
  };
  const requirements = KIND_DEFINITIONS.map((definition) => crdRequirements(definition.kind));
  const tracker = new CrdCompatibilityTracker(
    requirements.map((required) => required.name),
    { logger, recordEvent, onCompatible: options.onCompatible, registry: options.registry },
  );

  const watches = requirements.map((required) => {
    const fieldSelector = `metadata.name=${required.name}`;
    const informer = makeSlimInformer(
      kubeConfig,
      `/apis/${CRD_GROUP}/${CRD_VERSION}/customresourcedefinitions`,
      (continueToken, limit) => custom.listClusterCustomObject({ group: CRD_GROUP, version: CRD_VERSION, plural: 'customresourcedefinitions', fieldSelector, limit, _continue: continueToken }) as Promise<RawList>,
      (crd) => summarizeCrd(crd, required),
      undefined,
      fieldSelector,
    );
    const observe = (summary: KubernetesObject) => tracker.observe((summary as CrdSummary).compatibility, summary.metadata?.uid);
    const notInstalled = () => tracker.observe(crdCompatibility(undefined, required));
    /** From the cache after a (re)list: a CRD deleted while the watch was down is gone from it. */
    const observeCache = () => {
      const [summary] = informer.list();
      if (summary) observe(summary);
      else notInstalled();
    };
    informer.on('add', observe);
    informer.on('update', observe);
    informer.on('delete', notInstalled);
    const watch = `customresourcedefinitions/${required.name}`;
    // A CRD rarely changes: a quiet watch is normal, so the watchdog waits longer before relisting ~0.5 MB.
    const supervisor = supervise(watch, informer, logger, { resync: observeCache, restarted: (reason) => options.observers?.watchRestarted?.(watch, reason) }, { ...DEFAULT_SUPERVISION, watchdogMs: 30 * 60_000 });
    return {
      async start() {
        await supervisor.start();
        if (supervisor.synced()) observeCache();
      },
      stop: () => supervisor.stop(),
    };
  });

  let reminder: NodeJS.Timeout | undefined;
  const crdOfKind = new Map(requirements.map((required) => [required.kind, required.name]));
  return {
    tracker,
    /** Whether the CRD of this kind, as last watched, keeps status.gateway (the API server prunes it from an older CRD's objects). */
    keepsGatewayStatus: (kind: KaosKind) => tracker.compatible(crdOfKind.get(kind) ?? ''),
    /** Starts the watches; resolves after the first attempt (failures are retried in the background). */
    async start() {
      reminder = setInterval(() => tracker.remind(), options.reminderMs ?? CRD_REMINDER_MS);
      reminder.unref();
      await Promise.all(watches.map((watch) => watch.start()));
    },
    async stop() {
      clearInterval(reminder);
      await Promise.all(watches.map((watch) => watch.stop()));
    },
  };
}
