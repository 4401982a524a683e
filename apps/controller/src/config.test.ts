import { describe, expect, it } from '@jest/globals';
import { ConfigError, type Environment } from '@kaos/routing';
import { loadControllerConfig } from './config.js';

describe('loadControllerConfig', () => {
  it('fills in the defaults', () => {
    expect(loadControllerConfig({ POD_NAMESPACE: 'kaos-system', POD_NAME: 'c-1' })).toMatchObject({
      healthPort: 8082,
      concurrency: 4,
      resyncSeconds: 600,
      leaderElection: { enabled: true, namespace: 'kaos-system', leaseName: 'kaos-routing-controller', identity: expect.stringMatching(/^c-1_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/), timing: { leaseDurationSeconds: 15, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 } },
    });
  });

  it.each<[string, Environment, string | undefined]>([
    ['off by default', { LEADER_ELECTION: 'false' }, undefined],
    ['on with a file', { LEADER_ELECTION: 'false', STAGE_TRACE_FILE: '/tmp/stages.jsonl' }, '/tmp/stages.jsonl'],
  ])('reads the stage trace file: %s', (_case, env, file) => {
    expect(loadControllerConfig(env).stageTraceFile).toBe(file);
  });

  it('runs without leader election and without a namespace', () => {
    expect(loadControllerConfig({ LEADER_ELECTION: 'false' }).leaderElection.enabled).toBe(false);
  });

  it.each<[string, Environment, string[]]>([
    ['leader election without namespace', {}, ['LEADER_ELECTION_NAMESPACE: is required when LEADER_ELECTION is true']],
    ['a bad switch', { LEADER_ELECTION: 'on', POD_NAMESPACE: 'x' }, ['LEADER_ELECTION: must be "true" or "false", not "on"']],
    ['a renew deadline not below the lease duration', { POD_NAMESPACE: 'x', RENEW_DEADLINE_SECONDS: '15' }, ['RENEW_DEADLINE_SECONDS: must be less than LEASE_DURATION_SECONDS (15)']],
    ['a retry period not below the renew deadline', { POD_NAMESPACE: 'x', RETRY_PERIOD_SECONDS: '10' }, ['RETRY_PERIOD_SECONDS: must be less than RENEW_DEADLINE_SECONDS (10)']],
    ['zero concurrency', { POD_NAMESPACE: 'x', CONCURRENCY: '0' }, ['CONCURRENCY: must be a whole number from 1 to 64, not "0"']],
    ['a routing problem and a port problem', { POD_NAMESPACE: 'x', GATEWAY_API_ENABLED: 'yes', HEALTH_PORT: '0' }, ['GATEWAY_API_ENABLED: must be "true" or "false"', 'HEALTH_PORT: must be a whole number from 1 to 65535']],
  ])('rejects %s, naming the variable', (_name, env, fragments) => {
    let caught: unknown;
    try {
      loadControllerConfig(env);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const lines = (caught as ConfigError).problems.map((problem) => `${problem.field}: ${problem.message}`);
    expect(lines).toHaveLength(fragments.length);
    fragments.forEach((fragment, index) => expect(lines[index]).toContain(fragment));
  });
});
