// Public surface of the webhook's TLS management, for main.ts and the HTTPS server.
export {
  StaleBundleError,
  WebhookConfigurationNotFoundError,
  createCaInjector,
  type CaInjector,
  type CaInjectorOptions,
  type InjectOptions,
  type WebhookConfigurationsApi,
} from './ca-injector.js';
export {
  DEFAULT_CHECK_INTERVAL_MS,
  DEFAULT_POLL_INTERVAL_MS,
  DEFAULT_PROPAGATION_DELAY_MS,
  startCertificateManager,
  type CertificateManager,
  type CertificateManagerOptions,
  type CertificateState,
} from './cert-manager.js';
export { CertificateError, inspectCertificate, webhookSubjectAltNames, type SubjectAltNames } from './certificates.js';
export { DEFAULT_ROTATION_POLICY, rotationPolicyProblems, type RotationPolicy, type TlsMaterial } from './rotation.js';
export { createSecretStore, type SecretStore, type SecretStoreOptions, type SecretsApi } from './secret-store.js';
export { TLS_CIPHERS, TLS_MIN_VERSION, tlsServerOptions } from './server-options.js';
