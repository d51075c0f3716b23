import { Hl7Message } from '@medplum/core';
import { ackCodeFor, buildAck, parseHl7Batch, peekControl, translateHl7 } from '../src';
import type { Hl7Error } from '../src';
import { fixture, fixtureBytes, ORM, ORU_P, setField } from './helpers';

const now = new Date(Date.UTC(2024, 2, 13, 19, 5, 9));

describe('buildAck', () => {
  it('AA: swaps sender and receiver, new control id, same version, MSA-2 = incoming MSH-10', () => {
    const r = translateHl7(fixture(ORU_P));
    const ack = buildAck(fixture(ORU_P), { code: ackCodeFor(r) }, { controlId: 'ACK-0001', now });
    expect(ack.split('\r')).toEqual([
      'MSH|^~\\&|EPICORD^2.16.840.1.113883.3.9999.10^ISO|MBHOSP^2.16.840.1.113883.3.9999^ISO|' +
        'LIS^2.16.840.1.113883.3.9999.20^ISO|MBLAB^2.16.840.1.113883.3.9999.2^ISO|20240313190509+0000||' +
        'ACK^R01^ACK|ACK-0001|P|2.5.1',
      'MSA|AA|ORU-1001',
    ]);
  });

  it('AE: one ERR per error with ERL location, 0357 code as CWE, severity and user message', () => {
    const errors: Hl7Error[] = [
      { segment: 'PID', sequence: 1, field: 3, component: 5, code: 101, severity: 'E', message: 'PID-3 has no MR' },
      { segment: 'OBR', sequence: 1, field: 0, code: 100, severity: 'E', message: 'a|b^c&d~e\\f' },
    ];
    const ack = buildAck(fixture(ORU_P), { code: 'AE', errors, text: 'rejected: see ERR' }, { controlId: 'X', now });
    const lines = ack.split('\r');
    expect(lines[1]).toBe('MSA|AE|ORU-1001|rejected: see ERR');
    expect(lines[2]).toBe('ERR||PID^1^3^1^5|101^Required field missing^HL70357|E||||PID-3 has no MR');
    expect(lines[3]).toBe('ERR||OBR^1|100^Segment sequence error^HL70357|E||||a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f');
    const parsed = Hl7Message.parse(ack);
    expect(parsed.getAllSegments('ERR')).toHaveLength(2);
  });

  it('new control ids differ between ACKs by default', () => {
    const a = Hl7Message.parse(buildAck(fixture(ORU_P), { code: 'AA' }));
    const b = Hl7Message.parse(buildAck(fixture(ORU_P), { code: 'AA' }));
    expect(a.getSegment('MSH')?.getField(10)?.toString()).not.toBe(b.getSegment('MSH')?.getField(10)?.toString());
    expect(a.getSegment('MSH')?.getField(10)?.toString()).not.toBe('ORU-1001');
  });

  it('v2.3: ACK^trigger without structure and the ELD in ERR-1', () => {
    const err: Hl7Error = {
      segment: 'OBR',
      sequence: 1,
      field: 15,
      component: 1,
      code: 103,
      severity: 'E',
      message: 'x',
    };
    const lines = buildAck(fixture(ORM), { code: 'AE', errors: [err] }, { controlId: 'Y', now }).split('\r');
    expect(lines[0].split('|')[8]).toBe('ACK^O01');
    expect(lines[0].split('|')[11]).toBe('2.3');
    expect(lines[2]).toBe(
      'ERR|OBR^1^15^103&Table value not found&HL70357|OBR^1^15^1^1|103^Table value not found^HL70357|E||||x',
    );
  });

  it('works on garbage: empty MSA-2, version 2.5.1', () => {
    const r = translateHl7('this is not HL7');
    const ack = buildAck(
      'this is not HL7',
      { code: ackCodeFor(r), errors: r.ok ? [] : r.errors },
      { controlId: 'Z', now },
    );
    const lines = ack.split('\r');
    expect(lines[0]).toBe('MSH|^~\\&|||||20240313190509+0000||ACK|Z|P|2.5.1');
    expect(lines[1]).toBe('MSA|AR|');
    expect(lines[2]).toMatch(/^ERR\|\|MSH\^1\|100\^Segment sequence error\^HL70357\|F\|/);
    expect(buildAck(Buffer.from([0xff, 0x00]), { code: 'AR' }, { controlId: 'Z', now }).split('\r')[1]).toBe('MSA|AR|');
  });

  it('reads an MSH with other delimiters and re-encodes the values with the standard ones', () => {
    // '$' is this message's subcomponent separator; '&' is plain data there and must come out escaped
    const odd = 'MSH*:+!$*LAB:1.2.3:ISO*FAC**EHR*20240101**ORU:R01*CTRL&1*T*2.5.1\rPID*1';
    const lines = buildAck(odd, { code: 'AE' }, { controlId: 'Q', now }).split('\r');
    expect(lines[0]).toBe('MSH|^~\\&||EHR|LAB^1.2.3^ISO|FAC|20240313190509+0000||ACK^R01^ACK|Q|T|2.5.1');
    expect(lines[1]).toBe('MSA|AE|CTRL\\T\\1');
  });

  it('accepts the BOM-prefixed bytes and a RawHl7 from parseHl7Batch', () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), fixtureBytes(ORU_P)]);
    expect(buildAck(bytes, { code: 'AA' }, { controlId: 'A', now }).split('\r')[1]).toBe('MSA|AA|ORU-1001');
    const raw = parseHl7Batch(fixtureBytes('batch-two-messages.hl7')).messages[1];
    expect(buildAck(raw, { code: 'AA' }, { controlId: 'A', now }).split('\r')[1]).toBe('MSA|AA|ORM-0002');
  });

  it('echoes the control id of a message that was rejected for its type', () => {
    const text = setField(fixture(ORU_P), 'MSH', 1, 9, 'ADT^A01');
    const r = translateHl7(text);
    expect(ackCodeFor(r)).toBe('AR');
    const lines = buildAck(text, { code: 'AR', errors: r.ok ? [] : r.errors }, { controlId: 'B', now }).split('\r');
    expect(lines[0].split('|')[8]).toBe('ACK^A01^ACK');
    expect(lines[1]).toBe('MSA|AR|ORU-1001');
    expect(lines[2]).toContain('|200^Unsupported message type^HL70357|F|');
  });
});

describe('peekControl', () => {
  it('reads MSH-3/4/9/10/12 as translateHl7 reports them, without translating', () => {
    const text = fixture(ORU_P);
    const r = translateHl7(text);
    const peek = peekControl(text);
    expect(r.ok && r.control).toEqual({
      messageId: peek?.messageId,
      sendingApplication: peek?.sendingApplication,
      sendingFacility: peek?.sendingFacility,
      version: peek?.version,
    });
    expect(peek?.messageType).toBe('ORU^R01');
  });

  it('uses the message delimiters, decodes escapes and falls back to HD.2', () => {
    const text = 'MSH#*~\\&#*2.16.840.1.113883.9.1*ISO#FAC\\F\\1###20240101##ADT*A01#ID-7#P#2.5.1';
    expect(peekControl(text)).toEqual({
      messageId: 'ID-7',
      sendingApplication: '2.16.840.1.113883.9.1',
      sendingFacility: 'FAC#1',
      version: '2.5.1',
      messageType: 'ADT^A01',
    });
  });

  it('gives undefined for input without a readable MSH, never throws', () => {
    expect(peekControl('hello')).toBeUndefined();
    expect(peekControl(Buffer.from([0, 1, 2, 0xff]))).toBeUndefined();
    expect(peekControl('MSH|')).toBeUndefined();
  });
});
