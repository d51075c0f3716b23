/**
 * The delivery metrics the gateway feeds from the queues' events: a job finished on its first try is counted
 * without reading the job; one tried before (a failed try, or a try cut short by a crash: a stalled job) has
 * its recorded attempts counted too.
 */
import { createRedisConnection, DeliveryQueues, QUEUE_NAMES, type DeliveryJobData } from '@marrowbridge/queue';
import { Job, Worker } from 'bullmq';
import pino from 'pino';
import { withTestRedis } from '../../../test/harness/redis';
import { createMetrics } from '../src/metrics';

const redisSuite = withTestRedis();

function data(id: string, attempts: DeliveryJobData['attempts']): DeliveryJobData {
  return { trackingId: `trk-${id}`, attempts } as DeliveryJobData;
}

async function counted(metrics: ReturnType<typeof createMetrics>): Promise<Record<string, number>> {
  const metric = await metrics.registry.getSingleMetric('marrowbridge_ehr_delivery_attempts_total')!.get();
  return Object.fromEntries(metric.values.map((v) => [String(v.labels.status), v.value]));
}

it('reads only the jobs tried before: their recorded attempts are counted, and 2xx for every finished job', async () => {
  const reads = jest.spyOn(Job, 'fromId');
  const connection = createRedisConnection(redisSuite().url, { forWorker: true });
  const prefix = `{mf${Math.random().toString(36).slice(2, 8)}}`;
  const queues = new DeliveryQueues({ connection, prefix });
  const metrics = createMetrics(queues);
  const log = pino({ level: 'silent' });
  await metrics.followQueues(queues, () => createRedisConnection(redisSuite().url, { forWorker: true }), log);
  const worker = new Worker<DeliveryJobData>(
    QUEUE_NAMES.orders,
    async (job) => {
      // As if an earlier try had recorded its failure and then the worker died (the job stalled once).
      if (job.id === 'tried-before') await connection.hset(queues.orders.toKey(job.id), 'stc', 1);
      // A failed try first, its attempt recorded as the sync-worker does before it throws.
      if (job.id === 'retried' && job.attemptsMade === 0) {
        await job.updateData({ ...job.data, attempts: [{ at: 'x', kind: 'transient', reason: 'r', status: 502 }] });
        throw new Error('EHR answered 502');
      }
      return { outcome: 'delivered', deliveredAt: new Date().toISOString(), latencyMs: 1 };
    },
    { connection, prefix },
  );
  try {
    await queues.orders.add('order', data('first', undefined), { jobId: 'first' });
    await queues.orders.add('order', data('tried-before', [{ at: 'x', kind: 'transient', reason: 'r', status: 503 }]), {
      jobId: 'tried-before',
    });
    await queues.orders.add('order', data('retried', undefined), { jobId: 'retried', attempts: 2 });
    const deadline = Date.now() + 10_000;
    while ((await counted(metrics))['2xx'] !== 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await metrics.stop();
    expect(await counted(metrics)).toEqual({ '2xx': 3, '503': 1, '502': 1 });
    expect(reads.mock.calls.map((c) => c[1]).sort()).toEqual(['retried', 'tried-before']);
  } finally {
    await worker.close();
    await metrics.stop();
    await queues.close();
    connection.disconnect();
    reads.mockRestore();
  }
});
