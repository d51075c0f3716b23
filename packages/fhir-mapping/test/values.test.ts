import type { ObservationResult, ResultUpdate } from '@marrowbridge/model';
import type { Observation } from '@medplum/fhirtypes';
import { mapResultUpdate, MappingError } from '../src';
import { sampleInput } from './support/samples';

const LOINC = 'http://loinc.org';
const VALUE_KEYS = [
  'valueQuantity',
  'valueCodeableConcept',
  'valueString',
  'valueRatio',
  'valueRange',
  'valueDateTime',
  'valueTime',
  'valueBoolean',
  'valueInteger',
  'valuePeriod',
  'valueSampledData',
];

/** Maps one result inside the final aspirate report sample and returns its Observation. */
function observationFor(result: Partial<ObservationResult>): Observation {
  const update = sampleInput<ResultUpdate>('result-aspirate-2-final');
  update.observations = [
    {
      code: { system: LOINC, code: '11108-8', display: 'Lymphocytes' },
      status: 'final',
      ...result,
    } as ObservationResult,
  ];
  const bundle = mapResultUpdate(update);
  return bundle.entry!.find((e) => e.resource?.resourceType === 'Observation')!.resource as Observation;
}

function valueKeys(o: Observation): string[] {
  return Object.keys(o).filter((k) => VALUE_KEYS.includes(k));
}

describe('Observation value[x] per canonical value kind', () => {
  it('quantity → valueQuantity with UCUM system and code', () => {
    const o = observationFor({ value: { type: 'quantity', value: 12.5, unit: '%' } });
    expect(valueKeys(o)).toEqual(['valueQuantity']);
    expect(o.valueQuantity).toEqual({ value: 12.5, unit: '%', system: 'http://unitsofmeasure.org', code: '%' });
  });

  it('quantity with a comparator keeps it (SN "<5")', () => {
    const o = observationFor({ value: { type: 'quantity', value: 5, unit: '%', comparator: '<' } });
    expect(o.valueQuantity).toEqual({
      value: 5,
      comparator: '<',
      unit: '%',
      system: 'http://unitsofmeasure.org',
      code: '%',
    });
  });

  it('quantity without a unit has no UCUM system', () => {
    const o = observationFor({ value: { type: 'quantity', value: 3 } });
    expect(o.valueQuantity).toEqual({ value: 3 });
  });

  it('coded → valueCodeableConcept with the coding and text', () => {
    const coding = { system: 'http://lis.example.org/values', code: 'HYPO', display: 'Hypolobated' };
    const o = observationFor({ value: { type: 'coded', coding, text: 'Hypolobated megakaryocytes' } });
    expect(valueKeys(o)).toEqual(['valueCodeableConcept']);
    expect(o.valueCodeableConcept).toEqual({ coding: [coding], text: 'Hypolobated megakaryocytes' });
  });

  it('string → valueString (an ISCN karyotype stays a string)', () => {
    const o = observationFor({ value: { type: 'string', value: '46,XX,del(5)(q13q33)[16]/46,XX[4]' } });
    expect(valueKeys(o)).toEqual(['valueString']);
    expect(o.valueString).toBe('46,XX,del(5)(q13q33)[16]/46,XX[4]');
  });

  it('ratio → valueRatio (M:E ratio 3:1)', () => {
    const o = observationFor({ value: { type: 'ratio', numerator: 3, denominator: 1 } });
    expect(valueKeys(o)).toEqual(['valueRatio']);
    expect(o.valueRatio).toEqual({ numerator: { value: 3 }, denominator: { value: 1 } });
  });

  it('range → valueRange with UCUM low and high', () => {
    const o = observationFor({ value: { type: 'range', low: 1, high: 3, unit: '%' } });
    expect(valueKeys(o)).toEqual(['valueRange']);
    expect(o.valueRange).toEqual({
      low: { value: 1, unit: '%', system: 'http://unitsofmeasure.org', code: '%' },
      high: { value: 3, unit: '%', system: 'http://unitsofmeasure.org', code: '%' },
    });
  });

  it('range with one bound has only that bound', () => {
    const o = observationFor({ value: { type: 'range', high: 3 } });
    expect(o.valueRange).toEqual({ high: { value: 3 } });
  });

  it('dateTime → valueDateTime, with seconds added where FHIR needs them', () => {
    expect(observationFor({ value: { type: 'dateTime', value: '2026-03-04T09:15-05:00' } }).valueDateTime).toBe(
      '2026-03-04T09:15:00-05:00',
    );
    expect(observationFor({ value: { type: 'dateTime', value: '2026-03-04' } }).valueDateTime).toBe('2026-03-04');
  });

  it('time → valueTime as hh:mm:ss', () => {
    const o = observationFor({ value: { type: 'time', value: '09:15' } });
    expect(valueKeys(o)).toEqual(['valueTime']);
    expect(o.valueTime).toBe('09:15:00');
    expect(observationFor({ value: { type: 'time', value: '09:15:30' } }).valueTime).toBe('09:15:30');
  });
});

describe('absent values, flags and ranges', () => {
  it('dataAbsentReason when there is no value, never beside one', () => {
    const o = observationFor({ dataAbsentReason: 'not-performed' });
    expect(valueKeys(o)).toEqual([]);
    expect(o.dataAbsentReason).toEqual({
      coding: [
        {
          system: 'http://terminology.hl7.org/CodeSystem/data-absent-reason',
          code: 'not-performed',
          display: 'Not Performed',
        },
      ],
    });
    const both = observationFor({ value: { type: 'string', value: 'x' }, dataAbsentReason: 'unknown' });
    expect(both.dataAbsentReason).toBeUndefined();
  });

  it('a cancelled result without value is marked not performed', () => {
    const o = observationFor({ status: 'cancelled' });
    expect(o.status).toBe('cancelled');
    expect(o.dataAbsentReason?.coding?.[0].code).toBe('not-performed');
  });

  it('interpretation flags use v3 ObservationInterpretation', () => {
    const o = observationFor({ value: { type: 'quantity', value: 41, unit: '%' }, interpretation: ['H', 'A'] });
    expect(o.interpretation).toEqual([
      {
        coding: [
          { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation', code: 'H', display: 'High' },
        ],
      },
      {
        coding: [
          {
            system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation',
            code: 'A',
            display: 'Abnormal',
          },
        ],
      },
    ]);
  });

  it('reference range: UCUM low/high plus the text', () => {
    const o = observationFor({
      value: { type: 'quantity', value: 41, unit: '%' },
      referenceRange: { low: 15, high: 35, unit: '%', text: '15-35%' },
    });
    expect(o.referenceRange).toEqual([
      {
        low: { value: 15, unit: '%', system: 'http://unitsofmeasure.org', code: '%' },
        high: { value: 35, unit: '%', system: 'http://unitsofmeasure.org', code: '%' },
        text: '15-35%',
      },
    ]);
  });

  it('notes, own effective time, sub-id in the key, and the named specimen', () => {
    const update = sampleInput<ResultUpdate>('result-aspirate-2-final');
    update.specimenIds = [
      { system: 'urn:oid:2.16.840.1.113883.3.9999.4', value: 'SP-26-000214-1' },
      { system: 'urn:oid:2.16.840.1.113883.3.9999.4', value: 'SP-26-000214-2' },
    ];
    update.observations = [
      {
        code: { system: LOINC, code: '33893-9' },
        subId: '2',
        status: 'final',
        value: { type: 'string', value: '46,XX[20]' },
        effective: '2026-03-08T10:00-05:00',
        specimenId: 'SP-26-000214-2',
        notes: ['20 metaphases'],
      },
    ];
    const o = mapResultUpdate(update).entry!.find((e) => e.resource?.resourceType === 'Observation')!
      .resource as Observation;
    expect(o.effectiveDateTime).toBe('2026-03-08T10:00:00-05:00');
    expect(o.issued).toBe(update.issued);
    expect(o.note).toEqual([{ text: '20 metaphases' }]);
    expect(o.identifier![0].value).toMatch(/::loinc:48807-2::loinc:33893-9::2$/);
    expect(o.specimen!.reference).toBe(`Specimen?identifier=urn%3Aoid%3A2.16.840.1.113883.3.9999.4|SP-26-000214-2`);
  });

  it('rejects a specimen the report does not list, and two results with one key', () => {
    const update = sampleInput<ResultUpdate>('result-aspirate-2-final');
    update.observations[0].specimenId = 'SP-NOT-IN-REPORT';
    expect(() => mapResultUpdate(update)).toThrow(expect.objectContaining({ kind: 'invalid' }));
    expect(() => mapResultUpdate(update)).toThrow(MappingError);
    const dup = sampleInput<ResultUpdate>('result-aspirate-2-final');
    dup.observations.push({ ...dup.observations[0] });
    expect(() => mapResultUpdate(dup)).toThrow(/two entries share the key/);
    expect(() => mapResultUpdate(dup)).toThrow(expect.objectContaining({ kind: 'duplicate-key' }));
  });
});
