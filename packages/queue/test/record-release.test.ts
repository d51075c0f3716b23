import { Redis } from 'ioredis';
import { withTestRedis } from '../../../test/harness/redis';
import { LuaScript, OrderLock, TrackingStore } from '../src';

const redisSuite = withTestRedis();

describe('a tracking write that releases the order lock', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(redisSuite().url);
  });
  afterAll(() => redis.disconnect());

  const event = {
    at: '2026-03-02T10:00:00Z',
    trackingId: 'trk-r1',
    jobId: 'j-r1',
    kind: 'result' as const,
    event: 'delivered' as const,
  };

  it('writes the step and releases the lock held inside withLock, once', async () => {
    const prefix = '{rel-1}';
    const lock = new OrderLock(redis, 30_000, prefix);
    const tracking = new TrackingStore(redis, prefix);
    const released: boolean[] = [];
    const outcome = await lock.withLock('o', async (held) => {
      await tracking.record(
        'o',
        event,
        { resources: [{ resourceType: 'Observation', reference: 'Observation/1' }] },
        held,
      );
      released.push(held.released);
      // Released with the write: another worker can take the order now.
      return lock.acquire('o');
    });
    expect(released).toEqual([true]);
    expect(outcome.acquired && outcome.value).toEqual(expect.any(String));
    // withLock did not release the lock taken after (it belongs to someone else now).
    expect(await redis.get(`${prefix}:order-lock:o`)).toBe(outcome.acquired ? outcome.value : 'none');
    const t = await tracking.get('o');
    expect(t?.events.map((e) => e.event)).toEqual(['delivered']);
    expect(t?.resources).toEqual({ Observation: ['Observation/1'] });
  });

  it('leaves a lock held under another token alone', async () => {
    const prefix = '{rel-2}';
    const lock = new OrderLock(redis, 30_000, prefix);
    const tracking = new TrackingStore(redis, prefix);
    const other = await lock.acquire('o');
    const held = { key: `${prefix}:order-lock:o`, token: 'not-the-holder', released: false };
    await tracking.record('o', event, {}, held);
    expect(await redis.get(`${prefix}:order-lock:o`)).toBe(other);
    expect((await tracking.get('o'))?.events).toHaveLength(1);
  });

  it('one failing write does not stop the others (as MULTI/EXEC)', async () => {
    const prefix = '{rel-3}';
    const tracking = new TrackingStore(redis, prefix);
    await redis.set(`${prefix}:tracking:order:o:reports`, 'not a hash');
    await tracking.record('o', event, { report: { code: '48807-2', status: 'final' } });
    expect(await redis.llen(`${prefix}:tracking:order:o:events`)).toBe(1);
  });

  it('sends the script again after Redis lost it (SCRIPT FLUSH, restart)', async () => {
    const script = new LuaScript(`return redis.call('incr', KEYS[1])`);
    expect(await script.run(redis, ['{rel-4}:n'], [])).toBe(1);
    await redis.script('FLUSH');
    expect(await script.run(redis, ['{rel-4}:n'], [])).toBe(2);
  });
});
