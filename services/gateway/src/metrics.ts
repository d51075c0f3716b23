/**
 * Prometheus metrics (prom-client, one registry per gateway).
 *
 * Where each figure comes from:
 * - jobs by state and queue depth: asked from Redis (BullMQ job counts) at each scrape, so they describe the
 *   whole system, whichever process queued or processes the jobs;
 * - delivery outcomes, end-to-end latency and the EHR's answers: the workers run in other processes, so the
 *   gateway follows BullMQ's event stream (QueueEvents). A finished job's return value (DeliveryResult)
 *   carries `latencyMs` (intake → EHR 2xx, measured by the worker against the intake time the gateway
 *   stamped); its recorded attempts carry the HTTP status of each failed try. Every gateway following the
 *   same queues sees the same events: with several gateways, aggregate these with max(), not sum();
 * - validation time, intake counts and HTTP timings: measured in this process.
 */
import type { DeliveryJobData, DeliveryQueues, DeliveryResult } from '@marrowbridge/queue';
import type { RedisConnection } from '@marrowbridge/queue';
import { Job, QueueEvents, type Queue } from 'bullmq';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

const JOB_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed', 'waiting-children'] as const;
/** States of a job that has not finished yet and is not being worked on. */
const BACKLOG_STATES = ['waiting', 'delayed', 'prioritized'] as const;

export type IntakeResult = 'accepted' | 'duplicate' | 'rejected' | 'unavailable';

export interface GatewayMetrics {
  readonly registry: Registry;
  /** Times one validator call. */
  timeValidation<T>(operation: string, fn: () => T): T;
  countIntake(channel: string, result: IntakeResult, n?: number): void;
  observeHttp(method: string, route: string, status: number, seconds: number): void;
  /** Feeds the delivery metrics from one finished job (exported for tests and for in-process workers). */
  recordFinishedJob(
    queue: string,
    result: DeliveryResult | undefined,
    data: DeliveryJobData | undefined,
    failed: boolean,
  ): void;
  /** Follows the delivery queues' events (completed / failed jobs) until stop() is called. */
  followQueues(queues: DeliveryQueues, connect: () => RedisConnection, log: Logger): Promise<void>;
  stop(): Promise<void>;
}

export function createMetrics(queues: DeliveryQueues | undefined): GatewayMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'marrowbridge_gateway_' });

  const watched = (): Queue[] => (queues ? [queues.orders, queues.results, queues.deadLetter] : []);

  new Gauge({
    name: 'marrowbridge_jobs',
    help: 'Jobs per queue and BullMQ state, read from Redis at scrape time',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const q of watched()) {
        const counts = await q.getJobCounts(...JOB_STATES);
        for (const state of JOB_STATES) this.set({ queue: q.name, state }, counts[state] ?? 0);
      }
    },
  });

  new Gauge({
    name: 'marrowbridge_queue_depth',
    help: 'Jobs waiting to be processed (waiting + delayed + prioritized); for dead-letter: the entries kept',
    labelNames: ['queue'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const q of watched()) {
        const counts = await q.getJobCounts(...BACKLOG_STATES);
        this.set(
          { queue: q.name },
          BACKLOG_STATES.reduce((n, s) => n + (counts[s] ?? 0), 0),
        );
      }
    },
  });

  const latency = new Histogram({
    name: 'marrowbridge_delivery_latency_seconds',
    help: 'Intake (job queued) to the end of delivery, as measured by the worker: the EHR 2xx for outcome="delivered", the decision not to write for the others',
    labelNames: ['queue', 'outcome'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
    registers: [registry],
  });

  const deliveries = new Counter({
    name: 'marrowbridge_deliveries_total',
    help: 'Finished delivery jobs by outcome (delivered, unchanged, superseded, review, dead-lettered)',
    labelNames: ['queue', 'outcome'],
    registers: [registry],
  });

  const ehrAttempts = new Counter({
    name: 'marrowbridge_ehr_delivery_attempts_total',
    help: 'Delivery attempts that reached for the EHR, by how the EHR answered the request that ended them: "2xx" for an attempt that finished, the HTTP status of a failed one, "none" when no answer came (network error, timeout). Counted when the job finishes',
    labelNames: ['queue', 'status'],
    registers: [registry],
  });

  const validation = new Histogram({
    name: 'marrowbridge_validation_duration_seconds',
    help: 'Time of one validation in the gateway ($validate, $translate)',
    labelNames: ['operation'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });

  const intake = new Counter({
    name: 'marrowbridge_intake_messages_total',
    help: 'Messages received: accepted (queued), duplicate (already queued), rejected (4xx / ACK AE, AR), unavailable (Redis did not take it)',
    labelNames: ['channel', 'result'],
    registers: [registry],
  });

  const http = new Histogram({
    name: 'marrowbridge_http_request_duration_seconds',
    help: 'HTTP requests by route template and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });

  const events: { qe: QueueEvents; connection: RedisConnection }[] = [];
  const pendingFetches = new Set<Promise<unknown>>();

  const metrics: GatewayMetrics = {
    registry,
    timeValidation(operation, fn) {
      const end = validation.startTimer({ operation });
      try {
        return fn();
      } finally {
        end();
      }
    },
    countIntake(channel, result, n = 1) {
      intake.inc({ channel, result }, n);
    },
    observeHttp(method, route, status, seconds) {
      http.observe({ method, route, status: String(status) }, seconds);
    },
    recordFinishedJob(queue, result, data, failed) {
      const outcome = failed ? 'dead-lettered' : (result?.outcome ?? 'unknown');
      deliveries.inc({ queue, outcome });
      if (!failed && result && Number.isFinite(result.latencyMs)) {
        latency.observe({ queue, outcome }, Math.max(0, result.latencyMs) / 1000);
      }
      for (const a of data?.attempts ?? []) {
        if (a.kind === 'invalid') continue; // never sent: validation or mapping failed
        ehrAttempts.inc({ queue, status: a.status ? String(a.status) : 'none' });
      }
      if (!failed) ehrAttempts.inc({ queue, status: '2xx' });
    },
    async followQueues(q, connect, log) {
      for (const queue of [q.orders, q.results]) {
        // QueueEvents blocks on XREAD: each needs a connection of its own.
        const connection = connect();
        const qe = new QueueEvents(queue.name, { connection, prefix: q.prefix, autorun: true });
        qe.on('error', (err) => log.warn({ err: err.message, queue: queue.name }, 'queue events error'));
        const track = <T>(p: Promise<T>): Promise<T> => {
          pendingFetches.add(p);
          void p.finally(() => pendingFetches.delete(p));
          return p;
        };
        const fetchJob = (jobId: string) =>
          Job.fromId<DeliveryJobData, DeliveryResult>(queue, jobId).catch(() => undefined);
        // The worker records a job's attempts only before a try that failed or that a crash cut short. BullMQ
        // counts every finished try in attemptsMade (atm, 1 for a job done on its first try) and each stall in
        // stc. Most jobs finish on their first try: those two small fields say so, without reading and parsing
        // the whole job (its raw input and message) for each one.
        // Never rejects: when the two fields cannot be read the job is read whole (fetchJob: undefined on failure).
        const fetchIfTriedBefore = async (jobId: string) => {
          const fields = await q.connection.hmget(queue.toKey(jobId), 'atm', 'stc').catch(() => undefined);
          if (!fields) return fetchJob(jobId);
          const [atm, stc] = fields.map((f) => Number(f ?? 0));
          return atm > 1 || stc > 0 ? fetchJob(jobId) : undefined;
        };
        qe.on('completed', ({ jobId, returnvalue }) => {
          void track(fetchIfTriedBefore(jobId)).then((job) =>
            metrics.recordFinishedJob(queue.name, returnvalue as unknown as DeliveryResult, job?.data, false),
          );
        });
        qe.on('failed', ({ jobId }) => {
          void track(fetchJob(jobId)).then((job) => metrics.recordFinishedJob(queue.name, undefined, job?.data, true));
        });
        events.push({ qe, connection });
      }
      await Promise.all(events.map((e) => e.qe.waitUntilReady()));
    },
    async stop() {
      await Promise.allSettled([...pendingFetches]);
      await Promise.all(
        events.splice(0).map(async (e) => {
          await e.qe.close().catch(() => undefined);
          e.connection.disconnect();
        }),
      );
    },
  };
  return metrics;
}
