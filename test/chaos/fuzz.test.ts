/**
 * Issue 7, fuzzing: 10,000 seeded inputs against the real gateway (in this process) — over HTTP to POST /orders,
 * /results, /hl7, /$translate and /fhir/Bundle/$validate, and over MLLP to its listener. Inputs are the committed
 * samples (canonical JSON, HL7 v2, mapped FHIR Bundles) mutated at the byte level (flips, inserts, deletes,
 * truncation, invalid UTF-8, NUL, BOM) and at the structure level (JSON values replaced, deeply nested, huge,
 * prototype keys; HL7 segments dropped, duplicated, renamed, odd fields and encoding characters), some sent with a
 * wrong or no Content-Type, some over the body limit, some empty. Must show: no 5xx, no crash, no unhandled
 * rejection or uncaught exception; every answer is an OperationOutcome or an HL7 ACK (with ERR when not AA) — or,
 * for input that is still valid after mutation, the endpoint's normal answer (202 receipt, $translate result).
 * MLLP framing violations (bytes outside a frame) are sent on their own connections: the listener closes just that
 * connection and goes on serving. MARROWBRIDGE_SEED repeats a run; failures name the input's index, and
 * MARROWBRIDGE_FUZZ_DUMP=<index,…> writes those inputs to the temp dir.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mapOrder, mapResultUpdate } from '@marrowbridge/fhir-mapping';
import { loadMllpConfig, mllpListener } from '@marrowbridge/gateway';
import { translateInput } from '@marrowbridge/intake';
import { MllpClient, readAck } from '@marrowbridge/mllp';
import { withTestRedis } from '../harness/redis';
import { printFigures } from '../support/delivery-figures';
import { repoRoot } from '../support/paths';
import { seededRandom } from '../support/random';
import { startGatewayStack, type GatewayStack } from '../../services/gateway/test/helpers';
import { chaosSeed, inLanes, mutateBytes, mutateHl7, mutateJson, pick, withControlId, type Random } from './support';

const redis = withTestRedis();
const SEED = chaosSeed(7005);
const LIMIT = 64 * 1024;
/** How many inputs go where (10,000 in all). */
const PLAN: [Target, number][] = [
  ['/orders', 1600],
  ['/results', 1600],
  ['/hl7', 1800],
  ['/$translate', 1200],
  ['/fhir/Bundle/$validate', 800],
  ['mllp', 3000],
];
const FRAMING_VIOLATIONS = 40;

type Target = '/orders' | '/results' | '/hl7' | '/$translate' | '/fhir/Bundle/$validate' | 'mllp';
type Family = 'order' | 'result' | 'hl7' | 'bundle';

interface FuzzInput {
  index: number;
  target: Target;
  /** undefined: no Content-Type header. */
  contentType?: string;
  body: Buffer;
}

const RIGHT_TYPE: Record<Exclude<Target, 'mllp'>, string[]> = {
  '/orders': ['application/json', 'application/json; charset=utf-8'],
  '/results': ['application/json'],
  '/hl7': ['application/hl7-v2', 'x-application/hl7-v2+er7', 'text/plain; charset=utf-8'],
  '/$translate': ['application/json', 'application/hl7-v2'],
  '/fhir/Bundle/$validate': ['application/fhir+json', 'application/json'],
};
const WRONG_TYPES = [
  undefined,
  'text/html',
  'application/xml',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  'application/json; charset=utf-16',
  'application/fhir+json',
  'application/hl7-v2',
  'text/plain',
  ';;;',
  'application/json, text/plain',
];

/** The seeds: every committed sample, as text. */
function seeds(): Record<Family, string[]> {
  const read = (dir: string, ext: string) =>
    fs
      .readdirSync(path.join(repoRoot, dir))
      .filter((f) => f.endsWith(ext))
      .map((f) => fs.readFileSync(path.join(repoRoot, dir, f), 'utf8'));
  const orders = read('samples/orders', '.json');
  const results = read('samples/results', '.json');
  const bundles = [...orders, ...results].map((raw) => {
    const [r] = translateInput(raw);
    if (!r?.ok) throw new Error('a sample does not translate');
    const m = r.items[0].message;
    return JSON.stringify(m.kind === 'order' ? mapOrder(m) : mapResultUpdate(m));
  });
  const hl7 = read('samples/hl7', '.hl7').map((t) => t.replace(/\r?\n/g, '\r'));
  return { order: orders, result: results, hl7, bundle: bundles };
}

function makeInput(index: number, target: Target, random: Random, corpus: Record<Family, string[]>): FuzzInput {
  const family: Family = (() => {
    const r = random();
    switch (target) {
      case '/orders':
        return r < 0.9 ? 'order' : r < 0.95 ? 'result' : 'hl7';
      case '/results':
        return r < 0.9 ? 'result' : r < 0.95 ? 'order' : 'hl7';
      case '/hl7':
      case 'mllp':
        return r < 0.95 || target === 'mllp' ? 'hl7' : 'order';
      case '/$translate':
        return r < 0.5 ? 'hl7' : r < 0.75 ? 'order' : 'result';
      default:
        return r < 0.9 ? 'bundle' : 'order';
    }
  })();
  let text = pick(random, corpus[family]);
  // A fresh message id, so that a mutated copy is parsed rather than matched against an earlier one.
  if (family === 'hl7' && random() < 0.9) text = withControlId(text, `FZ${SEED}-${index}`);
  if ((family === 'order' || family === 'result') && random() < 0.9) {
    text = text.replace(/"messageId":\s*"[^"]*"/, `"messageId": "FZ${SEED}-${index}"`);
  }
  let body: Buffer = Buffer.from(text, 'utf8');
  const shape = random();
  if (shape < 0.005) {
    body = Buffer.alloc(0);
  } else if (shape < 0.015) {
    // Over the limit: a valid message with one huge field.
    const pad = 'P'.repeat(LIMIT + Math.floor(random() * LIMIT));
    body = Buffer.from(
      family === 'hl7' ? `${text}\rNTE|1||${pad}` : text.replace(/^\s*\{/, `{"pad":"${pad}",`),
      'utf8',
    );
  } else if (shape < 0.05) {
    // Left as it is: the control group (must be accepted where it belongs).
  } else {
    for (let k = 1 + Math.floor(random() * 3); k > 0; k--) {
      if (random() < 0.5) body = mutateBytes(body, random);
      else
        body = Buffer.from(
          family === 'hl7' ? mutateHl7(body.toString('utf8'), random) : mutateJson(body.toString('utf8'), random),
          'utf8',
        );
    }
  }
  if (target === 'mllp') {
    // VT and FS are the frame delimiters: inside a frame they are a framing violation (tested on their own).
    return { index, target, body: Buffer.from(body.filter((b) => b !== 0x0b && b !== 0x1c)) };
  }
  const contentType = random() < 0.85 ? pick(random, RIGHT_TYPE[target]) : pick(random, WRONG_TYPES);
  return { index, target, contentType, body };
}

/** Checks an HL7 answer: one MSA per message, AA/AE/AR, an ERR segment whenever it is not AA. */
function ackProblem(ack: string, allAccepted: boolean): string | undefined {
  const segments = ack.split('\r').filter(Boolean);
  const msas = segments.filter((s) => s.startsWith('MSA|'));
  if (!segments[0]?.startsWith('MSH|') || msas.length === 0) return `not an ACK: ${ack.slice(0, 80)}`;
  const codes = msas.map((s) => s.split('|')[1]);
  if (codes.some((c) => c !== 'AA' && c !== 'AE' && c !== 'AR')) return `MSA-1 ${codes.join(',')}`;
  if (codes.some((c) => c !== 'AA') && !segments.some((s) => s.startsWith('ERR|'))) return 'AE/AR without ERR';
  if (allAccepted && codes.some((c) => c !== 'AA')) return '202 with a non-AA ACK';
  return undefined;
}

describe('fuzzing the gateway (HTTP and MLLP)', () => {
  let g: GatewayStack | undefined;
  const unhandled: string[] = [];
  const onRejection = (reason: unknown) => unhandled.push(`unhandledRejection: ${String(reason)}`);
  const onException = (err: Error) => unhandled.push(`uncaughtException: ${err.message}`);

  beforeAll(async () => {
    process.on('unhandledRejection', onRejection);
    process.on('uncaughtException', onException);
    g = await startGatewayStack({
      redisUrl: redis().url,
      env: { GATEWAY_JSON_LIMIT: String(LIMIT), GATEWAY_HL7_LIMIT: String(LIMIT) },
      overrides: { mllp: mllpListener(loadMllpConfig({ MLLP_PORT: '0', MLLP_MAX_MESSAGE_BYTES: String(LIMIT) })) },
    });
  }, 60_000);
  afterAll(async () => {
    await g?.stop();
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  });

  it('10,000 mutated inputs: no 5xx, no crash, no unhandled rejection; every answer an OperationOutcome or an ACK', async () => {
    const gw = g!;
    const corpus = seeds();
    const random = seededRandom(SEED);
    const inputs: FuzzInput[] = [];
    for (const [target, count] of PLAN) {
      for (let k = 0; k < count; k++) inputs.push(makeInput(inputs.length, target, random, corpus));
    }
    expect(inputs).toHaveLength(10_000);
    // MARROWBRIDGE_FUZZ_DUMP=274,1673 writes those inputs to the temp dir, to replay them by hand.
    for (const i of (process.env.MARROWBRIDGE_FUZZ_DUMP ?? '').split(',').filter(Boolean).map(Number)) {
      const file = path.join(os.tmpdir(), `marrowbridge-fuzz-${SEED}-${i}`);
      fs.writeFileSync(`${file}.bin`, inputs[i].body);
      fs.writeFileSync(
        `${file}.json`,
        JSON.stringify({ target: inputs[i].target, contentType: inputs[i].contentType }),
      );
    }
    const token = await gw.signer.token({ expiresIn: 900 });
    const problems: string[] = [];
    const byTarget: Record<string, Record<string, number>> = {};
    const count = (target: string, key: string) => {
      byTarget[target] ??= {};
      byTarget[target][key] = (byTarget[target][key] ?? 0) + 1;
    };
    let fiveXX = 0;
    let unanswered = 0;
    const t0 = Date.now();

    // HTTP, 8 requests at a time.
    const http = inputs.filter((i) => i.target !== 'mllp');
    await inLanes(http, 8, async (input) => {
      const headers: Record<string, string> = { authorization: `Bearer ${token}` };
      if (input.contentType !== undefined) headers['content-type'] = input.contentType;
      let res: Response;
      let text: string;
      try {
        res = await fetch(gw.gateway.url + input.target, {
          method: 'POST',
          headers,
          body: new Uint8Array(input.body),
          signal: AbortSignal.timeout(15_000),
        });
        text = await res.text();
      } catch (err) {
        unanswered++;
        problems.push(`#${input.index} ${input.target}: no answer (${(err as Error).message})`);
        return;
      }
      count(input.target, String(res.status));
      if (res.status >= 500) {
        fiveXX++;
        problems.push(`#${input.index} ${input.target}: HTTP ${res.status}`);
        return;
      }
      const type = res.headers.get('content-type') ?? '';
      let problem: string | undefined;
      if (input.target === '/hl7' && /^(application\/hl7-v2|text\/plain)/.test(type)) {
        problem = ackProblem(text, res.status === 202);
      } else {
        let json: Record<string, unknown> | undefined;
        try {
          json = JSON.parse(text) as Record<string, unknown>;
        } catch {
          problem = `HTTP ${res.status} ${type}: not JSON`;
        }
        if (json && res.status >= 400) {
          if (json.resourceType !== 'OperationOutcome' || !Array.isArray(json.issue) || json.issue.length === 0) {
            problem = `HTTP ${res.status} without an OperationOutcome`;
          }
        } else if (json) {
          const ok =
            input.target === '/orders' || input.target === '/results'
              ? res.status === 202 && typeof json.trackingId === 'string'
              : input.target === '/$translate'
                ? res.status === 200 && json.dryRun === true && Array.isArray(json.messages)
                : res.status === 200 && json.resourceType === 'OperationOutcome';
          if (!ok) problem = `HTTP ${res.status}: unexpected success body`;
        }
      }
      if (problem) problems.push(`#${input.index} ${input.target}: ${problem}`);
    });
    const httpMs = Date.now() - t0;

    // MLLP, 4 connections, one message at a time each (so each ACK belongs to its message).
    const port = gw.gateway.mllp!.port!;
    const mllp = inputs.filter((i) => i.target === 'mllp');
    let reconnects = 0;
    const clients: MllpClient[] = [];
    await inLanes(
      Array.from({ length: 4 }, (_, lane) => mllp.filter((_m, k) => k % 4 === lane)),
      4,
      async (messages) => {
        let client = await MllpClient.connect({ port });
        clients.push(client);
        for (const input of messages) {
          if (client.closed) {
            reconnects++;
            client = await MllpClient.connect({ port });
            clients.push(client);
          }
          let ack: string;
          try {
            ack = await client.send(input.body, 15_000);
          } catch (err) {
            unanswered++;
            problems.push(`#${input.index} mllp: no ACK (${(err as Error).message})`);
            continue;
          }
          count('mllp', readAck(ack).code || '?');
          const problem = ackProblem(ack, false);
          if (problem) problems.push(`#${input.index} mllp: ${problem}`);
        }
        if (client.pendingAcks > 0) problems.push(`mllp: ${client.pendingAcks} ACK(s) more than messages`);
      },
    );
    await Promise.all(clients.map((c) => c.close()));

    // Framing violations on their own connections: closed, and the listener keeps serving.
    const fr = seededRandom(SEED + 1);
    let closedByListener = 0;
    for (let k = 0; k < FRAMING_VIOLATIONS; k++) {
      const c = await MllpClient.connect({ port });
      const junk = Buffer.from(Array.from({ length: 1 + Math.floor(fr() * 64) }, () => Math.floor(fr() * 256)));
      c.writeRaw(k % 2 === 0 ? junk : Buffer.concat([Buffer.from([0x0b]), junk, Buffer.from([0x0b, 0x41])]));
      if (await c.waitClosed(5_000)) closedByListener++;
      await c.close();
    }
    const totalMs = Date.now() - t0;

    // Still up: health, a valid order over HTTP, a valid message over MLLP.
    const health = (await fetch(`${gw.gateway.url}/healthz`)).status;
    const order = await gw.call('/orders', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: corpus.order[0],
    });
    const client = await MllpClient.connect({ port });
    const lastAck = readAck(await client.send(withControlId(corpus.hl7[0], `FZ${SEED}-after`)));
    await client.close();

    printFigures('fuzz', {
      inputs: inputs.length,
      seed: SEED,
      ...Object.fromEntries(Object.entries(byTarget).map(([k, v]) => [k, v])),
      fiveXX,
      unanswered,
      problems: problems.length,
      unhandled: unhandled.length,
      mllpReconnects: reconnects,
      framingViolations: FRAMING_VIOLATIONS,
      framingViolationsClosed: closedByListener,
      httpMs,
      totalMs,
    });
    if (problems.length) console.log(`[fuzz] first problems:\n${problems.slice(0, 20).join('\n')}`);

    expect(unhandled).toEqual([]);
    expect(fiveXX).toBe(0);
    expect(unanswered).toBe(0);
    expect(problems).toEqual([]);
    expect(closedByListener).toBe(FRAMING_VIOLATIONS);
    expect(health).toBe(200);
    expect(order.status).toBe(202);
    expect(lastAck.code).toBe('AA');
    // The control group went through: valid inputs are accepted, not just answered.
    expect(byTarget['/orders']['202']).toBeGreaterThan(0);
    expect(byTarget.mllp.AA).toBeGreaterThan(0);
  }, 300_000);
});
