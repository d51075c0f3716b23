import { translateInput, type IntakeOptions, type MessageResult } from '@marrowbridge/intake';
import type { OperationOutcome } from '@medplum/fhirtypes';
import { Queue, type Job, type JobsOptions } from 'bullmq';
import type { RedisConnection } from './connection';
import { assertHashTagged, DEFAULT_PREFIX, QUEUE_NAMES, type DeliveryQueueName } from './names';
import {
  deliveryJobId,
  orderKeyOf,
  sha256,
  type DeadLetterEntry,
  type DeliveryJobData,
  type DeliveryResult,
  type IntakeChannel,
} from './payload';
import { BACKOFF_TYPE, DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry';
import { jobEvent, TrackingStore } from './tracking';

export interface DeliveryQueuesOptions {
  connection: RedisConnection;
  prefix?: string;
  retry?: RetryPolicy;
  /** The intake options (HL7 time zone, code map) used again when a dead letter is replayed. */
  intake?: IntakeOptions;
  /**
   * Connection errors of the queues (Redis restarting, unreachable). Default: ignored here, since the commands
   * that fail reject on their own and the connection's owner logs its errors; without a listener BullMQ would
   * print each one to stderr.
   */
  onError?: (err: Error) => void;
}

export interface EnqueuedJob {
  jobId: string;
  queue: DeliveryQueueName;
  /** False when a job with this identity already existed (a re-sent message). */
  created: boolean;
  kind: DeliveryJobData['kind'];
  orderKey: string;
}

export interface EnqueueResult {
  trackingId: string;
  jobs: EnqueuedJob[];
}

/** Identity of incoming input: who sent it and under which id (HL7 MSH-10; for JSON, a hash of the body). */
export interface InputIdentity {
  channel: IntakeChannel;
  system: string;
  messageId?: string;
}

/**
 * The delivery queues (orders, results) and the dead-letter queue, with the one way to put translated input
 * on them. A job is added only for input that translated; the promise resolves once Redis has the job, which
 * is when intake may answer 202 / ACK AA.
 */
export class DeliveryQueues {
  readonly orders: Queue<DeliveryJobData, DeliveryResult>;
  readonly results: Queue<DeliveryJobData, DeliveryResult>;
  readonly deadLetter: Queue<DeadLetterEntry>;
  readonly tracking: TrackingStore;
  readonly prefix: string;
  readonly retry: RetryPolicy;
  /** addJob calls in progress, by job id. */
  private readonly adding = new Map<string, Promise<EnqueuedJob>>();

  constructor(private readonly options: DeliveryQueuesOptions) {
    this.prefix = options.prefix ?? DEFAULT_PREFIX;
    assertHashTagged(this.prefix);
    this.retry = options.retry ?? DEFAULT_RETRY_POLICY;
    const common = { connection: options.connection, prefix: this.prefix };
    this.orders = new Queue(QUEUE_NAMES.orders, common);
    this.results = new Queue(QUEUE_NAMES.results, common);
    this.deadLetter = new Queue(QUEUE_NAMES.deadLetter, common);
    const onError = options.onError ?? (() => undefined);
    for (const queue of [this.orders, this.results, this.deadLetter]) queue.on('error', onError);
    this.tracking = new TrackingStore(options.connection, this.prefix);
  }

  get connection(): RedisConnection {
    return this.options.connection;
  }

  queueFor(kind: DeliveryJobData['kind']): Queue<DeliveryJobData, DeliveryResult> {
    return kind === 'order' ? this.orders : this.results;
  }

  jobOptions(jobId: string): JobsOptions {
    return {
      jobId,
      attempts: this.retry.attempts,
      backoff: { type: BACKOFF_TYPE },
      // Finished jobs are kept so a re-sent message finds its job (and is not delivered twice).
      removeOnComplete: { age: 30 * 24 * 3600 },
      removeOnFail: { age: 30 * 24 * 3600 },
    };
  }

  /** Puts every item of one translated message on its queue. */
  async enqueueMessage(
    result: MessageResult & { ok: true },
    raw: string,
    identity: InputIdentity,
  ): Promise<EnqueueResult> {
    const contentHash = sha256(raw);
    const system = identity.system;
    const messageId =
      identity.messageId ??
      result.hl7?.control.messageId ??
      // Canonical JSON has no message id of its own unless `source` says so: the content is its identity.
      result.items[0]?.message.source?.messageId ??
      `sha256:${contentHash}`;
    const source = { channel: identity.channel, system, messageId };
    const trackingId = `trk-${sha256([system, messageId, contentHash].join('\u0000')).slice(0, 24)}`;
    const receivedAt = Date.now();
    const jobs: EnqueuedJob[] = [];
    for (const [itemIndex, item] of result.items.entries()) {
      const data: DeliveryJobData = {
        kind: item.message.kind,
        source,
        contentHash,
        itemIndex,
        raw,
        format: result.format,
        message: item.message,
        orderKey: orderKeyOf(item.message),
        receivedAt,
        trackingId,
      };
      jobs.push(await this.addJob(data, deliveryJobId(data)));
    }
    return { trackingId, jobs };
  }

  /**
   * Adds one job unless a job with that id exists; records it for tracking. The same message taken twice at
   * once by this process (a sender re-sending before its first answer) is added once: the second call waits for
   * the first and reports it as existing. (Across gateway processes BullMQ still adds it once, but both may say
   * created.)
   */
  async addJob(data: DeliveryJobData, jobId: string): Promise<EnqueuedJob> {
    const inFlight = this.adding.get(jobId);
    if (inFlight) {
      const first = await inFlight.catch(() => undefined);
      if (first) return { ...first, created: false };
    }
    const adding = this.addJobOnce(data, jobId);
    this.adding.set(jobId, adding);
    try {
      return await adding;
    } finally {
      if (this.adding.get(jobId) === adding) this.adding.delete(jobId);
    }
  }

  private async addJobOnce(data: DeliveryJobData, jobId: string): Promise<EnqueuedJob> {
    const queue = this.queueFor(data.kind);
    // Whether the job's hash exists: getJob would read and parse the whole stored job to tell the same thing.
    if ((await this.options.connection.exists(queue.toKey(jobId))) === 1) {
      return {
        jobId,
        queue: queue.name as DeliveryQueueName,
        created: false,
        kind: data.kind,
        orderKey: data.orderKey,
      };
    }
    // add() with an existing id is a no-op in BullMQ, so a race between two intakes still yields one job.
    await queue.add(data.kind, data, this.jobOptions(jobId));
    await this.tracking.record(data.orderKey, jobEvent(data, jobId, 'queued'), { link: true });
    return { jobId, queue: queue.name as DeliveryQueueName, created: true, kind: data.kind, orderKey: data.orderKey };
  }

  /** Stores a failed delivery in the dead-letter queue (never processed; listed and replayed by operators). */
  async addDeadLetter(
    job: Job<DeliveryJobData>,
    reason: string,
    details: { outcome?: OperationOutcome; httpStatus?: number } = {},
  ): Promise<DeadLetterEntry> {
    const entry: DeadLetterEntry = {
      id: `dlq-${job.id}`,
      queue: job.queueName,
      jobId: job.id!,
      data: job.data,
      failedAt: new Date().toISOString(),
      reason,
      lastOutcome: details.outcome,
      lastHttpStatus: details.httpStatus,
      attempts: job.data.attempts ?? [],
    };
    await this.deadLetter.add('dead-letter', entry, { jobId: entry.id, removeOnComplete: false, removeOnFail: false });
    return entry;
  }

  async listDeadLetters(): Promise<DeadLetterEntry[]> {
    const jobs = await this.deadLetter.getJobs(['waiting', 'delayed', 'prioritized'], 0, -1, true);
    return jobs.filter((j) => j?.data).map((j) => j.data);
  }

  async getDeadLetter(id: string): Promise<DeadLetterEntry | undefined> {
    return (await this.deadLetter.getJob(id))?.data;
  }

  /**
   * Replays a dead-lettered delivery: translates the kept raw input again with the current code (validation
   * runs again in the worker, with the current profiles) and queues it as a new job. The entry is removed
   * once the new job is queued; if the input no longer translates, the entry stays and the reason is returned.
   */
  async replayDeadLetter(
    id: string,
  ): Promise<{ ok: true; job: EnqueuedJob } | { ok: false; reason: string; outcome?: OperationOutcome }> {
    const dlJob = await this.deadLetter.getJob(id);
    if (!dlJob) return { ok: false, reason: `no dead-letter entry ${id}` };
    const entry = dlJob.data;
    // `raw` is one message (a batch was split at intake), so it translates to one result.
    const [result] = translateInput(entry.data.raw, this.options.intake);
    if (!result || !result.ok) {
      return {
        ok: false,
        reason: 'the kept input no longer translates',
        outcome: result && !result.ok ? result.outcome : undefined,
      };
    }
    const item = result.items[entry.data.itemIndex];
    if (!item) return { ok: false, reason: `the kept input has no item ${entry.data.itemIndex} any more` };
    const replays = (entry.data.attempts ?? []).length;
    const data: DeliveryJobData = {
      ...entry.data,
      source: { ...entry.data.source, channel: 'replay' },
      message: item.message,
      orderKey: orderKeyOf(item.message),
      receivedAt: Date.now(),
      attempts: [],
    };
    const job = await this.addJob(data, `${entry.jobId}-replay-${Date.now().toString(36)}-${replays}`);
    await this.tracking.record(data.orderKey, jobEvent(data, job.jobId, 'replayed', `replay of ${entry.jobId}`));
    await dlJob.remove();
    return { ok: true, job };
  }

  /**
   * Deletes every job, dead letter, tracking record and order lock under this prefix. For a demo whose EHR was
   * in memory: the queue state of an earlier run describes an EHR that no longer exists.
   */
  async clearAll(): Promise<void> {
    await Promise.all([this.orders, this.results, this.deadLetter].map((q) => q.obliterate({ force: true })));
    const redis = this.options.connection;
    for (const pattern of [`${this.prefix}:tracking:*`, `${this.prefix}:order-lock:*`]) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
        cursor = next;
        if (keys.length) await redis.del(...keys);
      } while (cursor !== '0');
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.orders.close(), this.results.close(), this.deadLetter.close()]);
  }
}
