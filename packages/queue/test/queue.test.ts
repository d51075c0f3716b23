import type { MessageResult } from '@marrowbridge/intake';
import type { BmaOrder, ResultUpdate } from '@marrowbridge/model';
import type { Bundle } from '@medplum/fhirtypes';
import { Redis } from 'ioredis';
import { withTestRedis } from '../../../test/harness/redis';
import { backoffDelay, DeliveryQueues, deliveryJobId, OrderLock, type DeliveryJobData } from '../src';

const redisSuite = withTestRedis();

const order: BmaOrder = {
  kind: 'order',
  placerOrderNumber: { system: 'urn:oid:2.16.840.1.113883.3.9999.2', value: 'PLC-Q-1' },
  authoredOn: '2026-03-02T08:30:00-05:00',
  priority: 'routine',
  patient: { mrn: { system: 'urn:oid:2.16.840.1.113883.3.9999.1', value: 'MRN-Q-1' } },
  orderingProvider: { npi: '1234567893' },
  reasons: [{ text: 'pancytopenia' }],
  requestedStudies: ['morphology'],
  procedure: { type: 'aspiration', bodySite: { site: 'sternum' } },
  specimens: [{ id: { system: 'urn:oid:2.16.840.1.113883.3.9999.3', value: 'SP-Q-1' }, kind: 'aspirate' }],
};

const result: ResultUpdate = {
  kind: 'result',
  placerOrderNumber: order.placerOrderNumber,
  patient: { mrn: order.patient.mrn },
  reportCode: { system: 'http://loinc.org', code: '48807-2' },
  status: 'preliminary',
  issued: '2026-03-03T10:00:00-05:00',
  effective: '2026-03-02T09:00:00-05:00',
  specimenIds: [order.specimens[0].id],
  observations: [],
};

function translated(...messages: (BmaOrder | ResultUpdate)[]): MessageResult & { ok: true } {
  return { ok: true, format: 'json', items: messages.map((message) => ({ message, bundle: {} as Bundle })) };
}

function newQueues(): DeliveryQueues {
  const prefix = `{q${Math.random().toString(36).slice(2, 8)}}`;
  return new DeliveryQueues({ connection: new Redis(redisSuite().url, { maxRetriesPerRequest: null }), prefix });
}

describe('DeliveryQueues', () => {
  let queues: DeliveryQueues;
  beforeEach(() => {
    queues = newQueues();
  });
  afterEach(async () => {
    await queues.close();
    queues.connection.disconnect();
  });

  it('puts each item on its queue with an id derived from the message identity', async () => {
    const raw = JSON.stringify(order);
    const r = await queues.enqueueMessage(translated(order, result), raw, { channel: 'http', system: 'lab-a' });
    expect(r.jobs.map((j) => [j.kind, j.queue, j.created])).toEqual([
      ['order', 'order-deliveries', true],
      ['result', 'result-deliveries', true],
    ]);
    expect(r.trackingId).toMatch(/^trk-[0-9a-f]{24}$/);
    expect(await queues.orders.getJobCounts('waiting')).toEqual({ waiting: 1 });
    const job = await queues.orders.getJob(r.jobs[0].jobId);
    expect(job?.data.orderKey).toBe('urn:oid:2.16.840.1.113883.3.9999.2|PLC-Q-1');
    expect(job?.opts.attempts).toBe(queues.retry.attempts);
  });

  it('a re-sent message (same source, id and content) finds its job instead of adding another', async () => {
    const raw = JSON.stringify(order);
    const identity = { channel: 'mllp' as const, system: 'LIS|LAB', messageId: 'MSG-1' };
    const first = await queues.enqueueMessage(translated(order), raw, identity);
    const again = await queues.enqueueMessage(translated(order), raw, identity);
    expect(again.jobs[0]).toEqual({ ...first.jobs[0], created: false });
    expect(again.trackingId).toBe(first.trackingId);
    expect(await queues.orders.count()).toBe(1);
  });

  it('the same message taken several times at once is added once, and only one answer says created', async () => {
    const raw = JSON.stringify(order);
    const identity = { channel: 'http' as const, system: 'LIS|LAB', messageId: 'MSG-RACE' };
    const answers = await Promise.all([
      queues.enqueueMessage(translated(order), raw, identity),
      queues.enqueueMessage(translated(order), raw, identity),
      queues.enqueueMessage(translated(order), raw, identity),
    ]);
    expect(answers.map((a) => a.jobs[0].created).sort()).toEqual([false, false, true]);
    expect(new Set(answers.map((a) => a.jobs[0].jobId)).size).toBe(1);
    const queued = (await queues.tracking.get(answers[0].jobs[0].orderKey))?.events.filter((e) => e.event === 'queued');
    expect(queued?.filter((e) => e.jobId === answers[0].jobs[0].jobId)).toHaveLength(1);
  });

  it('the same message id with other content is a different job', async () => {
    const identity = { channel: 'mllp' as const, system: 'LIS|LAB', messageId: 'MSG-2' };
    const a = await queues.enqueueMessage(translated(order), 'A', identity);
    const b = await queues.enqueueMessage(translated(order), 'B', identity);
    expect(a.jobs[0].jobId).not.toBe(b.jobs[0].jobId);
  });

  it('job ids never contain ":" (BullMQ refuses them)', () => {
    const id = deliveryJobId({
      kind: 'result',
      source: { channel: 'http', system: 'a:b', messageId: 'c:d' },
      contentHash: 'e',
      itemIndex: 0,
    });
    expect(id).not.toContain(':');
  });

  it('refuses a prefix without a hash tag (it would break on Redis Cluster)', () => {
    expect(() => new DeliveryQueues({ connection: queues.connection, prefix: 'plain' })).toThrow(/hash tag/);
  });

  it('tracks queued updates per order, findable by tracking id and by placer number', async () => {
    const r = await queues.enqueueMessage(translated(result), JSON.stringify(result), {
      channel: 'http',
      system: 'lab-a',
    });
    const byId = await queues.tracking.resolve(r.trackingId);
    const byPlacer = await queues.tracking.resolve('PLC-Q-1');
    expect(byId).toEqual(['urn:oid:2.16.840.1.113883.3.9999.2|PLC-Q-1']);
    expect(byPlacer).toEqual(byId);
    const t = await queues.tracking.get(byId[0]);
    expect(t?.events).toEqual([
      expect.objectContaining({ event: 'queued', kind: 'result', reportCode: '48807-2', status: 'preliminary' }),
    ]);
    expect(JSON.stringify(t)).not.toContain('MRN-Q-1');
  });

  it('a delivered step records the event, the EHR resources and the report status together', async () => {
    const orderKey = 'urn:oid:2.16.840.1.113883.3.9999.2|PLC-T-9';
    const event = { at: '2026-03-02T10:00:00Z', trackingId: 'trk-t9', jobId: 'j-9', kind: 'result' as const };
    await queues.tracking.record(orderKey, { ...event, event: 'queued' }, { link: true });
    await queues.tracking.record(
      orderKey,
      { ...event, event: 'delivered' },
      {
        resources: [
          { resourceType: 'Observation', reference: 'Observation/2' },
          { resourceType: 'Observation', reference: 'Observation/1' },
          { resourceType: 'DiagnosticReport', reference: 'DiagnosticReport/7' },
        ],
        report: { code: '48807-2', status: 'final' },
      },
    );
    expect(await queues.tracking.resolve('trk-t9')).toEqual([orderKey]);
    expect(await queues.tracking.resolve('PLC-T-9')).toEqual([orderKey]);
    const t = await queues.tracking.get(orderKey);
    expect(t?.events.map((e) => e.event)).toEqual(['queued', 'delivered']);
    expect(t?.resources).toEqual({
      DiagnosticReport: ['DiagnosticReport/7'],
      Observation: ['Observation/1', 'Observation/2'],
    });
    expect(t?.reports).toEqual({ '48807-2': 'final' });
  });

  it('dead-letters a job with its payload, reason and attempts, lists it, and replays it as a new job', async () => {
    const raw = JSON.stringify(order);
    const r = await queues.enqueueMessage(translated(order), raw, { channel: 'http', system: 'lab-a' });
    const job = (await queues.orders.getJob(r.jobs[0].jobId))!;
    await job.updateData({
      ...job.data,
      attempts: [{ at: '2026-03-02T10:00:00Z', kind: 'invalid', reason: 'fails profile' }],
    });
    const refreshed = (await queues.orders.getJob(r.jobs[0].jobId))!;
    const entry = await queues.addDeadLetter(refreshed, 'validation failed', {
      outcome: {
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'error', code: 'invalid', details: { text: 'x' } }],
      },
    });
    const listed = await queues.listDeadLetters();
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({
      id: entry.id,
      reason: 'validation failed',
      attempts: [{ reason: 'fails profile' }],
    });
    expect(listed[0].data.raw).toBe(raw);

    const replay = await queues.replayDeadLetter(entry.id);
    expect(replay.ok).toBe(true);
    if (replay.ok) {
      expect(replay.job.jobId).toContain(r.jobs[0].jobId + '-replay-');
      const replayed = (await queues.orders.getJob(replay.job.jobId))!.data as DeliveryJobData;
      expect(replayed.source.channel).toBe('replay');
      expect(replayed.attempts).toEqual([]);
    }
    expect(await queues.listDeadLetters()).toHaveLength(0);
  });

  it('replay of an entry whose input no longer translates keeps the entry and says why', async () => {
    const bad = { ...order, priority: 'whenever' };
    const r = await queues.enqueueMessage(translated(bad as BmaOrder), JSON.stringify(bad), {
      channel: 'http',
      system: 'lab-a',
    });
    const entry = await queues.addDeadLetter((await queues.orders.getJob(r.jobs[0].jobId))!, 'EHR refused it');
    const replay = await queues.replayDeadLetter(entry.id);
    expect(replay).toMatchObject({ ok: false, reason: 'the kept input no longer translates' });
    expect(await queues.listDeadLetters()).toHaveLength(1);
    expect(await queues.replayDeadLetter('dlq-nope')).toMatchObject({
      ok: false,
      reason: 'no dead-letter entry dlq-nope',
    });
  });
});

describe('OrderLock', () => {
  it('lets one holder in at a time, across connections, and expires when the holder dies', async () => {
    const a = new Redis(redisSuite().url);
    const b = new Redis(redisSuite().url);
    try {
      const lockA = new OrderLock(a, 300, '{lock-test}');
      const lockB = new OrderLock(b, 300, '{lock-test}');
      const token = await lockA.acquire('order-1');
      expect(token).toBeDefined();
      expect(await lockB.acquire('order-1')).toBeUndefined();
      expect(await lockB.acquire('order-2')).toBeDefined(); // other orders are independent
      // B cannot release A's lock.
      await lockB.release('order-1', 'not-the-token');
      expect(await lockB.acquire('order-1')).toBeUndefined();
      // A "dies": its lock expires by itself.
      await new Promise((r) => setTimeout(r, 400));
      expect(await lockB.acquire('order-1')).toBeDefined();
    } finally {
      a.disconnect();
      b.disconnect();
    }
  });

  it('withLock extends the lock while the work runs and releases it after', async () => {
    const a = new Redis(redisSuite().url);
    try {
      const lock = new OrderLock(a, 300, '{lock-test2}');
      const inner = await lock.withLock('o', async () => {
        await new Promise((r) => setTimeout(r, 700)); // longer than the TTL: extension keeps it held
        return lock.acquire('o');
      });
      expect(inner).toEqual({ acquired: true, value: undefined });
      expect(await lock.acquire('o')).toBeDefined();
    } finally {
      a.disconnect();
    }
  });
});

describe('backoffDelay', () => {
  const policy = { attempts: 10, baseDelayMs: 1000, maxDelayMs: 60_000 };
  it('doubles per attempt within [d/2, d], capped, and never goes below Retry-After', () => {
    expect(backoffDelay(1, policy, undefined, () => 0)).toBe(500);
    expect(backoffDelay(1, policy, undefined, () => 1)).toBe(1000);
    expect(backoffDelay(3, policy, undefined, () => 1)).toBe(4000);
    expect(backoffDelay(20, policy, undefined, () => 1)).toBe(60_000);
    expect(backoffDelay(1, policy, 30_000, () => 0)).toBe(30_000);
    expect(backoffDelay(1, policy, 10 * 60_000, () => 0)).toBe(60_000);
  });
});
