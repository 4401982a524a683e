import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ResourceValidator } from '@kaos/api-types';
import { mutate, parseAdmissionReview, validate, type AdmissionOutcome, type RoutingConfig } from '@kaos/routing';
import type { Logger } from './logger.js';
import type { WebhookMetrics } from './metrics.js';

/** Paths the API server posts AdmissionReviews to. */
export const ADMISSION_PATHS = { mutate: '/mutate', validate: '/validate' } as const;

/** Default body limit: the API server sends at most about 3 MiB (object and oldObject of 1.5 MiB each). */
export const DEFAULT_MAX_BODY_BYTES = 3.5 * 1024 * 1024;

/** What the admission handler needs. */
export interface AdmissionHandlerOptions {
  config: RoutingConfig;
  validator: ResourceValidator;
  logger: Logger;
  metrics: WebhookMetrics;
  maxBodyBytes?: number;
}

type Webhook = keyof typeof ADMISSION_PATHS;

class HttpError extends Error {
  readonly status: number;
  readonly reason: string;

  constructor(status: number, reason: string, message: string) {
    super(message);
    this.status = status;
    this.reason = reason;
  }
}

const JSON_HEADERS = { 'content-type': 'application/json' } as const;

function webhookFor(url: string | undefined): Webhook | undefined {
  const path = url?.split('?', 1)[0];
  if (path === ADMISSION_PATHS.mutate) return 'mutate';
  if (path === ADMISSION_PATHS.validate) return 'validate';
  return undefined;
}

/** Reads the whole body, refusing early (413) once it passes `limit` bytes. */
function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(request.headers['content-length']);
  if (declared > limit) return Promise.reject(new HttpError(413, 'too_large', `body of ${declared} bytes exceeds the limit of ${limit} bytes`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        request.removeAllListeners('data');
        request.resume();
        reject(new HttpError(413, 'too_large', `body exceeds the limit of ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    request.on('error', reject);
  });
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new HttpError(400, 'malformed_json', `body is not valid JSON: ${(error as Error).message}`);
  }
}

function resultOf(outcome: { response: NonNullable<Extract<AdmissionOutcome, { response: unknown }>['response']> }): string {
  const { response } = outcome;
  if (!response.allowed) return 'denied';
  if (response.patch) return 'patched';
  if (response.warnings?.length) return 'warned';
  return 'allowed';
}

/**
 * The admission hot path as a plain Node request handler: body read directly, one JSON.parse, the
 * pure decision from libs/routing, one JSON.stringify. No framework on this path (see ADR 0004).
 * Every bad input gets a 4xx with a reason and a log line; nothing here throws to the server.
 */
export function createAdmissionHandler(options: AdmissionHandlerOptions) {
  const { config, validator, logger, metrics } = options;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const timers = { mutate: metrics.admissionSeconds.labels('mutate'), validate: metrics.admissionSeconds.labels('validate') };

  function refuse(response: ServerResponse, error: HttpError, request: IncomingMessage): void {
    metrics.badRequests.inc({ reason: error.reason });
    logger.warn('admission request refused', { status: error.status, reason: error.reason, error: error.message, path: request.url });
    if (response.headersSent) return;
    response.writeHead(error.status, { ...JSON_HEADERS, ...(error.status === 413 ? { connection: 'close' } : {}) });
    response.end(JSON.stringify({ error: error.message }));
  }

  async function handle(request: IncomingMessage, response: ServerResponse, webhook: Webhook): Promise<void> {
    const started = process.hrtime.bigint();
    if (request.method !== 'POST') {
      throw new HttpError(405, 'method', `${request.method} is not allowed: POST an admission.k8s.io/v1 AdmissionReview`);
    }
    const contentType = request.headers['content-type'] ?? '';
    if (!/^application\/json\s*(;|$)/i.test(contentType)) {
      request.resume();
      throw new HttpError(415, 'content_type', `content-type must be application/json, not ${JSON.stringify(contentType)}`);
    }
    const parsed = parseAdmissionReview(parseJson(await readBody(request, maxBodyBytes)));
    if ('badRequest' in parsed) throw new HttpError(400, 'not_a_review', parsed.badRequest);
    const { request: review } = parsed;
    const outcome = webhook === 'mutate' ? mutate(review, config) : validate(review, config, validator);
    if ('badRequest' in outcome) throw new HttpError(400, 'unhandled_kind', outcome.badRequest);

    const body = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: outcome.response });
    response.writeHead(200, JSON_HEADERS);
    response.end(body);

    const result = resultOf(outcome);
    metrics.admissions.inc({ webhook, kind: review.kind.kind, operation: review.operation, result });
    timers[webhook].observe(Number(process.hrtime.bigint() - started) / 1e9);
    // Allowed reviews log at debug; skip building the line at all when debug is off (hot path).
    if (result !== 'denied' && !logger.isDebugEnabled()) return;
    logger.log(result === 'denied' ? 'info' : 'debug', 'admission decided', {
      webhook,
      uid: review.uid,
      kind: review.kind.kind,
      operation: review.operation,
      namespace: review.namespace,
      name: review.name,
      decision: result,
      dryRun: review.dryRun ?? false,
      ...(outcome.response.status?.message ? { reason: outcome.response.status.message } : {}),
      ...(outcome.response.warnings ? { warnings: outcome.response.warnings } : {}),
    });
  }

  /** Handles the request when its path is an admission path; returns false to let others serve it. */
  return function admissionHandler(request: IncomingMessage, response: ServerResponse): boolean {
    const webhook = webhookFor(request.url);
    if (!webhook) return false;
    handle(request, response, webhook).catch((error: unknown) => {
      if (error instanceof HttpError) return refuse(response, error, request);
      // Anything else is a bug or a broken stream; still answer (never crash), and log the stack.
      logger.error('admission request failed unexpectedly', { error: error as Error, path: request.url });
      refuse(response, new HttpError(400, 'unreadable', `request could not be processed: ${(error as Error).message}`), request);
    });
    return true;
  };
}
