/** How failed deliveries are retried: exponential backoff with full jitter, capped, honouring Retry-After. */
export interface RetryPolicy {
  /** Total attempts including the first (then the job is dead-lettered). */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { attempts: 12, baseDelayMs: 1000, maxDelayMs: 5 * 60 * 1000 };

/** BullMQ backoff type name registered by the worker's backoffStrategy. */
export const BACKOFF_TYPE = 'exponential-jitter';

/**
 * Delay before attempt `attemptsMade + 1`. Full jitter (a random point in [d/2, d]) spreads retries of many
 * jobs that failed together, e.g. after an EHR outage. A server's Retry-After is a floor.
 */
export function backoffDelay(
  attemptsMade: number,
  policy: RetryPolicy,
  retryAfterMs?: number,
  random: () => number = Math.random,
): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attemptsMade - 1));
  const jittered = Math.round(exp / 2 + random() * (exp / 2));
  return Math.max(jittered, Math.min(retryAfterMs ?? 0, policy.maxDelayMs));
}
