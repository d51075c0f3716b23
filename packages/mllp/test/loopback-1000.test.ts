/**
 * 1,000 messages over loopback: 8 MLLP connections (pipelined) and one @medplum/hl7 Hl7Client, a mix of new
 * messages, identical re-sends (same and other connection), same MSH-10 with other content, content the
 * translator rejects, unsupported types, garbage, oversize messages and transient sink failures retried later.
 * Every message must get exactly one ACK with the expected MSA-1 / MSA-2 (and ERR code), and the sink must
 * take every accepted message exactly once.
 */
import { Hl7Message } from '@medplum/core';
import { Hl7Client } from '@medplum/hl7';
import { frame, MllpClient, readAck, startMllpListener } from '../src';
import type { MllpListener } from '../src';
import { seededRandom } from '../../../test/support/random';
import { adt, bigOru, orm, oru, oruWithoutPatientId, RecordingSink } from './support';

type Kind = 'new' | 'resend' | 'conflict' | 'rejected' | 'adt' | 'garbage' | 'oversize' | 'transient' | 'retry';

interface Send {
  kind: Kind;
  bytes: Buffer;
  code: 'AA' | 'AE' | 'AR';
  msa2: string;
  err?: number;
}

const CONNECTIONS = 8;
const WINDOW = 16;
const MAX_MESSAGE = 64 * 1024;

function garbage(i: number, rand: () => number): Buffer {
  switch (i % 5) {
    case 0:
      return Buffer.from(`hello ${i}`);
    case 1:
      return Buffer.from(JSON.stringify({ kind: 'order', n: i }));
    case 2:
      return Buffer.from(`PID|1||X-${i}`);
    case 3: {
      // random bytes without the MLLP control characters
      const b = Buffer.alloc(64 + (i % 50));
      for (let k = 0; k < b.length; k++) {
        let v = Math.floor(rand() * 256);
        if (v === 0x0b || v === 0x1c) v = 0x20;
        b[k] = v;
      }
      return b;
    }
    default:
      return Buffer.from('MSH|');
  }
}

describe('MLLP loopback: 1,000 messages', () => {
  let listener: MllpListener;
  const sink = new RecordingSink();

  beforeAll(async () => {
    listener = await startMllpListener({ sink: sink.sink, maxMessageBytes: MAX_MESSAGE, maxConnections: 20 });
  });

  afterAll(async () => {
    await listener.stop({ drainTimeoutMs: 500 });
  });

  it('gives every message exactly one ACK of the right code, and the sink each accepted message once', async () => {
    const rand = seededRandom(20240315);
    const texts = new Map<string, string>();
    let n = 0;
    const fresh = (id: string): string => {
      n++;
      const t = n % 2 ? oru(id, n) : orm(id, n);
      texts.set(id, t);
      return t;
    };

    // ---- phase 1 scripts, one per connection
    const quota: Record<Exclude<Kind, 'retry'>, number> = {
      new: 520,
      resend: 100,
      conflict: 40,
      rejected: 50,
      adt: 30,
      garbage: 50,
      oversize: 20,
      transient: 20,
    };
    const scripts: Send[][] = Array.from({ length: CONNECTIONS }, () => []);
    const accepted: { id: string; conn: number }[] = [];
    const transientIds: string[] = [];
    const kinds: Kind[] = [];
    for (const [k, count] of Object.entries(quota)) for (let i = 0; i < count; i++) kinds.push(k as Kind);
    // shuffle, then deal to the connections round-robin
    for (let i = kinds.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [kinds[i], kinds[j]] = [kinds[j], kinds[i]];
    }
    const pending: Kind[][] = Array.from({ length: CONNECTIONS }, () => []);
    kinds.forEach((k, i) => pending[i % CONNECTIONS].push(k));
    let seq = 0;
    for (let c = 0; c < CONNECTIONS; c++) {
      const ownNew: string[] = [];
      // re-sends and conflicts need an earlier new message on this connection: defer them until there is one
      const deferred: Kind[] = [];
      const queue = [...pending[c]];
      while (queue.length || deferred.length) {
        let kind = queue.shift();
        if (kind === undefined || ((kind === 'resend' || kind === 'conflict') && ownNew.length === 0)) {
          if (kind !== undefined) {
            deferred.push(kind);
            continue;
          }
          kind = deferred.shift() as Kind;
          if (ownNew.length === 0) throw new Error('script without a new message');
        }
        const id = `L${c}-${++seq}`;
        switch (kind) {
          case 'new':
            scripts[c].push({ kind, bytes: Buffer.from(fresh(id)), code: 'AA', msa2: id });
            ownNew.push(id);
            accepted.push({ id, conn: c });
            break;
          case 'resend': {
            const orig = ownNew[Math.floor(rand() * ownNew.length)];
            scripts[c].push({ kind, bytes: Buffer.from(texts.get(orig) as string), code: 'AA', msa2: orig });
            break;
          }
          case 'conflict': {
            const orig = ownNew[Math.floor(rand() * ownNew.length)];
            const other = oru(orig, 900_000 + seq, { value: '99.9' });
            scripts[c].push({ kind, bytes: Buffer.from(other), code: 'AR', msa2: orig, err: 205 });
            break;
          }
          case 'rejected':
            scripts[c].push({ kind, bytes: Buffer.from(oruWithoutPatientId(id, seq)), code: 'AE', msa2: id, err: 101 });
            break;
          case 'adt':
            scripts[c].push({ kind, bytes: Buffer.from(adt(id)), code: 'AR', msa2: id, err: 200 });
            break;
          case 'garbage':
            // 'MSH|' alone is read as HL7 with unusable delimiters (102); the rest hold no MSH at all (100)
            scripts[c].push({ kind, bytes: garbage(seq, rand), code: 'AR', msa2: '', err: seq % 5 === 4 ? 102 : 100 });
            break;
          case 'oversize':
            scripts[c].push({
              kind,
              bytes: Buffer.from(bigOru(id, MAX_MESSAGE + 1000 + seq)),
              code: 'AR',
              msa2: id,
              err: 104,
            });
            break;
          case 'transient':
            sink.failFirst.add(id);
            texts.set(id, oru(id, seq));
            transientIds.push(id);
            scripts[c].push({ kind, bytes: Buffer.from(texts.get(id) as string), code: 'AR', msa2: id, err: 207 });
            break;
          default:
            throw new Error(kind);
        }
      }
    }

    // ---- phase 2 scripts: retries of the transient failures, re-sends and conflicts on another connection
    const phase2: Send[][] = Array.from({ length: CONNECTIONS }, () => []);
    transientIds.forEach((id, i) =>
      phase2[i % CONNECTIONS].push({
        kind: 'retry',
        bytes: Buffer.from(texts.get(id) as string),
        code: 'AA',
        msa2: id,
      }),
    );
    for (let i = 0; i < 100; i++) {
      const a = accepted[Math.floor(rand() * accepted.length)];
      const c = (a.conn + 1 + (i % (CONNECTIONS - 1))) % CONNECTIONS;
      if (i < 60)
        phase2[c].push({ kind: 'resend', bytes: Buffer.from(texts.get(a.id) as string), code: 'AA', msa2: a.id });
      else
        phase2[c].push({
          kind: 'conflict',
          bytes: Buffer.from(oru(a.id, 800_000 + i, { value: '42.0' })),
          code: 'AR',
          msa2: a.id,
          err: 205,
        });
    }

    // ---- the Medplum client's share: 40 new, 10 re-sent, one at a time
    const medplumSends: Send[] = [];
    for (let i = 0; i < 40; i++) {
      const id = `MP-${i}`;
      medplumSends.push({ kind: 'new', bytes: Buffer.from(fresh(id)), code: 'AA', msa2: id });
      if (i % 4 === 3)
        medplumSends.push({
          kind: 'resend',
          bytes: Buffer.from(texts.get(`MP-${i - 1}`) as string),
          code: 'AA',
          msa2: `MP-${i - 1}`,
        });
    }

    const total =
      scripts.reduce((s, x) => s + x.length, 0) + phase2.reduce((s, x) => s + x.length, 0) + medplumSends.length;
    expect(total).toBe(1000);

    // ---- run
    const mismatches: string[] = [];
    const counts = new Map<string, number>();
    const check = (s: Send, ack: string): void => {
      const a = readAck(ack);
      const key = `${s.kind}:${a.code}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
      const errOk = s.err === undefined ? a.errorCodes.length === 0 : a.errorCodes.includes(s.err);
      if (a.code !== s.code || a.messageId !== s.msa2 || !errOk) {
        mismatches.push(
          `${s.kind} expected ${s.code}/${s.msa2}/${s.err ?? '-'} got ${a.code}/${a.messageId}/${a.errorCodes}`,
        );
      }
    };
    const clients = await Promise.all(
      Array.from({ length: CONNECTIONS }, () => MllpClient.connect({ port: listener.port })),
    );
    const runScript = async (client: MllpClient, script: Send[]): Promise<void> => {
      for (let i = 0; i < script.length; i += WINDOW) {
        const win = script.slice(i, i + WINDOW);
        client.writeRaw(Buffer.concat(win.map((s) => frame(s.bytes))));
        for (const s of win) check(s, await client.nextAck(20_000));
      }
    };
    const medplum = new Hl7Client({ host: '127.0.0.1', port: listener.port });
    const runMedplum = async (): Promise<void> => {
      for (const s of medplumSends) {
        const reply = await medplum.sendAndWait(Hl7Message.parse(s.bytes.toString()) as never);
        check(s, reply.toString());
      }
    };
    const started = process.hrtime.bigint();
    try {
      await Promise.all([...clients.map((c, i) => runScript(c, scripts[i])), runMedplum()]);
      await Promise.all(clients.map((c, i) => runScript(c, phase2[i])));
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      // no ACK more than asked for, no connection dropped
      await new Promise((r) => setTimeout(r, 100));
      expect(clients.map((c) => c.pendingAcks)).toEqual(Array(CONNECTIONS).fill(0));
      expect(clients.some((c) => c.closed)).toBe(false);

      const answered = [...counts.values()].reduce((a, b) => a + b, 0);
      const byCode = { AA: 0, AE: 0, AR: 0 } as Record<string, number>;
      for (const [k, v] of counts) byCode[k.split(':')[1]] += v;
      console.log(
        `MLLP loopback: ${answered} messages over ${CONNECTIONS} connections + 1 Hl7Client in ${ms.toFixed(0)} ms ` +
          `(${((answered * 1000) / ms).toFixed(0)} msg/s): AA ${byCode.AA}, AE ${byCode.AE}, AR ${byCode.AR}; ` +
          `sink took ${sink.total} (attempts ${sink.attempts}); ${mismatches.length} wrong ACKs\n` +
          [...counts]
            .sort()
            .map(([k, v]) => `  ${k} ${v}`)
            .join('\n'),
      );
      expect(mismatches.slice(0, 10)).toEqual([]);
      expect(answered).toBe(1000);
      // exactly once: 520 + 40 new, 20 taken on their retry
      const expectedAccepted = accepted.length + 40 + transientIds.length;
      expect(sink.total).toBe(expectedAccepted);
      expect([...sink.taken.values()].every((v) => v === 1)).toBe(true);
      expect(sink.attempts).toBe(expectedAccepted + transientIds.length);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      await medplum.close();
    }
  });
});
