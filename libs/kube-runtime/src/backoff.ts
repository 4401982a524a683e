/** Bounds of an exponential backoff. */
export interface BackoffPolicy {
  /** Delay after the first failure. */
  baseMs: number;
  /** Longest delay before jitter. */
  maxMs: number;
  /**
   * Jitter factor (0 or unset: no jitter): replicas that failed together then retry apart. How it
   * moves the delay d is `jitterShape`.
   */
  jitter?: number;
  /**
   * `additive` (default), as apimachinery's wait.Jitter: d + random()·jitter·d, so it only grows.
   * `symmetric`, as gRPC's connection backoff: d·(1 − jitter + 2·random()·jitter), i.e. d ± jitter·d,
   * for callers whose retries were spread around the nominal delay (the webhook's TLS retries, the
   * controller's watch restarts).
   */
  jitterShape?: 'additive' | 'symmetric';
}

/**
 * The delay before retrying after `failures` consecutive failures (1 after the first), with
 * client-go's semantics: workqueue's ItemExponentialFailureRateLimiter waits base·2^(failures-1)
 * capped at max (its `exp` counts the failures before this one), then jitter moves it by up to
 * jitter·d (see `jitterShape`). 0 failures or fewer is treated as the first.
 */
export function exponentialBackoffMs(failures: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const exponent = Math.max(0, Math.floor(failures) - 1);
  // 2 ** 1100 is Infinity; min() caps it like client-go's overflow check.
  const delay = Math.min(policy.maxMs, policy.baseMs * 2 ** exponent);
  const jitter = policy.jitter ?? 0;
  if (jitter <= 0) return Math.round(delay);
  // Written as the callers' former formulas were, so that each gives the same number to the bit.
  if (policy.jitterShape === 'symmetric') return Math.round(delay * (1 - jitter + 2 * random() * jitter));
  return Math.round(delay + random() * jitter * delay);
}
