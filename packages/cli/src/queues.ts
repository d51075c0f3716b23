/**
 * The delivery queues the operator commands work on: the Redis and key prefix of REDIS_URL / QUEUE_PREFIX, with
 * the sync-worker's defaults, so `marrowbridge enqueue` and `dlq` see what the workers see.
 */
import { ConfigError, int, loadConfig, spec, type Env } from '@marrowbridge/config';
import {
  createRedisConnection,
  DEFAULT_RETRY_POLICY,
  DeliveryQueues,
  QUEUE_SETTINGS,
  RETRY_SETTINGS,
  redactUrl,
  type RedisConnection,
} from '@marrowbridge/queue';
import type { IntakeOptions } from '@marrowbridge/intake';

export const CLI_QUEUE_SETTINGS = {
  ...QUEUE_SETTINGS,
  retryAttempts: RETRY_SETTINGS.retryAttempts,
  redisTimeoutMs: spec(
    'REDIS_TIMEOUT_MS',
    'how long the command waits for Redis to answer, in ms',
    5000,
    int(100, 600_000),
  ),
};

/** A wrong setting (exit 2) or an unreachable Redis (exit 3), with a message that names the variable. */
export class QueueSetupError extends Error {
  constructor(
    message: string,
    readonly exitCode: 2 | 3,
  ) {
    super(message);
  }
}

export interface OpenQueues {
  queues: DeliveryQueues;
  /** Where they are, for messages (password redacted). */
  where: string;
  close(): Promise<void>;
}

/** Connects to the configured Redis and checks that it answers (within REDIS_TIMEOUT_MS). */
export async function openQueues(env: Env, intake?: IntakeOptions): Promise<OpenQueues> {
  let config: ReturnType<typeof loadConfig<typeof CLI_QUEUE_SETTINGS>>;
  try {
    config = loadConfig(CLI_QUEUE_SETTINGS, env);
  } catch (err) {
    throw new QueueSetupError(err instanceof ConfigError ? err.message : String(err), 2);
  }
  let connection: RedisConnection;
  try {
    connection = createRedisConnection(config.redisUrl, { name: 'marrowbridge-cli' });
  } catch (err) {
    throw new QueueSetupError(`invalid configuration:\n  - ${(err as Error).message}`, 2);
  }
  // ioredis keeps reconnecting in the background; the error events only matter through the ping below.
  connection.on('error', () => undefined);
  const where = `${redactUrl(config.redisUrl)} (prefix ${config.queuePrefix})`;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      connection.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('no answer')), config.redisTimeoutMs);
      }),
    ]);
  } catch {
    connection.disconnect();
    throw new QueueSetupError(
      `cannot reach Redis at ${redactUrl(config.redisUrl)} within ${config.redisTimeoutMs} ms (REDIS_URL)`,
      3,
    );
  } finally {
    clearTimeout(timer);
  }
  const queues = new DeliveryQueues({
    connection,
    prefix: config.queuePrefix,
    retry: { ...DEFAULT_RETRY_POLICY, attempts: config.retryAttempts },
    intake,
  });
  return {
    queues,
    where,
    async close() {
      await queues.close();
      await connection.quit().catch(() => connection.disconnect());
    },
  };
}
