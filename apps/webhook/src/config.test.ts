import { describe, expect, it } from '@jest/globals';
import { ConfigError, type Environment } from '@kaos/routing';
import { loadWebhookConfig } from './config.js';

const base: Environment = { POD_NAMESPACE: 'kaos-system', WEBHOOK_SERVICE_NAME: 'kaos-operator-webhook' };

describe('loadWebhookConfig', () => {
  it('fills in the defaults', () => {
    const config = loadWebhookConfig(base);
    expect(config).toMatchObject({
      webhookPort: 9443,
      healthPort: 8081,
      tlsMode: 'generate',
      secretName: 'kaos-operator-webhook-tls',
      extraDnsNames: [],
      extraIpAddresses: [],
      maxBodyBytes: 3.5 * 1024 * 1024,
      maxConcurrentReviews: 64,
      maxInFlightBytes: 14 * 1024 * 1024,
      shutdownDrainSeconds: 5,
      shutdownGraceSeconds: 10,
    });
  });

  it('reads every variable', () => {
    const config = loadWebhookConfig({
      ...base,
      WEBHOOK_PORT: '10443',
      HEALTH_PORT: '10080',
      BIND_ADDRESS: '127.0.0.1',
      WEBHOOK_SECRET_NAME: 'certs',
      WEBHOOK_SECRET_LABELS: '{"app.kubernetes.io/instance":"kaos-operator","app.kubernetes.io/managed-by":"Helm"}',
      TLS_EXTRA_DNS_NAMES: 'localhost, webhook.local',
      TLS_EXTRA_IPS: '127.0.0.1,::1',
      MUTATING_WEBHOOK_CONFIGURATION: 'm',
      VALIDATING_WEBHOOK_CONFIGURATION: 'v',
      MAX_BODY_BYTES: '2048',
      MAX_CONCURRENT_REVIEWS: '4',
      MAX_IN_FLIGHT_BYTES: '1048576',
      SHUTDOWN_DRAIN_SECONDS: '8',
      SHUTDOWN_GRACE_SECONDS: '0',
    });
    expect(config).toMatchObject({
      webhookPort: 10443,
      healthPort: 10080,
      bindAddress: '127.0.0.1',
      secretName: 'certs',
      secretLabels: { 'app.kubernetes.io/instance': 'kaos-operator', 'app.kubernetes.io/managed-by': 'Helm' },
      extraDnsNames: ['localhost', 'webhook.local'],
      extraIpAddresses: ['127.0.0.1', '::1'],
      mutatingWebhookConfiguration: 'm',
      validatingWebhookConfiguration: 'v',
      maxBodyBytes: 2048,
      maxConcurrentReviews: 4,
      maxInFlightBytes: 1048576,
      shutdownDrainSeconds: 8,
      shutdownGraceSeconds: 0,
    });
  });

  it('needs no Service or namespace in files mode', () => {
    expect(loadWebhookConfig({ TLS_MODE: 'files', TLS_CERT_DIR: '/certs' })).toMatchObject({ tlsMode: 'files', tlsCertDir: '/certs' });
  });

  it.each<[string, Environment, string[]]>([
    ['a port out of range', { ...base, WEBHOOK_PORT: '70000' }, ['WEBHOOK_PORT: must be a whole number from 1 to 65535, not "70000"']],
    ['equal ports', { ...base, WEBHOOK_PORT: '8081' }, ['HEALTH_PORT: must differ from WEBHOOK_PORT (8081)']],
    ['an unknown TLS mode', { ...base, TLS_MODE: 'acme' }, ['TLS_MODE: must be "generate" or "files", not "acme"']],
    [
      'generate mode without identity',
      {},
      ['POD_NAMESPACE: is required when TLS_MODE is generate', 'WEBHOOK_SERVICE_NAME: is required', 'WEBHOOK_SECRET_NAME: is required'],
    ],
    ['a Service name with dots', { ...base, WEBHOOK_SERVICE_NAME: 'a.b' }, ['WEBHOOK_SERVICE_NAME: "a.b" must be a DNS-1035 label']],
    ['Secret labels that are not a JSON object of strings', { ...base, WEBHOOK_SECRET_LABELS: '{"a":1}' }, ['WEBHOOK_SECRET_LABELS: must be a JSON object of strings']],
    ['Secret labels that are not JSON', { ...base, WEBHOOK_SECRET_LABELS: 'a=b' }, ['WEBHOOK_SECRET_LABELS: must be a JSON object of strings']],
    ['a bad extra IP', { ...base, TLS_EXTRA_IPS: '127.0.0.1,localhost' }, ['TLS_EXTRA_IPS: "localhost" is not an IP address']],
    ['a bad extra name', { ...base, TLS_EXTRA_DNS_NAMES: 'Web_Hook' }, ['TLS_EXTRA_DNS_NAMES: "Web_Hook" must be a DNS-1123 subdomain']],
    ['no concurrent reviews', { ...base, MAX_CONCURRENT_REVIEWS: '0' }, ['MAX_CONCURRENT_REVIEWS: must be a whole number from 1 to 10000']],
    ['a negative drain', { ...base, SHUTDOWN_DRAIN_SECONDS: '-1' }, ['SHUTDOWN_DRAIN_SECONDS: must be a whole number from 0 to 600']],
    ['a tiny body limit', { ...base, MAX_BODY_BYTES: '10' }, ['MAX_BODY_BYTES: must be a whole number from 1024']],
    ['a routing problem too', { ...base, GATEWAY_DEFAULT_AGENT_TIMEOUT: '2 min', HEALTH_PORT: 'x' }, ['GATEWAY_DEFAULT_AGENT_TIMEOUT: "2 min"', 'HEALTH_PORT: must be a whole number']],
  ])('rejects %s, naming the variable', (_name, env, fragments) => {
    let caught: unknown;
    try {
      loadWebhookConfig(env);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const lines = (caught as ConfigError).problems.map((problem) => `${problem.field}: ${problem.message}`);
    expect(lines).toHaveLength(fragments.length);
    fragments.forEach((fragment, index) => expect(lines[index]).toContain(fragment));
  });
});
