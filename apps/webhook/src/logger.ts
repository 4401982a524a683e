// The shared logger lives in @kaos/kube-runtime; this re-export only keeps the imports of files
// other work is editing right now working. Import from @kaos/kube-runtime instead.
export { createLogger, silentLogger, type Logger, type LoggerOptions } from '@kaos/kube-runtime';
