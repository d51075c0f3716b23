/**
 * Redis for tests.
 *
 * `startTestRedis()` finds a Redis server in this order:
 *   (a) REDIS_URL from the environment: pinged first, never stopped or flushed by the harness;
 *   (b) a `redis:7-alpine` container through testcontainers, only when a container runtime is
 *       visible (DOCKER_HOST, a docker.sock, ~/.testcontainers.properties), time-boxed;
 *   (c) a private `redis-server` spawned on a free 127.0.0.1 port with its own temp dir;
 *   (d) otherwise an Error that says how to get Redis.
 * `preferSpawn: true` tries (c) first (chaos tests need `restart()` / `kill()`, which only a
 * spawned server has), then (a), then (b).
 *
 * Environment variables read (from `opts.env`, default `process.env`):
 *   REDIS_URL                        use this server (strategy a)
 *   MARROWBRIDGE_REDIS_SERVER        path of the redis-server binary; when set, nothing else is searched
 *   MARROWBRIDGE_REDIS_CONTAINER=0   never try testcontainers
 *
 * A spawned server never outlives the test process: stop() shuts it down and removes its dir, a
 * process 'exit' hook kills what is left, and a tiny /bin/sh watchdog per server (blocked reading
 * a pipe from this process) kills it when this process dies without running its exit hooks
 * (SIGKILL, uncaught signal).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Redis, { type RedisOptions } from 'ioredis';

export type TestRedisKind = 'env' | 'container' | 'spawned';

export interface TestRedis {
  /** redis://host:port (for 'env': REDIS_URL as given, including any db index or credentials). */
  url: string;
  host: string;
  port: number;
  kind: TestRedisKind;
  /** Stops what the harness started (no-op for 'env'). Idempotent. */
  stop(): Promise<void>;
  /** Spawned only: graceful shutdown, then start again on the same port and dir (AOF data survives with appendOnly). */
  restart?(): Promise<void>;
  /**
   * Spawned only: send a signal to redis-server (default SIGKILL) and wait until it has exited.
   * SIGSTOP / SIGCONT / SIGTSTP return at once (freeze / thaw the server). `restart()` brings a killed server back.
   */
  kill?(signal?: NodeJS.Signals): Promise<void>;
  /** Spawned only: pid of the current redis-server process (undefined while it is down). */
  readonly pid?: number;
  /** Spawned only: the server's private working dir (AOF lives here), removed by stop(). */
  readonly dir?: string;
}

export interface StartedRedisContainer {
  host: string;
  port: number;
  stop(): Promise<void>;
}

export type RedisContainerStarter = (opts: { appendOnly: boolean }) => Promise<StartedRedisContainer>;

export interface StartTestRedisOptions {
  /** Turn on AOF persistence (spawned and container servers). Default false. */
  appendOnly?: boolean;
  /**
   * Spawned servers with appendOnly: `appendfsync` (Redis' default 'everysec' may lose the last second of
   * acknowledged writes on kill -9; 'always' loses none). Default: Redis' own default.
   */
  appendFsync?: 'always' | 'everysec' | 'no';
  /** Spawned servers only: extra redis-server arguments (e.g. `--cluster-enabled yes`). */
  serverArgs?: string[];
  /** Try spawning redis-server before REDIS_URL and containers. Default false. */
  preferSpawn?: boolean;
  /** Environment to read REDIS_URL / MARROWBRIDGE_* / PATH from. Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Replaces the testcontainers strategy (unit tests); null disables it. Default: startRedisContainer. */
  containerStarter?: RedisContainerStarter | null;
  /** Upper bound for the whole container strategy (a runtime that answers may still need to pull). Default 120 s. */
  containerTimeoutMs?: number;
  /** Where the one "which strategy" line goes. Default: stderr. */
  log?: (line: string) => void;
}

const LOOPBACK = '127.0.0.1';
const DEFAULT_CONTAINER_TIMEOUT_MS = 120_000;
const RUNTIME_PROBE_TIMEOUT_MS = 3_000;
const URL_PING_TIMEOUT_MS = 3_000;
const READY_TIMEOUT_MS = 15_000;
const WELL_KNOWN_REDIS_SERVERS = [
  '/usr/bin/redis-server',
  '/usr/local/bin/redis-server',
  '/opt/homebrew/bin/redis-server',
];

const defaultLog = (line: string): void => {
  process.stderr.write(line + '\n');
};

// ---------------------------------------------------------------------------------------------
// Entry point

export async function startTestRedis(opts: StartTestRedisOptions = {}): Promise<TestRedis> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? defaultLog;
  const appendOnly = opts.appendOnly ?? false;
  const tried: string[] = [];

  const fromEnv = async (): Promise<TestRedis | undefined> => {
    const url = env.REDIS_URL;
    if (url === undefined || url.trim() === '') {
      tried.push('REDIS_URL: not set');
      return undefined;
    }
    const redis = await useRedisUrl(url.trim());
    log(`[redis-harness] using REDIS_URL ${redactUrl(redis.url)} (shared server: not flushed, not stopped)`);
    return redis;
  };

  const fromContainer = async (): Promise<TestRedis | undefined> => {
    const starter = resolveContainerStarter(opts, env);
    if (starter === null) {
      tried.push('container: disabled');
      return undefined;
    }
    const timeoutMs = opts.containerTimeoutMs ?? DEFAULT_CONTAINER_TIMEOUT_MS;
    const t0 = Date.now();
    try {
      const started = await timeBox(
        starter({ appendOnly }),
        timeoutMs,
        `container strategy gave no answer within ${timeoutMs} ms`,
        (late) => void late.stop().catch(() => undefined),
      );
      const redis: TestRedis = {
        url: `redis://${formatHost(started.host)}:${started.port}`,
        host: started.host,
        port: started.port,
        kind: 'container',
        stop: once(() => started.stop()),
      };
      log(
        `[redis-harness] started redis:7-alpine container at ${started.host}:${started.port} in ${Date.now() - t0} ms`,
      );
      return redis;
    } catch (err) {
      tried.push(`container: ${errorMessage(err)}`);
      return undefined;
    }
  };

  const fromSpawn = async (): Promise<TestRedis | undefined> => {
    const binary = findRedisServer(env);
    if (!binary) {
      const where = env.MARROWBRIDGE_REDIS_SERVER
        ? `MARROWBRIDGE_REDIS_SERVER=${env.MARROWBRIDGE_REDIS_SERVER} is not an executable file`
        : `not on PATH nor at ${WELL_KNOWN_REDIS_SERVERS.join(', ')}`;
      tried.push(`redis-server: ${where}`);
      return undefined;
    }
    const t0 = Date.now();
    try {
      const extra = [
        ...(appendOnly && opts.appendFsync ? ['--appendfsync', opts.appendFsync] : []),
        ...(opts.serverArgs ?? []),
      ];
      const redis = await spawnRedisServer(binary, appendOnly, extra);
      log(
        `[redis-harness] spawned redis-server on ${redis.host}:${redis.port} in ${Date.now() - t0} ms` +
          (appendOnly ? ` (appendonly${opts.appendFsync ? `, appendfsync ${opts.appendFsync}` : ''})` : '') +
          (opts.serverArgs?.length ? ` ${opts.serverArgs.join(' ')}` : ''),
      );
      return redis;
    } catch (err) {
      tried.push(`redis-server (${binary}): ${errorMessage(err)}`);
      return undefined;
    }
  };

  const order = opts.preferSpawn ? [fromSpawn, fromEnv, fromContainer] : [fromEnv, fromContainer, fromSpawn];
  for (const strategy of order) {
    const redis = await strategy();
    if (redis) return redis;
  }
  throw new Error(noRedisMessage(tried));
}

function noRedisMessage(tried: string[]): string {
  return [
    '[redis-harness] No Redis server available for the tests. Tried:',
    ...tried.map((t) => `  - ${t}`),
    'Get one in any of these ways:',
    '  1. Point the tests at a running server you may write to: REDIS_URL=redis://127.0.0.1:6379/15 pnpm exec jest …',
    '     (the harness only deletes keys under its own per-suite prefix there; it never runs FLUSHALL on it)',
    '  2. Start Docker (or Podman with DOCKER_HOST set) so testcontainers can run redis:7-alpine',
    '  3. Install redis-server: `sudo apt-get install redis-server` (Debian/Ubuntu) or `brew install redis` (macOS),',
    '     or set MARROWBRIDGE_REDIS_SERVER=/path/to/redis-server',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// (a) REDIS_URL

async function useRedisUrl(url: string): Promise<TestRedis> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`[redis-harness] REDIS_URL is not a valid URL (expected redis://host:port/db)`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new Error(`[redis-harness] REDIS_URL must start with redis:// or rediss://, got ${parsed.protocol}//…`);
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1') || LOOPBACK;
  const port = parsed.port ? Number(parsed.port) : 6379;
  try {
    await pingUrl(url, URL_PING_TIMEOUT_MS);
  } catch (err) {
    throw new Error(
      `[redis-harness] REDIS_URL=${redactUrl(url)} does not answer PING (${errorMessage(err)}). ` +
        'Start that server, fix REDIS_URL, or unset REDIS_URL to let the harness start its own redis-server.',
    );
  }
  return { url, host, port, kind: 'env', stop: async () => undefined };
}

async function pingUrl(url: string, timeoutMs: number): Promise<void> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // connect() itself only reports "Connection is closed."; the cause (ECONNREFUSED, auth…) comes as an event.
  let cause: Error | undefined;
  client.on('error', (err: Error) => (cause ??= err));
  try {
    const reply = await timeBox(
      client.connect().then(() => client.ping()),
      timeoutMs,
      `no answer within ${timeoutMs} ms`,
    ).catch((err: unknown) => {
      throw cause ?? err;
    });
    if (reply !== 'PONG') throw new Error(`unexpected PING reply ${String(reply)}`);
  } finally {
    client.disconnect();
  }
}

/** The URL with any password replaced, fit for logs and error messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparseable REDIS_URL>';
  }
}

// ---------------------------------------------------------------------------------------------
// (b) testcontainers

function resolveContainerStarter(opts: StartTestRedisOptions, env: NodeJS.ProcessEnv): RedisContainerStarter | null {
  if (opts.containerStarter !== undefined) return opts.containerStarter;
  if (env.MARROWBRIDGE_REDIS_CONTAINER === '0' || env.MARROWBRIDGE_REDIS_CONTAINER === 'false') return null;
  return ({ appendOnly }) => startRedisContainer({ appendOnly, env });
}

/**
 * Why we think a container runtime may be reachable, or undefined. Mirrors the places testcontainers
 * looks, so that machines without one never pay testcontainers' load time (~1 s).
 */
export function containerRuntimeHint(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.DOCKER_HOST) return `DOCKER_HOST=${env.DOCKER_HOST}`;
  const home = os.homedir();
  const candidates = [
    path.join(home, '.testcontainers.properties'),
    '/var/run/docker.sock',
    env.XDG_RUNTIME_DIR ? path.join(env.XDG_RUNTIME_DIR, 'docker.sock') : undefined,
    path.join(home, '.docker', 'run', 'docker.sock'),
    path.join(home, '.docker', 'desktop', 'docker.sock'),
    typeof process.getuid === 'function' ? `/run/user/${process.getuid()}/docker.sock` : undefined,
  ];
  return candidates.find((p): p is string => p !== undefined && fs.existsSync(p));
}

/** The real container strategy: testcontainers is required lazily, and only when a runtime is visible. */
export async function startRedisContainer(opts: {
  appendOnly: boolean;
  env?: NodeJS.ProcessEnv;
  probeTimeoutMs?: number;
}): Promise<StartedRedisContainer> {
  const hint = containerRuntimeHint(opts.env ?? process.env);
  if (!hint) {
    throw new Error('no container runtime found (DOCKER_HOST unset, no docker.sock, no ~/.testcontainers.properties)');
  }
  let tc: typeof import('testcontainers');
  try {
    tc = require('testcontainers') as typeof import('testcontainers');
  } catch (err) {
    throw new Error(`testcontainers failed to load: ${errorMessage(err)}`);
  }
  const probeMs = opts.probeTimeoutMs ?? RUNTIME_PROBE_TIMEOUT_MS;
  await timeBox(
    tc.getContainerRuntimeClient(),
    probeMs,
    `container runtime (${hint}) did not answer within ${probeMs} ms`,
  );
  const command = ['redis-server', '--save', '', '--appendonly', opts.appendOnly ? 'yes' : 'no'];
  const container = await new tc.GenericContainer('redis:7-alpine')
    .withExposedPorts(6379)
    .withCommand(command)
    .withWaitStrategy(tc.Wait.forLogMessage('Ready to accept connections'))
    .start();
  return {
    host: container.getHost(),
    port: container.getMappedPort(6379),
    stop: async () => {
      await container.stop();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// (c) spawned redis-server

/** Path of a runnable redis-server, or undefined. MARROWBRIDGE_REDIS_SERVER, when set, is the only candidate. */
export function findRedisServer(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const override = env.MARROWBRIDGE_REDIS_SERVER;
  if (override !== undefined && override !== '') return isExecutableFile(override) ? override : undefined;
  const onPath = (env.PATH ?? '')
    .split(path.delimiter)
    .filter((dir) => dir !== '')
    .map((dir) => path.join(dir, 'redis-server'));
  return [...onPath, ...WELL_KNOWN_REDIS_SERVERS].find(isExecutableFile);
}

function isExecutableFile(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

async function spawnRedisServer(binary: string, appendOnly: boolean, extraArgs: string[] = []): Promise<TestRedis> {
  const attempts = 4;
  for (let attempt = 1; ; attempt++) {
    const port = await freeLoopbackPort();
    const server = new SpawnedRedisServer(binary, port, appendOnly, extraArgs);
    try {
      await server.launch();
      return server;
    } catch (err) {
      await server.stop().catch(() => undefined);
      // Another process may take the port between our probe and redis-server's bind: try another one.
      if (err instanceof LaunchError && err.addressInUse && attempt < attempts) continue;
      throw err;
    }
  }
}

class LaunchError extends Error {
  constructor(
    message: string,
    readonly addressInUse: boolean,
  ) {
    super(message);
  }
}

interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const NON_TERMINATING_SIGNALS = new Set<NodeJS.Signals>(['SIGSTOP', 'SIGCONT', 'SIGTSTP']);

class SpawnedRedisServer implements TestRedis {
  readonly kind = 'spawned' as const;
  readonly host = LOOPBACK;
  readonly url: string;
  readonly dir: string;
  private readonly logFile: string;
  private child?: ChildProcess;
  private exited?: Promise<ExitInfo>;
  private running = false;
  private paused = false;
  private stopped = false;
  private watchdog?: ChildProcess;

  constructor(
    private readonly binary: string,
    readonly port: number,
    private readonly appendOnly: boolean,
    private readonly extraArgs: string[] = [],
  ) {
    this.url = `redis://${LOOPBACK}:${port}`;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'marrowbridge-redis-'));
    this.logFile = path.join(this.dir, 'redis.log');
    registerLive(this);
  }

  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  /** Start redis-server and resolve once it answers PING (and has loaded its AOF). */
  async launch(): Promise<void> {
    if (this.stopped) throw new Error('[redis-harness] this server was stopped');
    const args = [
      '--port',
      String(this.port),
      '--bind',
      LOOPBACK,
      '--save',
      '',
      '--appendonly',
      this.appendOnly ? 'yes' : 'no',
      '--dir',
      this.dir,
      '--daemonize',
      'no',
      '--logfile',
      this.logFile,
      ...this.extraArgs,
    ];
    const child = spawn(this.binary, args, { cwd: this.dir, stdio: 'ignore' });
    this.child = child;
    this.running = true;
    this.paused = false;
    this.exited = new Promise<ExitInfo>((resolve) => {
      const done = (info: ExitInfo): void => {
        if (this.child === child) {
          this.running = false;
          this.watchdogSend('pid');
        }
        resolve(info);
      };
      child.once('exit', (code, signal) => done({ code, signal }));
      child.once('error', () => done({ code: null, signal: null }));
    });
    child.unref();
    if (child.pid !== undefined) this.watchdogSend(`pid ${child.pid}`);

    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (!this.running) {
        const tail = this.logTail();
        throw new LaunchError(
          `redis-server exited during start-up on port ${this.port}: ${tail || '(no log)'}`,
          /Address already in use|bind:/i.test(tail),
        );
      }
      const reply = await respCommand(LOOPBACK, this.port, ['PING'], 500).catch(() => '');
      if (reply.startsWith('+PONG')) return;
      if (Date.now() > deadline) {
        throw new LaunchError(
          `redis-server did not answer PING within ${READY_TIMEOUT_MS} ms: ${this.logTail()}`,
          false,
        );
      }
      await sleep(10);
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    try {
      await this.shutdownProcess();
    } finally {
      this.watchdogSend('stop');
      this.watchdog?.stdin?.end();
      this.watchdog = undefined;
      await fs.promises.rm(this.dir, { recursive: true, force: true });
      unregisterLive(this);
    }
  }

  async restart(): Promise<void> {
    if (this.stopped) throw new Error('[redis-harness] restart() after stop()');
    await this.shutdownProcess();
    await this.launch();
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    child.kill(signal);
    if (signal === 'SIGSTOP' || signal === 'SIGTSTP') this.paused = true;
    if (signal === 'SIGCONT') this.paused = false;
    if (NON_TERMINATING_SIGNALS.has(signal)) return;
    if (!(await this.waitExit(10_000))) {
      throw new Error(`[redis-harness] redis-server (pid ${child.pid}) still runs 10 s after ${signal}`);
    }
  }

  /** Synchronous last resort from the process 'exit' hook. */
  killSync(): void {
    this.watchdog?.kill('SIGKILL');
    if (this.running && this.child?.pid !== undefined) {
      try {
        process.kill(this.child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private async shutdownProcess(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    if (this.paused) {
      child.kill('SIGCONT');
      this.paused = false;
    }
    // SHUTDOWN NOSAVE: no RDB dump; with appendonly Redis still fsyncs the AOF before exiting.
    await respCommand(LOOPBACK, this.port, ['SHUTDOWN', 'NOSAVE'], 1_000).catch(() => '');
    if (await this.waitExit(5_000)) return;
    child.kill('SIGTERM');
    if (await this.waitExit(3_000)) return;
    child.kill('SIGKILL');
    await this.waitExit(5_000);
  }

  /** True when the current child has exited within `ms`. Uses a ref'd timer so Node stays up meanwhile. */
  private async waitExit(ms: number): Promise<boolean> {
    if (!this.running || !this.exited) return true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    const result = await Promise.race([this.exited.then(() => true as const), timedOut]);
    clearTimeout(timer);
    return result;
  }

  private logTail(): string {
    try {
      const text = fs.readFileSync(this.logFile, 'utf8');
      return text.trim().split('\n').slice(-5).join(' | ');
    } catch {
      return '';
    }
  }

  /**
   * The watchdog is `/bin/sh` blocked reading a pipe whose other end only this process holds.
   * "pid N" names the redis-server to kill, "pid" clears it, "stop" ends it quietly; EOF (this
   * process died, however) makes it kill the named pid and remove the dir.
   */
  private watchdogSend(line: string): void {
    if (this.stopped && line !== 'stop') return;
    if (!this.watchdog && line.startsWith('pid ')) this.watchdog = startWatchdog(this.dir);
    const stdin = this.watchdog?.stdin;
    if (stdin && stdin.writable) stdin.write(line + '\n');
  }
}

const WATCHDOG_SCRIPT = [
  'pid=""',
  'while read -r cmd arg; do case "$cmd" in pid) pid="$arg" ;; stop) exit 0 ;; esac; done',
  'if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null; fi',
  'rm -rf "$1"',
].join('\n');

function startWatchdog(dir: string): ChildProcess | undefined {
  try {
    const wd = spawn('/bin/sh', ['-c', WATCHDOG_SCRIPT, 'redis-harness-watchdog', dir], {
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    wd.on('error', () => undefined);
    wd.stdin?.on('error', () => undefined);
    wd.unref();
    (wd.stdin as unknown as net.Socket | null)?.unref?.();
    return wd;
  } catch {
    return undefined; // best effort: the exit hook still covers ordinary exits
  }
}

// Live spawned servers, killed synchronously if the process exits without stopping them.
const live = new Set<SpawnedRedisServer>();
const onProcessExit = (): void => {
  for (const server of live) server.killSync();
  live.clear();
};

function registerLive(server: SpawnedRedisServer): void {
  if (live.size === 0) process.on('exit', onProcessExit);
  live.add(server);
}

function unregisterLive(server: SpawnedRedisServer): void {
  if (!live.delete(server)) return;
  // Removed again when idle so that many test files in one jest worker do not pile up listeners.
  if (live.size === 0) process.removeListener('exit', onProcessExit);
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, LOOPBACK, () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

/** Send one command in RESP and resolve with the first reply line ('' when the server closes without one). */
export function respCommand(host: string, port: number, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    let buffer = '';
    let settled = false;
    const finish = (err: Error | undefined, value = ''): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(value);
    };
    const timer = setTimeout(() => finish(new Error(`no reply within ${timeoutMs} ms`)), timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => {
      const payload = `*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('');
      socket.write(payload);
    });
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const end = buffer.indexOf('\r\n');
      if (end >= 0) finish(undefined, buffer.slice(0, end));
    });
    socket.on('error', (err) => finish(err));
    socket.on('close', () => finish(undefined, buffer));
  });
}

// ---------------------------------------------------------------------------------------------
// jest helper

export interface RedisSuite {
  redis: TestRedis;
  /** Connection URL (same as redis.url). */
  url: string;
  /** Key prefix owned by this suite, e.g. `mbt:12345:9f3a1c2b:`. Use it for every key (and as BullMQ's `prefix`). */
  prefix: string;
  /** true when the server belongs to this suite alone (spawned / container); false for a shared REDIS_URL. */
  ownsServer: boolean;
  /** A new ioredis client for this server; closed automatically when the suite closes. */
  client(options?: RedisOptions): Redis;
  /** Delete what the suite owns: FLUSHALL on a private server, only `prefix*` keys on a shared one. */
  flush(): Promise<void>;
}

export interface OpenRedisSuite extends RedisSuite {
  /** Close clients, delete the suite's keys on a shared server, stop a private one. */
  close(): Promise<void>;
}

/** Start (or attach to) a Redis for one suite. withTestRedis() wraps this in beforeAll/afterAll. */
export async function openRedisSuite(opts: StartTestRedisOptions = {}): Promise<OpenRedisSuite> {
  const redis = await startTestRedis(opts);
  const prefix = `mbt:${process.pid}:${randomBytes(4).toString('hex')}:`;
  const ownsServer = redis.kind !== 'env';
  const clients = new Set<Redis>();

  const client = (options: RedisOptions = {}): Redis => {
    const c = new Redis(redis.url, { maxRetriesPerRequest: 3, ...options });
    clients.add(c);
    c.once('end', () => clients.delete(c));
    return c;
  };

  const withAdmin = async <T>(fn: (admin: Redis) => Promise<T>): Promise<T> => {
    const admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    try {
      return await fn(admin);
    } finally {
      admin.disconnect();
    }
  };

  const flush = (): Promise<void> =>
    withAdmin(async (admin) => {
      if (ownsServer) await admin.flushall();
      else await deleteKeysWithPrefix(admin, prefix);
    });

  const close = async (): Promise<void> => {
    await Promise.all([...clients].map((c) => c.quit().catch(() => c.disconnect())));
    clients.clear();
    if (!ownsServer) await withAdmin((admin) => deleteKeysWithPrefix(admin, prefix));
    await redis.stop();
  };

  return { redis, url: redis.url, prefix, ownsServer, client, flush, close };
}

/**
 * For jest: `const redis = withTestRedis();` at describe/file level, then `redis().client()` etc. inside
 * tests. Starts Redis in beforeAll and cleans up in afterAll.
 */
export function withTestRedis(opts: StartTestRedisOptions = {}): () => RedisSuite {
  let suite: OpenRedisSuite | undefined;
  beforeAll(async () => {
    suite = await openRedisSuite(opts);
  }, 60_000);
  afterAll(async () => {
    const s = suite;
    suite = undefined;
    await s?.close();
  }, 30_000);
  return () => {
    if (!suite) {
      throw new Error('[redis-harness] Redis is not ready: call the withTestRedis() getter inside tests or hooks');
    }
    return suite;
  };
}

/** SCAN + UNLINK every key starting with `prefix` (in the client's current DB). Returns how many were deleted. */
export async function deleteKeysWithPrefix(client: Redis, prefix: string): Promise<number> {
  const pattern = prefix.replace(/[*?[\]\\]/g, '\\$&') + '*';
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) deleted += await client.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}

// ---------------------------------------------------------------------------------------------
// small helpers

function timeBox<T>(promise: Promise<T>, ms: number, message: string, onLate?: (value: T) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      reject(new Error(message));
    }, ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        if (timedOut) onLate?.(value);
        else resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        if (!timedOut) reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let result: Promise<void> | undefined;
  return () => (result ??= fn());
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function errorMessage(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) {
    return err.errors.map(errorMessage).join('; ');
  }
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}
