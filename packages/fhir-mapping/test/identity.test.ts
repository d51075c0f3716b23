import type { DiagnosticReport } from '@medplum/fhirtypes';
import type { ResultUpdate } from '@marrowbridge/model';
import {
  conditionalReference,
  conditionalUrl,
  deterministicUuid,
  mapResultUpdate,
  observationKey,
  OBSERVATION_KEY_SYSTEM,
  procedureKey,
  PROCEDURE_KEY_SYSTEM,
  reportKey,
  REPORT_KEY_SYSTEM,
  UUID_NAMESPACE,
} from '../src';
import { sampleInput } from './support/samples';

const placer = { system: 'urn:oid:1.2.3', value: 'ORD-1' };

describe('keys and identifiers', () => {
  it('deterministicUuid is a stable RFC 4122 version-5 UUID of type|system|value', () => {
    const a = deterministicUuid('Patient', 'urn:oid:1.2.3', 'MRN-1');
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(deterministicUuid('Patient', 'urn:oid:1.2.3', 'MRN-1')).toBe(a);
    expect(deterministicUuid('Practitioner', 'urn:oid:1.2.3', 'MRN-1')).not.toBe(a);
    expect(deterministicUuid('Patient', 'urn:oid:1.2.3', 'MRN-2')).not.toBe(a);
    // Pinned, and computed independently with Python's uuid.uuid5 (NAMESPACE_URL, then the project
    // namespace): changing the namespace or the name format would orphan every fullUrl already sent.
    expect(UUID_NAMESPACE).toBe('d38d3dc5-ed6e-5f5a-aa02-b509e1ad07df');
    expect(a).toBe('af4c2151-f0c9-5edf-ac34-7ecd4d8d6438');
  });

  it('conditional URLs encode system and value, not the bar between them', () => {
    expect(conditionalUrl('Patient', { system: 'urn:oid:1.2.3', value: 'MRN 1/a' })).toBe(
      'Patient?identifier=urn%3Aoid%3A1.2.3|MRN%201%2Fa',
    );
    expect(conditionalReference('Patient', { system: 'urn:oid:1.2.3', value: 'MRN-1' })).toEqual({
      reference: 'Patient?identifier=urn%3Aoid%3A1.2.3|MRN-1',
    });
  });

  it('procedure, report and observation keys follow the contract', () => {
    expect(procedureKey({ placerOrderNumber: placer })).toEqual({
      system: PROCEDURE_KEY_SYSTEM,
      value: 'urn:oid:1.2.3::ORD-1',
    });
    const loincReport = reportKey({
      placerOrderNumber: placer,
      reportCode: { system: 'http://loinc.org', code: '48807-2' },
    });
    expect(loincReport).toEqual({ system: REPORT_KEY_SYSTEM, value: 'urn:oid:1.2.3::ORD-1::loinc:48807-2' });
    expect(
      reportKey({ placerOrderNumber: placer, reportCode: { system: 'http://snomed.info/sct', code: '123' } }).value,
    ).toBe('urn:oid:1.2.3::ORD-1::snomed:123');
    expect(
      reportKey({ placerOrderNumber: placer, reportCode: { system: 'http://lis.example/codes', code: 'X' } }).value,
    ).toBe('urn:oid:1.2.3::ORD-1::http://lis.example/codes:X');
    expect(observationKey(loincReport, { code: { system: 'http://loinc.org', code: '11108-8' } })).toEqual({
      system: OBSERVATION_KEY_SYSTEM,
      value: 'urn:oid:1.2.3::ORD-1::loinc:48807-2::loinc:11108-8',
    });
    expect(
      observationKey(loincReport, { code: { system: 'http://loinc.org', code: '11108-8' }, subId: '2' }).value,
    ).toBe('urn:oid:1.2.3::ORD-1::loinc:48807-2::loinc:11108-8::2');
  });

  it('the report carries its key, PLAC and FILL; the filler number is not part of the key', () => {
    const update = sampleInput<ResultUpdate>('result-aspirate-2-final');
    const report = mapResultUpdate(update).entry!.find((e) => e.resource?.resourceType === 'DiagnosticReport')!;
    const ids = (report.resource as DiagnosticReport).identifier!;
    expect(ids[0]).toEqual(reportKey(update));
    expect(ids.slice(1).map((i) => i.type!.coding![0].code)).toEqual(['PLAC', 'FILL']);
    const withoutFiller = { ...update, fillerOrderNumber: undefined };
    const other = mapResultUpdate(withoutFiller).entry!.find((e) => e.resource?.resourceType === 'DiagnosticReport')!;
    expect(other.fullUrl).toBe(report.fullUrl);
    expect(other.request).toEqual(report.request);
  });
});
