import type { DiagnosticReport, Patient } from '@medplum/fhirtypes';
import { applyJsonPatch, canonicalJson, contentOf, contentPatch, sameContent } from '../src/diff';
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

  it('agrees with comparing the canonical JSON of contentOf on 5,000 random pairs', () => {
    let seed = 7;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return Math.floor(seed / 2 ** 16) % n; // the high bits: the low ones of this generator cycle quickly
    };
    const leaves: unknown[] = [undefined, null, 0, 1, 'a', 'b', true, [], {}, [null], { x: undefined }];
    const value = (depth: number): unknown => {
      const pick = rand(depth > 2 ? 2 : 4);
      if (pick === 0 || pick === 1) return leaves[rand(leaves.length)];
      const n = rand(3);
      if (pick === 2) return Array.from({ length: n }, () => value(depth + 1));
      return Object.fromEntries(Array.from({ length: n }, () => [['a', 'b', 'c'][rand(3)], value(depth + 1)]));
    };
    const resource = (): DiagnosticReport =>
      ({ resourceType: 'DiagnosticReport', id: String(rand(2)), x: value(0), y: value(0) }) as never;
    /** A copy with one small change somewhere (or none): a leaf replaced, an item appended, keys reordered. */
    const mutate = (v: unknown): unknown => {
      if (Array.isArray(v)) {
        const copy = v.map((x) => (rand(3) === 0 ? mutate(x) : x));
        if (rand(4) === 0) copy.push(leaves[rand(leaves.length)]);
        return copy;
      }
      if (v && typeof v === 'object') {
        const entries = Object.entries(v).map(([k, x]): [string, unknown] => [k, rand(3) === 0 ? mutate(x) : x]);
        if (rand(4) === 0) entries.push([['a', 'b', 'c', 'd'][rand(4)], leaves[rand(leaves.length)]]);
        return Object.fromEntries(rand(2) === 0 ? entries.reverse() : entries);
      }
      return rand(4) === 0 ? leaves[rand(leaves.length)] : v;
    };
    const canonical = (r: DiagnosticReport) => canonicalJson(contentOf(r));
    let equalPairs = 0;
    for (let i = 0; i < 5000; i++) {
      const a = resource();
      const b = rand(4) === 0 ? resource() : (mutate(a) as DiagnosticReport);
      const expected = canonical(a) === canonical(b);
      if (expected) equalPairs++;
      expect([JSON.stringify(a), JSON.stringify(b), sameContent(a, b)]).toEqual([
        JSON.stringify(a),
        JSON.stringify(b),
        expected,
      ]);
    }
    expect(equalPairs).toBeGreaterThan(250); // both outcomes are well represented
    expect(equalPairs).toBeLessThan(4500);
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

  it('copies only the path to a changed reference and shares the rest with the input', () => {
    const coding = { system: 'http://loinc.org', code: '1-8' };
    const r = {
      resourceType: 'Observation',
      code: { coding: [coding] },
      subject: { reference: 'urn:uuid:a' },
      hasMember: [{ reference: 'Observation/1' }, { reference: 'urn:uuid:a' }],
    };
    const before = structuredClone(r);
    const out = rewriteReferences(r, (ref) => (ref === 'urn:uuid:a' ? 'Patient/1' : undefined));
    expect(out).toEqual({
      ...before,
      subject: { reference: 'Patient/1' },
      hasMember: [{ reference: 'Observation/1' }, { reference: 'Patient/1' }],
    });
    expect(r).toEqual(before);
    expect(out).not.toBe(r);
    expect(out.code).toBe(r.code);
    expect(out.hasMember).not.toBe(r.hasMember);
    expect(out.hasMember[0]).toBe(r.hasMember[0]);
    // Nothing to change: the very same object comes back.
    expect(rewriteReferences(r, () => undefined)).toBe(r);
    expect(rewriteReferences(r, (ref) => ref)).toBe(r);
  });
});
