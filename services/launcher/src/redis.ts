/**
 * Finds or starts the Redis the stack runs on: REDIS_URL when set; else a redis-server spawned with its data
 * under a local folder (append-only, so queued jobs survive a restart of the demo); else a Redis already
 * answering on 127.0.0.1:6379; else a clear message saying how to get one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export interface LocalRedis {
  url: string;
  /** How it was found, for the console. */
  how: string;
  stop(): Promise<void>;
}

export class RedisUnavailableError extends Error {}

export async function ensureRedis(opts: {
  url?: string;
  dataDir: string;
  port: number;
  binary?: string;
}): Promise<LocalRedis> {
  if (opts.url) {
    const u = new URL(opts.url.split(',')[0]);
    if (!(await answersPing(u.hostname, Number(u.port || 6379)))) {
      throw new RedisUnavailableError(`REDIS_URL is set but Redis does not answer at ${u.hostname}:${u.port || 6379}`);
    }
    return { url: opts.url, how: 'REDIS_URL', stop: async () => undefined };
  }
  const binary = opts.binary ?? findBinary();
  if (binary) return spawnRedis(binary, opts.dataDir, opts.port);
  if (await answersPing('127.0.0.1', 6379)) {
    return {
      url: 'redis://127.0.0.1:6379',
      how: 'the Redis already running on 127.0.0.1:6379',
      stop: async () => undefined,
    };
  }
  throw new RedisUnavailableError(
    'no Redis available: set REDIS_URL=redis://host:port to use yours, or install redis-server ' +
      '(Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) so it can be started for you, ' +
      'or run `docker run -p 6379:6379 redis:7` and set REDIS_URL=redis://127.0.0.1:6379',
  );
}

function findBinary(): string | undefined {
  const dirs = (process.env.PATH ?? '')
    .split(path.delimiter)
    .concat(['/usr/bin', '/usr/local/bin', '/usr/sbin', '/opt/homebrew/bin']);
  for (const d of dirs) {
    const candidate = path.join(d, 'redis-server');
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

async function spawnRedis(binary: string, dataDir: string, port: number): Promise<LocalRedis> {
  fs.mkdirSync(dataDir, { recursive: true });
  if (await answersPing('127.0.0.1', port)) {
    // A Redis from an earlier run still holds the port (e.g. after kill -9): use it.
    return {
      url: `redis://127.0.0.1:${port}`,
      how: `the Redis already running on 127.0.0.1:${port}`,
      stop: async () => undefined,
    };
  }
  const child: ChildProcess = spawn(
    binary,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dataDir,
      '--appendonly',
      'yes',
      '--save',
      '',
      '--daemonize',
      'no',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const deadline = Date.now() + 10_000;
  while (!(await answersPing('127.0.0.1', port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new RedisUnavailableError(
        `redis-server (${binary}) did not start on port ${port}: ${stderr.trim() || 'no output'}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    how: `redis-server started on 127.0.0.1:${port} (data in ${dataDir})`,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}

/** True when something at host:port answers PING with PONG. */
export function answersPing(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}
