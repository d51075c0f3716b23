/**
 * Issue 7, fault injection: `kill -9` of a sync-worker process in the middle of 5,000 result updates. Three real
 * worker processes (`node --import tsx services/sync-worker/src/main.ts`) share one Redis; once a third of the
 * jobs are done, one of them gets SIGKILL with jobs in flight, and a replacement process is started (as a
 * supervisor would). The killed worker's jobs are taken back by stalled-job recovery (WORKER_LOCK_DURATION_MS +
 * WORKER_STALLED_INTERVAL_MS) and its order locks expire (ORDER_LOCK_TTL_MS). Must show: every job finishes,
 * every report ends in its newest version, and the EHR holds no duplicate resource and no report version
 * written twice.
 */
import { startEhrSandbox, type EhrSandbox } from '@marrowbridge/ehr-sandbox';
import { createRedisConnection, DeliveryQueues, type RedisConnection } from '@marrowbridge/queue';
import { eventually } from '../../services/gateway/test/helpers';
import { withTestRedis } from '../harness/redis';
import {
  ehrOutcome,
  expectExactlyOnce,
  finished,
  jobFigures,
  printFigures,
  waitIdle,
} from '../support/delivery-figures';
import { shuffled } from '../support/random';
import { startWorkers, stopWorkers, type WorkerProcess } from '../support/worker-process';
import { chaosSeed, enqueueAll, versionedLoad } from './support';

const redis = withTestRedis();
const ORDERS = 100;
const VERSIONS_PER_REPORT = 25; // 100 orders × 2 reports × 25 versions = 5,000 updates
const WORKERS = 3;
const SEED = chaosSeed(7001);
const LOCK_MS = 8_000;
const STALLED_MS = 1_000;

describe('kill -9 of a sync-worker process', () => {
  let sandbox: EhrSandbox | undefined;
  let connection: RedisConnection | undefined;
  let queues: DeliveryQueues | undefined;
  const workers: WorkerProcess[] = [];

  afterAll(async () => {
    await stopWorkers(workers, 10_000);
    await queues?.close();
    connection?.disconnect();
    await sandbox?.stop();
  });

  it('5,000 updates, one of 3 worker processes SIGKILLed a third of the way: none lost, none duplicated in the EHR', async () => {
    sandbox = await startEhrSandbox({ auth: 'off' });
    const prefix = `{kill${Math.random().toString(36).slice(2, 8)}}`;
    connection = createRedisConnection(redis().url);
    const q = new DeliveryQueues({ connection, prefix });
    queues = q;
    const env = {
      REDIS_URL: redis().url,
      QUEUE_PREFIX: prefix,
      EHR_BASE_URL: sandbox.baseUrl,
      WORKER_CONCURRENCY: '4',
      RETRY_BASE_DELAY_MS: '100',
      RETRY_MAX_DELAY_MS: '2000',
      RETRY_ATTEMPTS: '20',
      WORKER_LOCK_DURATION_MS: String(LOCK_MS),
      WORKER_STALLED_INTERVAL_MS: String(STALLED_MS),
      ORDER_LOCK_TTL_MS: '5000',
    };
    workers.push(...(await startWorkers(WORKERS, env)));

    const load = versionedLoad(ORDERS, VERSIONS_PER_REPORT, 'KL');
    expect(load.updates).toHaveLength(5000);
    const total = load.orders.length + load.updates.length;
    const t0 = Date.now();
    // The orders, then the updates in a shuffled order, queued while the workers deliver.
    const queued = (async () => {
      const a = await enqueueAll(q, load.orders, { concurrency: 8 });
      const b = await enqueueAll(q, shuffled(load.updates, SEED), { concurrency: 8 });
      return { created: a.created + b.created, existed: a.existed + b.existed, ms: Date.now() - t0 };
    })();
    const done = async () => (await q.orders.getCompletedCount()) + (await q.results.getCompletedCount());
    await eventually(async () => (await done()) >= total / 3, 240_000, 'a third of the jobs done');

    // Kill the first worker with jobs in flight; a replacement process starts as a supervisor would start it.
    const victim = workers[0];
    const activeAtKill = (await Promise.all([q.orders.getActiveCount(), q.results.getActiveCount()])).reduce(
      (a, b) => a + b,
    );
    const doneAtKill = await done();
    const finishedByVictim = victim
      .records()
      .filter((r) => r.msg === 'delivered' || r.msg === 'report update not pushed').length;
    victim.kill('SIGKILL');
    const killedAt = Date.now();
    const exit = await victim.exited;
    workers.push(...(await startWorkers(1, env)));
    const intake = await queued;
    await waitIdle(q, 240_000, 200);
    const totalMs = Date.now() - t0;

    // The jobs the killed process held were found stalled and finished by the others.
    let recovered = 0;
    let lastRecoveredAt = killedAt;
    for (const queue of [q.orders, q.results]) {
      for (const job of await queue.getJobs(['completed'], 0, -1)) {
        if (job.stalledCounter > 0) {
          recovered++;
          lastRecoveredAt = Math.max(lastRecoveredAt, job.finishedOn ?? 0);
        }
      }
    }
    const jobs = await jobFigures(q);
    const { ehr, state, history } = await ehrOutcome(sandbox, load);
    printFigures('kill -9 worker', {
      sent: total,
      updates: load.updates.length,
      workers: WORKERS,
      jobsDoneAtKill: doneAtKill,
      activeAtKill,
      finishedByVictimBeforeKill: finishedByVictim,
      victimExit: exit,
      ...jobs.completed,
      finished: finished(jobs),
      stalledJobsRecovered: recovered,
      timeToRecoverMs: lastRecoveredAt - killedAt,
      lost: total - finished(jobs),
      failed: jobs.failed,
      deadLettered: jobs.deadLetters,
      duplicatedInEhr: ehr.duplicates,
      reportVersionsWrittenTwice: history.doubleWrites,
      reportsNewest: state.reports - state.wrong.length - state.missing,
      reportsWrong: state.wrong.length + state.missing,
      enqueueMs: intake.ms,
      totalMs,
      jobsPerSecond: Math.round((total / totalMs) * 1000),
    });

    expect(exit).toBe('SIGKILL');
    expect(activeAtKill).toBeGreaterThan(0);
    expect(intake.created).toBe(total);
    // None lost: every job finished, none failed or dead-lettered, every report is in its newest version.
    expect(jobs.pending).toBe(0);
    expect(jobs.failed).toBe(0);
    expect(jobs.deadLetters).toBe(0);
    expect(finished(jobs)).toBe(total);
    expectExactlyOnce({ ehr, state, history });
    expect(ehr.counts.Patient).toBe(ORDERS);
    expect(ehr.counts.ServiceRequest).toBe(ORDERS);
    expect(ehr.counts.DiagnosticReport).toBe(2 * ORDERS);
  }, 420_000);
});
