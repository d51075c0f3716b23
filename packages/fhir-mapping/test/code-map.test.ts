import type { ResultUpdate } from '@marrowbridge/model';
import type { DiagnosticReport, Observation } from '@medplum/fhirtypes';
import { codeMapKey, mapResultUpdate, type CodeMap } from '../src';
import { sampleInput } from './support/samples';

const LOCAL = 'http://lis.example.org/fhir/CodeSystem/bma-results';
const FIND = 'http://lis.example.org/fhir/CodeSystem/bma-findings';
const blastsStandard = { system: 'http://example.org/standard', code: 'STD-BLAST', display: 'Blasts (standard)' };

function observations(update: ResultUpdate, codeMap?: CodeMap): Observation[] {
  return mapResultUpdate(update, { codeMap })
    .entry!.filter((e) => e.resource?.resourceType === 'Observation')
    .map((e) => e.resource as Observation);
}

describe('code map', () => {
  const update = sampleInput<ResultUpdate>('result-mixed-values');

  it('adds standard codings after a local observation code, keeping the local one', () => {
    const map: CodeMap = { [codeMapKey(LOCAL, 'BM-BLAST')]: [blastsStandard] };
    const blasts = observations(update, map).find((o) => o.code.coding![0].code === 'BM-BLAST')!;
    expect(blasts.code.coding).toEqual([
      { system: LOCAL, code: 'BM-BLAST', display: 'Blasts/cells in Bone marrow by Manual count' },
      blastsStandard,
    ]);
  });

  it('also maps the sender local code kept beside a standard one, and coded values', () => {
    const map: CodeMap = {
      [codeMapKey('urn:oid:2.16.840.1.113883.3.9999.8', 'BMLYM')]: [{ system: 'http://example.org/x', code: 'L1' }],
      [codeMapKey(FIND, 'HYPOLOBATED')]: [{ system: 'http://example.org/y', code: 'V1', display: 'Mapped value' }],
    };
    const obs = observations(update, map);
    const lymph = obs.find((o) => o.code.coding![0].code === '11108-8')!;
    expect(lymph.code.coding!.map((c) => c.code)).toEqual(['11108-8', 'BMLYM', 'L1']);
    const mega = obs.find((o) => o.code.coding![0].code === 'MEGA-MORPH')!;
    expect(mega.valueCodeableConcept!.coding!.map((c) => c.code)).toEqual(['HYPOLOBATED', 'V1']);
  });

  it('maps report codes and conclusion codes too', () => {
    const flow = sampleInput<ResultUpdate>('result-flow-cytometry-pdf');
    flow.reportCode = { system: LOCAL, code: 'FLOW-PANEL', display: 'Flow panel' };
    const map: CodeMap = { [codeMapKey(LOCAL, 'FLOW-PANEL')]: [{ system: 'http://loinc.org', code: '101119-6' }] };
    const report = mapResultUpdate(flow, { codeMap: map }).entry!.find(
      (e) => e.resource?.resourceType === 'DiagnosticReport',
    )!.resource as DiagnosticReport;
    expect(report.code.coding!.map((c) => c.code)).toEqual(['FLOW-PANEL', '101119-6']);
  });

  it('does not repeat a coding the input already has', () => {
    const map: CodeMap = {
      [codeMapKey(LOCAL, 'BM-BLAST')]: [{ system: LOCAL, code: 'BM-BLAST' }, blastsStandard, blastsStandard],
    };
    const blasts = observations(update, map).find((o) => o.code.coding![0].code === 'BM-BLAST')!;
    expect(blasts.code.coding!.map((c) => c.code)).toEqual(['BM-BLAST', 'STD-BLAST']);
  });

  it('changes nothing without a map or for unmapped codes, and leaves the key alone', () => {
    const plain = JSON.stringify(mapResultUpdate(update));
    expect(JSON.stringify(mapResultUpdate(update, { codeMap: {} }))).toBe(plain);
    expect(JSON.stringify(mapResultUpdate(update, { codeMap: { 'http://x|y': [blastsStandard] } }))).toBe(plain);
    const mapped = mapResultUpdate(update, { codeMap: { [codeMapKey(LOCAL, 'BM-BLAST')]: [blastsStandard] } });
    expect(mapped.entry!.map((e) => e.fullUrl)).toEqual(mapResultUpdate(update).entry!.map((e) => e.fullUrl));
  });
});
