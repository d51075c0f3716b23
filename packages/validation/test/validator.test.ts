import type { Bundle, OperationOutcome, Resource } from '@medplum/fhirtypes';
import { createValidator, hasErrors, sharedValidator, summarize, validate, validateJson } from '../src';
import { aspirateSpecimen, blastObservation, bmaReport, bmaServiceRequest, orderBundle } from './fixtures';

const validator = createValidator();

function errors(outcome: OperationOutcome): { expression: string; text: string; diagnostics: string }[] {
  return outcome.issue
    .filter((i) => i.severity === 'error' || i.severity === 'fatal')
    .map((i) => ({
      expression: i.expression?.[0] ?? '',
      text: i.details?.text ?? '',
      diagnostics: i.diagnostics ?? '',
    }));
}

function errorAt(outcome: OperationOutcome, expression: string): { text: string; diagnostics: string } | undefined {
  return errors(outcome).find((e) => e.expression === expression);
}

/** Treat arbitrary JSON as a resource (the validator must cope with anything). */
function asResource(value: unknown): Resource {
  return value as Resource;
}

describe('valid resources', () => {
  it.each([
    ['Specimen', aspirateSpecimen()],
    ['ServiceRequest', bmaServiceRequest()],
    ['DiagnosticReport', bmaReport()],
    ['Observation', blastObservation()],
    ['transaction Bundle', orderBundle()],
  ])('%s passes with no issues', (_name, resource) => {
    const outcome = validator.validate(resource);
    expect(errors(outcome)).toEqual([]);
    expect(hasErrors(outcome)).toBe(false);
    expect(summarize(outcome)).toEqual({ fatal: 0, error: 0, warning: 0, information: 0 });
    expect(outcome.issue[0].details?.text).toBe('No issues found');
  });

  it('reports startup timings of the base R4 load', () => {
    expect(validator.startup.totalMs).toBeGreaterThan(0);
    expect(validator.startup.requiredBindingsExpanded).toBeGreaterThan(200);
  });
});

describe('error classes and their FHIRPath locations', () => {
  it('cardinality: a missing required element', () => {
    const { code: _code, ...obs } = blastObservation();
    const e = errorAt(validator.validate(obs as Resource), 'Observation.code');
    expect(e?.text).toMatch(/Missing required element Observation\.code \(cardinality 1\.\.1\)/);
    expect(e?.diagnostics).toMatch(/cardinality of Observation\.code/);
  });

  it('cardinality: an array for a single-valued element, and a single value for a repeating one', () => {
    const specimen = asResource({ ...aspirateSpecimen(), type: [aspirateSpecimen().type], identifier: { value: 'x' } });
    const outcome = validator.validate(specimen);
    expect(errorAt(outcome, 'Specimen.type')?.text).toMatch(/must be a single value/);
    expect(errorAt(outcome, 'Specimen.identifier')?.text).toMatch(/must be a JSON array/);
  });

  it('unknown property, reported once even though two checkers see it', () => {
    const outcome = validator.validate(
      asResource({ ...aspirateSpecimen(), collection: { ...aspirateSpecimen().collection, site: 'x' } }),
    );
    const found = errors(outcome).filter((e) => e.expression === 'Specimen.collection.site');
    expect(found).toHaveLength(1);
    expect(found[0].text).toMatch(/Unknown element/);
  });

  it('non-R4 elements that Medplum adds to Meta are unknown', () => {
    const outcome = validator.validate(asResource({ ...aspirateSpecimen(), meta: { project: 'p1' } }));
    expect(errorAt(outcome, 'Specimen.meta.project')?.text).toMatch(/Unknown element/);
  });

  it('wrong primitive format: a dateTime with a time but no time zone', () => {
    const specimen = aspirateSpecimen();
    specimen.collection = { ...specimen.collection, collectedDateTime: '2026-03-02T09:15:00' };
    const e = errorAt(validator.validate(specimen), 'Specimen.collection.collected.ofType(dateTime)');
    expect(e?.text).toMatch(/Invalid dateTime value.*time zone/);
  });

  it('wrong primitive format: an impossible date and a malformed id', () => {
    const outcome = validator.validate(asResource({ ...aspirateSpecimen(), id: 'bad_id', receivedTime: '2026-02-30' }));
    expect(errorAt(outcome, 'Specimen.receivedTime')?.text).toMatch(/not a valid calendar date/);
    expect(errorAt(outcome, 'Specimen.id')?.text).toMatch(/Invalid id value/);
  });

  it('bad code for a required binding (Specimen.status)', () => {
    const e = errorAt(validator.validate(asResource({ ...aspirateSpecimen(), status: 'bogus' })), 'Specimen.status');
    expect(e?.text).toMatch(/not in the value set 'SpecimenStatus'/);
    expect(e?.text).toMatch(/available, unavailable, unsatisfactory, entered-in-error/);
    expect(e?.diagnostics).toMatch(/required binding of Specimen\.status/);
  });

  it('bad code for a required binding inside a data type (Quantity.comparator)', () => {
    const obs = asResource({ ...blastObservation(), valueQuantity: { value: 1, comparator: '~' } });
    expect(errorAt(validator.validate(obs), 'Observation.value.ofType(Quantity).comparator')?.text).toMatch(
      /QuantityComparator/,
    );
  });

  it('an extensible binding is not enforced (only required ones are)', () => {
    const obs = asResource({
      ...blastObservation(),
      status: 'final',
      interpretation: [{ coding: [{ system: 'http://example.org/x', code: 'Q' }] }],
    });
    expect(errors(validator.validate(obs))).toEqual([]);
  });

  it('wrong type: a number where a code is expected, at its exact location', () => {
    const specimen = aspirateSpecimen();
    const outcome = validator.validate(
      asResource({
        ...specimen,
        collection: { ...specimen.collection, bodySite: { coding: [{ system: 'http://snomed.info/sct', code: 5 }] } },
      }),
    );
    expect(errorAt(outcome, 'Specimen.collection.bodySite.coding[0].code')?.text).toMatch(
      /Wrong JSON type.*code must be a JSON string/,
    );
  });

  it('wrong type: a string where a Reference object is expected, reported once', () => {
    const outcome = validator.validate(asResource({ ...aspirateSpecimen(), subject: 'Patient/1' }));
    expect(errors(outcome)).toHaveLength(1);
    expect(errors(outcome)[0]).toMatchObject({ expression: 'Specimen.subject' });
    expect(errors(outcome)[0].text).toMatch(/Reference must be a JSON object/);
  });

  it('empty arrays and data type invariants', () => {
    const outcome = validator.validate(
      asResource({
        ...bmaReport(),
        category: [],
        effectivePeriod: { start: '2026-03-02', end: '2026-03-01' },
        effectiveDateTime: undefined,
      }),
    );
    expect(errorAt(outcome, 'DiagnosticReport.category')?.text).toMatch(/Empty array/);
    expect(errorAt(outcome, 'DiagnosticReport.effective.ofType(Period)')?.text).toMatch(/per-1/);
  });

  it('local references must resolve to a contained resource, and contained resources must be referenced', () => {
    const outcome = validator.validate(
      asResource({
        ...blastObservation(),
        contained: [{ resourceType: 'Device', id: 'analyser' }],
        performer: [{ reference: '#nobody' }],
      }),
    );
    expect(errorAt(outcome, 'Observation.performer[0]')?.text).toMatch(/does not resolve/);
    expect(errorAt(outcome, 'Observation.contained[0]')?.text).toMatch(/dom-3/);
  });

  it('a resource-level invariant (obs-6)', () => {
    const obs = { ...blastObservation(), dataAbsentReason: { text: 'not done' } };
    expect(errorAt(validator.validate(obs), 'Observation')?.text).toMatch(/obs-6/);
  });
});

describe('Bundles', () => {
  it('prefixes entry issues with Bundle.entry[i].resource', () => {
    const bundle = orderBundle();
    const entries = bundle.entry ?? [];
    entries[2] = { ...entries[2], resource: asResource({ ...entries[2].resource, status: 'bogus' }) };
    const outcome = validator.validate(bundle);
    expect(errorAt(outcome, 'Bundle.entry[2].resource.status')?.text).toMatch(/SpecimenStatus/);
    expect(errors(outcome)).toHaveLength(1);
  });

  it('checks the root invariants of entry resources (not done by @medplum/core for nested resources)', () => {
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [
        {
          fullUrl: 'urn:uuid:00000000-0000-5000-8000-000000000009',
          resource: { ...blastObservation(), dataAbsentReason: { text: 'x' } },
        },
      ],
    };
    expect(errorAt(validator.validate(bundle), 'Bundle.entry[0].resource')?.text).toMatch(/obs-6/);
  });

  it('reports an entry of unknown type without losing the other issues', () => {
    const outcome = validator.validate(
      asResource({
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          {
            fullUrl: 'urn:uuid:a',
            resource: { resourceType: 'Specimen', status: 'bogus' },
            request: { method: 'POST', url: 'Specimen' },
          },
          {
            fullUrl: 'urn:uuid:b',
            resource: { resourceType: 'NotAType' },
            request: { method: 'POST', url: 'NotAType' },
          },
        ],
      }),
    );
    expect(errorAt(outcome, 'Bundle.entry[1].resource')?.text).toMatch(/Unknown resource type 'NotAType'/);
    expect(errorAt(outcome, 'Bundle.entry[0].resource.status')).toBeDefined();
  });

  it('fullUrl must be absolute; a dangling urn: reference in a transaction is an error', () => {
    const bundle = orderBundle();
    const entries = bundle.entry ?? [];
    entries[0] = { ...entries[0], fullUrl: 'Patient/1' };
    const outcome = validator.validate(bundle);
    expect(errorAt(outcome, 'Bundle.entry[0].fullUrl')?.text).toMatch(/absolute URL/);
    expect(errorAt(outcome, 'Bundle.entry[1].resource.subject')?.text).toMatch(/not the fullUrl of any entry/);
  });
});

describe('robustness and privacy', () => {
  it.each([
    ['null', null],
    ['a string', 'Patient'],
    ['an array', [aspirateSpecimen()]],
    ['no resourceType', { status: 'available' }],
    ['an unknown resourceType', { resourceType: 'Specimens' }],
    ['a Medplum-only resourceType', { resourceType: 'Project' }],
  ])('gives one fatal issue for %s, never an exception', (_name, input) => {
    const outcome = validator.validate(asResource(input));
    expect(outcome.issue).toHaveLength(1);
    expect(outcome.issue[0].severity).toBe('fatal');
    expect(hasErrors(outcome)).toBe(true);
    expect(summarize(outcome).fatal).toBe(1);
  });

  it('keeps patient values out of the messages', () => {
    const outcome = validator.validate(
      asResource({
        resourceType: 'Patient',
        identifier: [
          { system: 'urn:oid:1.2.3', value: 'MRN-SECRET-991', period: { start: '2020-01-01', end: '2019-01-01' } },
        ],
        name: [{ family: 'Qwertyson', given: ['Zebulon'], use: 'nickname-ish' }],
        birthDate: '1971-13-40',
        gender: 'feminine',
        telecom: [{ system: 'phone', value: '  ' }],
      }),
    );
    expect(errors(outcome).length).toBeGreaterThanOrEqual(4);
    const text = JSON.stringify(outcome);
    for (const secret of ['MRN-SECRET-991', 'Qwertyson', 'Zebulon', '1971-13-40', 'feminine', 'nickname-ish']) {
      expect(text).not.toContain(secret);
    }
  });

  it('validateJson: strict JSON, parse errors are fatal with a position and no content', () => {
    const outcome = validateJson('{"resourceType": "Patient", "name": [{"family": "Qwertyson",}]}');
    expect(outcome.issue[0].severity).toBe('fatal');
    expect(outcome.issue[0].details?.text).toMatch(/not valid JSON/);
    expect(JSON.stringify(outcome)).not.toContain('Qwertyson');
    expect(errors(validateJson(JSON.stringify(aspirateSpecimen())))).toEqual([]);
  });

  it('module-level validate() shares one lazily created validator', () => {
    expect(hasErrors(validate(aspirateSpecimen()))).toBe(false);
    expect(hasErrors(validate(asResource({ resourceType: 'Specimen', status: 'nope' })))).toBe(true);
    expect(sharedValidator()).toBe(sharedValidator());
  });

  it('an unknown explicit profile is an error; the base definition is accepted', () => {
    const specimen = aspirateSpecimen();
    for (const base of [
      'http://hl7.org/fhir/StructureDefinition/Specimen',
      'http://hl7.org/fhir/StructureDefinition/Specimen|4.0.1',
    ]) {
      expect(hasErrors(validator.validate(specimen, { profiles: [base] }))).toBe(false);
    }
    const outcome = validator.validate(specimen, {
      profiles: ['http://example.org/fhir/StructureDefinition/not-loaded'],
    });
    expect(outcome.issue[0]).toMatchObject({ severity: 'error', code: 'not-found', expression: ['Specimen'] });
    expect(outcome.issue[0].details?.text).toMatch(/not known to this validator.*--ig/);
  });

  it('never reports the same problem twice at one location', () => {
    const outcome = validator.validate(
      asResource({ ...aspirateSpecimen(), status: 'bogus', foo: 1, receivedTime: '2026-03-02T10:00', identifier: {} }),
    );
    const keys = errors(outcome).map((e) => `${e.expression}|${e.text}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys.filter((k) => k.startsWith('Specimen.status|'))).toHaveLength(1);
  });
});

describe('invariants', () => {
  it('reports every failing resource-level invariant, each once', () => {
    const obs = asResource({
      ...blastObservation(),
      dataAbsentReason: { text: 'not done' },
      contained: [{ resourceType: 'Device', id: 'analyser', meta: { versionId: '3' } }],
      device: { reference: '#analyser' },
    });
    const texts = validator
      .validate(obs)
      .issue.filter((i) => i.expression?.[0] === 'Observation')
      .map((i) => i.details?.text ?? '');
    expect(texts.filter((t) => /obs-6/.test(t))).toHaveLength(1);
    expect(texts.filter((t) => /dom-4/.test(t))).toHaveLength(1);
  });
});
