import { parseHl7Batch, translateHl7, unescapeHl7 } from '../src';
import { convertDtm, offsetForLocal } from '../src/datetime';
import { DEFAULT_DELIMITERS } from '../src/escape';
import { fixture, fixtureBytes, ok, ORU_P, result, setField } from './helpers';

const reference = JSON.stringify(ok(translateHl7(fixture(ORU_P))).items);
const same = (text: string | Buffer): void => {
  expect(JSON.stringify(ok(translateHl7(text)).items)).toBe(reference);
};

describe('input robustness', () => {
  it('strips a UTF-8 byte-order mark (string and bytes)', () => {
    same(`\ufeff${fixture(ORU_P)}`);
    same(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), fixtureBytes(ORU_P)]));
  });

  it('accepts LF segment separators', () => {
    same(fixture(ORU_P).replace(/\r/g, '\n'));
  });

  it('accepts CRLF segment separators', () => {
    same(fixture(ORU_P).replace(/\r/g, '\r\n'));
  });

  it('accepts MLLP framing bytes and literal <CR> markers', () => {
    same(`\u000b${fixture(ORU_P)}\u001c\r`);
    same(fixture(ORU_P).replace(/\r/g, '<CR>\n'));
  });

  it('accepts the v2.7+ encoding characters ^~\\&# without shifting fields', () => {
    const text = fixture(ORU_P).replace('MSH|^~\\&|', 'MSH|^~\\&#|');
    const r = ok(translateHl7(text));
    expect(r.control).toEqual({
      messageId: 'ORU-1001',
      sendingApplication: 'LIS',
      sendingFacility: 'MBLAB',
      version: '2.5.1',
    });
    expect(JSON.stringify(r.items)).toBe(reference);
  });

  it('ignores empty trailing fields and trailing field separators', () => {
    const text = fixture(ORU_P)
      .split('\r')
      .filter(Boolean)
      .map((s) => `${s}||||`)
      .join('\r');
    same(text);
  });

  it('decodes escape sequences and drops formatting codes', () => {
    const r = result(fixture('oru-r01-escapes.hl7'));
    expect(r.observations[0].value).toEqual({
      type: 'string',
      value: 'a|b ^ c&d ~ e\\f Aé\nline2\nline3 bold done',
    });
  });

  it('unescapes with the message own delimiters and keeps unknown sequences literally', () => {
    expect(unescapeHl7('C:\\temp\\x', DEFAULT_DELIMITERS)).toBe('C:\\temp\\x');
    expect(unescapeHl7('a#E#b', { ...DEFAULT_DELIMITERS, escape: '#' })).toBe('a#b');
    expect(unescapeHl7('x\\.sp 2\\y', DEFAULT_DELIMITERS)).toBe('x\n\ny');
  });

  it('reads invalid UTF-8 as the MSH-18 charset (8859/1)', () => {
    const bytes = fixtureBytes('oru-r01-latin1.hl7');
    expect(() => new TextDecoder('utf-8', { fatal: true }).decode(bytes)).toThrow();
    const r = result(bytes);
    expect(r.observations[0].value).toEqual({
      type: 'string',
      value: 'Moelle hypercellulaire, lignée érythroïde normale',
    });
  });

  it('reads invalid UTF-8 as Latin-1 when MSH-18 names nothing usable', () => {
    const bytes = Buffer.from(fixtureBytes('oru-r01-latin1.hl7').toString('latin1').replace('8859/1', ''), 'latin1');
    expect((result(bytes).observations[0].value as { value: string }).value).toContain('lignée');
  });

  it('re-joins a raw line break inside a text field', () => {
    const text = fixture(ORU_P).replace('trilineage hematopoiesis.', 'trilineage\nhematopoiesis.');
    expect(result(text).conclusion).toBe('Preliminary: hypercellular marrow with trilineage\nhematopoiesis.');
  });

  it('handles a missing ORC (placer from OBR-2), duplicated OBX and TX continuation lines', () => {
    const r = ok(translateHl7(fixture('oru-r01-missing-orc-duplicate-obx.hl7')));
    const u = r.items[0];
    if (u.kind !== 'result') throw new Error('result expected');
    expect(u.placerOrderNumber.value).toBe('PLC-5001');
    expect(u.observations.map((o) => [o.code.code, o.value])).toEqual([
      ['11108-8', { type: 'quantity', value: 12, unit: '%' }],
      ['MBCOMMENT', { type: 'string', value: 'First line of the comment.\nSecond line of the comment.' }],
    ]);
    expect(r.warnings.some((w) => w.message === 'duplicated OBX dropped')).toBe(true);
  });

  it('rejects a repeated OBX that cannot be told apart (205)', () => {
    const text = setField(fixture('oru-r01-missing-orc-duplicate-obx.hl7'), 'OBX', 2, 5, '13.0');
    const r = translateHl7(text);
    expect(!r.ok && r.errors.map((e) => [e.segment, e.sequence, e.code])).toEqual([['OBX', 2, 205]]);
  });

  it('ignores segments it does not map (PRT, SFT, ZXX)', () => {
    const text = fixture(ORU_P)
      .replace('PID|', 'SFT|Vendor^L|1.0|LIS\rPID|')
      .replace('NTE|1||Preliminary', 'PRT|1|AD||RCT\rZXX|local|stuff\rNTE|1||Preliminary');
    same(text);
  });
});

describe('batches', () => {
  it('splits a file on MSH and ignores FHS/BHS/BTS/FTS', () => {
    const b = parseHl7Batch(fixtureBytes('batch-two-messages.hl7'));
    expect(b.errors).toEqual([]);
    expect(b.messages.map((m) => [m.index, m.text.slice(0, 3), m.line])).toEqual([
      [0, 'MSH', 3],
      [1, 'MSH', 17],
    ]);
    const types = b.messages.map((m) => {
      const r = ok(translateHl7(m.text));
      return r.messageType;
    });
    expect(types).toEqual(['ORU^R01', 'ORM^O01']);
  });

  it('reports content before the first MSH, and no MSH at all', () => {
    expect(parseHl7Batch(`garbage line\r${fixture(ORU_P)}`).errors[0]).toMatchObject({ code: 100, severity: 'E' });
    const none = parseHl7Batch('nothing here');
    expect(none.messages).toEqual([]);
    expect(none.errors.find((e) => e.severity === 'F')).toMatchObject({ code: 100, segment: 'MSH' });
    expect(parseHl7Batch(fixture(ORU_P)).messages).toHaveLength(1);
  });

  it('translateHl7 refuses a multi-message input rather than guessing', () => {
    const r = translateHl7(fixtureBytes('batch-two-messages.hl7'));
    expect(!r.ok && r.errors[0]).toMatchObject({ code: 100, severity: 'F' });
  });
});

describe('time zones (DTM without offset = sending facility local time)', () => {
  it('defaults to UTC and writes Z', () => {
    expect(result(fixture(ORU_P)).issued).toBe('2024-03-13T14:25:00-04:00'); // explicit offset kept
    expect(result(setField(fixture(ORU_P), 'OBR', 1, 22, '20240313142500')).issued).toBe('2024-03-13T14:25:00Z');
  });

  it('applies the zone offset in winter and in summer (DST)', () => {
    expect(convertDtm('20240115120000', 'Europe/Paris', 'dateTime')).toEqual({
      ok: true,
      value: '2024-01-15T12:00:00+01:00',
    });
    expect(convertDtm('20240715120000', 'Europe/Paris', 'dateTime')).toEqual({
      ok: true,
      value: '2024-07-15T12:00:00+02:00',
    });
    expect(convertDtm('20240310015959', 'America/New_York', 'dateTime')).toEqual({
      ok: true,
      value: '2024-03-10T01:59:59-05:00',
    });
    expect(convertDtm('20240310030000', 'America/New_York', 'dateTime')).toEqual({
      ok: true,
      value: '2024-03-10T03:00:00-04:00',
    });
    expect(convertDtm('20240701', 'Australia/Sydney', 'instant')).toEqual({
      ok: true,
      value: '2024-07-01T00:00:00+10:00',
    });
    expect(convertDtm('20240115', 'Australia/Sydney', 'instant')).toEqual({
      ok: true,
      value: '2024-01-15T00:00:00+11:00',
    });
  });

  it('resolves the spring-forward gap forward and the fall-back overlap to the earlier instant', () => {
    // 02:30 does not exist on 2024-03-10 in New York: read with the pre-transition offset (= 03:30 EDT)
    expect(convertDtm('20240310023000', 'America/New_York', 'dateTime')).toEqual({
      ok: true,
      value: '2024-03-10T02:30:00-05:00',
    });
    // 01:30 happens twice on 2024-11-03: the first (EDT) is chosen
    expect(convertDtm('20241103013000', 'America/New_York', 'dateTime')).toEqual({
      ok: true,
      value: '2024-11-03T01:30:00-04:00',
    });
    expect(offsetForLocal('Asia/Kolkata', Date.UTC(2024, 5, 1, 12))).toBe(330);
  });

  it('keeps precision: year, month, fractions, and an explicit offset', () => {
    expect(convertDtm('2024', 'Europe/Paris', 'dateTime')).toEqual({ ok: true, value: '2024' });
    expect(convertDtm('202403', 'Europe/Paris', 'dateTime')).toEqual({ ok: true, value: '2024-03' });
    expect(convertDtm('202403121015', 'UTC', 'dateTime')).toEqual({ ok: true, value: '2024-03-12T10:15:00Z' });
    expect(convertDtm('20240312101500.1234+0530', 'UTC', 'dateTime')).toEqual({
      ok: true,
      value: '2024-03-12T10:15:00.1234+05:30',
    });
    expect(convertDtm('20240230', 'UTC', 'dateTime')).toEqual({ ok: false });
    expect(convertDtm('2024-03-12', 'UTC', 'dateTime')).toEqual({ ok: false });
  });

  it('maps a whole message in the facility zone', () => {
    const text = setField(fixture(ORU_P), 'OBR', 1, 7, '20240115083000');
    expect(result(text, { timeZone: 'America/Chicago' }).effective).toBe('2024-01-15T08:30:00-06:00');
    expect(result(text, { timeZone: 'Europe/Berlin' }).effective).toBe('2024-01-15T08:30:00+01:00');
  });

  it('rejects an unknown time zone option without throwing', () => {
    const r = translateHl7(fixture(ORU_P), { timeZone: 'Mars/Olympus_Mons' });
    expect(!r.ok && r.errors[0]).toMatchObject({ code: 207, severity: 'F' });
  });
});

describe('determinism', () => {
  it('gives byte-identical output for the same input', () => {
    const a = JSON.stringify(translateHl7(fixture('oml-o21-bma-v251.hl7'), { timeZone: 'Europe/London' }));
    const b = JSON.stringify(translateHl7(fixture('oml-o21-bma-v251.hl7'), { timeZone: 'Europe/London' }));
    expect(a).toBe(b);
  });
});
