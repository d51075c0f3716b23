import { randomUUID } from 'node:crypto';
import type { RedisConnection } from './connection';
import { DEFAULT_PREFIX } from './names';
import { LuaScript } from './script';

/** The lock as held inside withLock: a write that releases it (TrackingStore.record) sets `released`. */
export interface HeldLock {
  key: string;
  token: string;
  released: boolean;
}

/**
 * Per-order mutual exclusion across any number of worker processes (BullMQ's free version has no groups).
 * A worker holds the order's lock while it reads the EHR, decides and pushes; a second update of the same
 * order finds the lock taken and is put back as delayed (not failed, no attempt used). The lock expires on
 * its own if its holder dies (kill -9), and the holder extends it while it works. Correctness does not rest
 * on the lock alone: writes also carry If-Match, so a lock lost to a long pause cannot overwrite newer data.
 */
export class OrderLock {
  private readonly prefix: string;

  constructor(
    private readonly redis: RedisConnection,
    private readonly ttlMs = 30_000,
    prefix = DEFAULT_PREFIX,
  ) {
    this.prefix = `${prefix}:order-lock:`;
  }

  /** Returns a token when the lock was taken, undefined when someone else holds it. */
  async acquire(orderKey: string): Promise<string | undefined> {
    const token = randomUUID();
    const ok = await this.redis.set(this.key(orderKey), token, 'PX', this.ttlMs, 'NX');
    return ok === 'OK' ? token : undefined;
  }

  async extend(orderKey: string, token: string): Promise<boolean> {
    const n = await EXTEND.run(this.redis, [this.key(orderKey)], [token, String(this.ttlMs)]);
    return n === 1;
  }

  async release(orderKey: string, token: string): Promise<void> {
    await RELEASE.run(this.redis, [this.key(orderKey)], [token]);
  }

  /**
   * Runs `fn` holding the lock, extending it every ttl/3, and releases it after (unless `fn` released it with
   * its last write, see TrackingStore.record); `{ acquired: false }` when the lock is taken.
   */
  async withLock<T>(
    orderKey: string,
    fn: (held: HeldLock) => Promise<T>,
  ): Promise<{ acquired: true; value: T } | { acquired: false }> {
    const token = await this.acquire(orderKey);
    if (!token) return { acquired: false };
    const held: HeldLock = { key: this.key(orderKey), token, released: false };
    const timer = setInterval(
      () => void this.extend(orderKey, token).catch(() => undefined),
      Math.floor(this.ttlMs / 3),
    );
    timer.unref();
    try {
      return { acquired: true, value: await fn(held) };
    } finally {
      clearInterval(timer);
      if (!held.released) await this.release(orderKey, token).catch(() => undefined);
    }
  }

  private key(orderKey: string): string {
    return this.prefix + orderKey;
  }
}

// Only the holder (same token) may extend or release.
const EXTEND = new LuaScript(
  `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`,
);
const RELEASE = new LuaScript(
  `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`,
);
