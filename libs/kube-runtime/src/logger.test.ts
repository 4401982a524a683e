import { describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import winston from 'winston';
import { createLogger, silentLogger } from './logger.js';

function capture(component: string, level = 'debug') {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, logger: createLogger({ component, level, transport: new winston.transports.Stream({ stream }) }) };
}

type Line = { level: string; message: string; component: string; timestamp: string; error?: { name: string; message: string; stack: string }; stack?: string; [field: string]: unknown };

describe('createLogger', () => {
  it.each(['controller', 'webhook'])('writes one JSON object per line with level, message, component %s, timestamp and fields', (component) => {
    const { lines, logger } = capture(component);
    logger.info('caches synced', { routes: 3 });
    expect(lines).toHaveLength(1);
    expect(lines[0]!.endsWith('\n')).toBe(true);
    const line = JSON.parse(lines[0]!) as Line;
    expect(line).toEqual({ level: 'info', message: 'caches synced', component, routes: 3, timestamp: expect.any(String) });
    expect(new Date(line.timestamp).toISOString()).toBe(line.timestamp);
    // Field order is part of the format some readers grep: the message first, component after the fields.
    expect(Object.keys(line)).toEqual(['component', 'level', 'message', 'routes', 'timestamp']);
  });

  it.each([
    ['controller', 'an Error among the fields', (logger: winston.Logger) => logger.error('failed to start', { error: new TypeError('no Kubernetes credentials: set KUBECONFIG') }), 'failed to start'],
    ['webhook', 'an Error among the fields', (logger: winston.Logger) => logger.error('failed to start', { error: new TypeError('no Kubernetes credentials: set KUBECONFIG') }), 'failed to start'],
    ['controller', 'an Error as the message', (logger: winston.Logger) => logger.error(new TypeError('no Kubernetes credentials: set KUBECONFIG')), 'no Kubernetes credentials: set KUBECONFIG'],
    ['webhook', 'an Error as the message', (logger: winston.Logger) => logger.error(new TypeError('no Kubernetes credentials: set KUBECONFIG')), 'no Kubernetes credentials: set KUBECONFIG'],
  ])('%s: writes %s with its message and stack', (component, _name, log, message) => {
    const { lines, logger } = capture(component);
    log(logger);
    const line = JSON.parse(lines[0]!) as Line;
    expect(line.message).toBe(message);
    expect(line.component).toBe(component);
    const stack = line.error?.stack ?? line.stack;
    expect(stack).toContain('TypeError: no Kubernetes credentials: set KUBECONFIG');
    if (line.error) expect(line.error).toMatchObject({ name: 'TypeError', message: 'no Kubernetes credentials: set KUBECONFIG' });
  });

  it.each([
    ['info', ['info', 'warn', 'error']],
    ['warn', ['warn', 'error']],
    ['debug', ['debug', 'info', 'warn', 'error']],
  ])('at level %s writes %j', (level, written) => {
    const { lines, logger } = capture('controller', level);
    for (const each of ['debug', 'info', 'warn', 'error']) logger.log(each, 'x');
    expect(lines.map((line) => (JSON.parse(line) as Line).level)).toEqual(written);
  });

  it('defaults to LOG_LEVEL, then info, on stdout', () => {
    const saved = process.env.LOG_LEVEL;
    try {
      process.env.LOG_LEVEL = 'warn';
      expect(createLogger({ component: 'c' }).level).toBe('warn');
      delete process.env.LOG_LEVEL;
      expect(createLogger({ component: 'c' }).level).toBe('info');
    } finally {
      if (saved === undefined) delete process.env.LOG_LEVEL;
      else process.env.LOG_LEVEL = saved;
    }
  });

  it('has a silent logger for tests', () => {
    expect(silentLogger().silent).toBe(true);
  });
});
