import type { OperationOutcome, Resource } from '@medplum/fhirtypes';
import { createValidator, parseJsonText } from '../src';
import { checkNarrativeXhtml } from '../src/xhtml';
import { aspirateSpecimen, bmaReport } from './fixtures';

const validator = createValidator();

function errorAt(outcome: OperationOutcome, expression: string): string | undefined {
  return outcome.issue.find(
    (i) => (i.severity === 'error' || i.severity === 'fatal') && i.expression?.[0] === expression,
  )?.details?.text;
}

function errorCount(outcome: OperationOutcome): number {
  return outcome.issue.filter((i) => i.severity === 'error' || i.severity === 'fatal').length;
}

function asResource(value: unknown): Resource {
  return value as Resource;
}

describe('known R4 extensions', () => {
  const mothersFamily = (value: Record<string, unknown>) => ({
    url: 'http://hl7.org/fhir/StructureDefinition/humanname-mothers-family',
    ...value,
  });

  it('accepts an extension in its context with the right value type', () => {
    const patient = asResource({
      resourceType: 'Patient',
      name: [{ family: 'Testperson', _family: { extension: [mothersFamily({ valueString: 'Otherperson' })] } }],
    });
    expect(errorCount(validator.validate(patient))).toBe(0);
  });

  it('rejects an extension outside its context', () => {
    const patient = asResource({
      resourceType: 'Patient',
      name: [{ family: 'Testperson', extension: [mothersFamily({ valueString: 'x' })] }],
    });
    expect(errorAt(validator.validate(patient), 'Patient.name[0].extension[0]')).toMatch(
      /may only be used on: HumanName\.family/,
    );
  });

  it('rejects a value of the wrong type', () => {
    const patient = asResource({
      resourceType: 'Patient',
      name: [{ family: 'Testperson', _family: { extension: [mothersFamily({ valueBoolean: true })] } }],
    });
    expect(errorAt(validator.validate(patient), 'Patient.name[0].family.extension[0].value.ofType(boolean)')).toMatch(
      /does not allow a value of type 'Boolean'.*allowed: string/,
    );
  });

  it('rejects a versioned extension URL and a modifier extension in extension', () => {
    const outcome = validator.validate(
      asResource({
        ...aspirateSpecimen(),
        extension: [
          {
            url: 'http://hl7.org/fhir/StructureDefinition/workflow-episodeOfCare|4.0.1',
            valueReference: { reference: 'EpisodeOfCare/1' },
          },
          { url: 'http://hl7.org/fhir/StructureDefinition/request-doNotPerform', valueBoolean: true },
        ],
      }),
    );
    expect(errorAt(outcome, 'Specimen.extension[0].url')).toMatch(/must not contain a version/);
    expect(errorAt(outcome, 'Specimen.extension[1]')).toMatch(
      /modifier extension and must be placed in modifierExtension/,
    );
  });

  it('accepts the project extensions in their context (their content is checked against their definitions)', () => {
    expect(errorCount(validator.validate(aspirateSpecimen()))).toBe(0);
  });
});

describe('narrative XHTML', () => {
  it('accepts basic formatting, XML entities and resolvable internal links', () => {
    const div =
      '<div xmlns="http://www.w3.org/1999/xhtml"><p id="top">A &amp; B &#169;</p><table><tr><td><a href="#top">up</a></td></tr></table><br/></div>';
    expect(checkNarrativeXhtml(div).problems).toEqual([]);
  });

  it.each([
    ['an HTML entity', '<div xmlns="http://www.w3.org/1999/xhtml">&reg;</div>', /entity '&reg;'/],
    ['a script', '<div xmlns="http://www.w3.org/1999/xhtml"><script>x()</script></div>', /element 'script'/],
    ['an event handler', '<div xmlns="http://www.w3.org/1999/xhtml"><p onclick="x()">a</p></div>', /event handler/],
    ['a missing namespace', '<div><p>a</p></div>', /XHTML namespace/],
    ['unbalanced tags', '<div xmlns="http://www.w3.org/1999/xhtml"><p>a</div>', /does not match/],
    ['a bare ampersand', '<div xmlns="http://www.w3.org/1999/xhtml">a & b</div>', /does not start an entity/],
  ])('reports %s', (_name, div, pattern) => {
    expect(checkNarrativeXhtml(div).problems.join('; ')).toMatch(pattern);
  });

  it('reports a bad narrative at Resource.text.div', () => {
    const report = {
      ...bmaReport(),
      text: { status: 'generated' as const, div: '<div xmlns="http://www.w3.org/1999/xhtml">&nbsp;</div>' },
    };
    expect(errorAt(validator.validate(report), 'DiagnosticReport.text.div')).toMatch(/not acceptable FHIR XHTML/);
  });

  it('reports an internal hyperlink that does not resolve', () => {
    const report = {
      ...bmaReport(),
      text: {
        status: 'generated' as const,
        div: '<div xmlns="http://www.w3.org/1999/xhtml"><a href="#nowhere">x</a></div>',
      },
    };
    expect(errorAt(validator.validate(report), 'DiagnosticReport.text.div')).toMatch(
      /internal hyperlink does not resolve/,
    );
  });
});

describe('rules stated in the specification prose', () => {
  it('Attachment.size must match the decoded data', () => {
    const report = { ...bmaReport(), presentedForm: [{ contentType: 'text/plain', data: 'aGVsbG8=', size: 6 }] };
    expect(errorAt(validator.validate(report), 'DiagnosticReport.presentedForm[0].size')).toMatch(
      /\(6 bytes\).*\(5 bytes\)/,
    );
    const ok = { ...bmaReport(), presentedForm: [{ contentType: 'text/plain', data: 'aGVs\nbG8=', size: 5 }] };
    expect(errorCount(validator.validate(ok))).toBe(0);
  });

  it('base64Binary may contain whitespace but not other characters', () => {
    const bad = { ...bmaReport(), presentedForm: [{ contentType: 'text/plain', data: 'aGVs%G8=' }] };
    expect(errorAt(validator.validate(bad), 'DiagnosticReport.presentedForm[0].data')).toMatch(/Invalid base64Binary/);
  });

  it('Bundle navigation links occur once', () => {
    const bundle = asResource({
      resourceType: 'Bundle',
      type: 'searchset',
      link: [
        { relation: 'self', url: 'https://ehr.example.test/fhir/Specimen?a=1' },
        { relation: 'self', url: 'https://ehr.example.test/fhir/Specimen?a=2' },
      ],
    });
    expect(errorAt(validator.validate(bundle), 'Bundle.link[1]')).toMatch(/relation 'self'.*more than once/);
  });

  it('a CapabilityStatement search parameter must have the type of its definition', () => {
    const cs = asResource({
      resourceType: 'CapabilityStatement',
      status: 'active',
      date: '2026-01-01',
      kind: 'instance',
      fhirVersion: '4.0.1',
      format: ['json'],
      implementation: { description: 'test' },
      rest: [
        {
          mode: 'server',
          resource: [
            {
              type: 'Specimen',
              searchParam: [
                { name: 'status', definition: 'http://hl7.org/fhir/SearchParameter/Specimen-status', type: 'date' },
              ],
            },
          ],
        },
      ],
    });
    expect(errorAt(validator.validate(cs), 'CapabilityStatement.rest[0].resource[0].searchParam[0].type')).toMatch(
      /has type 'token'/,
    );
  });

  it('a profile differential must name elements of its type', () => {
    const sd = asResource({
      resourceType: 'StructureDefinition',
      url: 'http://marrowbridge.org/fhir/StructureDefinition/test-profile',
      name: 'TestProfile',
      status: 'draft',
      kind: 'resource',
      abstract: false,
      type: 'Specimen',
      baseDefinition: 'http://hl7.org/fhir/StructureDefinition/Specimen',
      derivation: 'constraint',
      differential: {
        element: [
          { id: 'Specimen.collection.collected[x]', path: 'Specimen.collection.collected[x]', min: 1 },
          { id: 'Specimen.collection.collectedDateTime', path: 'Specimen.collection.collectedDateTime' },
          {
            id: 'Specimen.collection.bodySite.coding.system',
            path: 'Specimen.collection.bodySite.coding.system',
            min: 1,
          },
          { id: 'Specimen.collection.site', path: 'Specimen.collection.site', min: 1 },
        ],
      },
    });
    const outcome = validator.validate(sd);
    expect(errorCount(outcome)).toBe(1);
    expect(errorAt(outcome, 'StructureDefinition.differential.element[3].path')).toMatch(/does not exist in Specimen/);
  });
});

describe('strict JSON text', () => {
  it.each([
    ['a comment', '{"resourceType": "Patient", // note\n "gender": "male"}', /comments are not allowed/, 'Patient'],
    [
      'a trailing comma',
      '{"resourceType": "Patient", "name": [{"given": ["A",]}]}',
      /trailing comma/,
      'Patient.name[0].given',
    ],
    [
      'an unquoted name',
      '{"resourceType": "Patient", gender: "male"}',
      /property names must be in double quotes/,
      'Patient',
    ],
    ['a missing comma', '{"resourceType": "Patient" "gender": "male"}', /missing comma/, 'Patient'],
  ])('reports %s with its position and location', (_name, text, reason, expression) => {
    const parsed = parseJsonText(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.issue.details?.text).toMatch(reason);
      expect(parsed.issue.details?.text).toMatch(/line \d+, column \d+/);
      expect(parsed.issue.expression).toEqual([expression]);
    }
  });

  it('reports a property given twice', () => {
    const outcome = validator.validateJson(
      '{"resourceType": "Specimen", "status": "available", "status": "unavailable"}',
    );
    expect(errorAt(outcome, 'Specimen')).toMatch(/'status' occurs more than once/);
  });
});
