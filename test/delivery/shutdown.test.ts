/**
 * Issue 5: graceful shutdown and start-up checks of the sync-worker process.
 * - SIGTERM to a worker process while jobs are in flight: it finishes them, exits 0, and no job is lost (the
 *   rest are delivered by the other worker).
 * - A wrong setting stops `services/sync-worker` at start with exit code 2 and a message naming the variable.
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
import { subset, syntheticLoad } from '../support/synthetic';
import { spawnWorker, startWorkers, stopWorkers, type WorkerProcess } from '../support/worker-process';

const redis = withTestRedis();

describe('sync-worker process lifecycle', () => {
  let sandbox: EhrSandbox;
  let connection: RedisConnection;
  let queues: DeliveryQueues;
  let workers: WorkerProcess[] = [];

  afterAll(async () => {
    await stopWorkers(workers);
    await queues?.close();
    connection?.disconnect();
    await sandbox?.stop();
  });

  it('SIGTERM with jobs in flight: exits 0 after finishing them; nothing is lost', async () => {
    // 40 ms per EHR request: a delivery takes about half a second, so a signal always finds work in flight.
    sandbox = await startEhrSandbox({ auth: 'off', faults: { latencyMs: 40 } });
    const prefix = `{stop${Math.random().toString(36).slice(2, 8)}}`;
    connection = createRedisConnection(redis().url);
    queues = new DeliveryQueues({ connection, prefix });
    workers = await startWorkers(2, {
      REDIS_URL: redis().url,
      QUEUE_PREFIX: prefix,
      EHR_BASE_URL: sandbox.baseUrl,
      WORKER_CONCURRENCY: '4',
      RETRY_BASE_DELAY_MS: '100',
      RETRY_MAX_DELAY_MS: '1000',
    });
    const [victim, survivor] = workers;

    // Each order with the first two versions of both its reports.
    const load = subset(syntheticLoad(12, 'ST'), (u) => u.version <= 2);
    const inputs = [...load.orders, ...load.updates];
    for (const input of inputs) {
      const [result] = translateInput(input.raw);
      if (!result?.ok) throw new Error('synthetic input does not translate');
      await queues.enqueueMessage(result, input.raw, { channel: 'http', system: 'shutdown-test' });
    }
    const t0 = Date.now();
    // Wait until both processes are delivering, then stop one of them.
    const finishedLines = (w: WorkerProcess) =>
      w.records().filter((r) => r.msg === 'delivered' || r.msg === 'report update not pushed').length;
    while (finishedLines(victim) < 2 || finishedLines(survivor) < 1) {
      if (Date.now() - t0 > 30_000) throw new Error('workers did not start delivering');
      await new Promise((r) => setTimeout(r, 20));
    }
    const active = (await Promise.all([queues.orders.getActive(), queues.results.getActive()])).flat();
    const finishedBeforeSignal = finishedLines(victim);
    victim.kill('SIGTERM');
    const signalledAt = Date.now();
    const exitCode = await victim.exited;
    const stopMs = Date.now() - signalledAt;
    const finishedAfterSignal = finishedLines(victim) - finishedBeforeSignal;

    await waitIdle(queues, 60_000);
    const jobs = await jobFigures(queues);
    const { ehr, state, history } = await ehrOutcome(sandbox, load);
    const activeStates = await Promise.all(active.map((j) => j.getState()));
    printFigures('SIGTERM', {
      sent: inputs.length,
      inFlightAtSignal: active.length,
      finishedAfterSignalByStoppedWorker: finishedAfterSignal,
      exitCode,
      stopMs,
      ...jobs.completed,
      lost: jobs.pending + jobs.failed,
      deadLettered: jobs.deadLetters,
      ehrDuplicates: ehr.duplicates,
    });

    expect(exitCode).toBe(0);
    expect(victim.stderr).toMatch(/SIGTERM received, finishing jobs in flight/);
    expect(victim.records().some((r) => r.msg === 'sync-worker stopped')).toBe(true);
    expect(active.length).toBeGreaterThan(0);
    expect(activeStates.every((s) => s === 'completed')).toBe(true);
    expect(jobs.failed).toBe(0);
    expect(jobs.deadLetters).toBe(0);
    expect(finished(jobs)).toBe(inputs.length);
    expectExactlyOnce({ ehr, state, history });
  }, 120_000);

  it('a wrong setting stops the worker at start with exit 2, naming the variable', async () => {
    const proc = spawnWorker({ WORKER_CONCURRENCY: 'abc', REDIS_URL: redis().url, LOG_LEVEL: 'silent' }, 'bad');
    const code = await proc.exited;
    printFigures('wrong setting', { exitCode: code, message: proc.stderr.trim().split('\n').slice(0, 2).join(' ') });
    expect(code).toBe(2);
    expect(proc.stderr).toMatch(/WORKER_CONCURRENCY/);
    expect(proc.stderr).toMatch(/abc/);
    expect(proc.records().some((r) => r.msg === 'sync-worker started')).toBe(false);
  }, 60_000);
});
