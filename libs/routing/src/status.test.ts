import { describe, expect, it } from '@jest/globals';
import type { Condition, Gateway, HTTPRoute } from '@kaos/api-types';
import { agent, enabledConfig, mcpServer } from './fixtures.test-helpers.js';
import { desiredRoute } from './route.js';
import { ROUTE_READY, gatewayStatus, invalidRoute, reportedConditions, routeUrl } from './status.js';

const now = new Date('2026-11-26T10:00:00Z');
const earlier = '2026-11-25T09:00:00Z';

function gateway(addresses: Array<{ value: string }> | undefined, port = 80): Gateway {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name: 'kaos-gateway', namespace: 'kaos-system' },
    spec: { gatewayClassName: 'envoy', listeners: [{ name: 'http', port, protocol: 'HTTP' }] },
    ...(addresses ? { status: { addresses } } : {}),
  };
}

const reported = (type: string, status: Condition['status'], observedGeneration = 1, reason = type): Condition => ({
  type,
  status,
  reason,
  message: `${type} is ${status}`,
  lastTransitionTime: earlier,
  observedGeneration,
});

/** Our route as the API server returns it, with a status written by a Gateway implementation. */
function liveRoute(conditions: Condition[], parentRef = { name: 'kaos-gateway', namespace: 'kaos-system' }, generation = 1): HTTPRoute {
  const route = desiredRoute(agent(), enabledConfig)!;
  return {
    ...route,
    metadata: { ...route.metadata, generation },
    status: { parents: [{ parentRef, controllerName: 'gateway.envoyproxy.io/gatewayclass-controller', conditions }] },
  };
}

describe('routeUrl', () => {
  it.each<[string, Gateway | undefined, string]>([
    ['no Gateway', undefined, '/prod/agent/a'],
    ['a Gateway without addresses', gateway(undefined), '/prod/agent/a'],
    ['an IPv4 address on port 80', gateway([{ value: '203.0.113.7' }]), 'http://203.0.113.7/prod/agent/a'],
    ['a hostname on port 8080', gateway([{ value: 'gw.example.com' }], 8080), 'http://gw.example.com:8080/prod/agent/a'],
    ['an IPv6 address', gateway([{ value: '2001:db8::1' }]), 'http://[2001:db8::1]/prod/agent/a'],
  ])('%s → %s', (_name, gw, url) => {
    expect(routeUrl(agent(), gw)).toBe(url);
  });
});

describe('reportedConditions', () => {
  it.each<[string, HTTPRoute, string[]]>([
    ['our Gateway, current generation', liveRoute([reported('Accepted', 'True'), reported('ResolvedRefs', 'True')]), ['Accepted', 'ResolvedRefs']],
    ['a stale generation', liveRoute([reported('Accepted', 'True', 1)], undefined, 2), []],
    ['another Gateway', liveRoute([reported('Accepted', 'True')], { name: 'other', namespace: 'kaos-system' }), []],
    ['implementation-specific conditions', liveRoute([reported('Accepted', 'True'), reported('PartiallyInvalid', 'True')]), ['Accepted']],
    ['no status', desiredRoute(agent(), enabledConfig)!, []],
  ])('%s', (_name, route, types) => {
    expect(reportedConditions(route, enabledConfig).map((c) => c.type)).toEqual(types);
  });
});

describe('gatewayStatus', () => {
  const ready = (status: ReturnType<typeof gatewayStatus>) => status.conditions!.find((c) => c.type === ROUTE_READY)!;

  it('reports an accepted route with URL, mirrored conditions and RouteReady', () => {
    const status = gatewayStatus({
      resource: agent({ metadata: { generation: 4 } }),
      config: enabledConfig,
      route: liveRoute([reported('Accepted', 'True'), reported('ResolvedRefs', 'True')]),
      gateway: gateway([{ value: '203.0.113.7' }]),
      now,
    });
    expect(status).toEqual({
      url: 'http://203.0.113.7/prod/agent/a',
      routeName: 'agent-a',
      accepted: true,
      observedGeneration: 4,
      conditions: [
        { type: 'Accepted', status: 'True', reason: 'Accepted', message: 'Accepted is True', lastTransitionTime: now.toISOString(), observedGeneration: 4 },
        { type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs', message: 'ResolvedRefs is True', lastTransitionTime: now.toISOString(), observedGeneration: 4 },
        { type: 'RouteReady', status: 'True', reason: 'Ready', message: 'the Gateway accepted the HTTPRoute', lastTransitionTime: now.toISOString(), observedGeneration: 4 },
      ],
    });
  });

  it.each<[string, Condition[], Condition['status'], string, string]>([
    ['no report yet', [], 'Unknown', 'Pending', 'waiting for the Gateway'],
    ['not accepted', [reported('Accepted', 'False', 1, 'NotAllowedByListeners')], 'False', 'NotAccepted', 'did not accept the HTTPRoute: NotAllowedByListeners'],
    ['accepted, backend missing', [reported('Accepted', 'True'), reported('ResolvedRefs', 'False', 1, 'BackendNotFound')], 'False', 'NotAccepted', 'cannot resolve the backend: BackendNotFound'],
  ])('reports %s', (_name, conditions, status, reason, message) => {
    const result = gatewayStatus({ resource: agent(), config: enabledConfig, route: liveRoute(conditions), now });
    expect(ready(result)).toMatchObject({ status, reason });
    expect(ready(result).message).toContain(message);
    expect(result.url).toBe('/prod/agent/a');
  });

  it('reports a route still being created as Pending', () => {
    expect(ready(gatewayStatus({ resource: mcpServer(), config: enabledConfig, now }))).toMatchObject({ status: 'Unknown', reason: 'Pending' });
  });

  it('reports a blocked resource with its reason and message, without URL', () => {
    const status = gatewayStatus({
      resource: agent(),
      config: enabledConfig,
      blocked: invalidRoute([{ field: 'metadata.name', message: 'too long' }]),
      now,
    });
    expect(status).toEqual({
      routeName: 'agent-a',
      accepted: false,
      conditions: [{ type: 'RouteReady', status: 'False', reason: 'InvalidRoute', message: 'metadata.name: too long', lastTransitionTime: now.toISOString() }],
    });
  });

  it('keeps lastTransitionTime while a condition keeps its status, and moves it on a change', () => {
    const previous: Condition[] = [
      { type: 'RouteReady', status: 'True', reason: 'Ready', message: '', lastTransitionTime: earlier },
      { type: 'Accepted', status: 'False', reason: 'X', message: '', lastTransitionTime: earlier },
    ];
    const status = gatewayStatus({ resource: agent(), config: enabledConfig, route: liveRoute([reported('Accepted', 'True'), reported('ResolvedRefs', 'True')]), previous, now });
    expect(ready(status).lastTransitionTime).toBe(earlier);
    expect(status.conditions!.find((c) => c.type === 'Accepted')!.lastTransitionTime).toBe(now.toISOString());
  });
});
