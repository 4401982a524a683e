/** `apiVersion` of the AdmissionReview objects the API server sends to webhooks. */
export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

/** Group/version/kind as admission requests carry it. */
export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

/** The request half of an admission.k8s.io/v1 AdmissionReview. */
export interface AdmissionRequest {
  uid: string;
  kind: GroupVersionKind;
  resource?: { group: string; version: string; resource: string };
  subResource?: string;
  name?: string;
  namespace?: string;
  operation: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  userInfo?: { username?: string; uid?: string; groups?: string[] };
  object?: unknown;
  oldObject?: unknown;
  dryRun?: boolean;
  options?: unknown;
}

/** The response half of an admission.k8s.io/v1 AdmissionReview. */
export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code?: number; reason?: string; message?: string };
  patch?: string;
  patchType?: 'JSONPatch';
  warnings?: string[];
}

/** An admission.k8s.io/v1 AdmissionReview, as request or response. */
export interface AdmissionReview {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: 'AdmissionReview';
  request?: AdmissionRequest;
  response?: AdmissionResponse;
}

/** One RFC 6902 JSON Patch operation (the only patch type admission webhooks may return). */
export type JsonPatchOperation =
  | { op: 'add' | 'replace' | 'test'; path: string; value: unknown }
  | { op: 'remove'; path: string }
  | { op: 'move' | 'copy'; from: string; path: string };
