/**
 * Issue 5, "must show": 1,000 result updates over 100 orders with 4 worker processes. Every report ends in its
 * newest state; the EHR holds exactly one DiagnosticReport per report and one Observation per report and result
 * code. The workers are real OS processes (`node --import tsx services/sync-worker/src/main.ts`) sharing one Redis;
 * the EHR is the ehr-sandbox over HTTP in this process. The updates (several versions of two reports per order,
 * issued times increasing) are queued in a shuffled order, together with re-sends of some of them.
 */
import { startEhrSandbox, type EhrSandbox } from '@marrowbridge/ehr-sandbox';
import { translateInput } from '@marrowbridge/intake';
import { createRedisConnection, DeliveryQueues, type RedisConnection } from '@marrowbridge/queue';
import { withTestRedis } from '../harness/redis';
import {
  ehrOutcome,
  expectExactlyOnce,
  finished,
  jobFigures,
  printFigures,
  waitIdle,
} from '../support/delivery-figures';
import { syntheticLoad, UPDATES_PER_ORDER } from '../support/synthetic';
import { shuffled } from '../support/random';
import { startWorkers, stopWorkers, type WorkerProcess } from '../support/worker-process';

const redis = withTestRedis();
const ORDERS = 100;
const WORKERS = 4;
const RESENDS = 50;
const SEED = Number(process.env.MARROWBRIDGE_SEED ?? 20260305);

describe('delivery at scale (4 worker processes)', () => {
  let sandbox: EhrSandbox;
  let connection: RedisConnection;
  let queues: DeliveryQueues;
  let workers: WorkerProcess[] = [];

  beforeAll(async () => {
    sandbox = await startEhrSandbox({ auth: 'off' });
    const prefix = `{scale${Math.random().toString(36).slice(2, 8)}}`;
    connection = createRedisConnection(redis().url);
    queues = new DeliveryQueues({ connection, prefix });
    workers = await startWorkers(WORKERS, {
      REDIS_URL: redis().url,
      QUEUE_PREFIX: prefix,
      EHR_BASE_URL: sandbox.baseUrl,
      WORKER_CONCURRENCY: '8',
      RETRY_BASE_DELAY_MS: '100',
      RETRY_MAX_DELAY_MS: '2000',
    });
  }, 120_000);

  afterAll(async () => {
    await stopWorkers(workers);
    await queues?.close();
    connection?.disconnect();
    await sandbox?.stop();
  });

  it('1,000 shuffled updates of 100 orders end in the newest state, once each', async () => {
    const load = syntheticLoad(ORDERS, 'SC');
    expect(load.updates).toHaveLength(ORDERS * UPDATES_PER_ORDER);
    const updates = shuffled(load.updates, SEED);
    // Re-sends: the same message again (same id, same bytes), as after an ACK timeout.
    const resends = shuffled(load.updates, SEED + 1).slice(0, RESENDS);
    const inputs = [...load.orders, ...shuffled([...updates, ...resends], SEED + 2)];

    const t0 = Date.now();
    let created = 0;
    let existed = 0;
    for (const input of inputs) {
      const [result] = translateInput(input.raw);
      if (!result?.ok) throw new Error('synthetic input does not translate');
      const { jobs } = await queues.enqueueMessage(result, input.raw, { channel: 'http', system: 'scale-test' });
      for (const j of jobs) {
        if (j.created) created++;
        else existed++;
      }
    }
    const enqueueMs = Date.now() - t0;
    await waitIdle(queues, 150_000);
    const totalMs = Date.now() - t0;

    const jobs = await jobFigures(queues);
    const { ehr, state, history } = await ehrOutcome(sandbox, load);
    const stats = sandbox.stats();
    const perProcess = workers.map(
      (w) => w.records().filter((r) => r.msg === 'delivered' || r.msg === 'report update not pushed').length,
    );
    printFigures('scale', {
      sent: inputs.length,
      orders: load.orders.length,
      updates: load.updates.length,
      resent: RESENDS,
      duplicatesFoundAtIntake: existed,
      jobs: created,
      ...jobs.completed,
      retries: jobs.retries,
      deadLettered: jobs.deadLetters,
      lost: jobs.pending + jobs.failed,
      ehrDuplicates: ehr.duplicates,
      reportsNewest: state.reports - state.wrong.length - state.missing,
      reportsWrong: state.wrong.length,
      ehrRequests: stats.fhir.total,
      jobsPerProcess: perProcess.join('/'),
      enqueueMs,
      totalMs,
      updatesPerSecond: Math.round((load.updates.length / totalMs) * 1000),
    });

    // Intake: every re-send found its job; nothing else was doubled.
    expect(existed).toBe(RESENDS);
    expect(created).toBe(ORDERS + ORDERS * UPDATES_PER_ORDER);
    // Every job finished; none failed or was dead-lettered.
    expect(jobs.failed).toBe(0);
    expect(jobs.deadLetters).toBe(0);
    expect(jobs.pending).toBe(0);
    expect(finished(jobs)).toBe(created);
    expect(jobs.completed.review ?? 0).toBe(0);
    // The EHR: one of everything, every report in its newest version.
    expectExactlyOnce({ ehr, state, history });
    expect(ehr.counts.Patient).toBe(ORDERS);
    expect(ehr.counts.ServiceRequest).toBe(ORDERS);
    expect(ehr.counts.Procedure).toBe(ORDERS);
    expect(ehr.counts.Specimen).toBe(2 * ORDERS);
    expect(ehr.counts.DiagnosticReport).toBe(2 * ORDERS);
    // All four processes took part.
    expect(perProcess.every((n) => n > 0)).toBe(true);
  }, 200_000);
});
