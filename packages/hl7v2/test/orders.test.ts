import { translateHl7 } from '../src';
import { errorAt, failed, fixture, OML, ok, order, ORM, removeSegments, setField } from './helpers';

const NY = { timeZone: 'America/New_York' };

describe('OML^O21 v2.5.1 (aspirate + trephine core + aliquot)', () => {
  const o = order(fixture(OML), NY);

  it('maps identity, order numbers and the IG order fields', () => {
    expect(o.source).toEqual({ system: 'EPICORD|MBHOSP', messageId: 'OML-0001' });
    expect(o.placerOrderNumber).toEqual({ system: 'urn:oid:2.16.840.1.113883.3.9999.10', value: 'PLC-5001' });
    expect(o.fillerOrderNumber).toBeUndefined();
    expect(o.status).toBe('active');
    // ORC-9 has no offset: New York local time, 2 days after the 2024 DST start
    expect(o.authoredOn).toBe('2024-03-12T09:10:00-04:00');
    expect(o.priority).toBe('stat'); // TQ1-9
  });

  it('maps PID, PV1 and the ordering provider', () => {
    expect(o.patient).toEqual({
      mrn: { system: 'urn:oid:2.16.840.1.113883.3.9999.1', value: 'MRN-900001' },
      name: { family: 'TESTPATIENT', given: ['ALPHA', 'Q'] },
      birthDate: '1961-07-04',
      sex: 'female',
    });
    expect(o.encounter).toEqual({
      identifier: { system: 'urn:oid:2.16.840.1.113883.3.9999.1', value: 'VN-77001' },
      class: 'outpatient',
    });
    expect(o.orderingProvider).toEqual({
      npi: '1234567893',
      name: { family: 'ORDERING', given: ['OLIVIA'], prefix: ['DR'] },
    });
  });

  it('maps DG1 and OBR-31 to reasons, OBR-4/46 to procedure and studies', () => {
    expect(o.reasons).toEqual([
      { icd10: 'C92.00', text: 'Acute myeloid leukemia, not having achieved remission' },
      { icd10: 'D61.818', text: 'Other pancytopenia' },
    ]);
    expect(o.requestedStudies).toEqual(['morphology', 'flow-cytometry', 'cytogenetics']);
    expect(o.procedure.type).toBe('aspiration-biopsy');
  });

  it('maps each SPM to a specimen: aspirate, trephine core (SPM-7 BIO), aliquot (SPM-3)', () => {
    expect(o.specimens.map((s) => [s.id.value, s.kind, s.parentId])).toEqual([
      ['SPC-5001-A', 'aspirate', undefined],
      ['SPC-5001-B', 'trephine-core', undefined],
      ['SPC-5001-A1', 'aspirate-aliquot', 'SPC-5001-A'],
    ]);
    const [asp, core, aliquot] = o.specimens;
    expect(asp.accession).toEqual({ system: 'urn:oid:2.16.840.1.113883.3.9999.2', value: 'ACC-24-001' });
    expect(asp.container).toEqual({ type: 'Lavender top tube', additive: 'EDTA' });
    expect(asp.volumeMl).toBe(3);
    expect(asp.collectedAt).toBe('2024-03-12T10:10:00-04:00');
    expect(asp.bodySite).toEqual({ site: 'ilium', laterality: 'left', qualifier: 'posterior' });
    expect(asp.note).toBe('First pull for morphology & flow');
    // SNOMED site + SNOMED laterality and qualifier in a repeating SPM-9
    expect(core.bodySite).toEqual({ site: 'ilium', laterality: 'left', qualifier: 'posterior' });
    expect(aliquot.container).toEqual({ additive: 'heparin' });
  });

  it('sets the procedure body site and, with collection times, completed with the performed period', () => {
    expect(o.procedure).toEqual({
      type: 'aspiration-biopsy',
      bodySite: { site: 'ilium', laterality: 'left', qualifier: 'posterior' },
      status: 'completed',
      performedStart: '2024-03-12T10:10:00-04:00',
      performedEnd: '2024-03-12T10:20:00-04:00',
    });
  });

  it('keeps order NTEs as clinical notes', () => {
    expect(o.clinicalNotes).toEqual(['Patient on apixaban: held 48 h before the procedure.']);
  });

  it('returns the service code in the details', () => {
    const r = ok(translateHl7(fixture(OML)));
    expect(r.details[0].serviceCode).toEqual({
      system: 'http://www.ama-assn.org/go/cpt',
      code: '38222',
      display: 'Bone marrow biopsy and aspiration',
    });
    expect(r.details[0].nonMarrowService).toBeUndefined();
  });
});

describe('ORM^O01 v2.3 with the specimen in OBR-15 (SPS)', () => {
  const o = order(fixture(ORM), NY);

  it('maps the order with an HD namespace (no OID) through the default namespace system', () => {
    expect(o.placerOrderNumber).toEqual({ system: 'http://marrowbridge.org/fhir/sid/ns/HISORD', value: 'PLC-6001' });
    expect(o.patient.mrn).toEqual({ system: 'http://marrowbridge.org/fhir/sid/ns/MBHOSP', value: 'MRN-900002' });
    expect(o.authoredOn).toBe('2023-01-15T08:00:00-05:00'); // winter: EST
    expect(o.priority).toBe('stat'); // OBR-5 (v2.3)
    expect(o.encounter?.class).toBe('inpatient');
  });

  it('builds one specimen from OBR-15 with its site, modifier, additive and free text', () => {
    expect(o.specimens).toEqual([
      {
        id: { system: 'http://marrowbridge.org/fhir/sid/ns/HISORD', value: 'PLC-6001:MAR' },
        kind: 'aspirate',
        container: { additive: 'EDTA' },
        bodySite: { site: 'ilium', laterality: 'right', qualifier: 'posterior' },
        note: 'Sample from the right posterior iliac crest',
      },
    ]);
    expect(o.procedure).toEqual({
      type: 'aspiration',
      bodySite: { site: 'ilium', laterality: 'right', qualifier: 'posterior' },
      status: 'preparation',
    });
  });

  it('decodes escapes in NTE and keeps DG1 (I10) and OBR-31 text reasons', () => {
    expect(o.clinicalNotes).toEqual(['Platelets 45 x10^9/L on 14 Jan; transfuse if below 20.']);
    expect(o.reasons).toEqual([
      { icd10: 'D46.9', text: 'Myelodysplastic syndrome, unspecified' },
      { text: 'Pancytopenia, query myelodysplasia' },
    ]);
  });

  it('uses the namespace map option for HD namespaces', () => {
    const mapped = order(fixture(ORM), { namespaces: { HISORD: 'https://his.example.org/orders' } });
    expect(mapped.placerOrderNumber.system).toBe('https://his.example.org/orders');
  });

  it('never builds an OBR-15 specimen when the group has SPM (merge: SPM wins)', () => {
    const text = setField(fixture(OML), 'OBR', 1, 15, 'BLD&Blood&HL70070');
    const r = ok(translateHl7(text));
    const o2 = r.items[0];
    expect(o2.kind === 'order' && o2.specimens.map((s) => s.id.value)).toEqual([
      'SPC-5001-A',
      'SPC-5001-B',
      'SPC-5001-A1',
    ]);
    expect(r.warnings.some((w) => w.segment === 'OBR' && w.field === 15)).toBe(true);
  });
});

describe('ORC-1 order control (table 0119) → status, used when ORC-5 is empty', () => {
  const expected: [string, string | null | 'reject'][] = [
    ['NW', 'active'],
    ['OK', 'active'],
    ['CA', 'active'],
    ['CR', 'revoked'],
    ['OC', 'revoked'],
    ['DC', 'revoked'],
    ['OD', 'revoked'],
    ['DR', 'revoked'],
    ['HD', 'active'],
    ['HR', 'on-hold'],
    ['OH', 'on-hold'],
    ['RL', 'active'],
    ['RO', 'active'],
    ['RQ', 'active'],
    ['PR', 'active'],
    ['PY', 'active'],
    ['FU', 'completed'],
    ['XO', null],
    ['XX', null],
    ['XR', null],
    ['SC', null],
    ['RE', null],
    ['UA', 'reject'],
    ['UC', 'reject'],
    ['UX', 'reject'],
    ['ZZ', 'reject'],
  ];
  it.each(expected)('ORC-1 %s → %s', (code, status) => {
    const r = translateHl7(setField(fixture(OML), 'ORC', 1, 1, code));
    if (status === 'reject') {
      const e = errorAt(r, 'ORC', 1);
      expect(e.code).toBe(103);
      return;
    }
    const o = ok(r).items[0];
    expect(o.kind === 'order' && (o.status ?? null)).toBe(status);
  });

  it('a revoked order makes the procedure not-done with the ORC-16 reason', () => {
    let text = setField(fixture(OML), 'ORC', 1, 1, 'OC');
    text = setField(text, 'ORC', 1, 16, 'PTREF^Patient refused^L');
    const o = order(text);
    expect(o.procedure.status).toBe('not-done');
    expect(o.procedure.notDoneReason).toBe('Patient refused');
  });
});

describe('ORC-5 order status (table 0038) → status, wins over ORC-1', () => {
  const expected: [string, string | 'reject'][] = [
    ['CA', 'revoked'],
    ['CM', 'completed'],
    ['DC', 'revoked'],
    ['ER', 'entered-in-error'],
    ['HD', 'on-hold'],
    ['IP', 'active'],
    ['RP', 'revoked'],
    ['SC', 'active'],
    ['XY', 'reject'],
  ];
  it.each(expected)('ORC-5 %s → %s', (code, status) => {
    const r = translateHl7(setField(fixture(OML), 'ORC', 1, 5, code));
    if (status === 'reject') {
      expect(errorAt(r, 'ORC', 5).code).toBe(103);
      return;
    }
    const o = ok(r).items[0];
    expect(o.kind === 'order' && o.status).toBe(status);
  });
});

describe('priority: TQ1-9, ORC-7.6 / OBR-27.6, OBR-5 (table 0485)', () => {
  it.each([
    ['S', 'stat'],
    ['A', 'asap'],
    ['R', 'routine'],
    ['T', 'urgent'],
    ['TM30', 'urgent'],
    ['P', 'routine'],
  ])('TQ1-9 %s → %s', (code, p) => {
    expect(order(setField(fixture(OML), 'TQ1', 1, 9, code)).priority).toBe(p);
  });

  it('defaults to routine when no priority is given', () => {
    expect(order(removeSegments(fixture(OML), 'TQ1')).priority).toBe('routine');
  });

  it('reads OBR-27.6 (TQ) in older messages', () => {
    const text = setField(setField(fixture(ORM), 'OBR', 1, 5, ''), 'OBR', 1, 27, '^^^^^A');
    expect(order(text).priority).toBe('asap');
  });

  it('rejects an unknown priority code with 103', () => {
    expect(errorAt(translateHl7(setField(fixture(OML), 'TQ1', 1, 9, 'QQ')), 'TQ1', 9).code).toBe(103);
  });
});

describe('services: acceptAnyService', () => {
  const cbc = setField(fixture(OML), 'OBR', 1, 4, '57021-8^CBC W Auto Differential panel in Blood^LN');
  it('by default maps a non-marrow OBR-4 to the BMA procedure and keeps the code in the details', () => {
    const r = ok(translateHl7(cbc));
    expect(r.details[0]).toMatchObject({
      nonMarrowService: true,
      serviceCode: { system: 'http://loinc.org', code: '57021-8' },
    });
    const o = r.items[0];
    // the trephine core specimen still makes it aspiration + biopsy
    expect(o.kind === 'order' && o.procedure.type).toBe('aspiration-biopsy');
  });

  it('rejects it with 103 at OBR-4 when acceptAnyService is false', () => {
    const e = errorAt(translateHl7(cbc, { acceptAnyService: false }), 'OBR', 4);
    expect(e.code).toBe(103);
  });

  it('accepts a known marrow service with acceptAnyService false', () => {
    expect(ok(translateHl7(fixture(OML), { acceptAnyService: false })).items).toHaveLength(1);
  });
});

describe('specimen kinds and sites', () => {
  it.each([
    ['ASP^Aspirate^HL70487', 'aspirate'],
    ['BMA^Bone marrow aspirate^L', 'aspirate'],
    ['396997002^Specimen from bone marrow obtained by aspiration^SCT', 'aspirate'],
    ['^Bone marrow biopsy', 'trephine-core'],
  ])('SPM-4 %s → %s', (type, kind) => {
    const text = setField(setField(fixture(OML), 'SPM', 1, 4, type), 'SPM', 1, 7, '');
    expect(order(text).specimens[0].kind).toBe(kind);
  });

  it('reads the site and laterality from text when no code matches', () => {
    let text = setField(fixture(OML), 'SPM', 1, 8, '^Left anterior iliac crest');
    text = setField(text, 'SPM', 1, 9, '');
    expect(order(text).specimens[0].bodySite).toEqual({ site: 'ilium', laterality: 'left', qualifier: 'anterior' });
  });

  it('needs no laterality for the sternum', () => {
    let text = setField(fixture(OML), 'SPM', 1, 8, '56873002^Bone structure of sternum^SCT');
    text = setField(text, 'SPM', 1, 9, '');
    expect(order(text).specimens[0].bodySite).toEqual({ site: 'sternum' });
  });

  it('makes the procedure bilateral when specimens come from the left and the right ilium', () => {
    const text = setField(fixture(OML), 'SPM', 2, 9, '24028007^Right^SCT');
    expect(order(text).procedure.bodySite).toEqual({ site: 'ilium', laterality: 'bilateral', qualifier: 'posterior' });
  });

  it('merges specimens by identifier across order groups', () => {
    const base = fixture(OML);
    const lines = base.split('\r').filter(Boolean);
    const obrIdx = lines.findIndex((l) => l.startsWith('OBR|'));
    const spm1 = lines.find((l) => l.startsWith('SPM|1|')) as string;
    // a second order group of the same placer number, for flow cytometry, on the same aspirate
    const extra = [
      lines.find((l) => l.startsWith('ORC|')) as string,
      lines[obrIdx].replace('38222^Bone marrow biopsy and aspiration^C4', '101119-6^Immunophenotyping^LN'),
      spm1,
    ];
    const o = order([...lines, ...extra].join('\r'));
    expect(o.specimens.map((s) => s.id.value)).toEqual(['SPC-5001-A', 'SPC-5001-B', 'SPC-5001-A1']);
    expect(o.requestedStudies).toContain('flow-cytometry');
  });

  it('turns order-entry OBX answers into clinical notes', () => {
    const text = fixture(OML).replace(
      /(SPM\|1\|)/,
      'OBX|1|CWE|MBANTICOAG^Anticoagulant held^L||Y^Yes^HL70136||||||F\rNTE|1||since Monday\r$1',
    );
    expect(order(text).clinicalNotes).toEqual([
      'Patient on apixaban: held 48 h before the procedure.',
      'Anticoagulant held: Yes\nsince Monday',
    ]);
  });

  it('keeps message-level NTE (after PID) as clinical notes', () => {
    const text = fixture(OML).replace(/(PV1\|)/, 'NTE|1||Needle-phobic: consider sedation.\r$1');
    expect(order(text).clinicalNotes?.[0]).toBe('Needle-phobic: consider sedation.');
  });

  it('gives one order per placer number, numbering the message ids', () => {
    const lines = fixture(OML).split('\r').filter(Boolean);
    const group = lines.slice(lines.findIndex((l) => l.startsWith('ORC|')));
    const second = group.map((l) => l.replace(/PLC-5001/g, 'PLC-5002').replace(/SPC-5001/g, 'SPC-5002'));
    const r = ok(translateHl7([...lines, ...second].join('\r')));
    expect(r.items.map((i) => [i.placerOrderNumber.value, i.source?.messageId])).toEqual([
      ['PLC-5001', 'OML-0001#1'],
      ['PLC-5002', 'OML-0001#2'],
    ]);
  });

  it('falls back to OBR-16 when ORC-12 is empty', () => {
    const text = setField(setField(fixture(OML), 'ORC', 1, 12, ''), 'OBR', 1, 16, '1444444446^OTHER^OTTO');
    expect(order(text).orderingProvider.npi).toBe('1444444446');
  });

  it('accepts an unlabelled 10-digit id that passes the NPI check digit', () => {
    const o = order(setField(fixture(OML), 'ORC', 1, 12, '1777777776^PLAIN^PAULA'));
    expect(o.orderingProvider.npi).toBe('1777777776');
    expect(failed(translateHl7(setField(fixture(OML), 'ORC', 1, 12, '1777777777^PLAIN^PAULA'))).errors[0].code).toBe(
      102,
    );
  });
});

describe('PID-3 without an MR-typed identifier: the fallback', () => {
  const withPid3 = (value: string) => setField(fixture(OML), 'PID', 1, 3, value);

  it('takes the first fallback-typed repetition that has an assigning authority, with a warning', () => {
    const r = ok(
      translateHl7(withPid3('555001234^^^SSA^SS~X-1^^^^PI~X-2^^^MBHOSP&2.16.840.1.113883.3.9999.1&ISO^PI'), NY),
    );
    const item = r.items[0];
    expect(item.kind === 'order' && item.patient.mrn).toEqual({
      system: 'urn:oid:2.16.840.1.113883.3.9999.1',
      value: 'X-2',
    });
    const w = r.warnings.find((x) => x.segment === 'PID' && x.field === 3);
    expect(w?.message).toMatch(/repetition 3 \(type PI, with an assigning authority\) stands in for the MRN/);
    expect(w?.message).not.toMatch(/X-2|555001234/);
  });

  it('else the first fallback-typed repetition (untyped, no authority: the placer facility is implied)', () => {
    const o = order(withPid3('555001234^^^SSA^SS~X-1'), NY);
    expect(o.patient.mrn).toEqual({ system: 'urn:oid:2.16.840.1.113883.3.9999', value: 'X-1' });
  });

  it('prefers an MR-typed repetition wherever it is', () => {
    const o = order(withPid3('X-1^^^MBHOSP^PI~MRN-9^^^MBHOSP^MR'), NY);
    expect(o.patient.mrn.value).toBe('MRN-9');
  });

  it('never uses SS, DL or account numbers, and can be turned off', () => {
    expect(errorAt(translateHl7(withPid3('555001234^^^SSA^SS~D-1^^^^DL~A-1^^^^AN'), NY), 'PID', 3).code).toBe(101);
    const off = translateHl7(withPid3('X-1^^^MBHOSP^PI'), { ...NY, mrnFallbackTypes: [] });
    expect(errorAt(off, 'PID', 3).message).toMatch(/has no identifier of type MR \(medical record number\)$/);
  });
});
