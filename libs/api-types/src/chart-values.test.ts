import { describe, expect, it } from '@jest/globals';
import { Ajv } from 'ajv';
import { helmValuesJsonSchema, HelmValuesSchema, type HelmValues } from './chart-values.js';

const defaults: HelmValues = {
  gatewayAPI: { enabled: false, gatewayName: 'kaos-gateway', gatewayNamespace: '', createGateway: false, gatewayClassName: '', listenerPort: 80 },
  gateway: { defaultTimeouts: { agent: '120s', modelAPI: '120s', mcp: '30s' } },
  image: { registry: 'ghcr.io', pullPolicy: 'IfNotPresent', pullSecrets: [] },
  webhook: {
    replicas: 2,
    image: { repository: 'kaos-tools/kaos-routing-webhook', tag: '', digest: '' },
    port: 9443,
    healthPort: 8081,
    timeoutSeconds: 10,
    shutdownDelaySeconds: 10,
    drainSeconds: 5,
    maxInFlightMiB: 14,
    maxConcurrentReviews: 64,
    routeGuardFailurePolicy: 'Fail',
    excludedNamespaces: [],
    logLevel: 'info',
    nodeOptions: '',
    resources: {},
    podDisruptionBudget: { enabled: true, minAvailable: 1 },
    topologySpreadConstraints: [],
    nodeSelector: {},
    tolerations: [],
    affinity: {},
    podAnnotations: {},
    podLabels: {},
  },
  controller: {
    replicas: 1,
    image: { repository: 'kaos-tools/kaos-routing-controller', tag: '', digest: '' },
    healthPort: 8082,
    concurrency: 4,
    resyncPeriodSeconds: 600,
    leaderElection: { enabled: true, leaseDurationSeconds: 15, renewDeadlineSeconds: 10, retryPeriodSeconds: 2 },
    logLevel: 'info',
    nodeOptions: '',
    resources: {},
    nodeSelector: {},
    tolerations: [],
    affinity: {},
    podAnnotations: {},
    podLabels: {},
  },
  metrics: { secure: true, port: 8443 },
  certManager: { enabled: false, issuerRef: {}, duration: '2160h', renewBefore: '360h' },
  localMode: { enabled: false, webhookHost: '127.0.0.1', webhookPort: 9443 },
  serviceAccount: { annotations: {} },
  nameOverride: '',
  fullnameOverride: '',
};

const validate = new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(helmValuesJsonSchema()) as object);
const withGateway = (changes: Partial<HelmValues['gatewayAPI']>): HelmValues => ({ ...defaults, gatewayAPI: { ...defaults.gatewayAPI, ...changes } });
const withTimeout = (agent: string): HelmValues => ({ ...defaults, gateway: { defaultTimeouts: { ...defaults.gateway.defaultTimeouts, agent } } });

describe('the Helm values schema', () => {
  it('is draft-07 JSON Schema derived from the TypeBox definition', () => {
    const schema = JSON.parse(helmValuesJsonSchema()) as Record<string, unknown>;
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(schema.properties).toEqual(JSON.parse(JSON.stringify(HelmValuesSchema.properties)));
  });

  it.each([
    ['the defaults', defaults, true],
    ['an existing Gateway in another namespace', withGateway({ enabled: true, gatewayName: 'my-gateway', gatewayNamespace: 'gateway-ns' }), true],
    ['a created Gateway', withGateway({ enabled: true, createGateway: true, gatewayClassName: 'envoy-gateway' }), true],
    ['a compound duration', withTimeout('1h30m'), true],
    ['a zero duration', withTimeout('0s'), true],
    ['a duration in words', withTimeout('5 minutes'), false],
    ['a duration with five components', withTimeout('1h1m1s1ms1s'), false],
    ['port 0', withGateway({ listenerPort: 0 }), false],
    ['port 65536', withGateway({ listenerPort: 65536 }), false],
    ['a Gateway name with an underscore', withGateway({ gatewayName: 'my_gateway' }), false],
    ['a Gateway namespace with a dot', withGateway({ gatewayNamespace: 'a.b' }), false],
    ['an unknown key', { ...defaults, gatewayAPI: { ...defaults.gatewayAPI, enable: true } } as HelmValues, false],
    ['plain-HTTP metrics', { ...defaults, metrics: { secure: false, port: 8443 } }, true],
    ['metrics port 0', { ...defaults, metrics: { secure: true, port: 0 } }, false],
    ['metrics.secure as a string', { ...defaults, metrics: { secure: 'false', port: 8443 } } as unknown as HelmValues, false],
  ])('%s: valid=%s', (_name, values, valid) => {
    expect(validate(values)).toBe(valid);
  });
});
