import { Hl7Message } from '@medplum/core';
import { Hl7Client } from '@medplum/hl7';
import { frame, MemoryDedupStore, MllpClient, readAck, startMllpListener } from '../src';
import type { DedupStore, MllpEvent, MllpListener, MllpListenerOptions } from '../src';
import { adt, bigOru, orm, oru, oruWithoutPatientId, RecordingSink, SENDER } from './support';

const listeners: MllpListener[] = [];
const clients: MllpClient[] = [];

async function start(
  sink: RecordingSink,
  options: Partial<MllpListenerOptions> = {},
): Promise<{ l: MllpListener; events: MllpEvent[] }> {
  const events: MllpEvent[] = [];
  const l = await startMllpListener({ sink: sink.sink, onEvent: (e) => events.push(e), ...options });
  listeners.push(l);
  return { l, events };
}

async function connect(l: MllpListener): Promise<MllpClient> {
  const c = await MllpClient.connect({ port: l.port });
  clients.push(c);
  return c;
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(listeners.splice(0).map((l) => l.stop({ drainTimeoutMs: 200 })));
});

describe('MLLP listener: one ACK per message, with the right code', () => {
  it('AA after the sink took the message; the sink gets the translation and the raw text', async () => {
    const sink = new RecordingSink();
    const seen: string[] = [];
    const { l } = await start(sink, {
      sink: async (m) => {
        seen.push(`${m.messageType} ${m.result.items.length} ${m.result.items[0].bundle.type} ${m.raw.slice(0, 3)}`);
        expect(m.contentHash).toMatch(/^[0-9a-f]{64}$/);
        return sink.sink(m);
      },
    });
    const c = await connect(l);
    const ack = readAck(await c.send(oru('M-1')));
    expect(ack).toMatchObject({ code: 'AA', messageId: 'M-1', errorCodes: [] });
    expect(readAck(await c.send(orm('M-2'))).code).toBe('AA');
    expect(seen).toEqual(['ORU^R01 1 transaction MSH', 'ORM^O01 1 transaction MSH']);
    expect(sink.count('M-1')).toBe(1);
  });

  it('re-sent identical → AA again without calling the sink; same MSH-10, other content → AR 205', async () => {
    const sink = new RecordingSink();
    const { l } = await start(sink);
    const c = await connect(l);
    expect(readAck(await c.send(oru('D-1'))).code).toBe('AA');
    const again = readAck(await c.send(oru('D-1')));
    expect(again).toMatchObject({ code: 'AA', messageId: 'D-1', text: expect.stringMatching(/duplicate/) });
    // CRLF instead of CR: the same message once normalised
    expect(readAck(await c.send(oru('D-1').replaceAll('\r', '\r\n'))).code).toBe('AA');
    const conflict = readAck(await c.send(oru('D-1', 1, { value: '13.0' })));
    expect(conflict).toMatchObject({ code: 'AR', messageId: 'D-1', errorCodes: [205] });
    expect(sink.attempts).toBe(1);
    // the same id from another sender is another message
    expect(readAck(await c.send(oru('D-1', 2, { application: 'LIS2' }))).code).toBe('AA');
    expect(sink.attempts).toBe(2);
  });

  it('AR with the translator ERR segments for content it rejects; nothing reaches the sink or the dedup store', async () => {
    const sink = new RecordingSink();
    const { l } = await start(sink);
    const c = await connect(l);
    const ack = await c.send(oruWithoutPatientId('R-1'));
    expect(readAck(ack)).toMatchObject({ code: 'AE', messageId: 'R-1', errorCodes: [101] });
    expect(ack).toMatch(/ERR\|\|PID\^1\^3/);
    expect(readAck(await c.send(adt('R-2')))).toMatchObject({ code: 'AR', errorCodes: [200] });
    // corrected and sent again under the same id: taken (rejections are not remembered)
    expect(readAck(await c.send(oru('R-1'))).code).toBe('AA');
    expect(sink.total).toBe(1);
  });

  it('AR for frames that hold no HL7 (best-effort MSA-2), and for two messages in one frame', async () => {
    const sink = new RecordingSink();
    const { l } = await start(sink);
    const c = await connect(l);
    for (const junk of ['hello', '{"kind":"order"}', Buffer.from([0, 1, 2, 0xff, 0xfe]), 'PID|1||X']) {
      const a = readAck(await c.send(junk));
      expect(a).toMatchObject({ code: 'AR', messageId: '', errorCodes: [100] });
    }
    const two = readAck(await c.send(`${oru('T-1')}\r${oru('T-2')}`));
    expect(two).toMatchObject({ code: 'AR', messageId: 'T-1', errorCodes: [100] });
    expect(sink.attempts).toBe(0);
    expect(readAck(await c.send(oru('T-3'))).code).toBe('AA'); // the connection is still good
  });

  it('AE when the sink fails or throws (the sender retries), then AA once on the retry', async () => {
    const sink = new RecordingSink();
    sink.failFirst.add('E-1');
    sink.throwFor.add('E-2');
    const { l, events } = await start(sink);
    const c = await connect(l);
    expect(readAck(await c.send(oru('E-1')))).toMatchObject({ code: 'AR', messageId: 'E-1', errorCodes: [207] });
    expect(readAck(await c.send(oru('E-2')))).toMatchObject({ code: 'AR', messageId: 'E-2', errorCodes: [207] });
    expect(readAck(await c.send(oru('E-1'))).code).toBe('AA');
    expect(readAck(await c.send(oru('E-2'))).code).toBe('AA');
    expect([sink.count('E-1'), sink.count('E-2')]).toEqual([1, 1]);
    const sinkErrors = events.filter((e) => e.type === 'sink-error');
    expect(sinkErrors).toHaveLength(2);
    expect(JSON.stringify(sinkErrors)).not.toMatch(/TESTPATIENT|MRN-T/);
  });

  it('AR 207 on a sink timeout; a late success still counts, so the re-send is AA without a second hand-over', async () => {
    const sink = new RecordingSink();
    sink.delayMs = 300;
    const { l } = await start(sink, { sinkTimeoutMs: 50 });
    const a = await connect(l);
    const b = await connect(l);
    expect(readAck(await a.send(oru('S-1'))).code).toBe('AR');
    // sent again at once on another connection: it waits for the first hand-over to settle; past sinkTimeoutMs it
    // gets AR 206 (still in progress), or AA (duplicate) when the first one settled in time on a slow machine
    const again = readAck(await b.send(oru('S-1')));
    if (again.code === 'AR') expect(again.errorCodes).toEqual([206]);
    else expect(again).toMatchObject({ code: 'AA', text: expect.stringMatching(/duplicate/) });
    await new Promise((r) => setTimeout(r, 350));
    expect(readAck(await b.send(oru('S-1')))).toMatchObject({ code: 'AA', text: expect.stringMatching(/duplicate/) });
    expect(sink.count('S-1')).toBe(1);
  });

  it('a sender that drops the connection before its ACK and sends again gets AA; the sink has it once', async () => {
    const sink = new RecordingSink();
    sink.delayMs = 50;
    const { l } = await start(sink);
    const a = await connect(l);
    a.write(oru('G-1'));
    await new Promise((r) => setTimeout(r, 10));
    a.socket.destroy();
    const b = await connect(l);
    expect(readAck(await b.send(oru('G-1')))).toMatchObject({ code: 'AA', messageId: 'G-1' });
    expect(sink.count('G-1')).toBe(1);
  });

  it('concurrent copies of one message on several connections reach the sink once', async () => {
    const sink = new RecordingSink();
    sink.delayMs = 20;
    const { l } = await start(sink);
    const cs = await Promise.all([1, 2, 3, 4, 5].map(() => connect(l)));
    const acks = await Promise.all(cs.map((c) => c.send(oru('C-1'))));
    expect(acks.map((x) => readAck(x).code)).toEqual(['AA', 'AA', 'AA', 'AA', 'AA']);
    expect(sink.count('C-1')).toBe(1);
  });

  it('AE when the dedup store fails (nothing is handed on unchecked)', async () => {
    const sink = new RecordingSink();
    const broken: DedupStore = {
      get: async () => {
        throw new Error('redis down');
      },
      set: async () => undefined,
    };
    const { l } = await start(sink, { dedup: broken });
    const c = await connect(l);
    expect(readAck(await c.send(oru('X-1')))).toMatchObject({ code: 'AR', errorCodes: [207] });
    expect(sink.attempts).toBe(0);
  });

  it('uses an injected async dedup store (as the gateway does with Redis)', async () => {
    const sink = new RecordingSink();
    const map = new Map<string, string>();
    const store: DedupStore = { get: async (k) => map.get(k), set: async (k, v) => void map.set(k, v) };
    const { l } = await start(sink, { dedup: store });
    const c = await connect(l);
    await c.send(oru('A-1'));
    expect([...map.keys()]).toEqual([JSON.stringify(['LIS', 'MBLAB', 'A-1'])]);
    expect(readAck(await c.send(oru('A-1'))).text).toMatch(/duplicate/);
    expect(sink.attempts).toBe(1);
  });

  it('answers pipelined messages in order', async () => {
    const sink = new RecordingSink();
    const { l } = await start(sink);
    const c = await connect(l);
    const ids = Array.from({ length: 20 }, (_, i) => `P-${i}`);
    c.writeRaw(Buffer.concat(ids.map((id, i) => frame(i % 5 === 4 ? 'junk' : oru(id, i)))));
    const got: string[] = [];
    for (let i = 0; i < ids.length; i++) got.push(readAck(await c.nextAck()).messageId);
    expect(got).toEqual(ids.map((id, i) => (i % 5 === 4 ? '' : id)));
  });

  it('works with @medplum/hl7 Hl7Client', async () => {
    const sink = new RecordingSink();
    const { l } = await start(sink);
    const client = new Hl7Client({ host: '127.0.0.1', port: l.port });
    try {
      // (no timeoutMs: Hl7Client 5.0.10 leaves that timer running after the reply)
      const reply = await client.sendAndWait(Hl7Message.parse(oru('MP-1')) as never);
      expect(reply.getSegment('MSA')?.getField(1)?.toString()).toBe('AA');
      expect(reply.getSegment('MSA')?.getField(2)?.toString()).toBe('MP-1');
    } finally {
      await client.close();
    }
    expect(sink.count('MP-1')).toBe(1);
  });
});

describe('MLLP listener: sender allow-list', () => {
  it('takes listed senders; others get AR 204 at MSH-3 and never reach the translator or the sink', async () => {
    const sink = new RecordingSink();
    const { l, events } = await start(sink, {
      allowedSenders: [{ application: 'LIS', facility: 'MBLAB' }, { facility: 'OTHERLAB' }],
    });
    const c = await connect(l);
    expect(readAck(await c.send(oru('L-1'))).code).toBe('AA');
    expect(readAck(await c.send(oru('L-2', 1, { application: 'ANY', facility: 'OTHERLAB' }))).code).toBe('AA');
    const refused = await c.send(oru('L-3', 1, { application: 'LIS', facility: 'ROGUE' }));
    expect(readAck(refused)).toMatchObject({ code: 'AR', messageId: 'L-3', errorCodes: [204] });
    expect(refused).toMatch(/ERR\|\|MSH\^1\^3\|204/);
    expect(readAck(await c.send(oru('L-4', 1, { application: 'ROGUE', facility: 'MBLAB' }))).code).toBe('AR');
    expect(sink.total).toBe(2);
    expect(events.filter((e) => e.type === 'ack' && e.outcome === 'sender-not-allowed')).toHaveLength(2);
  });

  it('an empty list admits nobody', async () => {
    const sink = new RecordingSink();
    const { l } = await start(sink, { allowedSenders: [] });
    const c = await connect(l);
    expect(readAck(await c.send(oru('L-9'))).errorCodes).toEqual([204]);
  });
});

describe('MLLP listener: limits and broken input', () => {
  it('maxMessageBytes: AR 104 with the MSA-2 of the oversize message; the connection stays usable', async () => {
    const sink = new RecordingSink();
    const { l } = await start(sink, { maxMessageBytes: 4096 });
    const c = await connect(l);
    expect(readAck(await c.send(bigOru('B-1', 3000))).code).toBe('AA');
    const big = readAck(await c.send(bigOru('B-2', 100_000)));
    expect(big).toMatchObject({ code: 'AR', messageId: 'B-2', errorCodes: [104] });
    expect(readAck(await c.send(oru('B-3'))).code).toBe('AA');
    expect(sink.total).toBe(2);
  });

  it('maxConnectionBytes: queued messages are answered, the one over the limit gets AR 104, the connection closes', async () => {
    const sink = new RecordingSink();
    sink.delayMs = 30;
    const { l, events } = await start(sink, { maxMessageBytes: 8000, maxConnectionBytes: 10_000 });
    const c = await connect(l);
    const msgs = [oru('Q-1', 1), oru('Q-2', 2), oru('Q-3', 3), bigOru('Q-4', 7000)];
    c.writeRaw(Buffer.concat(msgs.map((m) => frame(m))));
    c.writeRaw(Buffer.concat([Buffer.from([0x0b]), Buffer.from(bigOru('Q-5', 7000)).subarray(0, 6000)]));
    const acks: ReturnType<typeof readAck>[] = [];
    for (;;) {
      try {
        acks.push(readAck(await c.nextAck(3000)));
      } catch {
        break;
      }
    }
    expect(await c.waitClosed()).toBe(true);
    const last = acks[acks.length - 1];
    expect(last).toMatchObject({ code: 'AR', errorCodes: [104] });
    expect(acks.slice(0, -1).every((a) => a.code === 'AA')).toBe(true);
    expect(acks.length).toBeGreaterThanOrEqual(2);
    expect(sink.total).toBe(acks.length - 1);
    expect(events.some((e) => e.type === 'closed' && e.reason === 'connection-limit')).toBe(true);
  });

  it('maxConnectionBytes crossed by complete messages alone: the last one gets the AR, each one ACK', async () => {
    const sink = new RecordingSink();
    sink.delayMs = 50;
    const { l } = await start(sink, { maxMessageBytes: 8000, maxConnectionBytes: 6000 });
    const c = await connect(l);
    const ids = ['V-1', 'V-2', 'V-3', 'V-4', 'V-5', 'V-6'];
    c.writeRaw(Buffer.concat(ids.map((id, i) => frame(bigOru(id, 1500 + i)))));
    const acks: ReturnType<typeof readAck>[] = [];
    for (;;) {
      try {
        acks.push(readAck(await c.nextAck(2000)));
      } catch {
        break;
      }
    }
    // 6000 unacknowledged bytes hold at least three of these ~1.5 kB messages before the limit is crossed
    expect(acks.length).toBeGreaterThanOrEqual(4);
    expect(acks.length).toBeLessThanOrEqual(ids.length);
    expect(acks.map((a) => a.messageId)).toEqual(ids.slice(0, acks.length));
    expect(acks[acks.length - 1]).toMatchObject({ code: 'AR', errorCodes: [104] });
    expect(acks.slice(0, -1).every((a) => a.code === 'AA')).toBe(true);
    expect(sink.total).toBe(acks.length - 1);
  });

  it('a framing violation closes only its own connection, after answering what came before', async () => {
    const sink = new RecordingSink();
    const { l, events } = await start(sink);
    const bad = await connect(l);
    const good = await connect(l);
    bad.writeRaw(Buffer.concat([frame(oru('F-1')), Buffer.from('MSH|unframed')]));
    expect(readAck(await bad.nextAck()).code).toBe('AA');
    expect(await bad.waitClosed()).toBe(true);
    expect(readAck(await good.send(oru('F-2'))).code).toBe('AA');
    expect(events.some((e) => e.type === 'framing-error')).toBe(true);
  });

  it('maxConnections: a connection over the limit is closed at once', async () => {
    const sink = new RecordingSink();
    const { l, events } = await start(sink, { maxConnections: 2 });
    const a = await connect(l);
    const b = await connect(l);
    const extra = await connect(l);
    expect(await extra.waitClosed(2000)).toBe(true);
    expect(readAck(await a.send(oru('K-1'))).code).toBe('AA');
    expect(readAck(await b.send(oru('K-2'))).code).toBe('AA');
    expect(events.some((e) => e.type === 'refused')).toBe(true);
    await a.close();
    await new Promise((r) => setTimeout(r, 50));
    const again = await connect(l);
    expect(readAck(await again.send(oru('K-3'))).code).toBe('AA');
  });

  it('idleTimeoutMs closes a silent connection, and one stalled mid-frame, but not one waiting for its sink', async () => {
    const sink = new RecordingSink();
    sink.delayMs = 250;
    const { l, events } = await start(sink, { idleTimeoutMs: 100 });
    const silent = await connect(l);
    const stalled = await connect(l);
    stalled.writeRaw(Buffer.concat([Buffer.from([0x0b]), Buffer.from('MSH|^~\\&|half')]));
    const working = await connect(l);
    const ack = working.send(oru('I-1'));
    expect(await silent.waitClosed(2000)).toBe(true);
    expect(await stalled.waitClosed(2000)).toBe(true);
    expect(readAck(await ack).code).toBe('AA');
    expect(events.filter((e) => e.type === 'closed' && e.reason === 'idle').length).toBeGreaterThanOrEqual(2);
  });

  it('stop() lets a connection finish its message, then closes; the port is released', async () => {
    const sink = new RecordingSink();
    sink.delayMs = 100;
    const { l } = await start(sink);
    const c = await connect(l);
    const ack = c.send(oru('Z-1'));
    await new Promise((r) => setTimeout(r, 20));
    await l.stop();
    expect(readAck(await ack).code).toBe('AA');
    expect(await c.waitClosed()).toBe(true);
    await expect(MllpClient.connect({ port: l.port, connectTimeoutMs: 1000 })).rejects.toThrow();
  });
});

describe('MemoryDedupStore', () => {
  it('evicts the least recently used key and forgets keys after the TTL', () => {
    let now = 0;
    const s = new MemoryDedupStore({ maxEntries: 2, ttlMs: 100, now: () => now });
    s.set('a', '1');
    s.set('b', '2');
    expect(s.get('a')).toBe('1'); // a is now the most recent
    s.set('c', '3');
    expect([s.get('a'), s.get('b'), s.get('c')]).toEqual(['1', undefined, '3']);
    now = 100;
    expect(s.get('a')).toBeUndefined();
    expect(s.size).toBe(1);
  });
});

it('SENDER matches the synthetic messages', () => {
  expect(oru('x').split('|').slice(2, 4)).toEqual([SENDER.application, SENDER.facility]);
});
