import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { repoRoot } from '../support/paths';
import {
  containerRuntimeHint,
  findRedisServer,
  freeLoopbackPort,
  openRedisSuite,
  respCommand,
  startRedisContainer,
  startTestRedis,
  withTestRedis,
  type RedisContainerStarter,
  type TestRedis,
} from './redis';

// Strategy tests pass their own env so that a REDIS_URL exported in the shell cannot steer them.
const PLAIN_ENV: NodeJS.ProcessEnv = { PATH: process.env.PATH };
const NO_RUNTIME = 'Could not find a working container runtime strategy';

function recorder(): { lines: string[]; log: (line: string) => void } {
  const lines: string[] = [];
  return { lines, log: (line) => lines.push(line) };
}

function failingStarter(message = NO_RUNTIME): RedisContainerStarter & { calls: number } {
  const starter = Object.assign(
    async () => {
      starter.calls++;
      throw new Error(message);
    },
    { calls: 0 },
  );
  return starter;
}

/** Alive and not a zombie (an orphan may sit unreaped under a container's pid 1). */
function isAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    if (process.platform === 'linux') return false;
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
}

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return cond();
}

async function withClient<T>(url: string, fn: (c: Redis) => Promise<T>): Promise<T> {
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    return await fn(client);
  } finally {
    client.disconnect();
  }
}

describe('startTestRedis: strategy selection', () => {
  // A private server that plays the part of "the server REDIS_URL points at".
  let shared: TestRedis;
  beforeAll(async () => {
    shared = await startTestRedis({ preferSpawn: true, containerStarter: null, env: PLAIN_ENV, log: () => undefined });
  });
  afterAll(() => shared?.stop());

  it('honours REDIS_URL: pings it, never tries containers or spawning, and stop() leaves it running', async () => {
    const starter = failingStarter();
    const { lines, log } = recorder();
    const redis = await startTestRedis({
      env: { ...PLAIN_ENV, REDIS_URL: `${shared.url}/3` },
      containerStarter: starter,
      log,
    });
    expect(redis.kind).toBe('env');
    expect(redis.url).toBe(`${shared.url}/3`);
    expect(redis.host).toBe('127.0.0.1');
    expect(redis.port).toBe(shared.port);
    expect(redis.restart).toBeUndefined();
    expect(starter.calls).toBe(0);
    expect(lines).toEqual([expect.stringMatching(/^\[redis-harness\] using REDIS_URL redis:\/\/127\.0\.0\.1:\d+\/3/)]);
    await redis.stop();
    await expect(respCommand('127.0.0.1', shared.port, ['PING'], 1000)).resolves.toBe('+PONG');
  });

  it('rejects an unreachable REDIS_URL with a clear error and does not fall back', async () => {
    const port = await freeLoopbackPort();
    const starter = failingStarter();
    const { lines, log } = recorder();
    const attempt = startTestRedis({
      env: { ...PLAIN_ENV, REDIS_URL: `redis://:s3cret-pw@127.0.0.1:${port}/0` },
      containerStarter: starter,
      log,
    });
    await expect(attempt).rejects.toThrow(`REDIS_URL=redis://:***@127.0.0.1:${port}/0 does not answer PING`);
    await expect(attempt).rejects.toThrow(/ECONNREFUSED/);
    await expect(attempt).rejects.not.toThrow(/s3cret-pw/);
    expect(starter.calls).toBe(0);
    expect(lines).toEqual([]);
  });

  it('falls back from a container runtime that is missing to a spawned redis-server', async () => {
    const starter = failingStarter();
    const { lines, log } = recorder();
    const redis = await startTestRedis({ env: PLAIN_ENV, containerStarter: starter, log });
    try {
      expect(starter.calls).toBe(1);
      expect(redis.kind).toBe('spawned');
      expect(lines).toEqual([
        expect.stringMatching(/^\[redis-harness\] spawned redis-server on 127\.0\.0\.1:\d+ in \d+ ms$/),
      ]);
      expect(lines[0]).toContain(`:${redis.port} `);
    } finally {
      await redis.stop();
    }
  });

  it('time-boxes a container starter that never answers', async () => {
    const hanging: RedisContainerStarter = () => new Promise(() => undefined);
    const t0 = Date.now();
    const redis = await startTestRedis({
      env: PLAIN_ENV,
      containerStarter: hanging,
      containerTimeoutMs: 200,
      log: () => undefined,
    });
    try {
      expect(redis.kind).toBe('spawned');
      expect(Date.now() - t0).toBeLessThan(5000);
    } finally {
      await redis.stop();
    }
  });

  it('uses a container when the starter delivers one, and stops it exactly once', async () => {
    let stops = 0;
    const starter: RedisContainerStarter = async ({ appendOnly }) => {
      expect(appendOnly).toBe(true);
      return { host: '127.0.0.1', port: shared.port, stop: async () => void stops++ };
    };
    const { lines, log } = recorder();
    const redis = await startTestRedis({ env: PLAIN_ENV, containerStarter: starter, appendOnly: true, log });
    expect(redis.kind).toBe('container');
    expect(redis.url).toBe(`redis://127.0.0.1:${shared.port}`);
    expect(lines[0]).toMatch(/^\[redis-harness\] started redis:7-alpine container at 127\.0\.0\.1:\d+/);
    await redis.stop();
    await redis.stop();
    expect(stops).toBe(1);
  });

  it('preferSpawn spawns even when REDIS_URL is set', async () => {
    const starter = failingStarter();
    const redis = await startTestRedis({
      preferSpawn: true,
      env: { ...PLAIN_ENV, REDIS_URL: shared.url },
      containerStarter: starter,
      log: () => undefined,
    });
    try {
      expect(redis.kind).toBe('spawned');
      expect(redis.port).not.toBe(shared.port);
      expect(starter.calls).toBe(0);
    } finally {
      await redis.stop();
    }
  });

  it('says how to get Redis when no strategy works', async () => {
    const attempt = startTestRedis({
      env: { PATH: process.env.PATH, MARROWBRIDGE_REDIS_SERVER: '/nonexistent' },
      containerStarter: failingStarter(),
      log: () => undefined,
    });
    await expect(attempt).rejects.toThrow(/No Redis server available/);
    const message = await attempt.then(
      () => '',
      (err: Error) => err.message,
    );
    expect(message).toContain('REDIS_URL: not set');
    expect(message).toContain(`container: ${NO_RUNTIME}`);
    expect(message).toContain('MARROWBRIDGE_REDIS_SERVER=/nonexistent is not an executable file');
    expect(message).toContain('REDIS_URL=redis://');
    expect(message).toContain('apt-get install redis-server');
    expect(message).toContain('brew install redis');
    expect(message).toContain('Docker');
  });

  it('looks for redis-server on PATH, and only at MARROWBRIDGE_REDIS_SERVER when that is set', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-harness-path-'));
    try {
      const fake = path.join(dir, 'redis-server');
      fs.writeFileSync(fake, '#!/bin/sh\n', { mode: 0o755 });
      expect(findRedisServer({ PATH: `/nonexistent-dir${path.delimiter}${dir}` })).toBe(fake);
      expect(findRedisServer({ PATH: dir, MARROWBRIDGE_REDIS_SERVER: '/nonexistent' })).toBeUndefined();
      expect(findRedisServer({ MARROWBRIDGE_REDIS_SERVER: fake })).toBe(fake);
      fs.chmodSync(fake, 0o644);
      expect(findRedisServer({ MARROWBRIDGE_REDIS_SERVER: fake })).toBeUndefined();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('sees DOCKER_HOST as a container runtime hint', () => {
    expect(containerRuntimeHint({ DOCKER_HOST: 'tcp://docker.invalid:2375' })).toBe(
      'DOCKER_HOST=tcp://docker.invalid:2375',
    );
  });

  it('real testcontainers strategy either starts a container or fails fast with its own reason', async () => {
    // The hint makes startRedisContainer load testcontainers for real (lazily); with no engine it must reject quickly.
    const t0 = Date.now();
    let container: Awaited<ReturnType<typeof startRedisContainer>> | undefined;
    try {
      container = await startRedisContainer({
        appendOnly: false,
        env: { DOCKER_HOST: 'unix:///nonexistent/docker.sock' },
      });
    } catch (err) {
      expect((err as Error).message).toMatch(/container runtime|docker|ENOENT|did not answer/i);
      expect(Date.now() - t0).toBeLessThan(10_000);
      return;
    }
    try {
      await expect(respCommand(container.host, container.port, ['PING'], 2000)).resolves.toBe('+PONG');
    } finally {
      await container.stop();
    }
  });
});

describe('spawned redis-server', () => {
  const spawnOpts = { env: PLAIN_ENV, containerStarter: null, log: () => undefined } as const;

  it('serves SET/GET over ioredis on 127.0.0.1 without persistence, and stop() removes every trace', async () => {
    const redis = await startTestRedis(spawnOpts);
    const pid = redis.pid;
    const dir = redis.dir;
    expect(redis.kind).toBe('spawned');
    expect(redis.host).toBe('127.0.0.1');
    expect(pid).toEqual(expect.any(Number));
    expect(dir && fs.existsSync(dir)).toBe(true);
    await withClient(redis.url, async (client) => {
      await client.set('harness:k', 'v1');
      expect(await client.get('harness:k')).toBe('v1');
      expect(await client.config('GET', 'save')).toEqual(['save', '']);
      expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'no']);
      expect(await client.config('GET', 'bind')).toEqual(['bind', '127.0.0.1']);
    });

    await redis.stop();
    await expect(respCommand('127.0.0.1', redis.port, ['PING'], 1000)).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
    expect(isAlive(pid as number)).toBe(false);
    expect(fs.existsSync(dir as string)).toBe(false);
    expect(redis.pid).toBeUndefined();
    await redis.stop(); // idempotent
  });

  it('restart() with appendOnly keeps the data, the port and the dir', async () => {
    const redis = await startTestRedis({ ...spawnOpts, appendOnly: true });
    try {
      const firstPid = redis.pid;
      await withClient(redis.url, (c) => c.set('harness:durable', 'kept'));
      await redis.restart!();
      expect(redis.pid).toEqual(expect.any(Number));
      expect(redis.pid).not.toBe(firstPid);
      expect(isAlive(firstPid as number)).toBe(false);
      expect(fs.existsSync(path.join(redis.dir as string, 'appendonlydir'))).toBe(true);
      expect(await withClient(redis.url, (c) => c.get('harness:durable'))).toBe('kept');
    } finally {
      await redis.stop();
    }
  });

  it('kill() takes the server down hard; restart() brings it back with its AOF data', async () => {
    const redis = await startTestRedis({ ...spawnOpts, appendOnly: true });
    try {
      await withClient(redis.url, (c) => c.set('harness:after-crash', 'still-here'));
      const pid = redis.pid as number;
      await redis.kill!();
      expect(isAlive(pid)).toBe(false);
      expect(redis.pid).toBeUndefined();
      await expect(respCommand('127.0.0.1', redis.port, ['PING'], 1000)).rejects.toMatchObject({
        code: 'ECONNREFUSED',
      });
      await redis.restart!();
      expect(await withClient(redis.url, (c) => c.get('harness:after-crash'))).toBe('still-here');
    } finally {
      await redis.stop();
    }
  });

  it('without appendOnly a restart really starts an empty server', async () => {
    const redis = await startTestRedis(spawnOpts);
    try {
      await withClient(redis.url, (c) => c.set('harness:volatile', 'x'));
      await redis.restart!();
      expect(await withClient(redis.url, (c) => c.get('harness:volatile'))).toBeNull();
    } finally {
      await redis.stop();
    }
  });

  it('kill("SIGSTOP") freezes the server and stop() still cleans it up', async () => {
    const redis = await startTestRedis(spawnOpts);
    const pid = redis.pid as number;
    await redis.kill!('SIGSTOP');
    await expect(respCommand('127.0.0.1', redis.port, ['PING'], 300)).rejects.toThrow(/no reply/);
    await redis.stop();
    expect(isAlive(pid)).toBe(false);
  });

  describe.each(['hang', 'exit'])('a test process that %s without stop()', (mode) => {
    it('leaves no redis-server and no temp dir behind', async () => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', path.join(__dirname, 'fixtures', 'redis-orphan-child.ts'), mode],
        { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      expect(await waitFor(() => out.includes('\n') || child.exitCode !== null, 20_000)).toBe(true);
      const info = JSON.parse(out.split('\n')[0] || `{"error": ${JSON.stringify(err)}}`) as {
        pid: number;
        port: number;
        dir: string;
      };
      expect(info.pid).toEqual(expect.any(Number));
      if (mode === 'hang') {
        expect(isAlive(info.pid)).toBe(true);
        child.kill('SIGKILL'); // no exit hooks run: only the watchdog can clean up
      }
      await exited;
      expect(await waitFor(() => !isAlive(info.pid) && !fs.existsSync(info.dir), 5000)).toBe(true);
      // Refused, or (when a parallel suite's server briefly took the freed port) reset: either way not ours.
      await expect(respCommand('127.0.0.1', info.port, ['PING'], 1000)).rejects.toMatchObject({
        code: expect.stringMatching(/^(ECONNREFUSED|ECONNRESET)$/),
      });
    });
  });
});

describe('withTestRedis', () => {
  const getRedis = withTestRedis({ preferSpawn: true, log: () => undefined });
  let earlyError: unknown;
  try {
    getRedis();
  } catch (err) {
    earlyError = err;
  }

  it('refuses to hand out Redis before beforeAll has run', () => {
    expect(String(earlyError)).toMatch(/not ready/);
  });

  it('gives the suite a working server, a prefix and clients that are closed for it', async () => {
    const suite = getRedis();
    expect(suite.prefix).toMatch(/^mbt:\d+:[0-9a-f]{8}:$/);
    const client = suite.client();
    await client.set(`${suite.prefix}order:1`, 'placed');
    expect(await client.get(`${suite.prefix}order:1`)).toBe('placed');
    await suite.flush();
    expect(await client.exists(`${suite.prefix}order:1`)).toBe(0);
  });
});

describe('openRedisSuite isolation', () => {
  let shared: TestRedis;
  beforeAll(async () => {
    shared = await startTestRedis({ preferSpawn: true, containerStarter: null, env: PLAIN_ENV, log: () => undefined });
  });
  afterAll(() => shared?.stop());

  it('on a shared REDIS_URL deletes only its own keys and never stops the server', async () => {
    const env = { ...PLAIN_ENV, REDIS_URL: shared.url };
    const a = await openRedisSuite({ env, log: () => undefined });
    const b = await openRedisSuite({ env, log: () => undefined });
    expect(a.ownsServer).toBe(false);
    expect(a.prefix).not.toBe(b.prefix);
    await withClient(shared.url, async (c) => {
      await c.set('someone-else:key', 'keep me');
      await c.set(`${a.prefix}x`, '1');
      await c.set(`${a.prefix}y`, '2');
      await c.set(`${b.prefix}x`, '3');
    });

    await a.flush();
    await withClient(shared.url, async (c) => {
      expect(await c.exists(`${a.prefix}x`, `${a.prefix}y`)).toBe(0);
      expect(await c.get(`${b.prefix}x`)).toBe('3');
      expect(await c.get('someone-else:key')).toBe('keep me');
    });

    await setInSuite(b, 'z', '4');
    await b.close();
    await a.close();
    await withClient(shared.url, async (c) => {
      expect(await c.exists(`${b.prefix}x`, `${b.prefix}z`)).toBe(0);
      expect(await c.get('someone-else:key')).toBe('keep me');
    });
  });

  it('on a private server flushes everything and close() stops it', async () => {
    const suite = await openRedisSuite({ env: PLAIN_ENV, containerStarter: null, log: () => undefined });
    expect(suite.ownsServer).toBe(true);
    const client = suite.client();
    await client.set('unprefixed', '1');
    await suite.flush();
    expect(await client.dbsize()).toBe(0);
    await suite.close();
    expect(client.status).toBe('end');
    await expect(respCommand('127.0.0.1', suite.redis.port, ['PING'], 1000)).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
  });
});

async function setInSuite(suite: { client(): Redis; prefix: string }, key: string, value: string): Promise<void> {
  await suite.client().set(`${suite.prefix}${key}`, value);
}
