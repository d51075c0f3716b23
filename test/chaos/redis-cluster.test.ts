/**
 * Issue 7, Redis Cluster: the delivery path on a 3-node Redis Cluster started on loopback ports (three
 * redis-server processes in cluster mode, the 16384 slots split between them, no replicas). The gateway takes the
 * orders over HTTP, result updates are queued through DeliveryQueues, and two real sync-worker processes deliver;
 * every one of them is given the three node URLs as REDIS_URL. Must show: the hash-tagged prefix keeps every key of
 * the queues, order locks and tracking records in one slot (so BullMQ's multi-key scripts run), and everything is
 * delivered once, each report in its newest version.
 */
import { startEhrSandbox, type EhrSandbox } from '@marrowbridge/ehr-sandbox';
import { loadGatewayConfig, startGateway, type RunningGateway } from '@marrowbridge/gateway';
import { createRedisConnection, DeliveryQueues, type RedisConnection } from '@marrowbridge/queue';
import Redis, { Cluster } from 'ioredis';
import pino from 'pino';
import { makeSigner } from '../../services/gateway/test/helpers';
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
import { chaosSeed, enqueueAll, startRedisCluster, type TestRedisCluster } from './support';

const ORDERS = 15;
const RESENDS = 20;
const SEED = chaosSeed(7007);

describe('delivery on a 3-node Redis Cluster', () => {
  let cluster: TestRedisCluster | undefined;
  let sandbox: EhrSandbox | undefined;
  let connection: RedisConnection | undefined;
  let queues: DeliveryQueues | undefined;
  let gateway: RunningGateway | undefined;
  let workers: WorkerProcess[] = [];

  afterAll(async () => {
    await stopWorkers(workers, 10_000);
    await gateway?.stop();
    await queues?.close();
    connection?.disconnect();
    await sandbox?.stop();
    await cluster?.stop();
  }, 60_000);

  it('orders over HTTP and shuffled report versions: one slot for all keys, everything delivered once', async () => {
    const t0 = Date.now();
    cluster = await startRedisCluster(3);
    const clusterMs = Date.now() - t0;
    sandbox = await startEhrSandbox({ auth: 'off' });
    const prefix = `{cl${Math.random().toString(36).slice(2, 8)}}`;
    connection = createRedisConnection(cluster.url);
    expect(connection).toBeInstanceOf(Cluster);
    const q = new DeliveryQueues({ connection, prefix });
    queues = q;
    const signer = await makeSigner();
    gateway = await startGateway(
      loadGatewayConfig({
        REDIS_URL: cluster.url,
        QUEUE_PREFIX: prefix,
        EHR_BASE_URL: sandbox.baseUrl,
        GATEWAY_PORT: '0',
        GATEWAY_AUTH: 'jwt',
        GATEWAY_JWT_PUBLIC_KEY: signer.publicKeyPem,
        LOG_LEVEL: 'silent',
      }),
      { log: pino({ level: 'silent' }) },
    );
    workers = await startWorkers(2, {
      REDIS_URL: cluster.url,
      QUEUE_PREFIX: prefix,
      EHR_BASE_URL: sandbox.baseUrl,
      WORKER_CONCURRENCY: '4',
      RETRY_BASE_DELAY_MS: '100',
      RETRY_MAX_DELAY_MS: '1000',
    });

    const load = syntheticLoad(ORDERS, 'CL');
    const token = await signer.token();
    const statuses: number[] = [];
    for (const o of load.orders) {
      const res = await fetch(`${gateway.url}/orders`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: o.raw,
      });
      statuses.push(res.status);
      await res.arrayBuffer();
    }
    const updates = shuffled([...load.updates, ...shuffled(load.updates, SEED).slice(0, RESENDS)], SEED + 1);
    const intake = await enqueueAll(q, updates, { concurrency: 4 });
    await waitIdle(q, 120_000, 100);
    const totalMs = Date.now() - t0;

    // Where the keys are: every key of this prefix on one node, in the prefix's slot.
    const admins = cluster.nodes.map((n) => new Redis(n.port, n.host, { maxRetriesPerRequest: 2 }));
    const keysPerNode: number[] = [];
    const slots = new Set<number>();
    try {
      for (const admin of admins) {
        let cursor = '0';
        let n = 0;
        do {
          const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
          cursor = next;
          n += keys.length;
          for (const key of keys.slice(0, 50)) slots.add(Number(await admin.call('CLUSTER', 'KEYSLOT', key)));
        } while (cursor !== '0');
        keysPerNode.push(n);
      }
    } finally {
      for (const a of admins) a.disconnect();
    }
    const prefixSlot = Number(await (connection as Cluster).call('CLUSTER', 'KEYSLOT', prefix));

    const jobs = await jobFigures(q);
    const { ehr, state, history } = await ehrOutcome(sandbox, load);
    const expectedJobs = ORDERS * (1 + UPDATES_PER_ORDER);
    const workerErrors = workers.flatMap((w) => w.records().filter((r) => r.msg === 'worker error'));
    printFigures('redis cluster', {
      nodes: cluster.nodes.length,
      clusterStartMs: clusterMs,
      sent: load.orders.length + updates.length,
      ordersOverHttp: statuses.filter((s) => s === 202).length,
      resent: RESENDS,
      duplicatesFoundAtIntake: intake.existed,
      ...jobs.completed,
      finished: finished(jobs),
      lost: expectedJobs - finished(jobs),
      deadLettered: jobs.deadLetters,
      duplicatedInEhr: ehr.duplicates,
      reportVersionsWrittenTwice: history.doubleWrites,
      reportsWrong: state.wrong.length + state.missing,
      workerErrors: workerErrors.length,
      keysPerNode: keysPerNode.join('/'),
      slots: [...slots].join(','),
      prefixSlot,
      totalMs,
    });

    expect(statuses.every((s) => s === 202)).toBe(true);
    expect(workerErrors).toEqual([]);
    expect(intake.existed).toBe(RESENDS);
    // One slot: the keys sit on a single node, all in the prefix's slot.
    expect(keysPerNode.filter((n) => n > 0)).toHaveLength(1);
    expect([...slots]).toEqual([prefixSlot]);
    // Everything delivered once.
    expect(jobs.failed).toBe(0);
    expect(jobs.deadLetters).toBe(0);
    expect(jobs.pending).toBe(0);
    expect(finished(jobs)).toBe(expectedJobs);
    expectExactlyOnce({ ehr, state, history });
    expect(ehr.counts.Patient).toBe(ORDERS);
    expect(ehr.counts.DiagnosticReport).toBe(2 * ORDERS);
  }, 180_000);
});
