import type { ObservationResult } from '@marrowbridge/model';
import { translateHl7 } from '../src';
import { errorAt, fixture, ok, ORU_C, ORU_F, ORU_P, result, setField } from './helpers';

const NY = { timeZone: 'America/New_York' };
const obs = (r: { observations: ObservationResult[] }, code: string): ObservationResult => {
  const o = r.observations.find((x) => x.code.code === code);
  if (!o) throw new Error(`no observation ${code}`);
  return o;
};

describe('ORU^R01 preliminary (8 OBX)', () => {
  const r = result(fixture(ORU_P), NY);

  it('maps the report header from ORC/OBR', () => {
    expect(r.source).toEqual({ system: 'LIS|MBLAB', messageId: 'ORU-1001' });
    expect(r.placerOrderNumber).toEqual({ system: 'urn:oid:2.16.840.1.113883.3.9999.10', value: 'PLC-5001' });
    expect(r.fillerOrderNumber).toEqual({ system: 'urn:oid:2.16.840.1.113883.3.9999.20', value: 'FIL-7001' });
    expect(r.patient).toEqual({ mrn: { system: 'urn:oid:2.16.840.1.113883.3.9999.1', value: 'MRN-900001' } });
    expect(r.reportCode).toEqual({
      system: 'http://loinc.org',
      code: '48807-2',
      display: 'Bone marrow aspiration report',
    });
    expect(r.section).toBe('HM');
    expect(r.status).toBe('preliminary');
    expect(r.issued).toBe('2024-03-13T14:25:00-04:00');
    expect(r.effective).toBe('2024-03-12T10:10:00-04:00');
    expect(r.resultsInterpreter).toEqual({
      npi: '1555555550',
      name: { family: 'HEMPATH', given: ['HELEN'], prefix: ['DR'], suffix: ['MD'] },
    });
    expect(r.performer).toEqual({
      name: 'TERRY TECH',
      identifier: { system: 'http://marrowbridge.org/fhir/sid/ns/MBLAB', value: 'T-88' },
    });
  });

  it('maps 7 observations; the OBX coded like the report becomes the conclusion', () => {
    expect(r.observations).toHaveLength(7);
    expect(r.conclusion).toBe('Preliminary: hypercellular marrow with trilineage hematopoiesis.');
    expect(r.observations.every((o) => o.status === 'preliminary')).toBe(true);
  });

  it('keeps LOINC as the code and the local code beside it (OBX-3 CWE.4-6)', () => {
    const lymph = obs(r, '11108-8');
    expect(lymph.localCode).toEqual({
      system: 'http://marrowbridge.org/fhir/CodeSystem/v2-local/L',
      code: 'LYMPH',
      display: 'Lymphocytes',
    });
    expect(lymph.value).toEqual({ type: 'quantity', value: 12.5, unit: '%' });
    expect(lymph.referenceRange).toEqual({ text: '5-20', low: 5, high: 20, unit: '%' });
    expect(lymph.interpretation).toEqual(['N']);
    expect(lymph.effective).toBe('2024-03-12T10:10:00-04:00');
  });

  it('keeps a local-only code as the code', () => {
    const blasts = obs(r, 'MBBLAST');
    expect(blasts.code.system).toBe('http://marrowbridge.org/fhir/CodeSystem/v2-local/L');
    expect(blasts.localCode).toBeUndefined();
  });

  it('keeps NTE after OBR as report notes and after OBX as observation notes', () => {
    expect(r.notes).toEqual(['Preliminary: morphology only; flow cytometry to follow.']);
    expect(obs(r, 'MBBLAST').notes).toEqual(['Blast count from a 500-cell differential.']);
  });
});

describe('ORU^R01 final: one test per OBX value type', () => {
  const r = result(fixture(ORU_F), NY);

  it('NM → quantity with the UCUM unit', () => {
    expect(obs(r, '11108-8').value).toEqual({ type: 'quantity', value: 12, unit: '%' });
  });
  it('SN ^3^:^1 → ratio', () => {
    expect(obs(r, '11138-5').value).toEqual({ type: 'ratio', numerator: 3, denominator: 1 });
  });
  it('SN ^1^-^3 → range with unit', () => {
    expect(obs(r, 'MBMEGA').value).toEqual({ type: 'range', low: 1, high: 3, unit: '/[HPF]' });
  });
  it('SN >=^1.5 → quantity with comparator', () => {
    expect(obs(r, 'MBCD34').value).toEqual({ type: 'quantity', value: 1.5, unit: '%', comparator: '>=' });
  });
  it('SN <^5 (preliminary) → quantity with comparator', () => {
    expect(obs(result(fixture(ORU_P)), 'MBBLAST').value).toEqual({
      type: 'quantity',
      value: 5,
      unit: '%',
      comparator: '<',
    });
  });
  it('TX repeating → string with one line per repetition (ISCN karyotype)', () => {
    expect(obs(r, '33893-9').value).toEqual({ type: 'string', value: '46,XY,t(8;21)(q22;q22)[18]\n46,XY[2]' });
    expect(obs(r, '33893-9').notes).toEqual(['20 metaphases analysed.']);
  });
  it('FT → string with \\.br\\ as a line break and highlighting dropped', () => {
    expect(obs(r, 'MBMORPH').value).toEqual({
      type: 'string',
      value: 'Myeloid series left-shifted.\nErythroid series normoblastic.',
    });
  });
  it('ST → string', () => {
    expect(obs(result(fixture(ORU_P)), '13513-7').value).toEqual({
      type: 'string',
      value: 'Iron stores present; no ring sideroblasts seen',
    });
  });
  it('CWE → coded with the FHIR system', () => {
    expect(obs(r, '74232-0').value).toEqual({
      type: 'coded',
      coding: { system: 'http://snomed.info/sct', code: '76197007', display: 'Hypercellular' },
      text: 'Hypercellular',
    });
  });
  it('CWE with original text (CWE.9) → coded with that text', () => {
    expect(obs(result(fixture(ORU_P)), '74232-0').value).toMatchObject({
      type: 'coded',
      text: 'Hypercellular for age',
    });
  });
  it('CE → coded', () => {
    const text = setField(fixture(ORU_F), 'OBX', 5, 2, 'CE');
    expect(obs(result(text), '74232-0').value).toMatchObject({ type: 'coded', coding: { code: '76197007' } });
  });
  it('DT → date only (precision kept)', () => {
    expect(obs(r, 'MBSLIDE').value).toEqual({ type: 'dateTime', value: '2024-03-12' });
  });
  it('TM → time with seconds', () => {
    expect(obs(r, 'MBFIX').value).toEqual({ type: 'time', value: '10:45:00' });
  });
  it('DTM → dateTime with the facility offset', () => {
    expect(obs(r, 'MBREVIEW').value).toEqual({ type: 'dateTime', value: '2024-03-15T16:15:00-04:00' });
  });
  it('NR → range', () => {
    expect(obs(r, 'MBPLASMA').value).toEqual({ type: 'range', low: 0, high: 3.5, unit: '%' });
  });
  it('ED base64 PDF → the report presentedForm, not an observation', () => {
    expect(r.presentedForm?.contentType).toBe('application/pdf');
    expect(Buffer.from(r.presentedForm?.data ?? '', 'base64').toString('latin1')).toMatch(/^%PDF-1\.4/);
    expect(r.presentedForm?.title).toBe('Bone marrow aspiration report');
    expect(r.observations.some((o) => o.code.code === '48807-2')).toBe(false);
  });
  it('ED hex PDF → base64', () => {
    const hex = Buffer.from('%PDF-1.7 tiny').toString('hex').toUpperCase();
    const text = setField(fixture(ORU_F), 'OBX', 12, 5, `LIS^application^pdf^Hex^${hex}`);
    expect(Buffer.from(result(text).presentedForm?.data ?? '', 'base64').toString()).toBe('%PDF-1.7 tiny');
  });
  it('DR → text period (the canonical model has no period value), with a warning', () => {
    const text = setField(setField(fixture(ORU_F), 'OBX', 11, 2, 'DR'), 'OBX', 11, 5, '20240301^20240315');
    const u = ok(translateHl7(text));
    const item = u.items[0];
    expect(item.kind === 'result' && obs(item, 'MBREVIEW').value).toEqual({
      type: 'string',
      value: '2024-03-01/2024-03-15',
    });
    expect(u.warnings.some((w) => /DR/.test(w.message))).toBe(true);
  });
  it('VR → text low-high', () => {
    const text = setField(setField(fixture(ORU_F), 'OBX', 8, 2, 'VR'), 'OBX', 8, 5, '1^4');
    expect(obs(result(text), 'MBPLASMA').value).toEqual({ type: 'string', value: '1-4' });
  });
  it('IS → coded in the local (unspecified) system', () => {
    const text = setField(setField(fixture(ORU_F), 'OBX', 6, 2, 'IS'), 'OBX', 6, 5, 'DONE');
    expect(obs(result(text), 'MBSLIDE').value).toEqual({
      type: 'coded',
      coding: { system: 'http://marrowbridge.org/fhir/CodeSystem/v2-local/unspecified', code: 'DONE' },
    });
  });
  it('ED that is neither PDF nor text is rejected (102) rather than dropped', () => {
    const text = setField(fixture(ORU_F), 'OBX', 12, 5, 'LIS^image^jpeg^Base64^AAAA');
    expect(errorAt(translateHl7(text), 'OBX', 5).code).toBe(102);
  });
  it('an empty value with a final status → dataAbsentReason unknown', () => {
    const o = obs(result(setField(fixture(ORU_F), 'OBX', 1, 5, '')), '11108-8');
    expect(o.value).toBeUndefined();
    expect(o.dataAbsentReason).toBe('unknown');
  });
  it('keeps the final report fields and SPM specimen id', () => {
    expect(r.status).toBe('final');
    expect(r.conclusion).toBe('Acute myeloid leukemia with t(8;21); blasts 34%.');
    expect(r.specimenIds).toEqual([{ system: 'urn:oid:2.16.840.1.113883.3.9999.10', value: 'SPC-5001-A' }]);
    expect(r.observations).toHaveLength(11);
  });
});

describe('ORU^R01 corrected', () => {
  const r = result(fixture(ORU_C));
  it('maps OBR-25 C and OBX-11 C to corrected, keeping the note', () => {
    expect(r.status).toBe('corrected');
    expect(obs(r, '11108-8')).toMatchObject({
      status: 'corrected',
      value: { type: 'quantity', value: 14 },
      notes: ['Previously reported as 12.0 %.'],
    });
    expect(obs(r, '11138-5').status).toBe('final');
    expect(r.notes).toEqual(['Corrected: lymphocyte count re-read.']);
  });
});

describe('several reports in one ORU', () => {
  const r = ok(translateHl7(fixture('oru-r01-two-reports.hl7')));
  it('gives one ResultUpdate per OBR, numbering the message ids', () => {
    expect(r.items.map((i) => i.kind === 'result' && [i.reportCode.code, i.source?.messageId])).toEqual([
      ['48807-2', 'ORU-1004#1'],
      ['101119-6', 'ORU-1004#2'],
    ]);
  });
  it('puts OBX in the SPM group on that specimen', () => {
    const flow = r.items[1];
    if (flow.kind !== 'result') throw new Error('result expected');
    expect(flow.fillerOrderNumber?.value).toBe('FIL-7002');
    expect(flow.specimenIds.map((s) => s.value)).toEqual(['SPC-5001-A1']);
    expect(flow.observations.map((o) => [o.code.code, o.specimenId])).toEqual([
      ['93021-4', undefined],
      ['51298-8', 'SPC-5001-A1'],
    ]);
  });
});

describe('OBR-25 result status (table 0123) → report status', () => {
  const expected: [string, string | 'reject'][] = [
    ['O', 'registered'],
    ['I', 'registered'],
    ['S', 'registered'],
    ['R', 'partial'],
    ['P', 'preliminary'],
    ['F', 'final'],
    ['C', 'corrected'],
    ['X', 'cancelled'],
    ['A', 'partial'],
    ['M', 'preliminary'],
    ['N', 'registered'],
    ['Y', 'reject'],
    ['Z', 'reject'],
    ['Q', 'reject'],
  ];
  it.each(expected)('OBR-25 %s → %s', (code, status) => {
    const r = translateHl7(setField(fixture(ORU_P), 'OBR', 1, 25, code));
    if (status === 'reject') {
      expect(errorAt(r, 'OBR', 25).code).toBe(103);
      return;
    }
    const u = ok(r).items[0];
    expect(u.kind === 'result' && u.status).toBe(status);
  });
});

describe('OBX-11 observation status (table 0085) → observation status', () => {
  // [code, status or what happens, dataAbsentReason when the value is empty]
  const expected: [string, string][] = [
    ['P', 'preliminary'],
    ['F', 'final'],
    ['C', 'corrected'],
    ['A', 'amended'],
    ['D', 'entered-in-error'],
    ['W', 'entered-in-error'],
    ['X', 'cancelled'],
    ['I', 'registered'],
    ['R', 'preliminary'],
    ['S', 'preliminary'],
    ['V', 'final'],
    ['B', 'amended'],
    ['U', 'final'],
    ['N', 'final'],
    ['O', 'skip'],
    ['K', 'reject'],
  ];
  it.each(expected)('OBX-11 %s → %s', (code, status) => {
    const r = translateHl7(setField(fixture(ORU_P), 'OBX', 1, 11, code));
    if (status === 'reject') {
      expect(errorAt(r, 'OBX', 11).code).toBe(103);
      return;
    }
    const u = ok(r);
    const item = u.items[0];
    if (item.kind !== 'result') throw new Error('result expected');
    const o = item.observations.find((x) => x.code.code === '11108-8');
    if (status === 'skip') {
      expect(o).toBeUndefined();
      expect(u.warnings.some((w) => w.segment === 'OBX' && w.field === 11)).toBe(true);
      return;
    }
    expect(o?.status).toBe(status);
  });

  it('X without a value: cancelled, no value, no data-absent reason', () => {
    const text = setField(setField(fixture(ORU_P), 'OBX', 1, 11, 'X'), 'OBX', 1, 5, '');
    const o = obs(result(text), '11108-8');
    expect(o).toMatchObject({ status: 'cancelled' });
    expect(o.value).toBeUndefined();
    expect(o.dataAbsentReason).toBeUndefined();
  });

  it('N without a value: data-absent reason not-asked', () => {
    const text = setField(setField(fixture(ORU_P), 'OBX', 1, 11, 'N'), 'OBX', 1, 5, '');
    expect(obs(result(text), '11108-8').dataAbsentReason).toBe('not-asked');
  });

  it('U without a value (status-only change) is not mapped, with a warning', () => {
    const text = setField(setField(fixture(ORU_P), 'OBX', 1, 11, 'U'), 'OBX', 1, 5, '');
    const u = ok(translateHl7(text));
    const item = u.items[0];
    expect(item.kind === 'result' && item.observations.some((o) => o.code.code === '11108-8')).toBe(false);
    expect(u.warnings.some((w) => /status-only/.test(w.message))).toBe(true);
  });

  it('flags OBR-25 final while an OBX is still preliminary', () => {
    const u = ok(translateHl7(setField(fixture(ORU_P), 'OBR', 1, 25, 'F')));
    expect(u.warnings.some((w) => w.segment === 'OBR' && w.field === 25)).toBe(true);
  });
});

describe('result fallbacks and options', () => {
  it('takes issued from MSH-7 (as an instant) when OBR-22 is empty, with a warning', () => {
    const u = ok(translateHl7(setField(fixture(ORU_P), 'OBR', 1, 22, ''), NY));
    const item = u.items[0];
    expect(item.kind === 'result' && item.issued).toBe('2024-03-13T14:30:00-04:00');
    expect(u.warnings.some((w) => w.segment === 'OBR' && w.field === 22)).toBe(true);
  });

  it('pads a date-only OBR-22 to local midnight (issued is an instant)', () => {
    expect(result(setField(fixture(ORU_P), 'OBR', 1, 22, '20240313'), NY).issued).toBe('2024-03-13T00:00:00-04:00');
  });

  it('keeps a date-only OBR-7 a date (effective allows it)', () => {
    expect(result(setField(fixture(ORU_P), 'OBR', 1, 7, '20240312'), NY).effective).toBe('2024-03-12');
  });

  it('rejects a report code outside the BMA report codes (the profile value set) unless acceptAnyReport', () => {
    const text = setField(fixture(ORU_P), 'OBR', 1, 4, '57021-8^CBC panel^LN');
    const e = errorAt(translateHl7(text), 'OBR', 4);
    expect(e.code).toBe(103);
    expect(e.message).toMatch(/57021-8 is not a bone marrow report code/);
    const r = ok(translateHl7(text, { acceptAnyReport: true }));
    expect(r.details[0].nonMarrowService).toBe(true);
    expect(r.warnings.some((w) => w.segment === 'OBR' && w.field === 4)).toBe(true);
    // acceptAnyService is about orders: it does not let a non-BMA report through
    expect(errorAt(translateHl7(text, { acceptAnyService: true }), 'OBR', 4).code).toBe(103);
  });

  it('takes the LOINC coding of OBR-4 for the check, local alternates aside', () => {
    const text = setField(
      fixture(ORU_P),
      'OBR',
      1,
      4,
      'BMREP^Marrow report^L^48807-2^Bone marrow aspiration report^LN',
    );
    expect(result(text).reportCode).toMatchObject({ system: 'http://loinc.org', code: '48807-2' });
  });

  it('uses the filler number as the placer stand-in when no placer is given', () => {
    let text = setField(fixture(ORU_P), 'ORC', 1, 2, '');
    text = setField(text, 'OBR', 1, 2, '');
    const u = ok(translateHl7(text));
    expect(u.items[0].placerOrderNumber.value).toBe('FIL-7001');
    expect(u.details[0].placerFromFiller).toBe(true);
  });

  it('uses OBX-33 for the observation specimen', () => {
    const text = setField(fixture(ORU_F), 'OBX', 1, 33, 'SPC-5001-A1&EPICORD&2.16.840.1.113883.3.9999.10&ISO');
    const r = result(text);
    expect(obs(r, '11108-8').specimenId).toBe('SPC-5001-A1');
    expect(r.specimenIds.map((s) => s.value)).toEqual(['SPC-5001-A', 'SPC-5001-A1']);
  });

  it('accepts an SPM without SPM-2 in a result: the report names no specimen for it (warning)', () => {
    const u = ok(translateHl7(setField(fixture(ORU_F), 'SPM', 1, 2, '')));
    const item = u.items[0];
    expect(item.kind === 'result' && item.specimenIds).toEqual([]);
    expect(u.warnings.some((w) => w.segment === 'SPM' && w.field === 2)).toBe(true);
  });

  it('derives the specimen id from OBR-15 when there is no SPM', () => {
    const text = setField(fixture(ORU_P), 'OBR', 1, 15, 'MAR&Marrow&HL70070');
    expect(result(text).specimenIds).toEqual([
      { system: 'urn:oid:2.16.840.1.113883.3.9999.10', value: 'PLC-5001:MAR' },
    ]);
  });

  it('drops OBX-8 codes outside the canonical interpretations with a warning', () => {
    const u = ok(translateHl7(setField(fixture(ORU_P), 'OBX', 1, 8, 'H~S')));
    const item = u.items[0];
    expect(item.kind === 'result' && obs(item, '11108-8').interpretation).toEqual(['H']);
    expect(u.warnings.some((w) => w.segment === 'OBX' && w.field === 8)).toBe(true);
  });
});
