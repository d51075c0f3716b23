/**
 * End to end: result updates per second from intake (HTTP POST /results, and HL7 v2 over MLLP) to the EHR's
 * 2xx, with 1, 2 and 4 sync-worker processes, with latency percentiles, lost and duplicated counts and the peak
 * memory of every process; against two baselines measured in the same run on the same machine:
 *
 * - bare BullMQ: a no-op worker's jobs per second on the same Redis (the queue's own ceiling);
 * - direct push: the same Bundles pushed straight to the same ehr-sandbox with @marrowbridge/ehr-client's
 *   pushBundle at the same concurrency (workers x WORKER_CONCURRENCY). The ratio to it is marrowbridge's own
 *   overhead: intake, queueing, validation, per-order locking, precedence and tracking.
 *
 *   pnpm exec tsx bench/end-to-end.ts [--orders 300] [--versions 1] [--warmup-versions 1] [--workers 1,2,4]
 *     [--channels http,mllp]
 *     [--modes max,paced] [--rate 300] [--paced-seconds 8] [--concurrency 16] [--http-clients 32]
 *     [--mllp-connections 16] [--timeout ms] [--profile] [--profile-dir dir] [--json file]
 *
 * Processes (all on this machine): one redis-server spawned on a free port (test/harness/redis.ts), the
 * ehr-sandbox (auth off, silent) and the gateway (HTTP + MLLP, auth off) each in its own process, the workers
 * as `node --import tsx services/sync-worker/src/main.ts` (test/support/worker-process.ts); this process only
 * sends, follows the queues' events (BullMQ QueueEvents) and checks the EHR.
 *
 * `--orders` orders per channel are sent through it and delivered once, first (not timed). Every run then sends
 * `--orders` x `--versions` result updates (8 observations each): the next, newer versions of those orders'
 * reports, each order's versions in issue order, orders interleaved at random; the run ends when every accepted
 * update's job has finished. Modes: `max` sends as fast as the clients can (throughput = updates / (last finish -
 * first send); latency is then mostly time spent waiting in the queue); `paced` sends at `--rate` per second, or
 * at 70 % of the max run's throughput when that is lower (latency at a load the setup can carry), for at most
 * `--paced-seconds`. With the default of one version per run, no two updates of one order are in flight in a run
 * (as in practice, where a report's versions are hours apart); `--versions 2` and more measure contention on the
 * order lock. Fresh worker processes get an untimed warm-up run first (`--warmup-versions`).
 * Latency is DeliveryResult.latencyMs: intake (job queued) to the EHR's 2xx (or to the decision not to push).
 * Lost = accepted by intake but not finished as completed; duplicated = more than one EHR resource with one
 * conditional key.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { EhrClient, pushBundle } from '@marrowbridge/ehr-client';
import { translateInput } from '@marrowbridge/intake';
import { MllpClient, readAck } from '@marrowbridge/mllp';
import { createRedisConnection, DeliveryQueues, QUEUE_NAMES, type DeliveryResult } from '@marrowbridge/queue';
import type { Bundle, DiagnosticReport, Resource } from '@medplum/fhirtypes';
import { Queue, QueueEvents, Worker } from 'bullmq';
import { freeLoopbackPort, startTestRedis, type TestRedis } from '../test/harness/redis';
import { startWorkers, stopWorkers, type WorkerProcess } from '../test/support/worker-process';
import { interleave, makeLoad, type LoadItem } from './lib/load';
import { cpuDelta, cpuSnapshot, memoryOf, startService, type ServiceProcess } from './lib/procs';
import { inspectorUrlIn, RemoteProfiler } from './lib/inspector';
import { formatProfile, summarizeProfile, type ProfileSummary } from './lib/profile';
import { emitReport, flag, fmt, numberOption, percentile, round, sleep, stringOption, table } from './lib/stats';

const FLOOR_UPDATES_PER_SECOND = 300;
const FLOOR_P99_MS = 500;
const FLOOR_WORKERS = 2;
const SEED = 20260307;

type Channel = 'http' | 'mllp';
type Mode = 'max' | 'paced';

interface Options {
  orders: number;
  versions: number;
  /** Untimed updates per order sent through fresh worker processes before their timed runs (JIT, lazy setup). */
  warmupVersions: number;
  workers: number[];
  channels: Channel[];
  modes: Mode[];
  rate: number;
  concurrency: number;
  httpClients: number;
  mllpConnections: number;
  timeoutMs: number;
  pacedSeconds: number;
  profile: boolean;
  /** Where to write each service's raw .cpuprofile (open in Chrome DevTools) when profiling. */
  profileDir?: string;
}

function listOption<T extends string>(name: string, fallback: T[], allowed?: readonly T[]): T[] {
  const raw = stringOption(name);
  if (!raw) return fallback;
  const items = raw.split(',').map((s) => s.trim()) as T[];
  if (allowed && items.some((i) => !allowed.includes(i))) throw new Error(`${name}: one of ${allowed.join(', ')}`);
  return items;
}

function options(): Options {
  return {
    orders: numberOption('--orders', 300),
    versions: numberOption('--versions', 1),
    warmupVersions: numberOption('--warmup-versions', 1),
    workers: listOption('--workers', ['1', '2', '4']).map(Number),
    channels: listOption<Channel>('--channels', ['http', 'mllp'], ['http', 'mllp']),
    modes: listOption<Mode>('--modes', ['max', 'paced'], ['max', 'paced']),
    rate: numberOption('--rate', FLOOR_UPDATES_PER_SECOND),
    concurrency: numberOption('--concurrency', 16),
    httpClients: numberOption('--http-clients', 32),
    mllpConnections: numberOption('--mllp-connections', 16),
    timeoutMs: numberOption('--timeout', 180_000),
    pacedSeconds: numberOption('--paced-seconds', 8),
    profile: flag('--profile'),
    profileDir: stringOption('--profile-dir'),
  };
}

// ---------------------------------------------------------------------------------------------
// The stack

interface Stack {
  redis: TestRedis;
  sandbox: ServiceProcess;
  gateway: ServiceProcess;
  ehrBaseUrl: string;
  ehrOrigin: string;
  gatewayUrl: string;
  mllpPort: number;
  prefix: string;
  workerEnv: Record<string, string>;
  queues: DeliveryQueues;
  orders: Tracker;
  results: Tracker;
  /** Per channel: its orders (sent once per stack) and the next report version to send. */
  channels: Partial<Record<Channel, ChannelState>>;
  close(): Promise<void>;
}

interface ChannelState {
  tag: string;
  orderBundles: Bundle[];
  nextVersion: number;
}

async function startStack(redis: TestRedis, opts: Options, nodeOptions?: (service: string) => string): Promise<Stack> {
  const prefix = `{bench${randomBytes(3).toString('hex')}}`;
  const sandboxPort = await freeLoopbackPort();
  const sandbox = await startService(
    'ehr-sandbox',
    'ehr-sandbox',
    {
      EHR_SANDBOX_PORT: String(sandboxPort),
      EHR_SANDBOX_AUTH: 'off',
      EHR_SANDBOX_LOG: 'silent',
      ...(nodeOptions ? { NODE_OPTIONS: nodeOptions('ehr-sandbox') } : {}),
    },
    (r) => r.msg === 'ready',
  );
  const ehrOrigin = `http://127.0.0.1:${sandboxPort}`;
  const ehrBaseUrl = `${ehrOrigin}/fhir/R4`;
  const gatewayPort = await freeLoopbackPort();
  const mllpPort = await freeLoopbackPort();
  // LOG_LEVEL info, as operators run them (readiness is read from the 'started' log lines).
  const common = { REDIS_URL: redis.url, QUEUE_PREFIX: prefix, EHR_BASE_URL: ehrBaseUrl, LOG_LEVEL: 'info' };
  let gateway: ServiceProcess;
  try {
    gateway = await startService(
      'gateway',
      'gateway',
      {
        ...common,
        GATEWAY_PORT: String(gatewayPort),
        GATEWAY_AUTH: 'off',
        MLLP_PORT: String(mllpPort),
        ...(nodeOptions ? { NODE_OPTIONS: nodeOptions('gateway') } : {}),
      },
      (r) => r.msg === 'gateway started',
    );
  } catch (err) {
    await sandbox.stop();
    throw err;
  }
  const connection = createRedisConnection(redis.url);
  const queues = new DeliveryQueues({ connection, prefix });
  const orders = await Tracker.follow(redis.url, QUEUE_NAMES.orders, prefix);
  const results = await Tracker.follow(redis.url, QUEUE_NAMES.results, prefix);
  return {
    redis,
    sandbox,
    gateway,
    ehrBaseUrl,
    ehrOrigin,
    gatewayUrl: `http://127.0.0.1:${gatewayPort}`,
    mllpPort,
    prefix,
    workerEnv: {
      ...common,
      WORKER_CONCURRENCY: String(opts.concurrency),
    },
    queues,
    orders,
    results,
    channels: {},
    async close() {
      await orders.close();
      await results.close();
      await queues.close();
      connection.disconnect();
      await gateway.stop();
      await sandbox.stop();
    },
  };
}

/** Finished jobs of one queue, from BullMQ's event stream. */
class Tracker {
  completed = new Map<string, DeliveryResult>();
  failed = new Map<string, string>();
  completedTwice = 0;
  /** Jobs put back as delayed: their order was locked by another update in flight (or a retry backoff). */
  delayed = 0;
  /** performance.now() of the last finish. */
  lastAt = 0;
  private waiter?: { n: number; resolve: () => void };

  private constructor(
    private readonly events: QueueEvents,
    private readonly connection: ReturnType<typeof createRedisConnection>,
  ) {
    events.on('completed', ({ jobId, returnvalue }) => {
      const value = (typeof returnvalue === 'string' ? JSON.parse(returnvalue) : returnvalue) as DeliveryResult;
      if (this.completed.has(jobId)) this.completedTwice++;
      this.completed.set(jobId, value);
      this.finished();
    });
    events.on('delayed', () => {
      this.delayed++;
    });
    events.on('failed', ({ jobId, failedReason }) => {
      this.failed.set(jobId, failedReason);
      this.finished();
    });
  }

  static async follow(url: string, queueName: string, prefix: string): Promise<Tracker> {
    const connection = createRedisConnection(url, { forWorker: true, name: 'bench-events' });
    const events = new QueueEvents(queueName, { connection, prefix, autorun: true });
    await events.waitUntilReady();
    return new Tracker(events, connection);
  }

  get done(): number {
    return this.completed.size + this.failed.size;
  }

  reset(): void {
    this.completed.clear();
    this.failed.clear();
    this.completedTwice = 0;
    this.delayed = 0;
    this.lastAt = 0;
  }

  private finished(): void {
    this.lastAt = performance.now();
    if (this.waiter && this.done >= this.waiter.n) {
      this.waiter.resolve();
      this.waiter = undefined;
    }
  }

  /** Resolves true once `n` jobs have finished, false after timeoutMs. */
  async waitFor(n: number, timeoutMs: number): Promise<boolean> {
    if (this.done >= n) return true;
    let timer: NodeJS.Timeout | undefined;
    const reached = new Promise<boolean>((resolve) => {
      this.waiter = { n, resolve: () => resolve(true) };
    });
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const ok = await Promise.race([reached, timedOut]);
    clearTimeout(timer);
    this.waiter = undefined;
    return ok;
  }

  async close(): Promise<void> {
    await this.events.close();
    this.connection.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------
// Senders

/** Calls `send(i, slot)` for i = 0..n-1 from `slots` parallel loops; with `rate`, item i starts no earlier than i/rate s. */
async function drive(
  n: number,
  slots: number,
  rate: number | undefined,
  send: (i: number, slot: number) => Promise<void>,
): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(slots, n) }, async (_, slot) => {
      for (;;) {
        const i = next++;
        if (i >= n) return;
        if (rate) {
          const wait = t0 + (i * 1000) / rate - performance.now();
          if (wait > 1) await sleep(wait);
        }
        await send(i, slot);
      }
    }),
  );
  return performance.now() - t0;
}

interface SendFigures {
  sent: number;
  accepted: number;
  rejected: number;
  /** First rejection answers, for the report. */
  rejections: string[];
  sendMs: number;
  /** Intake answer time (HTTP 202 / MLLP ACK AA), ms. */
  ackMs: number[];
}

function post(agent: http.Agent, url: URL, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function sendHttp(
  stack: Stack,
  items: LoadItem[],
  route: '/orders' | '/results',
  clients: number,
  rate?: number,
): Promise<SendFigures> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const url = new URL(route, stack.gatewayUrl);
  const f: SendFigures = { sent: 0, accepted: 0, rejected: 0, rejections: [], sendMs: 0, ackMs: [] };
  try {
    f.sendMs = await drive(items.length, clients, rate, async (i) => {
      const t = performance.now();
      f.sent++;
      const res = await post(agent, url, items[i].raw).catch((err: Error) => ({ status: 0, text: err.message }));
      f.ackMs.push(performance.now() - t);
      if (res.status === 202) f.accepted++;
      else {
        f.rejected++;
        if (f.rejections.length < 5) f.rejections.push(`${res.status} ${res.text.slice(0, 300)}`);
      }
    });
  } finally {
    agent.destroy();
  }
  return f;
}

async function sendMllp(stack: Stack, items: LoadItem[], connections: number, rate?: number): Promise<SendFigures> {
  const clients = await Promise.all(
    Array.from({ length: Math.min(connections, items.length) }, () => MllpClient.connect({ port: stack.mllpPort })),
  );
  const f: SendFigures = { sent: 0, accepted: 0, rejected: 0, rejections: [], sendMs: 0, ackMs: [] };
  try {
    f.sendMs = await drive(items.length, clients.length, rate, async (i, slot) => {
      const t = performance.now();
      f.sent++;
      const ack = await clients[slot].send(items[i].raw, 30_000).catch((err: Error) => `MSA|XX|${err.message}`);
      f.ackMs.push(performance.now() - t);
      const { code, text } = readAck(ack);
      if (code === 'AA') f.accepted++;
      else {
        f.rejected++;
        if (f.rejections.length < 5) f.rejections.push(`${code} ${text}`);
      }
    });
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
  return f;
}

function send(
  stack: Stack,
  opts: Options,
  channel: Channel,
  items: LoadItem[],
  kind: 'order' | 'result',
  rate?: number,
) {
  return channel === 'http'
    ? sendHttp(stack, items, kind === 'order' ? '/orders' : '/results', opts.httpClients, rate)
    : sendMllp(stack, items, opts.mllpConnections, rate);
}

// ---------------------------------------------------------------------------------------------
// The EHR's state

async function fetchAll<T extends Resource>(baseUrl: string, type: string): Promise<T[]> {
  const out: T[] = [];
  for (;;) {
    const res = await fetch(`${baseUrl}/${type}?_count=1000&_offset=${out.length}`);
    if (!res.ok) throw new Error(`GET ${type} answered ${res.status}`);
    const bundle = (await res.json()) as Bundle<T>;
    const page = (bundle.entry ?? []).flatMap((e) => (e.resource ? [e.resource] : []));
    out.push(...page);
    if (page.length === 0 || (bundle.total !== undefined && out.length >= bundle.total)) return out;
  }
}

interface EhrCheck {
  /** Resources beyond the first sharing one conditional key (must be 0). */
  duplicated: number;
  /** Conditional keys of the sent Bundles with no resource in the EHR. */
  missing: number;
  /** Reports whose EHR copy is not the newest version sent. */
  reportsNotNewest: number;
  resources: number;
}

/** The conditional keys (`Type identifier-system|value`) of the Bundles, from their `PUT Type?identifier=` URLs. */
function conditionalKeys(bundles: Bundle[]): Map<string, Set<string>> {
  const keys = new Map<string, Set<string>>();
  for (const b of bundles) {
    for (const e of b.entry ?? []) {
      const [type, query] = (e.request?.url ?? '').split('?');
      const identifier = query ? new URLSearchParams(query).get('identifier') : null;
      if (!identifier) continue;
      const set = keys.get(type) ?? new Set<string>();
      set.add(identifier);
      keys.set(type, set);
    }
  }
  return keys;
}

async function checkEhr(stack: Stack, sentBundles: Bundle[], newest: Map<string, string>): Promise<EhrCheck> {
  const keys = conditionalKeys(sentBundles);
  const out: EhrCheck = { duplicated: 0, missing: 0, reportsNotNewest: 0, resources: 0 };
  for (const [type, wanted] of keys) {
    const all = await fetchAll<Resource>(stack.ehrBaseUrl, type);
    out.resources += all.length;
    const seen = new Map<string, number>();
    for (const r of all) {
      for (const id of (r as { identifier?: { system?: string; value?: string }[] }).identifier ?? []) {
        const k = `${id.system}|${id.value}`;
        if (wanted.has(k)) seen.set(k, (seen.get(k) ?? 0) + 1);
      }
    }
    for (const k of wanted) {
      const n = seen.get(k) ?? 0;
      if (n === 0) out.missing++;
      if (n > 1) out.duplicated += n - 1;
    }
    if (type === 'DiagnosticReport') {
      for (const r of all as DiagnosticReport[]) {
        for (const id of r.identifier ?? []) {
          const want = newest.get(`${id.system}|${id.value}`);
          if (want !== undefined && Date.parse(r.issued ?? '') !== Date.parse(want)) out.reportsNotNewest++;
        }
      }
    }
  }
  return out;
}

function bundlesOf(items: LoadItem[]): Bundle[] {
  return items.map((item) => {
    const [r] = translateInput(item.raw);
    if (!r?.ok) throw new Error(`a synthetic input does not translate: ${JSON.stringify(r?.outcome)}`);
    return r.items[0].bundle;
  });
}

/**
 * Report key (`system|value` of the DiagnosticReport's conditional key) → issued time of the newest version sent
 * (`sent` keeps each order's versions in issue order, so the last one of an order is its newest).
 */
function newestIssued(sent: LoadItem[], bundles: Map<LoadItem, Bundle>): Map<string, string> {
  const out = new Map<string, string>();
  for (const item of sent) {
    const report = bundles.get(item)?.entry?.find((e) => e.resource?.resourceType === 'DiagnosticReport');
    const identifier = new URLSearchParams((report?.request?.url ?? '').split('?')[1] ?? '').get('identifier');
    const issued = (report?.resource as DiagnosticReport | undefined)?.issued;
    if (identifier && issued) out.set(identifier, issued);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// One run

interface RunFigures {
  channel: Channel;
  workers: number;
  mode: Mode;
  offeredRate?: number;
  updates: number;
  accepted: number;
  rejected: number;
  rejections: string[];
  /** Updates per second, first send to last finish. */
  throughput: number;
  sendRate: number;
  durationMs: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number };
  intakeAckMs: { p50: number; p99: number };
  outcomes: Record<string, number>;
  lost: number;
  deadLettered: number;
  completedTwice: number;
  /** Times a job was put back as delayed (its order locked by another update in flight, or a retry). */
  delayedEvents: number;
  ehr: EhrCheck;
  /** CPU ms per finished update, by process. */
  cpuMsPerUpdate: Record<string, number>;
  timedOut: boolean;
}

let runCounter = 0;

function formatOf(channel: Channel): 'json' | 'hl7v2' {
  return channel === 'http' ? 'json' : 'hl7v2';
}

/**
 * The channel's orders, sent once per stack through that channel (JSON to POST /orders, HL7 OML^O21 over MLLP)
 * and delivered by the workers running now (not timed); every run then sends newer report versions for them.
 */
async function ensureOrders(stack: Stack, opts: Options, channel: Channel): Promise<ChannelState> {
  const existing = stack.channels[channel];
  if (existing) return existing;
  const tag = channel === 'http' ? 'BJ' : 'BH';
  const load = makeLoad(formatOf(channel), opts.orders, 1, tag);
  stack.orders.reset();
  const orders = await send(stack, opts, channel, load.orders, 'order');
  if (orders.rejected) throw new Error(`orders rejected at intake: ${orders.rejections.join('; ')}`);
  if (!(await stack.orders.waitFor(orders.accepted, opts.timeoutMs))) {
    throw new Error(`orders not delivered within ${opts.timeoutMs} ms (${stack.orders.done}/${orders.accepted})`);
  }
  const state: ChannelState = { tag, orderBundles: bundlesOf(load.orders), nextVersion: 0 };
  stack.channels[channel] = state;
  return state;
}

function latencyOf(values: number[]) {
  return {
    p50: round(percentile(values, 50)),
    p95: round(percentile(values, 95)),
    p99: round(percentile(values, 99)),
    max: round(Math.max(...values)),
  };
}

/**
 * Fresh worker processes first compile the profiles they use and warm up the JIT: an untimed run (the next
 * `--warmup-versions` report versions of every order) before the timed ones, so that they measure the steady state.
 */
async function warmUp(stack: Stack, opts: Options, workers: WorkerProcess[], channel: Channel): Promise<void> {
  if (opts.warmupVersions < 1) return;
  const r = await runOnce(stack, { ...opts, versions: opts.warmupVersions }, workers, channel, 'max');
  console.log(`  warm-up (${channel.toUpperCase()}, not counted): ${r.updates} updates at ${fmt(r.throughput, 1)}/s`);
}

async function runOnce(
  stack: Stack,
  opts: Options,
  workers: WorkerProcess[],
  channel: Channel,
  mode: Mode,
  rate?: number,
  hooks?: { beforeUpdates(): Promise<void>; afterUpdates(): Promise<void> },
): Promise<RunFigures> {
  runCounter++;
  const state = await ensureOrders(stack, opts, channel);
  const load = makeLoad(formatOf(channel), opts.orders, opts.versions, state.tag, state.nextVersion);
  state.nextVersion += opts.versions;
  // A paced run sends for about `pacedSeconds` at most (a prefix keeps each order's versions in order).
  const all = interleave(load, SEED + runCounter);
  const updates = mode === 'paced' && rate ? all.slice(0, Math.max(1, Math.ceil(rate * opts.pacedSeconds))) : all;
  const bundleOf = new Map<LoadItem, Bundle>();
  bundlesOf(updates).forEach((b, i) => bundleOf.set(updates[i], b));

  const pids: Record<string, number> = {
    sandbox: stack.sandbox.pid,
    gateway: stack.gateway.pid,
    redis: stack.redis.pid ?? 0,
    bench: process.pid,
  };
  workers.forEach((w, i) => (pids[`worker${i + 1}`] = w.pid));
  stack.results.reset();
  await hooks?.beforeUpdates();
  const cpu0 = cpuSnapshot(pids);
  const t0 = performance.now();
  const sent = await send(stack, opts, channel, updates, 'result', mode === 'paced' ? rate : undefined);
  const finished = await stack.results.waitFor(sent.accepted, opts.timeoutMs);
  const end = stack.results.lastAt || performance.now();
  const cpu = cpuDelta(cpu0, cpuSnapshot(pids));
  await hooks?.afterUpdates();

  const results = [...stack.results.completed.values()];
  const outcomes: Record<string, number> = {};
  for (const r of results) outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
  const done = results.length;
  const ehr = await checkEhr(stack, [...state.orderBundles, ...bundleOf.values()], newestIssued(updates, bundleOf));
  const cpuMsPerUpdate: Record<string, number> = {};
  let workerCpu = 0;
  for (const [name, ms] of Object.entries(cpu)) {
    if (name.startsWith('worker')) workerCpu += ms;
    else cpuMsPerUpdate[name] = round(ms / Math.max(1, done), 2);
  }
  cpuMsPerUpdate.workers = round(workerCpu / Math.max(1, done), 2);
  cpuMsPerUpdate.total = round(Object.values(cpu).reduce((a, b) => a + b, 0) / Math.max(1, done), 2);
  return {
    channel,
    workers: workers.length,
    mode,
    offeredRate: mode === 'paced' ? rate : undefined,
    updates: updates.length,
    accepted: sent.accepted,
    rejected: sent.rejected,
    rejections: sent.rejections,
    throughput: round((done * 1000) / (end - t0), 1),
    sendRate: round((sent.sent * 1000) / sent.sendMs, 1),
    durationMs: round(end - t0),
    latencyMs: latencyOf(results.map((r) => r.latencyMs)),
    intakeAckMs: { p50: round(percentile(sent.ackMs, 50), 1), p99: round(percentile(sent.ackMs, 99), 1) },
    outcomes,
    lost: sent.accepted - done,
    deadLettered: stack.results.failed.size,
    completedTwice: stack.results.completedTwice,
    delayedEvents: stack.results.delayed,
    ehr,
    cpuMsPerUpdate,
    timedOut: !finished,
  };
}

function printRun(r: RunFigures): void {
  const what = `${r.channel.toUpperCase()} ${r.workers} worker${r.workers > 1 ? 's' : ''} ${r.mode === 'paced' ? `paced ${r.offeredRate}/s` : 'max'}`;
  console.log(
    `  ${what}: ${fmt(r.throughput, 1)} updates/s (sent at ${fmt(r.sendRate)}/s), latency p50 ${fmt(r.latencyMs.p50)} ` +
      `p95 ${fmt(r.latencyMs.p95)} p99 ${fmt(r.latencyMs.p99)} ms; intake answer p50 ${fmt(r.intakeAckMs.p50, 1)} ms; ` +
      `lost ${r.lost}, duplicated ${r.ehr.duplicated}, not newest ${r.ehr.reportsNotNewest}; ` +
      `order-lock waits ${r.delayedEvents}; ` +
      `outcomes ${JSON.stringify(r.outcomes)}${r.rejected ? `; REJECTED ${r.rejected}: ${r.rejections[0]}` : ''}${r.timedOut ? '; TIMED OUT' : ''}`,
  );
  console.log(
    `    CPU ms per update: ${Object.entries(r.cpuMsPerUpdate)
      .map(([k, v]) => `${k} ${fmt(v, 2)}`)
      .join(', ')}`,
  );
}

// ---------------------------------------------------------------------------------------------
// Baselines

interface NoopFigures {
  jobs: number;
  concurrency: number;
  addPerSecond: number;
  processPerSecond: number;
}

/** A no-op BullMQ worker on the same Redis: jobs added first (addBulk), then processed at concurrency 50. */
async function bullmqNoop(url: string, jobs = 20_000, concurrency = 50): Promise<NoopFigures> {
  const prefix = `{noop${randomBytes(3).toString('hex')}}`;
  const connection = createRedisConnection(url);
  const queue = new Queue('noop', { connection, prefix });
  const t0 = performance.now();
  for (let i = 0; i < jobs; i += 1000) {
    await queue.addBulk(
      Array.from({ length: Math.min(1000, jobs - i) }, (_, k) => ({ name: 'noop', data: { i: i + k } })),
    );
  }
  const addMs = performance.now() - t0;
  const workerConnection = createRedisConnection(url, { forWorker: true });
  let done = 0;
  let resolveDone!: () => void;
  const allDone = new Promise<void>((r) => (resolveDone = r));
  const t1 = performance.now();
  const worker = new Worker('noop', async () => undefined, { connection: workerConnection, prefix, concurrency });
  worker.on('completed', () => {
    if (++done === jobs) resolveDone();
  });
  await allDone;
  const processMs = performance.now() - t1;
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  connection.disconnect();
  workerConnection.disconnect();
  return {
    jobs,
    concurrency,
    addPerSecond: round((jobs * 1000) / addMs),
    processPerSecond: round((jobs * 1000) / processMs),
  };
}

interface DirectFigures {
  channel: Channel;
  concurrency: number;
  bundles: number;
  throughput: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number };
  errors: number;
  firstError?: string;
}

/**
 * Runs `work(i)` for i = 0..n-1, `concurrency` at a time, never two items of one order at once (as the per-order
 * lock does in the workers): a free slot takes the first waiting item whose order is idle.
 */
async function perOrder(items: LoadItem[], concurrency: number, work: (i: number) => Promise<void>): Promise<number> {
  const waiting = items.map((_, i) => i);
  const busy = new Set<number>();
  let sleepers: (() => void)[] = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      for (;;) {
        if (waiting.length === 0) return;
        const k = waiting.findIndex((i) => !busy.has(items[i].orderIndex));
        if (k < 0) {
          await new Promise<void>((r) => sleepers.push(r));
          continue;
        }
        const [i] = waiting.splice(k, 1);
        busy.add(items[i].orderIndex);
        try {
          await work(i);
        } finally {
          busy.delete(items[i].orderIndex);
          const wake = sleepers;
          sleepers = [];
          for (const w of wake) w();
        }
      }
    }),
  );
  return performance.now() - t0;
}

/**
 * The same kind of Bundles (the next report versions of the channel's orders) pushed straight to the sandbox with
 * pushBundle, `concurrency` at once and one at a time per order: what the EHR side costs without marrowbridge.
 */
async function directPush(stack: Stack, opts: Options, channel: Channel, concurrency: number): Promise<DirectFigures> {
  runCounter++;
  const state = stack.channels[channel];
  if (!state) throw new Error(`direct push (${channel}): the channel's orders were not sent yet`);
  const load = makeLoad(formatOf(channel), opts.orders, opts.versions, state.tag, state.nextVersion);
  state.nextVersion += opts.versions;
  const updates = interleave(load, SEED + runCounter);
  const bundles = bundlesOf(updates);
  const client = new EhrClient({ baseUrl: stack.ehrBaseUrl, requestRetries: 3, userAgent: 'marrowbridge-bench' });
  const latency: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const ms = await perOrder(updates, concurrency, async (i) => {
    const t = performance.now();
    try {
      await pushBundle(client, bundles[i]);
      latency.push(performance.now() - t);
    } catch (err) {
      errors++;
      firstError ??= err instanceof Error ? err.message : String(err);
    }
  });
  return {
    channel,
    concurrency,
    bundles: bundles.length,
    throughput: round((latency.length * 1000) / ms, 1),
    latencyMs: latencyOf(latency),
    errors,
    firstError,
  };
}

// ---------------------------------------------------------------------------------------------
// Profiles of the services, when a floor is missed

async function profileServices(
  redis: TestRedis,
  opts: Options,
): Promise<{ profiles: Record<string, ProfileSummary>; run: RunFigures }> {
  const inspect = () => '--inspect=127.0.0.1:0';
  const stack = await startStack(redis, opts, inspect);
  const profiles: Record<string, ProfileSummary> = {};
  try {
    const workers = await startWorkers(FLOOR_WORKERS, { ...stack.workerEnv, NODE_OPTIONS: inspect() });
    try {
      const targets: [string, string | undefined][] = [
        ['ehr-sandbox', stack.sandbox.inspectorUrl],
        ['gateway', stack.gateway.inspectorUrl],
        ...workers.map((w, i): [string, string | undefined] => [`sync-worker ${i + 1}`, inspectorUrlIn(w.stderr)]),
      ];
      const profilers: [string, RemoteProfiler][] = [];
      for (const [name, url] of targets) {
        if (!url) throw new Error(`${name} printed no inspector URL`);
        profilers.push([name, await RemoteProfiler.connect(url)]);
      }
      await warmUp(stack, opts, workers, 'http');
      const run = await runOnce(stack, opts, workers, 'http', 'max', undefined, {
        beforeUpdates: async () => void (await Promise.all(profilers.map(([, p]) => p.start()))),
        afterUpdates: async () => {
          for (const [name, p] of profilers) {
            const profile = await p.stop();
            profiles[name] = summarizeProfile(profile, 20);
            if (opts.profileDir) {
              await mkdir(opts.profileDir, { recursive: true });
              await writeFile(
                path.join(opts.profileDir, `${name.replace(/\W+/g, '-')}.cpuprofile`),
                JSON.stringify(profile),
              );
            }
            p.close();
          }
        },
      });
      return { profiles, run };
    } finally {
      await stopWorkers(workers);
    }
  } finally {
    await stack.close();
  }
}

// ---------------------------------------------------------------------------------------------

/** "sync-worker 339-468 MB, ehr-sandbox 401 MB, ...": the workers as a range, the other processes one by one. */
function rssSummary(memory: Record<string, { peakRssMb: number }>): string {
  const workers = Object.entries(memory)
    .filter(([k]) => k.startsWith('sync-worker'))
    .map(([, v]) => v.peakRssMb);
  const parts = workers.length ? [`sync-worker ${fmt(Math.min(...workers))}-${fmt(Math.max(...workers))} MB`] : [];
  for (const [k, v] of Object.entries(memory))
    if (!k.startsWith('sync-worker')) parts.push(`${k} ${fmt(v.peakRssMb)} MB`);
  return parts.join(', ');
}

async function main(): Promise<void> {
  const started = new Date();
  const opts = options();
  const redis = await startTestRedis({ preferSpawn: true, containerStarter: null, log: (l) => console.log(l) });
  const memory: Record<string, { peakRssMb: number }> = {};
  const runs: RunFigures[] = [];
  const direct: DirectFigures[] = [];
  let noop: NoopFigures;
  let stack: Stack | undefined;
  try {
    console.log(
      `end to end: ${opts.orders} orders x ${opts.versions} result updates (8 observations) per run; workers ` +
        `${opts.workers.join('/')}, WORKER_CONCURRENCY ${opts.concurrency}; HTTP ${opts.httpClients} clients, MLLP ` +
        `${opts.mllpConnections} connections; paced rate ${opts.rate}/s; LOG_LEVEL info; ${os.cpus().length} CPUs\n`,
    );
    noop = await bullmqNoop(redis.url, 10_000);
    console.log(
      `baseline, bare BullMQ on this Redis: no-op worker ${fmt(noop.processPerSecond)} jobs/s (concurrency ${noop.concurrency}), ` +
        `addBulk ${fmt(noop.addPerSecond)} jobs/s\n`,
    );
    stack = await startStack(redis, opts);
    for (const w of opts.workers) {
      const workers = await startWorkers(w, stack.workerEnv);
      try {
        console.log(`${w} worker process${w > 1 ? 'es' : ''}:`);
        for (const channel of opts.channels) await warmUp(stack, opts, workers, channel);
        for (const channel of opts.channels) {
          for (const mode of opts.modes) {
            // Paced: the offered rate, or 70 % of what the max run of this setup reached when that is lower
            // (above capacity the queue only grows, and latency would measure the backlog, not the system).
            const max = runs.find((r) => r.workers === w && r.channel === channel && r.mode === 'max');
            const rate = max ? Math.min(opts.rate, Math.max(1, Math.floor(0.7 * max.throughput))) : opts.rate;
            const r = await runOnce(stack, opts, workers, channel, mode, rate);
            runs.push(r);
            printRun(r);
          }
        }
      } finally {
        workers.forEach((p, i) => {
          const m = memoryOf(p.pid);
          if (m) memory[`sync-worker ${i + 1}/${w}`] = { peakRssMb: m.peakRssMb };
        });
        await stopWorkers(workers);
      }
      for (const channel of opts.channels) {
        const d = await directPush(stack, opts, channel, w * opts.concurrency);
        direct.push(d);
        console.log(
          `  baseline, direct push (${channel === 'http' ? 'JSON' : 'HL7'} Bundles, concurrency ${d.concurrency}): ` +
            `${fmt(d.throughput, 1)} Bundles/s, latency p50 ${fmt(d.latencyMs.p50)} p99 ${fmt(d.latencyMs.p99)} ms` +
            `${d.errors ? `, ${d.errors} errors (${d.firstError})` : ''}`,
        );
      }
      console.log('');
    }
    for (const [name, pid] of [
      ['ehr-sandbox', stack.sandbox.pid],
      ['gateway', stack.gateway.pid],
      ['redis-server', redis.pid ?? 0],
      ['bench (sender)', process.pid],
    ] as const) {
      const m = memoryOf(pid);
      if (m) memory[name] = { peakRssMb: m.peakRssMb };
    }
  } finally {
    await stack?.close().catch(() => undefined);
  }

  // Summary with ratios.
  const directOf = (r: RunFigures) =>
    direct.find((d) => d.channel === r.channel && d.concurrency === r.workers * opts.concurrency);
  const rows = runs.map((r) => {
    const d = directOf(r);
    return [
      `${r.channel.toUpperCase()} ${r.mode === 'paced' ? `paced ${r.offeredRate}/s` : 'max'}`,
      String(r.workers),
      fmt(r.throughput, 1),
      fmt(r.latencyMs.p50),
      fmt(r.latencyMs.p95),
      fmt(r.latencyMs.p99),
      `${r.lost}/${r.ehr.duplicated}`,
      d ? fmt(d.throughput, 1) : '-',
      d && r.mode === 'max' ? (r.throughput / d.throughput).toFixed(2) : '-',
      r.mode === 'max' ? (r.throughput / noop!.processPerSecond).toFixed(3) : '-',
      fmt(r.cpuMsPerUpdate.total, 1),
    ];
  });
  console.log(
    table(
      [
        'run',
        'workers',
        'updates/s',
        'p50 ms',
        'p95 ms',
        'p99 ms',
        'lost/dup',
        'direct /s',
        'x direct',
        'x BullMQ',
        'CPU ms/upd',
      ],
      rows,
    ),
  );
  console.log(
    `\nratios: "x direct" = end-to-end updates/s / direct pushBundle Bundles/s at the same concurrency (1.00 = ` +
      `marrowbridge adds nothing over pushing to the EHR); "x BullMQ" = end-to-end / bare no-op BullMQ jobs/s ` +
      `(${fmt(noop!.processPerSecond)}/s). Ratios are taken for "max" runs (paced runs are held to the offered rate).`,
  );
  console.log(
    '\npeak RSS (VmHWM): ' +
      Object.entries(memory)
        .map(([k, v]) => `${k} ${fmt(v.peakRssMb)} MB`)
        .join(', '),
  );

  // Floors (issue 7) and correctness.
  const floorsMissed: string[] = [];
  const atFloor = runs.filter((r) => r.workers === FLOOR_WORKERS);
  for (const r of atFloor) {
    const label = `${r.channel.toUpperCase()} ${r.mode} with ${FLOOR_WORKERS} workers`;
    if (r.mode === 'max' && r.throughput < FLOOR_UPDATES_PER_SECOND) {
      floorsMissed.push(`${label}: ${fmt(r.throughput, 1)} updates/s, floor ${FLOOR_UPDATES_PER_SECOND}/s`);
    }
    // A paced run tests the latency floor only when it ran at the floor's rate (the max run judges throughput).
    if (r.mode === 'paced' && (r.offeredRate ?? 0) >= FLOOR_UPDATES_PER_SECOND && r.latencyMs.p99 >= FLOOR_P99_MS) {
      floorsMissed.push(
        `${label} at ${r.offeredRate}/s: ${fmt(r.throughput, 1)} updates/s, p99 ${fmt(r.latencyMs.p99)} ms, floor p99 < ${FLOOR_P99_MS} ms`,
      );
    }
  }
  const correctness = runs.flatMap((r) => {
    const label = `${r.channel} ${r.mode} ${r.workers} workers`;
    const problems: string[] = [];
    if (r.lost) problems.push(`${label}: ${r.lost} lost`);
    if (r.ehr.duplicated) problems.push(`${label}: ${r.ehr.duplicated} duplicated in the EHR`);
    if (r.ehr.missing) problems.push(`${label}: ${r.ehr.missing} conditional keys missing in the EHR`);
    if (r.ehr.reportsNotNewest)
      problems.push(`${label}: ${r.ehr.reportsNotNewest} reports not in their newest version`);
    if (r.rejected) problems.push(`${label}: ${r.rejected} rejected at intake`);
    return problems;
  });
  let serviceProfiles: { profiles: Record<string, ProfileSummary>; run: RunFigures } | undefined;
  if (floorsMissed.length || opts.profile) {
    if (floorsMissed.length) {
      console.log(
        `\nBelow the floors of issue 7 (${FLOOR_UPDATES_PER_SECOND} updates/s with ${FLOOR_WORKERS} workers, p99 < ${FLOOR_P99_MS} ms):`,
      );
      for (const f of floorsMissed) console.log(`  - ${f}`);
    }
    console.log(
      `\nWhere the time goes: one more HTTP max run with ${FLOOR_WORKERS} workers; every service's CPU profile ` +
        '(inspector, while the updates flow):',
    );
    serviceProfiles = await profileServices(redis, opts);
    printRun(serviceProfiles.run);
    for (const [name, summary] of Object.entries(serviceProfiles.profiles)) {
      console.log('\n' + formatProfile(`${name}`, summary, 10));
    }
  }
  await redis.stop();
  if (correctness.length) {
    console.log('\nCorrectness problems:');
    for (const c of correctness) console.log(`  - ${c}`);
  }

  const best = (channel: Channel, mode: Mode) =>
    runs.find((r) => r.workers === FLOOR_WORKERS && r.channel === channel && r.mode === mode);
  await emitReport({
    name: 'end-to-end',
    startedAt: started.toISOString(),
    durationMs: Date.now() - started.getTime(),
    summary: [
      ...runs
        .filter((r) => r.mode === 'max')
        .map((r) => {
          const d = directOf(r);
          return {
            label: `end to end ${r.channel.toUpperCase()}, ${r.workers} worker${r.workers > 1 ? 's' : ''}, max`,
            value: `${fmt(r.throughput, 1)} updates/s, p99 ${fmt(r.latencyMs.p99)} ms`,
            ratio: d
              ? `${(r.throughput / d.throughput).toFixed(2)} x direct push (${fmt(d.throughput, 1)}/s)`
              : undefined,
          };
        }),
      ...(['http', 'mllp'] as const).flatMap((c) => {
        const r = best(c, 'paced');
        return r
          ? [
              {
                label: `end to end ${c.toUpperCase()}, ${FLOOR_WORKERS} workers, paced ${r.offeredRate}/s`,
                value: `${fmt(r.throughput, 1)} updates/s, p50 ${fmt(r.latencyMs.p50)} / p95 ${fmt(r.latencyMs.p95)} / p99 ${fmt(r.latencyMs.p99)} ms`,
              },
            ]
          : [];
      }),
      {
        label: 'bare BullMQ no-op worker',
        value: `${fmt(noop!.processPerSecond)} jobs/s`,
      },
      { label: 'peak RSS (VmHWM) under load', value: rssSummary(memory) },
    ],
    floorsMissed,
    correctness,
    figures: { options: opts, bullmqNoop: noop!, runs, directPush: direct, peakRss: memory, serviceProfiles },
  });
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
