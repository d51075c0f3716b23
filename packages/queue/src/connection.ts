import { Cluster, Redis, type ClusterNode, type RedisOptions } from 'ioredis';

export type RedisConnection = Redis | Cluster;

/**
 * The one way to connect to Redis. `url` is a redis:// (or rediss://) URL, or a comma-separated list of
 * them for a Redis Cluster (seed nodes). BullMQ workers need `maxRetriesPerRequest: null` so that a
 * blocking command survives a Redis restart instead of failing the worker.
 */
export function createRedisConnection(
  url: string,
  options: { forWorker?: boolean; name?: string } = {},
): RedisConnection {
  const urls = url
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean);
  if (urls.length === 0)
    throw new Error('REDIS_URL is empty: set it to redis://host:port (or a comma-separated list of cluster nodes)');
  for (const u of urls) {
    if (!/^rediss?:\/\//.test(u))
      throw new Error(`REDIS_URL entry "${redactUrl(u)}" must start with redis:// or rediss://`);
  }
  const common: RedisOptions = {
    maxRetriesPerRequest: options.forWorker ? null : 20,
    enableReadyCheck: true,
    connectionName: options.name,
  };
  if (urls.length === 1 && !isClusterFlag()) return new Redis(urls[0], common);
  const nodes: ClusterNode[] = urls.map((u) => {
    const parsed = new URL(u);
    return { host: parsed.hostname, port: Number(parsed.port || 6379) };
  });
  const first = new URL(urls[0]);
  return new Cluster(nodes, {
    redisOptions: {
      ...common,
      username: first.username || undefined,
      password: first.password ? decodeURIComponent(first.password) : undefined,
      tls: first.protocol === 'rediss:' ? {} : undefined,
    },
    // BullMQ's Lua scripts touch several keys; the hash-tagged prefix keeps them in one slot.
    enableOfflineQueue: true,
  });
}

function isClusterFlag(): boolean {
  return process.env.REDIS_CLUSTER === '1' || process.env.REDIS_CLUSTER === 'true';
}

/** A Redis URL without its password, for messages and logs. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}
