import { Hl7Message } from '@medplum/core';
import { ackCodeFor, buildAck, translateHl7 } from '../src';
import type { Hl7Error, Hl7TranslateResult } from '../src';
import { failed, fixture, OML, ORM, ORU_P, PATIENT_DATA, removeSegments, setField } from './helpers';

interface Case {
  name: string;
  text: () => string;
  at: Partial<Hl7Error> & { segment: string; field: number; code: number };
  ack: 'AE' | 'AR';
}

const cases: Case[] = [
  {
    name: 'no PID-3',
    text: () => setField(fixture(ORU_P), 'PID', 1, 3, ''),
    at: { segment: 'PID', sequence: 1, field: 3, code: 101, severity: 'E' },
    ack: 'AE',
  },
  {
    name: 'no MR identifier in PID-3 and none that may stand in (SSN only)',
    text: () => setField(fixture(OML), 'PID', 1, 3, '555001234^^^SSA^SS'),
    at: { segment: 'PID', field: 3, component: 5, code: 101 },
    ack: 'AE',
  },
  {
    name: 'no PID segment',
    text: () => removeSegments(fixture(ORU_P), 'PID'),
    at: { segment: 'PID', field: 0, code: 100 },
    ack: 'AE',
  },
  {
    name: 'unsupported message type',
    text: () => setField(fixture(ORU_P), 'MSH', 1, 9, 'ADT^A01^ADT_A01'),
    at: { segment: 'MSH', field: 9, component: 1, code: 200, severity: 'F' },
    ack: 'AR',
  },
  {
    name: 'unsupported trigger event',
    text: () => setField(fixture(ORU_P), 'MSH', 1, 9, 'ORU^R30'),
    at: { segment: 'MSH', field: 9, component: 2, code: 201, severity: 'F' },
    ack: 'AR',
  },
  {
    name: 'unsupported version',
    text: () => setField(fixture(ORU_P), 'MSH', 1, 12, '2.2'),
    at: { segment: 'MSH', field: 12, code: 203, severity: 'F' },
    ack: 'AR',
  },
  {
    name: 'no OBR (ORU)',
    text: () => removeSegments(removeSegments(fixture(ORU_P), 'OBR'), 'ORC'),
    at: { segment: 'OBR', field: 0, code: 100 },
    ack: 'AE',
  },
  {
    name: 'ORC without OBR (order)',
    text: () => removeSegments(fixture(OML), 'OBR'),
    at: { segment: 'ORC', field: 0, code: 100 },
    ack: 'AE',
  },
  {
    name: 'no placer and no filler number',
    text: () =>
      setField(
        setField(setField(setField(fixture(ORU_P), 'ORC', 1, 2, ''), 'ORC', 1, 3, ''), 'OBR', 1, 2, ''),
        'OBR',
        1,
        3,
        '',
      ),
    at: { segment: 'ORC', field: 2, code: 101 },
    ack: 'AE',
  },
  {
    name: 'unknown specimen type (SPM-4)',
    text: () => setField(fixture(OML), 'SPM', 1, 4, 'BLD^Whole blood^HL70487'),
    at: { segment: 'SPM', sequence: 1, field: 4, code: 103 },
    ack: 'AE',
  },
  {
    name: 'unknown specimen type (OBR-15)',
    text: () => setField(fixture(ORM), 'OBR', 1, 15, 'SER&Serum&HL70070'),
    at: { segment: 'OBR', field: 15, component: 1, code: 103 },
    ack: 'AE',
  },
  {
    name: 'body site that is not a marrow site',
    text: () => setField(fixture(OML), 'SPM', 2, 8, 'LA^Left arm^HL70163'),
    at: { segment: 'SPM', sequence: 2, field: 8, code: 103 },
    ack: 'AE',
  },
  {
    name: 'ilium without laterality',
    text: () => setField(fixture(OML), 'SPM', 1, 9, ''),
    at: { segment: 'SPM', sequence: 1, field: 9, code: 101 },
    ack: 'AE',
  },
  {
    name: 'contradicting lateralities',
    text: () => setField(fixture(OML), 'SPM', 1, 9, 'L^Left^HL70495~R^Right^HL70495'),
    at: { segment: 'SPM', sequence: 1, field: 8, code: 102 },
    ack: 'AE',
  },
  {
    name: 'aliquot whose parent is not in the order',
    text: () => setField(fixture(OML), 'SPM', 3, 3, 'SPC-9999&EPICORD&2.16.840.1.113883.3.9999.10&ISO'),
    at: { segment: 'SPM', sequence: 3, field: 3, code: 204 },
    ack: 'AE',
  },
  {
    name: 'order without a body site',
    text: () => setField(fixture(ORM), 'OBR', 1, 15, 'MAR&Marrow&HL70070'),
    at: { segment: 'OBR', field: 15, component: 4, code: 101 },
    ack: 'AE',
  },
  {
    name: 'no ordering provider',
    text: () => setField(fixture(OML), 'ORC', 1, 12, ''),
    at: { segment: 'ORC', field: 12, code: 101 },
    ack: 'AE',
  },
  {
    name: 'malformed date (OBR-7)',
    text: () => setField(fixture(ORU_P), 'OBR', 1, 7, '2024-03-12 10:10'),
    at: { segment: 'OBR', field: 7, code: 102 },
    ack: 'AE',
  },
  {
    name: 'malformed date (PID-7, impossible day)',
    text: () => setField(fixture(OML), 'PID', 1, 7, '19610231'),
    at: { segment: 'PID', field: 7, code: 102 },
    ack: 'AE',
  },
  {
    name: 'malformed date (ORC-9, bad hour)',
    text: () => setField(fixture(OML), 'ORC', 1, 9, '202403122510'),
    at: { segment: 'ORC', field: 9, code: 102 },
    ack: 'AE',
  },
  {
    name: 'malformed date (OBX-14)',
    text: () => setField(fixture(ORU_P), 'OBX', 1, 14, '220240312'),
    at: { segment: 'OBX', sequence: 1, field: 14, code: 102 },
    ack: 'AE',
  },
  {
    name: 'NM value that is not a number',
    text: () => setField(fixture(ORU_P), 'OBX', 3, 5, 'twenty-two'),
    at: { segment: 'OBX', sequence: 3, field: 5, code: 102 },
    ack: 'AE',
  },
  {
    name: 'missing OBR-25',
    text: () => setField(fixture(ORU_P), 'OBR', 1, 25, ''),
    at: { segment: 'OBR', field: 25, code: 101 },
    ack: 'AE',
  },
  {
    name: 'missing OBX-11',
    text: () => setField(fixture(ORU_P), 'OBX', 2, 11, ''),
    at: { segment: 'OBX', sequence: 2, field: 11, code: 101 },
    ack: 'AE',
  },
  {
    name: 'unsupported OBX-2 value type',
    text: () => setField(fixture(ORU_P), 'OBX', 2, 2, 'QQ'),
    at: { segment: 'OBX', sequence: 2, field: 2, code: 102 },
    ack: 'AE',
  },
  {
    name: 'missing MSH-10',
    text: () => setField(fixture(ORU_P), 'MSH', 1, 10, ''),
    at: { segment: 'MSH', field: 10, code: 101 },
    ack: 'AE',
  },
  {
    name: 'unreadable delimiters',
    text: () => fixture(ORU_P).replace('MSH|^~\\&|', 'MSH|^^|'),
    at: { segment: 'MSH', field: 2, code: 102, severity: 'F' },
    ack: 'AR',
  },
];

describe.each(cases)('rejects: $name', ({ text, at, ack }) => {
  let r: Hl7TranslateResult;
  beforeAll(() => {
    r = translateHl7(text());
  });

  it('gives a structured error at the right place with the right 0357 code', () => {
    const f = failed(r);
    const e = f.errors.find((x) => x.segment === at.segment && x.field === at.field && x.code === at.code);
    expect(e).toBeDefined();
    expect(e).toMatchObject(at);
    expect(['E', 'F']).toContain(e?.severity);
  });

  it('puts no patient data into the error messages', () => {
    for (const e of failed(r).errors) for (const p of PATIENT_DATA) expect(e.message).not.toContain(p);
  });

  it(`is acknowledged ${ack} with one ERR per error`, () => {
    const f = failed(r);
    expect(ackCodeFor(r)).toBe(ack);
    const msg = Hl7Message.parse(buildAck(text(), { code: ackCodeFor(r), errors: f.errors }, { controlId: 'ACK-1' }));
    expect(msg.getSegment('MSA')?.getField(1)?.toString()).toBe(ack);
    const errs = msg.getAllSegments('ERR');
    expect(errs).toHaveLength(f.errors.length);
    const mine = errs.find(
      (s) => s.getField(3)?.getComponent(1) === String(at.code) && s.getField(2)?.getComponent(1) === at.segment,
    );
    expect(mine).toBeDefined();
    expect(mine?.getField(2)?.getComponent(3) ?? '').toBe(at.field > 0 ? String(at.field) : '');
    expect(mine?.getField(3)?.getComponent(3)).toBe('HL70357');
  });
});

describe('no crash on anything', () => {
  it.each([
    ['empty', ''],
    ['only MSH', 'MSH|^~\\&|'],
    ['MSH without delimiters', 'MSH'],
    ['binary noise', '\u0000\u0001\u0002MSH|\u00ff\u00fe'],
    ['PID only', 'PID|1||X^^^^MR'],
    ['truncated message', fixture(ORU_P).slice(0, 300)],
    ['bytes', Buffer.from([0xff, 0xfe, 0x00, 0x4d])],
  ])('%s → ok:false with errors, no throw', (_n, input) => {
    const r = translateHl7(input);
    expect(r.ok).toBe(false);
    expect(failed(r).errors.length).toBeGreaterThan(0);
  });
});
