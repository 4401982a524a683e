/** Bounds of an exponential backoff. */
export interface BackoffPolicy {
  /** Delay after the first failure. */
  baseMs: number;
  /** Longest delay before jitter. */
  maxMs: number;
  /**
   * Jitter factor as in apimachinery's wait.Jitter: the delay d becomes d + random()·jitter·d, so
   * it only grows (0 or unset: no jitter). Replicas that failed together then retry apart.
   */
  jitter?: number;
}

/**
 * The delay before retrying after `failures` consecutive failures (1 after the first), with
 * client-go's semantics: workqueue's ItemExponentialFailureRateLimiter waits base·2^(failures-1)
 * capped at max (its `exp` counts the failures before this one), then wait.Jitter adds up to
 * jitter·d. 0 failures or fewer is treated as the first.
 */
export function exponentialBackoffMs(failures: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const exponent = Math.max(0, Math.floor(failures) - 1);
  // 2 ** 1100 is Infinity; min() caps it like client-go's overflow check.
  const delay = Math.min(policy.maxMs, policy.baseMs * 2 ** exponent);
  const jitter = policy.jitter ?? 0;
  return Math.round(jitter > 0 ? delay + random() * jitter * delay : delay);
}
