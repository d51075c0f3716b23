import { createEhrClient, type EhrClient } from '@marrowbridge/ehr-client';
import {
  backoffDelay,
  BACKOFF_TYPE,
  createRedisConnection,
  DeliveryQueues,
  OrderLock,
  QUEUE_NAMES,
  type DeliveryJobData,
  type DeliveryResult,
  type RedisConnection,
  type RetryPolicy,
} from '@marrowbridge/queue';
import { createValidator, type Validator } from '@marrowbridge/validation';
import { Worker } from 'bullmq';
import pino, { type Logger } from 'pino';
import type { SyncWorkerConfig } from './config';
import { processDelivery, type ProcessorDeps } from './processor';

export interface SyncWorker {
  workers: Worker<DeliveryJobData, DeliveryResult>[];
  queues: DeliveryQueues;
  client: EhrClient;
  /** Stops taking jobs, lets the jobs in flight finish, closes connections. */
  close(): Promise<void>;
}

export interface SyncWorkerOverrides {
  log?: Logger;
  validator?: Validator;
  onFinished?: ProcessorDeps['onFinished'];
  /** Stalled-job check interval (ms); default WORKER_STALLED_INTERVAL_MS. */
  stalledIntervalMs?: number;
  /** How long a worker's hold on a job lasts without renewal (ms); default WORKER_LOCK_DURATION_MS. */
  jobLockMs?: number;
}

export async function startSyncWorker(
  config: SyncWorkerConfig,
  overrides: SyncWorkerOverrides = {},
): Promise<SyncWorker> {
  const log = overrides.log ?? pino({ level: config.logLevel, base: { service: 'sync-worker' } });
  const retry: RetryPolicy = {
    attempts: config.retryAttempts,
    baseDelayMs: config.retryBaseDelayMs,
    maxDelayMs: config.retryMaxDelayMs,
  };
  const connection = createRedisConnection(config.redisUrl, { forWorker: true, name: 'sync-worker' });
  const queues = new DeliveryQueues({ connection, prefix: config.queuePrefix, retry });
  const client = createEhrClient(config, {
    userAgent: 'marrowbridge-sync-worker',
    requestRetries: config.ehrRequestRetries,
  });
  const deps: ProcessorDeps = {
    queues,
    client,
    // VALIDATE_PROFILES=false: base R4 only (a meta.profile naming an unloaded profile is then only a warning).
    validator: overrides.validator ?? createValidator({ projectProfiles: config.validateProfiles }),
    lock: new OrderLock(connection, config.orderLockTtlMs, config.queuePrefix),
    log,
    onFinished: overrides.onFinished,
  };

  const workers = [QUEUE_NAMES.orders, QUEUE_NAMES.results].map(
    (name) =>
      new Worker<DeliveryJobData, DeliveryResult>(name, (job, token) => processDelivery(job, token, deps), {
        connection: connection as RedisConnection,
        prefix: config.queuePrefix,
        concurrency: config.concurrency,
        limiter: config.rateLimitPerSecond > 0 ? { max: config.rateLimitPerSecond, duration: 1000 } : undefined,
        stalledInterval: overrides.stalledIntervalMs ?? config.stalledIntervalMs,
        lockDuration: overrides.jobLockMs ?? config.jobLockMs,
        maxStalledCount: 5,
        settings: {
          backoffStrategy: (attemptsMade: number, type?: string, err?: Error) =>
            type === BACKOFF_TYPE
              ? backoffDelay(attemptsMade, retry, (err as { retryAfterMs?: number })?.retryAfterMs)
              : 1000,
        },
      }),
  );
  for (const w of workers) {
    // Failures are handled (and logged) by the processor; this only catches worker-level trouble.
    w.on('error', (err) => log.error({ err: err.message }, 'worker error'));
  }
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  log.info({ queues: workers.map((w) => w.name), concurrency: config.concurrency }, 'sync-worker started');

  let closing: Promise<void> | undefined;
  return {
    workers,
    queues,
    client,
    close() {
      closing ??= (async () => {
        await Promise.all(workers.map((w) => w.close()));
        await queues.close();
        connection.disconnect();
        log.info('sync-worker stopped');
      })();
      return closing;
    },
  };
}
