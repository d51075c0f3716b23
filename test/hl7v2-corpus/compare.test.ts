/** The comparator itself: it must find the differences it claims to measure. */
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { compareFacts, completeFragment, extractFacts, newTally, sameTime } from './compare';

const bundle = (...resources: Resource[]): Bundle => ({
  resourceType: 'Bundle',
  type: 'batch',
  entry: resources.map((r) => ({ fullUrl: `urn:uuid:${r.id}`, resource: r })),
});

const report = (id: string, extra: object = {}): Resource =>
  ({
    resourceType: 'DiagnosticReport',
    id,
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '48807-2' }] },
    identifier: [{ type: { coding: [{ code: 'PLAC' }] }, value: 'PLC-1' }],
    effectiveDateTime: '2024-03-12T10:10:00-04:00',
    issued: '2024-03-15T16:55:00-04:00',
    subject: { reference: 'Patient?identifier=urn%3Aoid%3A1.2|MRN-1' },
    ...extra,
  }) as Resource;

const obs = (id: string, extra: object = {}): Resource =>
  ({
    resourceType: 'Observation',
    id,
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '11108-8' }] },
    valueQuantity: { value: 12, unit: '%', system: 'http://unitsofmeasure.org', code: '%' },
    ...extra,
  }) as Resource;

describe('the HL7 v2 output comparator', () => {
  it('reads the same instant in two offsets as equal, and a shifted wall clock as different', () => {
    expect(sameTime('2011-01-03T14:34:28-08:00', '2011-01-04T04:04:28+05:30')).toBe(true);
    expect(sameTime('2024-10-15T03:35:00-04:00', '2024-10-15T03:35:00Z')).toBe(false);
    expect(sameTime('2024-10-15T03:35Z', '2024-10-15T03:35:59Z')).toBe(true); // minute precision on one side
    expect(sameTime('2024-10-15', '2024-10-15T23:00:00+02:00')).toBe(true); // a date against a dateTime
    expect(sameTime('2024-10-15T03:35:00', '2024-10-16T03:35:00Z')).toBe(false);
    expect(sameTime('2024-10-15T03:35:00', '2024-10-15T04:35:00+01:00')).toBe(false); // wall clock without an offset
  });

  it('counts agreement per field over the pairs both sides carry', () => {
    const ours = extractFacts([
      bundle(
        report('r1'),
        obs('o1'),
        obs('o2', { code: { coding: [{ system: 'http://loinc.org', code: '26464-8' }] } }),
      ),
    ]);
    const theirs = extractFacts([
      bundle(
        { resourceType: 'Patient', id: 'p', identifier: [{ value: 'MRN-1' }] } as Resource,
        report('r1', { status: 'preliminary', issued: '2024-03-15T20:55:00Z' }),
        obs('o1', { valueQuantity: { value: 12.5, unit: 'percent' }, status: 'unknown' }),
        obs('o3', { code: { coding: [{ system: 'http://loinc.org', code: '718-7' }] } }),
      ),
    ]);
    const tally = newTally();
    const m = compareFacts(ours, theirs, tally);
    const get = (f: Parameters<typeof tally.get>[0]) => tally.get(f);
    expect(get('patient.identifier')).toMatchObject({ pairs: 1, agree: 1 });
    expect(get('report.status')).toMatchObject({ pairs: 1, agree: 0 });
    expect(get('report.issued')).toMatchObject({ pairs: 1, agree: 1 }); // same instant, other offset
    expect(get('report.placer')).toMatchObject({ pairs: 1, agree: 1 });
    expect(get('observation.value')).toMatchObject({ pairs: 1, agree: 0 });
    expect(get('observation.unit')).toMatchObject({ pairs: 1, agree: 0 }); // '%' vs 'percent' without UCUM
    expect(get('observation.status')).toMatchObject({ pairs: 0 }); // 'unknown' is not carried
    expect(m.observations).toEqual({ matched: 1, oursOnly: 1, expectedOnly: 1 });
  });

  it('skips the fields the harness filled in', () => {
    const ours = extractFacts([bundle(report('r1'))]);
    const theirs = extractFacts([bundle(report('r1', { status: 'corrected' }))]);
    const tally = newTally();
    compareFacts(ours, theirs, tally, new Set(['report.status']));
    expect(tally.get('report.status')?.pairs).toBe(0);
    expect(tally.get('report.code')).toMatchObject({ pairs: 1, agree: 1 });
  });

  it('compares coded values by code (local systems by code only) and strings without formatting escapes', () => {
    const coded = (system: string) =>
      obs('o', { valueQuantity: undefined, valueCodeableConcept: { coding: [{ system, code: 'POS' }] } });
    const t1 = newTally();
    compareFacts(
      extractFacts([bundle(coded('http://marrowbridge.org/fhir/CodeSystem/v2-local/L'))]),
      extractFacts([bundle(coded('LOCAL'))]),
      t1,
    );
    expect(t1.get('observation.value')).toMatchObject({ pairs: 1, agree: 1 });
    const str = (s: string) => obs('o', { valueQuantity: undefined, valueString: s });
    const t2 = newTally();
    compareFacts(
      extractFacts([bundle(str('line one\nline two'))]),
      extractFacts([bundle(str('line one\\.br\\line two'))]),
      t2,
    );
    expect(t2.get('observation.value')).toMatchObject({ pairs: 1, agree: 1 });
  });

  it('fills in the required fields a fragment lacks and names them', () => {
    const fragment = [
      'MSH|^~\\&#|||||20230501102531-0400||ORU^R01^ORU_R01|12345||2.5.1',
      'PID|1',
      'OBR|1|||68991-9^Info^LN|||||||||||||||||||||',
      'OBX|1|NM|8675-3^Fake^LN||5|1^ML^METRIC',
    ].join('\n');
    const c = completeFragment(fragment);
    expect(c?.injected).toEqual(
      new Set([
        'patient.identifier',
        'report.placer',
        'order.placer',
        'report.effective',
        'observation.effective',
        'report.status',
        'observation.status',
      ]),
    );
    const segs = c?.text.split('\r') ?? [];
    expect(segs[1]).toBe('PID|1||SYNTH-MRN-1^^^SYNTH^MR');
    expect(segs[2].split('|')[7]).toBe('20230501102531-0400');
    expect(segs[3].split('|')[11]).toBe('F');
    expect(completeFragment('MSH|^~\\&|A|B|C|D|2024||ORM^O01|1|P|2.5')).toBeUndefined();
  });
});
