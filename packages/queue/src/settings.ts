/** The queue settings every process that touches the queues reads (gateway, sync-worker, CLI). */
import { spec, text } from '@marrowbridge/config';
import { DEFAULT_PREFIX } from './names';

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

function hashTagged(raw: string): string {
  if (!/\{[^{}]+\}/.test(raw)) throw new Error('must contain a hash tag such as {marrowbridge}');
  return raw;
}
