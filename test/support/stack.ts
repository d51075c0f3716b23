/**
 * An in-process delivery stack for tests: a real Redis (the harness), the real ehr-sandbox over HTTP, and
 * sync-workers started in this process, with a unique queue prefix per stack.
 */
import fs from 'node:fs';
import path from 'node:path';
import { startEhrSandbox, type EhrSandbox, type EhrSandboxOptions } from '@marrowbridge/ehr-sandbox';
import { translateInput } from '@marrowbridge/intake';
import { createRedisConnection, DeliveryQueues, type EnqueueResult, type InputIdentity } from '@marrowbridge/queue';
import {
  loadSyncWorkerConfig,
  startSyncWorker,
  type SyncWorker,
  type SyncWorkerOverrides,
} from '@marrowbridge/sync-worker';
import pino from 'pino';
import { waitIdle } from './delivery-figures';
import { repoRoot } from './paths';

export interface TestStack {
  sandbox: EhrSandbox;
  queues: DeliveryQueues;
  workers: SyncWorker[];
  prefix: string;
  env: Record<string, string>;
  /** Translates input (file path or text) and queues it; throws if the input does not translate. */
  enqueue(input: string, identity?: Partial<InputIdentity>): Promise<EnqueueResult>;
  startWorker(overrides?: SyncWorkerOverrides): Promise<SyncWorker>;
  /** Resolves when no job is waiting, active or delayed (or rejects after timeoutMs). */
  waitIdle(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export function sample(name: string): string {
  const dir = name.startsWith('order') ? 'orders' : 'results';
  return path.join(repoRoot, 'samples', dir, name.endsWith('.json') ? name : `${name}.json`);
}

export async function startStack(opts: {
  redisUrl: string;
  sandbox?: EhrSandboxOptions;
  workers?: number;
  env?: Record<string, string>;
}): Promise<TestStack> {
  const sandbox = await startEhrSandbox({ auth: 'off', ...opts.sandbox });
  const prefix = `{t${Math.random().toString(36).slice(2, 10)}}`;
  const env: Record<string, string> = {
    REDIS_URL: opts.redisUrl,
    QUEUE_PREFIX: prefix,
    EHR_BASE_URL: sandbox.baseUrl,
    RETRY_BASE_DELAY_MS: '50',
    RETRY_MAX_DELAY_MS: '1000',
    EHR_TIMEOUT_MS: '5000',
    LOG_LEVEL: 'silent',
    ...opts.env,
  };
  const connection = createRedisConnection(opts.redisUrl, { forWorker: true });
  const config = loadSyncWorkerConfig(env);
  const queues = new DeliveryQueues({
    connection,
    prefix,
    retry: { attempts: config.retryAttempts, baseDelayMs: config.retryBaseDelayMs, maxDelayMs: config.retryMaxDelayMs },
  });
  const workers: SyncWorker[] = [];
  let counter = 0;
  const stack: TestStack = {
    sandbox,
    queues,
    workers,
    prefix,
    env,
    async enqueue(input, identity = {}) {
      const raw = fs.existsSync(input) ? fs.readFileSync(input, 'utf8') : input;
      const [result] = translateInput(raw);
      if (!result?.ok) throw new Error(`input does not translate: ${JSON.stringify(result?.outcome)}`);
      return queues.enqueueMessage(result, raw, {
        channel: 'http',
        system: 'test',
        messageId: `m${++counter}`,
        ...identity,
      });
    },
    async startWorker(overrides = {}) {
      const w = await startSyncWorker(config, {
        log: pino({ level: 'silent' }),
        stalledIntervalMs: 1000,
        ...overrides,
      });
      workers.push(w);
      return w;
    },
    async waitIdle(timeoutMs = 60_000) {
      await waitIdle(queues, timeoutMs, 50);
    },
    async stop() {
      await Promise.all(workers.map((w) => w.close()));
      await queues.close();
      connection.disconnect();
      await sandbox.stop();
    },
  };
  for (let i = 0; i < (opts.workers ?? 1); i++) await stack.startWorker();
  return stack;
}
