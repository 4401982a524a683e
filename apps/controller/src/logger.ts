import winston from 'winston';

/** Structured JSON logger of the controller; every line carries `component`. */
export type Logger = winston.Logger;

/** Creates the process logger: JSON lines on stdout at `LOG_LEVEL` (default info). */
export function createLogger(level = process.env.LOG_LEVEL ?? 'info', component = 'controller'): Logger {
  return winston.createLogger({
    level,
    defaultMeta: { component },
    format: winston.format.combine(winston.format.timestamp(), winston.format.errors({ stack: true }), winston.format.json()),
    transports: [new winston.transports.Console()],
  });
}

/** A logger that drops everything, for tests. */
export function silentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });
}
