// Keeps the webhook's serving certificate current. 'generate' mode runs the Secret store at start
// and then periodically (and at the next renewal point), injects the CA bundle into the webhook
// configurations, and hands new material to the HTTPS server. 'files' mode serves a mounted
// `tls.crt`/`tls.key` (cert-manager or any Secret volume) and reloads it when it changes.
// Failures never crash the process: they are logged and retried with exponential backoff.
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exponentialBackoffMs, type BackoffPolicy, type Logger } from '@kaos/kube-runtime';
import type { CaInjector } from './ca-injector.js';
import { StaleBundleError, WebhookConfigurationNotFoundError } from './ca-injector.js';
import { splitPemCertificates, type SubjectAltNames } from './certificates.js';
import { describeError } from './kubernetes-errors.js';
import { SECRET_KEYS, tlsMaterialFromSecretData, type TlsMaterial } from './rotation.js';
import type { EnsureResult, SecretStore } from './secret-store.js';

/** The clock and timers the manager uses; tests inject a fake to never wait on real time. */
export interface Timers {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Real time. */
export const systemTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** What `/readyz` and `/metrics` need. */
export interface CertificateState {
  readonly certificateLoaded: boolean;
  /** True once the bundle is in place, or when nothing is to be injected (no injector configured). */
  readonly caBundleInjected: boolean;
  readonly notAfter?: Date;
  readonly lastError?: string;
}

interface CommonOptions {
  readonly logger: Logger;
  /** Called with every new certificate, the first one included; serve it with `setSecureContext(tlsServerOptions(material))`. */
  readonly onCertificate: (material: TlsMaterial) => void | Promise<void>;
  /** Keeps the webhook configurations' caBundle in sync; omit when something else manages it. */
  readonly injector?: CaInjector;
  readonly timers?: Timers;
  /** Jitter source in [0, 1). */
  readonly random?: () => number;
  /** Retry bounds; the jitter is always TLS_RETRY_JITTER. */
  readonly backoff?: Pick<BackoffPolicy, 'baseMs' | 'maxMs'>;
}

/** Self-managed certificates in a Secret. */
export interface GenerateModeOptions extends CommonOptions {
  readonly mode: 'generate';
  readonly store: SecretStore;
  readonly sans: SubjectAltNames;
  /** How often to re-read the Secret and re-check the bundle; also bounds how fast replicas adopt a rotation. */
  readonly checkIntervalMs?: number;
  /** Wait between injecting a bundle with a new CA and serving a certificate of that CA. */
  readonly propagationDelayMs?: number;
  /**
   * Tells of changes to the Secret (a watch, secret-watch.ts): each one triggers a check at once, so a
   * deleted Secret is recreated and another replica's new certificate adopted within a second.
   * Returns the function that stops it.
   */
  readonly changes?: (onChange: (reason: string) => void) => () => void;
}

/** Certificates mounted from elsewhere (cert-manager): only serve and reload them. */
export interface FilesModeOptions extends CommonOptions {
  readonly mode: 'files';
  readonly directory: string;
  /** Fallback poll: Secret volume updates are symlink swaps that fs.watch may not report. */
  readonly pollIntervalMs?: number;
  readonly watch?: boolean;
}

/** Options of startCertificateManager. */
export type CertificateManagerOptions = GenerateModeOptions | FilesModeOptions;

/** A running certificate manager. */
export interface CertificateManager {
  /** Resolves with the first certificate loaded; rejects if stopped before that. */
  readonly ready: Promise<TlsMaterial>;
  state(): CertificateState;
  current(): TlsMaterial | undefined;
  /** Runs a check now (files mode: re-reads the files); `force` rotates in generate mode. Rejects on failure. */
  refresh(force?: 'leaf' | 'ca'): Promise<void>;
  stop(): void;
}

/** Defaults: see README (check every 10 minutes, 10 s for a new CA bundle to reach the API servers). */
export const DEFAULT_CHECK_INTERVAL_MS = 10 * 60 * 1000;
export const DEFAULT_PROPAGATION_DELAY_MS = 10 * 1000;
export const DEFAULT_POLL_INTERVAL_MS = 30 * 1000;
export const DEFAULT_BACKOFF = { baseMs: 1000, maxMs: 5 * 60 * 1000 } as const satisfies BackoffPolicy;
/** ±50 % around each retry delay, so replicas that failed together (an API outage) spread out. */
export const TLS_RETRY_JITTER = { jitter: 0.5, jitterShape: 'symmetric' } as const satisfies Partial<BackoffPolicy>;
const MIN_DELAY_MS = 1000;
const MAX_TIMER_MS = 2 ** 31 - 1; // setTimeout fires at once beyond this
const WATCH_DEBOUNCE_MS = 200;
/** Secret reads per check when another replica keeps rotating between our read and our injection. */
const MAX_BUNDLE_READS = 5;

/**
 * `WEBHOOK_CA_PROPAGATION_SECONDS`, when set: the wait between injecting a new CA and serving its
 * certificate (default 10 s). A test knob: e2e runs rotate many times against one local API server.
 */
export function propagationDelayFromEnvironment(env: Readonly<Record<string, string | undefined>>): { propagationDelayMs?: number } {
  const raw = env.WEBHOOK_CA_PROPAGATION_SECONDS?.trim();
  if (raw === undefined || raw === '') return {};
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds < 0) throw new Error(`WEBHOOK_CA_PROPAGATION_SECONDS must be a number of seconds, not "${raw}"`);
  return { propagationDelayMs: Math.round(seconds * 1000) };
}

/** Starts managing the serving certificate; the first check runs at once. */
export function startCertificateManager(options: CertificateManagerOptions): CertificateManager {
  const { logger, injector } = options;
  const timers = options.timers ?? systemTimers;
  const random = options.random ?? Math.random;
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const retryCapMs = options.mode === 'files' ? Math.min(backoff.maxMs, options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS) : backoff.maxMs;
  const log = logger.child({ subsystem: 'tls', mode: options.mode });

  let served: TlsMaterial | undefined;
  let servedDigest: string | undefined;
  let caBundleInjected = injector === undefined;
  let lastError: string | undefined;
  let failures = 0;
  let stopped = false;
  let timer: unknown;
  let debounce: unknown;
  let watcher: FSWatcher | undefined;
  let unsubscribe: (() => void) | undefined;
  let sleeper: { handle: unknown; wake: () => void } | undefined;
  let chain: Promise<void> = Promise.resolve();

  let resolveReady!: (material: TlsMaterial) => void;
  let rejectReady!: (error: Error) => void;
  const ready = new Promise<TlsMaterial>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  ready.catch(() => undefined); // nobody may be waiting; stop() before the first load must not crash the process

  function schedule(ms: number): void {
    if (timer !== undefined) timers.clearTimeout(timer);
    timer = undefined;
    if (stopped) return;
    timer = timers.setTimeout(() => {
      timer = undefined;
      run().catch(() => undefined); // already logged; the retry is scheduled
    }, Math.min(MAX_TIMER_MS, Math.max(0, ms)));
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        sleeper = undefined;
        resolve();
      };
      sleeper = { handle: timers.setTimeout(wake, ms), wake };
    });
  }

  function run(force?: 'leaf' | 'ca'): Promise<void> {
    const next = chain.then(async () => {
      if (stopped) return;
      try {
        const delay = options.mode === 'generate' ? await generateCycle(options, force) : await filesCycle(options);
        failures = 0;
        lastError = undefined;
        schedule(delay);
      } catch (error) {
        if (stopped) return;
        failures++;
        lastError = describeError(error);
        const retryInMs = Math.min(retryCapMs, exponentialBackoffMs(failures, { ...backoff, ...TLS_RETRY_JITTER }, random));
        log.warn('certificate check failed; will retry', { error: lastError, attempt: failures, retryInMs, certificateLoaded: served !== undefined });
        schedule(retryInMs);
        throw error;
      }
    });
    chain = next.catch(() => undefined);
    return next;
  }

  async function injectBundle(bundle: string | undefined, stillCurrent?: (bundle: string) => Promise<boolean>): Promise<unknown> {
    if (injector === undefined) return undefined;
    if (bundle === undefined) {
      caBundleInjected = false;
      return new Error(`no CA certificate to inject (${SECRET_KEYS.caCert} is missing)`);
    }
    try {
      await injector.inject(bundle, stillCurrent === undefined ? {} : { stillCurrent: () => stillCurrent(bundle) });
      caBundleInjected = true;
      return undefined;
    } catch (error) {
      // A transient API error says nothing about the bundle already in place; a missing configuration does.
      if (error instanceof WebhookConfigurationNotFoundError) caBundleInjected = false;
      return error;
    }
  }

  async function load(material: TlsMaterial, digest: string, fields: Record<string, unknown>): Promise<void> {
    await options.onCertificate(material);
    served = material;
    servedDigest = digest;
    const logged = {
      fingerprint: material.fingerprint,
      notAfter: material.notAfter.toISOString(),
      dnsNames: material.dnsNames,
      ipAddresses: material.ipAddresses,
      ...fields,
    };
    if (material.notAfter.getTime() <= timers.now()) log.warn('serving an expired certificate: nothing newer is available', logged);
    else log.info('serving certificate loaded', logged);
    resolveReady(material);
  }

  async function generateCycle(opts: GenerateModeOptions, force: 'leaf' | 'ca' | undefined): Promise<number> {
    const retain = served?.caCert === undefined ? [] : [{ certificatePem: served.caCert, until: served.notAfter }];
    // The bundle injected is the one the Secret holds when the configuration is written (ADR 0017):
    // confirmed by a fresh read after the configuration's read; when another replica rotated in
    // between, the Secret is read again and its bundle injected instead.
    const stillCurrent = async (bundle: string): Promise<boolean> => sameBundle(await opts.store.currentBundle(), bundle);
    let result: EnsureResult;
    let injectionError: unknown;
    for (let reads = 1; ; reads++) {
      // A forced rotation applies once: a later read adopts what is there by then.
      result = await opts.store.ensure(opts.sans, { ...(force === undefined || reads > 1 ? {} : { force }), retain });
      // The bundle goes out before the certificate: the API server must trust a new CA before we present it.
      injectionError = await injectBundle(result.material.caBundle, stillCurrent);
      if (!(injectionError instanceof StaleBundleError) || reads >= MAX_BUNDLE_READS) break;
      log.info('the certificate Secret changed while injecting its CA bundle; injecting the current one', { reads });
    }
    const { material } = result;
    if (served === undefined || material.fingerprint !== served.fingerprint) {
      if (served !== undefined && material.caFingerprint !== served.caFingerprint) {
        if (injectionError !== undefined) {
          throw new Error(`keeping the current certificate: its successor is signed by a new CA that could not be injected (${describeError(injectionError)})`);
        }
        const delayMs = opts.propagationDelayMs ?? DEFAULT_PROPAGATION_DELAY_MS;
        log.info('new CA injected; waiting for API servers to pick it up before serving its certificate', { delayMs });
        await sleep(delayMs);
        if (stopped) return 0;
      }
      await load(material, material.fingerprint, { action: result.decision.action, reason: result.decision.reason, wroteSecret: result.wrote });
    }
    if (injectionError !== undefined) throw injectionError;
    const checkIntervalMs = opts.checkIntervalMs ?? DEFAULT_CHECK_INTERVAL_MS;
    const untilRenewal = result.renewAt === undefined ? checkIntervalMs : result.renewAt.getTime() - timers.now();
    return Math.max(MIN_DELAY_MS, Math.min(checkIntervalMs, untilRenewal));
  }

  async function filesCycle(opts: FilesModeOptions): Promise<number> {
    startWatching(opts);
    const [cert, key, caCert] = await Promise.all([
      readFile(join(opts.directory, SECRET_KEYS.tlsCert), 'utf8'),
      readFile(join(opts.directory, SECRET_KEYS.tlsKey), 'utf8'),
      readOptional(join(opts.directory, SECRET_KEYS.caCert)),
    ]);
    let material: TlsMaterial;
    try {
      material = tlsMaterialFromSecretData({ [SECRET_KEYS.tlsCert]: cert, [SECRET_KEYS.tlsKey]: key, [SECRET_KEYS.caCert]: caCert });
    } catch (error) {
      // Typically an update caught half-way (new certificate, old key): the next event or poll sees it whole.
      throw new Error(`ignoring the certificate files in ${opts.directory} until they are consistent: ${describeError(error)}`);
    }
    const injectionError = await injectBundle(material.caBundle);
    const digest = createHash('sha256').update(cert).update('\0').update(key).digest('hex');
    if (digest !== servedDigest) await load(material, digest, { directory: opts.directory });
    if (injectionError !== undefined) throw injectionError;
    return opts.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  }

  function startWatching(opts: FilesModeOptions): void {
    if (watcher !== undefined || opts.watch === false || stopped) return;
    try {
      // The directory, not the files: Secret volumes swap a `..data` symlink, replacing the files' inodes.
      watcher = watch(opts.directory, { persistent: false }, () => {
        if (debounce !== undefined || stopped) return;
        debounce = timers.setTimeout(() => {
          debounce = undefined;
          run().catch(() => undefined); // already logged; the retry is scheduled
        }, WATCH_DEBOUNCE_MS);
      });
      watcher.on('error', (error) => {
        log.warn('watching the certificate directory failed; relying on polling', { directory: opts.directory, error: describeError(error) });
        watcher?.close();
        watcher = undefined;
      });
    } catch (error) {
      log.warn('cannot watch the certificate directory; relying on polling', { directory: opts.directory, error: describeError(error) });
    }
  }

  run().catch(() => undefined); // already logged; the retry is scheduled
  if (options.mode === 'generate' && options.changes !== undefined) {
    unsubscribe = options.changes((reason) => {
      if (debounce !== undefined || stopped) return;
      debounce = timers.setTimeout(() => {
        debounce = undefined;
        log.debug('certificate Secret changed; checking it now', { reason });
        run().catch(() => undefined); // already logged; the retry is scheduled
      }, WATCH_DEBOUNCE_MS);
    });
  }

  return {
    ready,
    state: () => ({
      certificateLoaded: served !== undefined,
      caBundleInjected,
      ...(served === undefined ? {} : { notAfter: served.notAfter }),
      ...(lastError === undefined ? {} : { lastError }),
    }),
    current: () => served,
    refresh: (force) => run(force),
    stop() {
      if (stopped) return;
      stopped = true;
      for (const handle of [timer, debounce, sleeper?.handle]) if (handle !== undefined) timers.clearTimeout(handle);
      timer = undefined;
      debounce = undefined;
      sleeper?.wake();
      watcher?.close();
      watcher = undefined;
      unsubscribe?.();
      unsubscribe = undefined;
      rejectReady(new Error('certificate manager stopped before a certificate was loaded'));
    },
  };
}

/** Same certificates in the same order, whatever the PEM whitespace. */
function sameBundle(a: string | undefined, b: string): boolean {
  return a !== undefined && splitPemCertificates(a).join('') === splitPemCertificates(b).join('');
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
