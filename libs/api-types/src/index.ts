export * from './schemas/kubernetes.js';
export * from './schemas/common.js';
export * from './schemas/resources.js';
export * from './gateway-api.js';
export * from './kinds.js';
export * from './crd.js';
export * from './problems.js';
export * from './validation.js';
