import { createHash } from 'node:crypto';
import type { RedisConnection } from './connection';

/**
 * A Lua script run by its SHA (EVALSHA), sent in full (EVAL) only when Redis does not have it yet (NOSCRIPT:
 * first use, a restart, a failover to another node). Not defined on the connection (defineCommand), which
 * would make every ioredis pipeline of that connection (BullMQ's included) copy one more command.
 */
export class LuaScript {
  private readonly sha: string;

  constructor(private readonly lua: string) {
    this.sha = createHash('sha1').update(lua).digest('hex');
  }

  async run(redis: RedisConnection, keys: string[], args: (string | number)[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return redis.eval(this.lua, keys.length, ...keys, ...args);
    }
  }
}
