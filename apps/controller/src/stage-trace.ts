// Where a resource's time goes between its creation and its route: with STAGE_TRACE_FILE set, the
// controller appends one JSON line per stage of each key (`{"key","stage","t"}`, t in epoch ms with
// a fraction) to that file; npm run bench:controller reads it back into per-stage percentiles
// (docs/adr/0020-controller-lag.md). Off (the default), marking costs one function call.
import { createWriteStream } from 'node:fs';

/**
 * The stages of a key, in the order one reconcile meets them: the watch delivered the resource,
 * the queue took the key in and handed it to a worker, the route create, status patch and Event
 * were sent and answered, and the reconcile returned.
 */
export const STAGES = ['watch', 'enqueued', 'dequeued', 'route-sent', 'route-acked', 'status-sent', 'status-acked', 'event-sent', 'event-acked', 'done'] as const;
export type Stage = (typeof STAGES)[number];

/** Marks stages of keys; `close` flushes what was written. */
export interface StageTrace {
  readonly enabled: boolean;
  mark(key: string, stage: Stage): void;
  close(): Promise<void>;
}

/** The trace that records nothing. */
export const NO_TRACE: StageTrace = { enabled: false, mark: () => {}, close: () => Promise.resolve() };

/** One line of the trace file. */
export function stageLine(key: string, stage: Stage, t: number): string {
  return `${JSON.stringify({ key, stage, t })}\n`;
}

/** The time of a mark: epoch milliseconds with a sub-millisecond fraction (the bench runs on the same clock). */
const preciseNow = () => performance.timeOrigin + performance.now();

/** A trace appending to `path` through one buffered stream, or NO_TRACE without a path. */
export function createStageTrace(path: string | undefined, now: () => number = preciseNow): StageTrace {
  if (!path) return NO_TRACE;
  const out = createWriteStream(path, { flags: 'a' });
  return {
    enabled: true,
    mark: (key, stage) => void out.write(stageLine(key, stage, now())),
    close: () => new Promise((resolve) => out.end(resolve)),
  };
}
