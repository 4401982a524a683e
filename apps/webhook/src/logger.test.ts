import { describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import winston from 'winston';
import { createLogger } from './logger.js';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, logger: createLogger('debug', 'webhook', new winston.transports.Stream({ stream })) };
}

describe('the webhook logger', () => {
  it.each([
    ['an Error among the fields', (logger: winston.Logger) => logger.error('failed to start', { error: new TypeError('no Kubernetes credentials: set KUBECONFIG') }), 'failed to start'],
    ['an Error as the message', (logger: winston.Logger) => logger.error(new TypeError('no Kubernetes credentials: set KUBECONFIG')), 'no Kubernetes credentials: set KUBECONFIG'],
  ])('writes %s with its message and stack', (_name, log, message) => {
    const { lines, logger } = capture();
    log(logger);
    const line = JSON.parse(lines[0]!) as { message: string; component: string; error?: { name: string; message: string; stack: string }; stack?: string };
    expect(line.message).toBe(message);
    expect(line.component).toBe('webhook');
    const stack = line.error?.stack ?? line.stack;
    expect(stack).toContain('TypeError: no Kubernetes credentials: set KUBECONFIG');
    if (line.error) expect(line.error).toMatchObject({ name: 'TypeError', message: 'no Kubernetes credentials: set KUBECONFIG' });
  });
});
