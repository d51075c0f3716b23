import type { DiagnosticReport, Patient } from '@medplum/fhirtypes';
import { applyJsonPatch, contentOf, contentPatch, sameContent } from '../src/diff';
import { rewriteReferences } from '../src/references';

const base: DiagnosticReport = {
  resourceType: 'DiagnosticReport',
  id: '7',
  meta: { versionId: '3', lastUpdated: '2024-05-01T08:00:00Z' },
  text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">x</div>' },
  status: 'preliminary',
  code: { coding: [{ system: 'http://loinc.org', code: '48807-2' }] },
  result: [{ reference: 'Observation/1' }, { reference: 'Observation/2' }],
  conclusion: 'Hypercellular marrow.',
};

describe('content comparison', () => {
  it('ignores id, meta and text, and member order', () => {
    const incoming: DiagnosticReport = {
      conclusion: 'Hypercellular marrow.',
      result: [{ reference: 'Observation/1' }, { reference: 'Observation/2' }],
      code: { coding: [{ code: '48807-2', system: 'http://loinc.org' }] },
      status: 'preliminary',
      resourceType: 'DiagnosticReport',
    };
    expect(sameContent(base, incoming)).toBe(true);
    expect(contentOf(base)).not.toHaveProperty('meta');
    expect(sameContent(base, { ...incoming, status: 'final' })).toBe(false);
  });

  it('array order matters; empty arrays and undefined members do not', () => {
    expect(sameContent(base, { ...base, result: [...(base.result ?? [])].reverse() })).toBe(false);
    expect(sameContent(base, { ...base, performer: [], presentedForm: undefined })).toBe(true);
  });

  it('keeps nulls that align primitive extensions', () => {
    const p: Patient = {
      resourceType: 'Patient',
      name: [{ given: ['A', 'B'], _given: [null, { extension: [{ url: 'http://e', valueString: 'x' }] }] } as never],
    };
    expect(contentOf(p)).toEqual({
      resourceType: 'Patient',
      name: [{ given: ['A', 'B'], _given: [null, { extension: [{ url: 'http://e', valueString: 'x' }] }] }],
    });
  });
});

describe('JSON Patch diffs', () => {
  const cases: [string, DiagnosticReport][] = [
    ['a replaced value', { ...base, status: 'final' }],
    ['an added element', { ...base, issued: '2024-05-02T08:00:00Z' }],
    ['a removed element', { ...base, conclusion: undefined }],
    [
      'an inserted array item',
      {
        ...base,
        result: [{ reference: 'Observation/1' }, { reference: 'Observation/9' }, { reference: 'Observation/2' }],
      },
    ],
    ['a removed array item', { ...base, result: [{ reference: 'Observation/2' }] }],
    [
      'a nested change',
      { ...base, code: { coding: [{ system: 'http://loinc.org', code: '48807-2', display: 'BM report' }] } },
    ],
  ];
  it.each(cases)('%s: applying the patch to the current content gives the new content', (_label, next) => {
    const patch = contentPatch(base, next);
    expect(patch.length).toBeGreaterThan(0);
    expect(patch.every((op) => !op.path.startsWith('/meta') && !op.path.startsWith('/id'))).toBe(true);
    expect(applyJsonPatch(contentOf(base), patch)).toEqual(contentOf(next));
  });

  it('is empty for equal content and precise for one change', () => {
    expect(contentPatch(base, { ...base, id: 'other', meta: {} })).toEqual([]);
    expect(contentPatch(base, { ...base, status: 'final' })).toEqual([
      { op: 'replace', path: '/status', value: 'final' },
    ]);
  });
});

describe('rewriteReferences', () => {
  it('maps, keeps or removes references anywhere in a resource without touching the input', () => {
    const r = {
      resourceType: 'ServiceRequest',
      subject: { reference: 'urn:uuid:a', display: 'x' },
      specimen: [{ reference: 'urn:uuid:b' }],
      supportingInfo: [{ reference: 'urn:uuid:b' }, { reference: 'Observation/5' }],
      extension: [{ url: 'http://e', valueReference: { reference: 'urn:uuid:a' } }],
    };
    const out = rewriteReferences(r, (ref) =>
      ref === 'urn:uuid:a' ? 'Patient/1' : ref === 'urn:uuid:b' ? null : undefined,
    );
    expect(out).toEqual({
      resourceType: 'ServiceRequest',
      subject: { reference: 'Patient/1', display: 'x' },
      supportingInfo: [{ reference: 'Observation/5' }],
      extension: [{ url: 'http://e', valueReference: { reference: 'Patient/1' } }],
    });
    expect(r.specimen).toEqual([{ reference: 'urn:uuid:b' }]);
  });
});
