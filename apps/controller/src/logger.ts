import winston from 'winston';

/** Structured JSON logger of the controller; every line carries `component`. */
export type Logger = winston.Logger;

// winston's errors() format only handles an Error passed as the message; an Error among the fields
// would be written as {"name": ...} without its message (message and stack are not enumerable).
const errorFields = winston.format((info) => {
  for (const [key, value] of Object.entries(info)) {
    if (value instanceof Error) info[key] = { name: value.name, message: value.message, ...(value.stack ? { stack: value.stack } : {}) };
  }
  return info;
});

/** Creates the process logger: JSON lines at `LOG_LEVEL` (default info) on stdout, or on `transport`. */
export function createLogger(level = process.env.LOG_LEVEL ?? 'info', component = 'controller', transport: winston.transport = new winston.transports.Console()): Logger {
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
