// Node-side plumbing both apps share: logging, backoff, the ops server with authenticated metrics.
// Unlike libs/api-types and libs/routing this library does I/O (HTTP servers, stdout); Kubernetes
// API calls come in as functions so that it is tested without a server.
export * from './api-request.js';
export * from './backoff.js';
export * from './logger.js';
export * from './metrics-auth.js';
export * from './ops-server.js';
export * from './process-metrics.js';
export * from './self-signed.js';
