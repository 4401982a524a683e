import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { NO_TRACE, createStageTrace, stageLine } from './stage-trace.js';

const dir = mkdtempSync(join(tmpdir(), 'stage-trace-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('stage trace', () => {
  it.each([
    ['a key and a stage', 'Agent/ns/a', 'watch' as const, 1_700_000_000_000.25, '{"key":"Agent/ns/a","stage":"watch","t":1700000000000.25}\n'],
    ['a name that needs escaping', 'MCPServer/ns/"x"', 'route-acked' as const, 1, '{"key":"MCPServer/ns/\\"x\\"","stage":"route-acked","t":1}\n'],
  ])('writes one JSON line for %s', (_case, key, stage, t, line) => {
    expect(stageLine(key, stage, t)).toBe(line);
  });

  it('is off without a file', () => {
    expect(createStageTrace(undefined)).toBe(NO_TRACE);
    expect(NO_TRACE.enabled).toBe(false);
  });

  it('appends every mark to the file, in order, on the clock it is given', async () => {
    const path = join(dir, 'stages.jsonl');
    let now = 10;
    const trace = createStageTrace(path, () => now++);
    expect(trace.enabled).toBe(true);
    trace.mark('Agent/ns/a', 'enqueued');
    trace.mark('Agent/ns/a', 'dequeued');
    await trace.close();
    expect(readFileSync(path, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as unknown)).toEqual([
      { key: 'Agent/ns/a', stage: 'enqueued', t: 10 },
      { key: 'Agent/ns/a', stage: 'dequeued', t: 11 },
    ]);
  });
});
