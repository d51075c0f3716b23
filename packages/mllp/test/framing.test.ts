import { CR, frame, FS, MllpDecoder, VT } from '../src';

const decoder = (max = 1000) => new MllpDecoder({ maxMessageBytes: max, headBytes: 16 });
const texts = (events: ReturnType<MllpDecoder['push']>) =>
  events.map((e) => (e.type === 'message' ? e.data.toString() : e.type));

describe('MLLP framing', () => {
  it('frames a message as VT … FS CR', () => {
    const f = frame('MSH|x');
    expect([f[0], f[f.length - 2], f[f.length - 1]]).toEqual([VT, FS, CR]);
    expect(f.subarray(1, -2).toString()).toBe('MSH|x');
  });

  it('decodes several frames in one chunk and one frame split over single bytes', () => {
    const d = decoder();
    expect(texts(d.push(Buffer.concat([frame('A'), frame('B'), frame('C')])))).toEqual(['A', 'B', 'C']);
    const bytes = frame('MSH|^~\\&|split');
    const out: string[] = [];
    for (const b of bytes) out.push(...texts(d.push(Buffer.from([b]))));
    expect(out).toEqual(['MSH|^~\\&|split']);
    expect(d.pendingBytes).toBe(0);
  });

  it('tolerates whitespace between frames and an FS without its CR', () => {
    const d = decoder();
    const input = Buffer.concat([Buffer.from('\r\n '), Buffer.from([VT]), Buffer.from('A'), Buffer.from([FS, VT])]);
    expect(texts(d.push(input))).toEqual(['A']);
    expect(d.inFrame).toBe(true);
    expect(texts(d.push(Buffer.from([0x42, FS, CR])))).toEqual(['B']);
  });

  it('reports data outside a frame and a start block inside a frame as errors, then stays broken', () => {
    const a = decoder();
    expect(a.push(Buffer.from('MSH|no framing'))[0]).toMatchObject({ type: 'error', reason: /outside an MLLP frame/ });
    expect(a.broken).toBe(true);
    expect(a.push(frame('A'))).toEqual([]);
    const b = decoder();
    expect(b.push(Buffer.from([VT, 0x41, VT, 0x42, FS, CR]))[0]).toMatchObject({
      type: 'error',
      reason: /inside a frame/,
    });
  });

  it('discards an oversize frame, keeping only its head, and goes on with the next one', () => {
    const d = decoder(10);
    const ev = d.push(Buffer.concat([frame('MSH|0123456789-and-much-more'), frame('OK')]));
    expect(ev[0]).toMatchObject({ type: 'oversize', size: 28 });
    expect(ev[0].type === 'oversize' && ev[0].head.toString()).toBe('MSH|012345');
    expect(texts(ev.slice(1))).toEqual(['OK']);
    // over several chunks: memory held stays at the head
    d.push(Buffer.from([VT]));
    for (let i = 0; i < 100; i++) d.push(Buffer.alloc(1000, 0x41));
    expect(d.pendingBytes).toBeLessThanOrEqual(10);
    expect(d.push(Buffer.from([FS, CR]))[0]).toMatchObject({ type: 'oversize', size: 100_000 });
  });
});
