/**
 * Shared helpers of the fault-injection tests (test/chaos): loads with many versions per report, random report
 * histories, bounded concurrent enqueueing, a Redis Cluster on loopback, and small timing helpers. Everything here
 * is bounded in count and time, and every process it starts is stopped by the returned handle (and by the Redis
 * harness' own exit hooks and watchdogs when the test process dies).
 */
import { translateInput } from '@marrowbridge/intake';
import type { DeliveryQueues } from '@marrowbridge/queue';
import Redis from 'ioredis';
import { freeLoopbackPort, startTestRedis, type TestRedis } from '../harness/redis';
import { eventually } from '../../services/gateway/test/helpers';
import { isoOffset, syntheticLoad, type SyntheticLoad, type SyntheticUpdate } from '../support/synthetic';
import { shuffled } from '../support/random';

type Json = Record<string, unknown>;

/** The seed of a chaos test: MARROWBRIDGE_SEED when set (to repeat a failing run), else the test's own. */
export function chaosSeed(fallback: number): number {
  const env = Number(process.env.MARROWBRIDGE_SEED);
  return Number.isInteger(env) && env > 0 ? env : fallback;
}

/** Resolves after ms. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs `work` over the items with `lanes` of them at a time; results in item order. */
export async function inLanes<T, R>(
  items: T[],
  lanes: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await work(items[i], i);
      }
    }),
  );
  return out;
}

// ---------------------------------------------------------------------------------------------
// Loads

/**
 * `orders` orders with two reports each (aspirate morphology and flow cytometry), and `versionsPerReport`
 * versions of each report: statuses follow the sample histories of syntheticLoad (preliminary → final →
 * corrected/amended), issued times rise strictly, and one quantity moves with every version, so the newest version
 * is the only right end state. At most `maxObservations` results per version keep each delivery small.
 */
export function versionedLoad(
  orders: number,
  versionsPerReport: number,
  runTag: string,
  maxObservations = 3,
): SyntheticLoad {
  const base = syntheticLoad(orders, runTag);
  const out: SyntheticLoad = { orders: base.orders, updates: [], newest: new Map() };
  const byReport = new Map<string, SyntheticUpdate[]>();
  for (const u of base.updates) {
    const key = `${u.placer}|${u.reportCode}`;
    byReport.set(key, [...(byReport.get(key) ?? []), u]);
  }
  for (const [key, templates] of byReport) {
    const first = JSON.parse(templates[0].raw) as Json;
    const t0 = Date.parse(first.issued as string);
    for (let v = 0; v < versionsPerReport; v++) {
      const template = templates[Math.floor((v * templates.length) / versionsPerReport)];
      const doc = JSON.parse(template.raw) as Json;
      const source = doc.source as Json;
      doc.source = { ...source, messageId: `${String(source.messageId)}-v${v + 1}` };
      doc.issued = isoOffset(t0 + v * 23 * 60_000);
      doc.observations = (doc.observations as Json[]).slice(0, maxObservations);
      bumpFirstQuantity(doc, v);
      const update: SyntheticUpdate = {
        ...template,
        raw: JSON.stringify(doc),
        issued: doc.issued as string,
        version: v + 1,
      };
      out.updates.push(update);
      out.newest.set(key, update);
    }
  }
  return out;
}

function bumpFirstQuantity(doc: Json, by: number): void {
  for (const obs of doc.observations as Json[]) {
    const value = obs.value as Json | undefined;
    if (value?.type === 'quantity' && typeof value.value === 'number') {
      value.value = value.value + by;
      return;
    }
  }
}

/** Translates and queues every input, `concurrency` at a time. Counts created jobs and re-sent ones. */
export async function enqueueAll(
  queues: DeliveryQueues,
  inputs: { raw: string }[],
  options: { concurrency?: number; system?: string } = {},
): Promise<{ created: number; existed: number; ms: number }> {
  const t0 = Date.now();
  let created = 0;
  let existed = 0;
  await inLanes(inputs, options.concurrency ?? 8, async (input) => {
    const [result] = translateInput(input.raw);
    if (!result?.ok) throw new Error(`chaos input does not translate: ${JSON.stringify(result?.outcome)}`);
    const { jobs } = await queues.enqueueMessage(result, input.raw, {
      channel: 'http',
      system: options.system ?? 'chaos',
    });
    for (const j of jobs) {
      if (j.created) created++;
      else existed++;
    }
  });
  return { created, existed, ms: Date.now() - t0 };
}

// ---------------------------------------------------------------------------------------------
// Redis Cluster

export interface TestRedisCluster {
  nodes: TestRedis[];
  /** The nodes' URLs joined by commas: the REDIS_URL of a cluster. */
  url: string;
  stop(): Promise<void>;
}

/**
 * `size` redis-server processes with cluster mode on (their cluster config in each server's own temp dir, the bus
 * on a free port of its own), joined into one cluster with the 16384 slots split between them and no replicas.
 * Resolves once every node reports cluster_state:ok.
 */
export async function startRedisCluster(size = 3, timeoutMs = 30_000): Promise<TestRedisCluster> {
  const nodes: TestRedis[] = [];
  const busPorts: number[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => n.stop().catch(() => undefined)));
  };
  try {
    for (let i = 0; i < size; i++) {
      const busPort = await freeLoopbackPort();
      busPorts.push(busPort);
      const node = await startTestRedis({
        preferSpawn: true,
        env: { ...process.env, REDIS_URL: '', MARROWBRIDGE_REDIS_CONTAINER: '0' },
        serverArgs: [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          'nodes.conf',
          '--cluster-port',
          String(busPort),
          '--cluster-node-timeout',
          '5000',
        ],
        log: () => undefined,
      });
      nodes.push(node);
      if (node.kind !== 'spawned') throw new Error('a Redis Cluster needs redis-server (apt-get install redis-server)');
    }
    const admins = nodes.map((n) => new Redis(n.port, n.host, { lazyConnect: true, maxRetriesPerRequest: 2 }));
    try {
      await Promise.all(admins.map((a) => a.connect()));
      // Slots split evenly, then every node meets the first one (naming its bus port: not port + 10000 here).
      const per = Math.ceil(16384 / size);
      await Promise.all(
        admins.map((a, i) => {
          const slots: number[] = [];
          for (let s = i * per; s < Math.min(16384, (i + 1) * per); s++) slots.push(s);
          return a.call('CLUSTER', 'ADDSLOTS', ...slots.map(String));
        }),
      );
      for (const a of admins.slice(1))
        await a.call('CLUSTER', 'MEET', nodes[0].host, String(nodes[0].port), String(busPorts[0]));
      await eventually(
        async () => {
          const infos = await Promise.all(admins.map((a) => a.call('CLUSTER', 'INFO') as Promise<string>));
          return infos.every((info) => /cluster_state:ok/.test(info) && info.includes(`cluster_known_nodes:${size}`));
        },
        timeoutMs,
        'redis cluster state ok',
      );
    } finally {
      for (const a of admins) a.disconnect();
    }
    return { nodes, url: nodes.map((n) => n.url).join(','), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Senders

export interface SendResult {
  /** The final answer's status (202 when accepted) and body. */
  status: number;
  body: string;
  attempts: number;
  /** Answers that made the sender try again, by status ("network" for a failed connection). */
  retriedOn: Record<string, number>;
  /** When the accepting answer arrived (epoch ms). */
  acceptedAt?: number;
}

/**
 * POSTs one message until it is accepted (202), as a sender does that reads the answer: 503 and network errors
 * are tried again after `pauseMs` (doubling up to 1 s); any other answer is final. Bounded by maxAttempts and
 * deadlineMs.
 */
export async function postUntilAccepted(
  url: string,
  body: string,
  headers: Record<string, string>,
  options: { maxAttempts?: number; deadlineMs?: number; pauseMs?: number } = {},
): Promise<SendResult> {
  const maxAttempts = options.maxAttempts ?? 100;
  const deadline = Date.now() + (options.deadlineMs ?? 60_000);
  let pause = options.pauseMs ?? 50;
  const retriedOn: Record<string, number> = {};
  for (let attempt = 1; ; attempt++) {
    let status: number | 'network';
    let text = '';
    try {
      const res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(10_000) });
      status = res.status;
      text = await res.text();
    } catch {
      status = 'network';
    }
    if (status !== 503 && status !== 'network') {
      return { status, body: text, attempts: attempt, retriedOn, acceptedAt: status === 202 ? Date.now() : undefined };
    }
    retriedOn[status] = (retriedOn[status] ?? 0) + 1;
    if (attempt >= maxAttempts || Date.now() > deadline) {
      return { status: status === 'network' ? 0 : status, body: text, attempts: attempt, retriedOn };
    }
    await sleep(pause);
    pause = Math.min(1000, pause * 2);
  }
}

// ---------------------------------------------------------------------------------------------
// Random report histories

/** Status groups by precedence rank (registered left out: results start at partial/preliminary). */
const RANKS: string[][] = [['partial', 'preliminary'], ['final'], ['corrected', 'amended', 'appended']];

export interface ReportTrial {
  /** `<placer>|<report code>` */
  key: string;
  /** The versions in the order the lab issued them (issued times rise strictly; precedence never falls). */
  versions: SyntheticUpdate[];
  /** The arrival order: the versions shuffled, plus sometimes a re-send of one of them under a new message id. */
  arrival: SyntheticUpdate[];
  newest: SyntheticUpdate;
}

/**
 * One random history per report of `orders` (two reports per order): 2–6 versions, a random walk up the status
 * ranks (partial/preliminary → final → corrected/amended/appended), issued times 1 minute to 2 days apart, one
 * quantity result whose value changes with every version, and (30 %) a re-send of one version under another
 * message id. Small reports: one result, no attachment. `round` keeps the message ids of repeated trials apart.
 */
export function randomTrials(orders: SyntheticLoad, random: () => number, round: number): ReportTrial[] {
  const trials: ReportTrial[] = [];
  const templates = new Map<string, SyntheticUpdate>();
  for (const u of orders.updates) if (u.status === 'final') templates.set(`${u.placer}|${u.reportCode}`, u);
  for (const [key, template] of templates) {
    const doc0 = JSON.parse(template.raw) as Json;
    delete doc0.presentedForm;
    delete doc0.conclusionCodes;
    doc0.observations = (doc0.observations as Json[]).filter((o) => (o.value as Json).type === 'quantity').slice(0, 1);
    const source = doc0.source as Json;
    const count = 2 + Math.floor(random() * 5);
    let rank = random() < 0.8 ? 0 : 1;
    let issued = Date.parse(doc0.issued as string) - 24 * 3600_000;
    const versions: SyntheticUpdate[] = [];
    for (let v = 0; v < count; v++) {
      if (v > 0) {
        const step = random();
        rank = Math.min(RANKS.length - 1, rank + (step < 0.5 ? 0 : step < 0.9 ? 1 : 2));
      }
      issued += 60_000 + Math.floor(random() * 48 * 3600_000);
      const group = RANKS[rank];
      const status = group[Math.floor(random() * group.length)];
      const doc = structuredClone(doc0);
      doc.source = { ...source, messageId: `${String(source.messageId)}-r${round}-v${v + 1}` };
      doc.status = status;
      doc.issued = isoOffset(issued);
      for (const obs of doc.observations as Json[]) {
        obs.status = rank === 0 ? 'preliminary' : 'final';
        (obs.value as Json).value = 100 * round + v + 1;
      }
      versions.push({ ...template, raw: JSON.stringify(doc), status, issued: doc.issued as string, version: v + 1 });
    }
    const arrival = [...versions];
    if (random() < 0.3) {
      const again = versions[Math.floor(random() * versions.length)];
      const doc = JSON.parse(again.raw) as Json;
      doc.source = { ...(doc.source as Json), messageId: `${String((doc.source as Json).messageId)}-resent` };
      arrival.push({ ...again, raw: JSON.stringify(doc) });
    }
    trials.push({ key, versions, arrival: shuffled(arrival, random), newest: versions[versions.length - 1] });
  }
  return trials;
}

/** The trials as a load for checkNewestState (orders, every version that arrived, the newest per report). */
export function trialsLoad(orders: SyntheticLoad, trials: ReportTrial[]): SyntheticLoad {
  return {
    orders: orders.orders,
    updates: trials.flatMap((t) => t.arrival),
    newest: new Map(trials.map((t) => [t.key, t.newest])),
  };
}

// ---------------------------------------------------------------------------------------------
// Fuzzing: seeded mutations of HL7 v2 and JSON, at the byte level and the structure level

export type Random = () => number;

export function pick<T>(random: Random, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)];
}

function between(random: Random, lo: number, hi: number): number {
  return lo + Math.floor(random() * (hi - lo + 1));
}

/** Byte sequences that are not UTF-8: a lone continuation, a truncated sequence, overlong forms, a surrogate, > U+10FFFF. */
export const INVALID_UTF8: readonly Buffer[] = [
  Buffer.from([0x80]),
  Buffer.from([0xc3, 0x28]),
  Buffer.from([0xe2, 0x82]),
  Buffer.from([0xc0, 0xaf]),
  Buffer.from([0xe0, 0x80, 0xaf]),
  Buffer.from([0xed, 0xa0, 0x80]),
  Buffer.from([0xf4, 0x90, 0x80, 0x80]),
  Buffer.from([0xfe, 0xff]),
];

/** One byte-level mutation: flipped/inserted/deleted/duplicated bytes, truncation, invalid UTF-8, NUL, a BOM. */
export function mutateBytes(input: Buffer, random: Random): Buffer {
  const buf = Buffer.from(input);
  const at = () => between(random, 0, Math.max(0, buf.length - 1));
  switch (between(random, 0, 7)) {
    case 0: {
      for (let k = between(random, 1, 8); k > 0 && buf.length > 0; k--) buf[at()] = between(random, 0, 255);
      return buf;
    }
    case 1: {
      const i = at();
      return Buffer.concat([buf.subarray(0, i), randomBytes(random, between(random, 1, 32)), buf.subarray(i)]);
    }
    case 2: {
      const i = at();
      return Buffer.concat([buf.subarray(0, i), buf.subarray(Math.min(buf.length, i + between(random, 1, 200)))]);
    }
    case 3: {
      const i = at();
      const j = Math.min(buf.length, i + between(random, 1, 300));
      return Buffer.concat([buf.subarray(0, j), buf.subarray(i, j), buf.subarray(j)]);
    }
    case 4:
      return buf.subarray(0, at());
    case 5: {
      let out = buf;
      for (let k = between(random, 1, 4); k > 0; k--) {
        const i = between(random, 0, out.length);
        out = Buffer.concat([out.subarray(0, i), pick(random, INVALID_UTF8), out.subarray(i)]);
      }
      return out;
    }
    case 6: {
      const i = at();
      return Buffer.concat([buf.subarray(0, i), Buffer.from([0]), buf.subarray(i)]);
    }
    default:
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), buf]);
  }
}

function randomBytes(random: Random, n: number): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = between(random, 0, 255);
  return out;
}

const ODD_STRINGS = [
  '',
  ' ',
  '\u0000',
  '\ud800',
  '\uffff',
  '<script>alert(1)</script>',
  "'; DROP TABLE x; --",
  '${jndi:ldap://x}',
  '../../etc/passwd',
  'Ω≈ç√∫',
  '𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
  '2026-02-30T25:61:00Z',
  '1e309',
  '-0',
  'NaN',
  'null',
];

/** A random JSON value, sometimes deeply nested or large. */
function oddValue(random: Random): unknown {
  switch (between(random, 0, 11)) {
    case 0:
      return null;
    case 1:
      return pick(random, [true, false]);
    case 2:
      return pick(random, [0, -1, 1.5, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, 2 ** 53]);
    case 3:
      return pick(random, ODD_STRINGS);
    case 4:
      return 'x'.repeat(between(random, 100, 20_000));
    case 5:
      return [];
    case 6:
      return {};
    case 7: {
      let v: unknown = 'deep';
      for (let d = between(random, 10, 3000); d > 0; d--) v = random() < 0.5 ? [v] : { a: v };
      return v;
    }
    case 8:
      return { system: pick(random, ODD_STRINGS), value: pick(random, ODD_STRINGS) };
    case 9:
      return Array.from({ length: between(random, 1, 50) }, () => pick(random, ODD_STRINGS));
    case 10:
      // Own "__proto__" and "constructor" keys, as JSON.parse makes them (prototype pollution attempts).
      return JSON.parse('{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}') as unknown;
    default:
      return pick(random, ODD_STRINGS) + String(between(random, 0, 1e6));
  }
}

/** One structural mutation of a JSON document: delete, replace, add or duplicate somewhere in the tree. */
export function mutateJson(text: string, random: Random): string {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return text;
  }
  const slots: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = [];
  const walk = (node: unknown, depth: number): void => {
    if (depth > 12 || node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      node.forEach((v, i) => {
        slots.push({ parent: node, key: i });
        walk(v, depth + 1);
      });
    } else {
      for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
        slots.push({ parent: node as Record<string, unknown>, key: k });
        walk(v, depth + 1);
      }
    }
  };
  walk(doc, 0);
  if (slots.length === 0) return JSON.stringify(oddValue(random));
  const { parent, key } = pick(random, slots);
  const p = parent as Record<string | number, unknown>;
  switch (between(random, 0, 5)) {
    case 0:
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete p[key];
      break;
    case 1:
    case 2:
      p[key] = oddValue(random);
      break;
    case 3:
      if (Array.isArray(parent)) parent.push(structuredClone(parent[key as number]));
      else
        Object.defineProperty(
          p,
          pick(random, ['__proto__', 'constructor', 'prototype', 'extra', 'resourceType', 'kind']),
          {
            value: oddValue(random),
            enumerable: true,
            writable: true,
            configurable: true,
          },
        );
      break;
    case 4: {
      // The same key twice in the text (the last one wins in JSON.parse).
      const json = JSON.stringify(doc);
      const i = json.indexOf('{');
      return json.slice(0, i + 1) + `"kind":${JSON.stringify(oddValue(random))},` + json.slice(i + 1);
    }
    default: {
      const v = p[key];
      p[key] = typeof v === 'string' ? Number(v) || [v] : typeof v === 'number' ? String(v) : v === null ? 0 : null;
    }
  }
  return JSON.stringify(doc);
}

const HL7_ODD_FIELDS = [
  '',
  '""',
  '^^^^^^^^^^',
  '~~~~',
  '\\X00\\',
  '\\H\\\\N\\',
  '\\E\\\\F\\\\S\\\\T\\\\R\\',
  '\\Zxyz\\',
  '&&&&',
  '20261399',
  '99999999999999.9999+9999',
  '-0',
  'ÄÖÜ',
  'A'.repeat(5000),
];

/** One structural mutation of an HL7 v2 message: segments dropped, duplicated, swapped or renamed; fields changed. */
export function mutateHl7(text: string, random: Random): string {
  const segments = text.split(/\r\n|\r|\n/).filter((s) => s !== '');
  if (segments.length === 0) return text;
  const i = between(random, 0, segments.length - 1);
  switch (between(random, 0, 8)) {
    case 0:
      segments.splice(i, 1);
      break;
    case 1:
      segments.splice(i, 0, segments[i]);
      break;
    case 2: {
      const j = between(random, 0, segments.length - 1);
      [segments[i], segments[j]] = [segments[j], segments[i]];
      break;
    }
    case 3:
      segments[i] = pick(random, ['ZZZ', 'PID', 'OBX', 'MSH', 'XX', '', 'OBR1']) + segments[i].slice(3);
      break;
    case 4:
    case 5: {
      const fields = segments[i].split('|');
      const f = between(random, 1, Math.max(1, fields.length));
      fields[f] = pick(random, HL7_ODD_FIELDS);
      segments[i] = fields.join('|');
      break;
    }
    case 6: {
      // MSH-2 (encoding characters), MSH-9 (type), MSH-12 (version).
      const msh = segments[0].split('|');
      const which = pick(random, [1, 8, 11]);
      msh[which] = pick(random, [
        '',
        '^~\\&#',
        '####',
        'ORU^R01^ORU_R01',
        'ADT^A01',
        'ACK',
        '2.9',
        '1.0',
        '2.3',
        '2.8',
      ]);
      segments[0] = msh.join('|');
      break;
    }
    case 7:
      return segments.join(pick(random, ['\n', '\r\n', '\r\r', '']));
    default:
      segments.splice(
        i,
        0,
        `OBX|${between(random, 1, 99)}|${pick(random, ['NM', 'ST', 'XX', 'CWE', ''])}|${pick(random, HL7_ODD_FIELDS)}`,
      );
  }
  return segments.join('\r');
}

/** MSH-10 replaced by `id` (a fresh control id per fuzzed message, so that dedup does not answer before parsing). */
export function withControlId(hl7: string, id: string): string {
  const [msh, ...rest] = hl7.split('\r');
  const fields = msh.split('|');
  if (fields.length > 9) fields[9] = id;
  return [fields.join('|'), ...rest].join('\r');
}
