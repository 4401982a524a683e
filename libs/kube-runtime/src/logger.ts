import winston from 'winston';

/** Structured JSON logger of a KAOS process; every line carries `component`. */
export type Logger = winston.Logger;

/** Options of createLogger. */
export interface LoggerOptions {
  /** Value of the `component` field on every line: `webhook`, `controller`. */
  component: string;
  /** Lowest level written (winston npm levels); default `LOG_LEVEL` or `info`. */
  level?: string;
  /** Where lines go; default stdout. */
  transport?: winston.transport;
}

// winston's errors() format only handles an Error passed as the message; an Error among the fields
// would be written as {"name": ...} without its message (message and stack are not enumerable).
const errorFields = winston.format((info) => {
  for (const [key, value] of Object.entries(info)) {
    if (value instanceof Error) info[key] = { name: value.name, message: value.message, ...(value.stack ? { stack: value.stack } : {}) };
  }
  return info;
});

/**
 * Creates the process logger: one JSON object per line with `level`, `message`, `component`,
 * `timestamp` (ISO 8601) and the fields given; Errors keep their message and stack.
 */
export function createLogger({ component, level = process.env.LOG_LEVEL ?? 'info', transport = new winston.transports.Console() }: LoggerOptions): Logger {
  return winston.createLogger({
    level,
    defaultMeta: { component },
    format: winston.format.combine(winston.format.timestamp(), winston.format.errors({ stack: true }), errorFields(), winston.format.json()),
    transports: [transport],
  });
}

/** A logger that drops everything, for tests. */
export function silentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });
}
