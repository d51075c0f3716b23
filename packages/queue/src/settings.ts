/** The queue settings every process that touches the queues reads (gateway, sync-worker, CLI). */
import { int, spec, text } from '@marrowbridge/config';
import { DEFAULT_PREFIX } from './names';
import { DEFAULT_RETRY_POLICY } from './retry';

export const QUEUE_SETTINGS = {
  redisUrl: spec(
    'REDIS_URL',
    'Redis holding the delivery queues (comma-separated URLs for a cluster)',
    'redis://127.0.0.1:6379',
    text,
  ),
  queuePrefix: spec(
    'QUEUE_PREFIX',
    'key prefix of the queues; must hold a {hash tag} for Redis Cluster',
    DEFAULT_PREFIX,
    hashTagged,
  ),
};

/** How a delivery is retried: the sync-worker's settings; the CLI enqueues with the same RETRY_ATTEMPTS. */
export const RETRY_SETTINGS = {
  retryAttempts: spec(
    'RETRY_ATTEMPTS',
    'attempts per delivery before it is dead-lettered',
    DEFAULT_RETRY_POLICY.attempts,
    int(1, 100),
  ),
  retryBaseDelayMs: spec(
    'RETRY_BASE_DELAY_MS',
    'first retry delay, doubled each attempt (with jitter)',
    DEFAULT_RETRY_POLICY.baseDelayMs,
    int(1, 3_600_000),
  ),
  retryMaxDelayMs: spec(
    'RETRY_MAX_DELAY_MS',
    'longest retry delay',
    DEFAULT_RETRY_POLICY.maxDelayMs,
    int(1, 86_400_000),
  ),
};

function hashTagged(raw: string): string {
  if (!/\{[^{}]+\}/.test(raw)) throw new Error('must contain a hash tag such as {marrowbridge}');
  return raw;
}
