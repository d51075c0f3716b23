/**
 * Queue names and the key prefix. The prefix is a Redis Cluster hash tag ({…}): every key BullMQ makes for
 * these queues (and the order locks and tracking records) hashes to one slot, so its multi-key Lua scripts
 * work on a cluster.
 */
export const DEFAULT_PREFIX = '{marrowbridge}';

export const QUEUE_NAMES = {
  orders: 'order-deliveries',
  results: 'result-deliveries',
  deadLetter: 'dead-letter',
} as const;

export type DeliveryQueueName = (typeof QUEUE_NAMES)['orders' | 'results'];

export function assertHashTagged(prefix: string): void {
  if (!/\{[^{}]+\}/.test(prefix)) {
    throw new Error(
      `queue prefix "${prefix}" must contain a hash tag like {marrowbridge} so it works on Redis Cluster`,
    );
  }
}
