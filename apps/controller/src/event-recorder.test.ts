import { describe, expect, it } from '@jest/globals';
import type { KaosResource } from '@kaos/api-types';
import { FIELD_MANAGER } from '@kaos/routing';
import type { ApiRequest } from '@kaos/kube-runtime';
import { createEventRecorder, EVENT_INTERVAL_MS, eventBody, eventPoster } from './event-recorder.js';

const agent = (uid = 'u-1', apiVersion: string | undefined = 'kaos.tools/v1alpha1') => ({ apiVersion, kind: 'Agent', metadata: { name: 'a', namespace: 'prod', uid }, spec: { modelAPI: 'm' } }) as KaosResource;

/** A recorder on a fake CoreV1Api and a settable clock; `fail` makes the API refuse. */
function setup(fail = false) {
  let clock = Date.parse('2026-11-30T10:00:00.000Z');
  const posted: Array<{ namespace: string; body: Record<string, unknown> }> = [];
  const warnings: unknown[] = [];
  let writes = 0;
  const post = async (namespace: string, body: unknown) => {
    posted.push({ namespace, body: body as Record<string, unknown> });
    if (fail) throw new Error('forbidden');
    return body;
  };
  const record = createEventRecorder(post, { warn: ((message: string, fields: unknown) => void warnings.push([message, fields])) as never }, () => void writes++, () => clock);
  return { record, posted, warnings, writes: () => writes, advance: (ms: number) => void (clock += ms) };
}

describe('eventBody', () => {
  it('is one occurrence reported by our field manager, named after the object', () => {
    const involvedObject = { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', name: 'agents.kaos.tools', uid: 'c-1' };
    expect(eventBody('default', involvedObject, 'Warning', 'CRDIncompatible', 'm', '2026-11-30T10:00:00.000Z')).toEqual({
      metadata: { generateName: 'agents.kaos.tools.', namespace: 'default' },
      involvedObject,
      type: 'Warning',
      reason: 'CRDIncompatible',
      message: 'm',
      firstTimestamp: '2026-11-30T10:00:00.000Z',
      lastTimestamp: '2026-11-30T10:00:00.000Z',
      count: 1,
      source: { component: FIELD_MANAGER },
      reportingComponent: FIELD_MANAGER,
    });
  });
});

describe('eventPoster', () => {
  it('posts the Event in its namespace as client-node does: no field manager, JSON', async () => {
    const sent: ApiRequest[] = [];
    const body = eventBody('prod', { kind: 'Agent', name: 'a', namespace: 'prod' }, 'Normal', 'RouteCreated', 'm', '2026-11-30T10:00:00.000Z');
    const options: unknown[] = [];
    await eventPoster(async (request, option) => void (sent.push(request), options.push(option)))('prod', body);
    expect(sent).toEqual([{ method: 'POST', path: '/api/v1/namespaces/prod/events', body, contentType: 'application/json' }]);
    expect(options).toEqual([{ answer: false }]);
  });
});

describe('createEventRecorder', () => {
  it.each<[string, string | undefined, string]>([
    ['its apiVersion', 'kaos.tools/v1alpha1', 'kaos.tools/v1alpha1'],
    ['ours when it has none', undefined, 'kaos.tools/v1alpha1'],
  ])('posts an Event on the resource in its namespace, with %s', (_name, apiVersion, expected) => {
    const { record, posted, writes } = setup();
    record(agent('u-1', apiVersion), 'Warning', 'RouteConflict', 'a foreign route has the name');
    expect(posted).toEqual([
      {
        namespace: 'prod',
        body: eventBody('prod', { apiVersion: expected, kind: 'Agent', name: 'a', namespace: 'prod', uid: 'u-1' }, 'Warning', 'RouteConflict', 'a foreign route has the name', '2026-11-30T10:00:00.000Z'),
      },
    ]);
    expect(writes()).toBe(1);
  });

  it.each<[string, Array<[string, string, number]>, number]>([
    // events as [uid, reason, ms after the previous one], Events posted
    ['the same reason twice within a minute', [['u-1', 'R', 0], ['u-1', 'R', EVENT_INTERVAL_MS - 1]], 1],
    ['the same reason a minute later', [['u-1', 'R', 0], ['u-1', 'R', EVENT_INTERVAL_MS]], 2],
    ['two reasons', [['u-1', 'R', 0], ['u-1', 'S', 0]], 2],
    ['two resources', [['u-1', 'R', 0], ['u-2', 'R', 0]], 2],
  ])('posts at most one Event per resource and reason a minute: %s', (_name, events, count) => {
    const { record, posted, advance } = setup();
    for (const [uid, reason, after] of events) {
      advance(after);
      record(agent(uid), 'Normal', reason, 'm');
    }
    expect(posted).toHaveLength(count);
  });

  it('forgets resources not seen for a minute, so the limiter does not grow with every resource ever seen', () => {
    const { record, posted, advance } = setup();
    for (let i = 0; i < 100; i++) record(agent(`old-${i}`), 'Normal', 'R', 'm');
    advance(EVENT_INTERVAL_MS);
    record(agent('new'), 'Normal', 'R', 'm');
    // Every old entry was dropped: one of them may post again at once, the new one may not.
    record(agent('old-0'), 'Normal', 'R', 'm');
    record(agent('new'), 'Normal', 'R', 'm');
    expect(posted).toHaveLength(102);
  });

  it('logs a refused Event instead of failing', async () => {
    const { record, warnings } = setup(true);
    record(agent(), 'Warning', 'R', 'm');
    await new Promise((resolve) => setImmediate(resolve));
    expect(warnings).toEqual([['could not record event', { reason: 'R', namespace: 'prod', name: 'a', error: 'forbidden' }]]);
  });
});
