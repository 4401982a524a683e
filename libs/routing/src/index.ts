export * from './config.js';
export * from './diff.js';
export * from './duration.js';
export * from './naming.js';
export * from './problems.js';
export * from './route.js';
export * from './validation.js';
