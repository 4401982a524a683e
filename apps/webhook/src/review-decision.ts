// One admission decision from the raw body to the answer's bytes, with no I/O: the admission handler
// runs it on its own thread for ordinary reviews and on the review worker (review-worker.ts) for
// large ones, so both paths give the same answers by construction.
import type { AdmissionResponse, ResourceValidator } from '@kaos/api-types';
import { mutate, parseAdmissionReview, validate, type RoutingConfig } from '@kaos/routing';

/** Which of the two admission webhooks a review was sent to. */
export type WebhookName = 'mutate' | 'validate';

/** What the handler needs to log and count a decided review (the request's identity and the result). */
export interface DecisionSummary {
  uid: string;
  kind: string;
  operation: string;
  namespace?: string;
  name?: string;
  dryRun: boolean;
  result: 'allowed' | 'denied' | 'patched' | 'warned';
  reason?: string;
  warnings?: string[];
}

/** A review the webhook could not decide: answered with `status` and the message as its error. */
export interface ReviewRefusal {
  status: number;
  reason: string;
  message: string;
}

/** Either the AdmissionReview answer (JSON text) with its summary, or why the body was refused. */
export type ReviewDecision = { answer: string; summary: DecisionSummary } | { refusal: ReviewRefusal };

function resultOf(response: AdmissionResponse): DecisionSummary['result'] {
  if (!response.allowed) return 'denied';
  if (response.patch) return 'patched';
  if (response.warnings?.length) return 'warned';
  return 'allowed';
}

/** Decides one review from its raw UTF-8 body: parse, check the envelope, mutate or validate, serialize. */
export function decideReview(body: Uint8Array, webhook: WebhookName, config: RoutingConfig, validator: ResourceValidator): ReviewDecision {
  let document: unknown;
  try {
    document = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
  } catch (error) {
    return { refusal: { status: 400, reason: 'malformed_json', message: `body is not valid JSON: ${(error as Error).message}` } };
  }
  const parsed = parseAdmissionReview(document);
  if ('badRequest' in parsed) return { refusal: { status: 400, reason: 'not_a_review', message: parsed.badRequest } };
  const { request } = parsed;
  const outcome = webhook === 'mutate' ? mutate(request, config) : validate(request, config, validator);
  if ('badRequest' in outcome) return { refusal: { status: 400, reason: 'unhandled_kind', message: outcome.badRequest } };
  const { response } = outcome;
  const summary: DecisionSummary = {
    uid: request.uid,
    kind: request.kind.kind,
    operation: request.operation,
    dryRun: request.dryRun ?? false,
    result: resultOf(response),
  };
  if (request.namespace !== undefined) summary.namespace = request.namespace;
  if (request.name !== undefined) summary.name = request.name;
  if (response.status?.message) summary.reason = response.status.message;
  if (response.warnings) summary.warnings = response.warnings;
  return { answer: JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response }), summary };
}
