import { hostname } from 'node:os';
import type { FieldProblem } from '@kaos/api-types';
import {
  ConfigError,
  dns1123LabelProblem,
  dns1123SubdomainProblem,
  envBoolean,
  envValue,
  envWholeNumber,
  readRoutingConfig,
  type Environment,
  type RoutingConfig,
} from '@kaos/routing';
import { leaderIdentity, type LeaderElectionTiming } from './leader-election.js';

/** Everything the controller process reads from its environment. */
export interface ControllerConfig {
  routing: RoutingConfig;
  /** Plain-HTTP port of /healthz, /readyz, /metrics (`HEALTH_PORT`, 8082). */
  healthPort: number;
  bindAddress: string | undefined;
  /** Reconciles at once per kind (`CONCURRENCY`, 4), as controller-runtime's MaxConcurrentReconciles per controller. */
  concurrency: number;
  /** Every resource is requeued this often to repair anything missed (`RESYNC_PERIOD_SECONDS`, 600). */
  resyncSeconds: number;
  /** `STAGE_TRACE_FILE` (unset: off): where the per-key stage trace goes (stage-trace.ts), for the benchmark. */
  stageTraceFile: string | undefined;
  leaderElection: {
    /** `LEADER_ELECTION` (true): only the holder of the Lease writes. */
    enabled: boolean;
    /** `LEADER_ELECTION_NAMESPACE`, else `POD_NAMESPACE`. */
    namespace: string;
    /** `LEADER_ELECTION_LEASE_NAME` (kaos-routing-controller). */
    leaseName: string;
    /** `<POD_NAME, else the host name>_<uuid>` (client-go's convention): unique per process, even for a restarted pod. */
    identity: string;
    /** `LEASE_DURATION_SECONDS` (15), `RENEW_DEADLINE_SECONDS` (10), `RETRY_PERIOD_SECONDS` (2). */
    timing: LeaderElectionTiming;
  };
}

/** Reads and validates the controller configuration; throws ConfigError naming every bad variable. */
export function loadControllerConfig(env: Environment): ControllerConfig {
  const problems: FieldProblem[] = [];
  const routing = readRoutingConfig(env, problems);
  const healthPort = envWholeNumber(env, 'HEALTH_PORT', 8082, 1, 65535, problems);
  const concurrency = envWholeNumber(env, 'CONCURRENCY', 4, 1, 64, problems);
  const resyncSeconds = envWholeNumber(env, 'RESYNC_PERIOD_SECONDS', 600, 10, 86_400, problems);

  const enabled = envBoolean(env, 'LEADER_ELECTION', true, problems);
  const namespace = envValue(env, 'LEADER_ELECTION_NAMESPACE') ?? envValue(env, 'POD_NAMESPACE') ?? '';
  const leaseName = envValue(env, 'LEADER_ELECTION_LEASE_NAME') ?? 'kaos-routing-controller';
  if (enabled) {
    if (!namespace) problems.push({ field: 'LEADER_ELECTION_NAMESPACE', message: 'is required when LEADER_ELECTION is true (or set POD_NAMESPACE)' });
    else {
      const problem = dns1123LabelProblem(namespace);
      if (problem) problems.push({ field: 'LEADER_ELECTION_NAMESPACE', message: `${JSON.stringify(namespace)} ${problem}` });
    }
    const leaseProblem = dns1123SubdomainProblem(leaseName);
    if (leaseProblem) problems.push({ field: 'LEADER_ELECTION_LEASE_NAME', message: `${JSON.stringify(leaseName)} ${leaseProblem}` });
  }
  const leaseDurationSeconds = envWholeNumber(env, 'LEASE_DURATION_SECONDS', 15, 2, 600, problems);
  const renewDeadlineSeconds = envWholeNumber(env, 'RENEW_DEADLINE_SECONDS', 10, 1, 600, problems);
  const retryPeriodSeconds = envWholeNumber(env, 'RETRY_PERIOD_SECONDS', 2, 1, 600, problems);
  // client-go's rules: the leader must give up before others may take over, and retry within that.
  if (renewDeadlineSeconds >= leaseDurationSeconds) {
    problems.push({ field: 'RENEW_DEADLINE_SECONDS', message: `must be less than LEASE_DURATION_SECONDS (${leaseDurationSeconds})` });
  }
  if (retryPeriodSeconds >= renewDeadlineSeconds) {
    problems.push({ field: 'RETRY_PERIOD_SECONDS', message: `must be less than RENEW_DEADLINE_SECONDS (${renewDeadlineSeconds})` });
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    routing,
    healthPort,
    bindAddress: envValue(env, 'BIND_ADDRESS'),
    concurrency,
    resyncSeconds,
    stageTraceFile: envValue(env, 'STAGE_TRACE_FILE'),
    leaderElection: {
      enabled,
      namespace,
      leaseName,
      identity: leaderIdentity(envValue(env, 'POD_NAME') ?? hostname()),
      timing: { leaseDurationSeconds, renewDeadlineMs: renewDeadlineSeconds * 1000, retryPeriodMs: retryPeriodSeconds * 1000 },
    },
  };
}
