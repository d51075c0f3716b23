import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Resource, StructureDefinition } from '@medplum/fhirtypes';
import { createValidator, hasErrors, loadIg } from '../src';
import { parseFhirXml } from '../src/xml';

const PROFILE_XML = `<?xml version="1.0" encoding="UTF-8"?>
<!-- a synthetic profile, as an engineer might keep it in XML -->
<StructureDefinition xmlns="http://hl7.org/fhir">
  <url value="http://example.org/fhir/StructureDefinition/patient-with-mrn"/>
  <name value="PatientWithMrn"/>
  <status value="draft"/>
  <kind value="resource"/>
  <abstract value="false"/>
  <type value="Patient"/>
  <baseDefinition value="http://hl7.org/fhir/StructureDefinition/Patient"/>
  <derivation value="constraint"/>
  <differential>
    <element id="Patient.identifier">
      <path value="Patient.identifier"/>
      <min value="1"/>
    </element>
    <element id="Patient.active">
      <path value="Patient.active"/>
      <fixedBoolean value="true"/>
    </element>
  </differential>
</StructureDefinition>`;

describe('FHIR XML conformance resources', () => {
  it('converts an XML StructureDefinition to its JSON form (arrays, booleans, numbers, choice names)', () => {
    const sd = parseFhirXml(PROFILE_XML) as unknown as StructureDefinition;
    expect(sd.resourceType).toBe('StructureDefinition');
    expect(sd.abstract).toBe(false);
    expect(sd.differential?.element).toEqual([
      { id: 'Patient.identifier', path: 'Patient.identifier', min: 1 },
      { id: 'Patient.active', path: 'Patient.active', fixedBoolean: true },
    ]);
  });

  it('keeps the narrative as XHTML text and primitive extensions in _name', () => {
    const xml = `<Patient xmlns="http://hl7.org/fhir"><text><status value="generated"/><div xmlns="http://www.w3.org/1999/xhtml"><p>A &amp; B</p></div></text>
      <birthDate value="1970-03-04"><extension url="http://example.org/x"><valueString value="y"/></extension></birthDate></Patient>`;
    const patient = parseFhirXml(xml) as Record<string, unknown>;
    expect(patient.text).toEqual({
      status: 'generated',
      div: '<div xmlns="http://www.w3.org/1999/xhtml"><p>A &amp; B</p></div>',
    });
    expect(patient.birthDate).toBe('1970-03-04');
    expect(patient._birthDate).toEqual({ extension: [{ url: 'http://example.org/x', valueString: 'y' }] });
  });

  it('rejects malformed XML and unknown elements with a reason', () => {
    expect(() => parseFhirXml('<Patient xmlns="http://hl7.org/fhir"><active value="true"></Patient>')).toThrow(
      /mismatched end tag/,
    );
    expect(() => parseFhirXml('<Patient xmlns="http://hl7.org/fhir"><colour value="red"/></Patient>')).toThrow(
      /unknown element 'colour'/,
    );
  });

  it('an XML profile loaded with loadIg is enforced', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-xml-'));
    fs.writeFileSync(path.join(dir, 'profile.xml'), PROFILE_XML);
    const ig = loadIg([dir]);
    expect(ig.problems).toEqual([]);
    const validator = createValidator({ conformance: ig.resources });
    const url = 'http://example.org/fhir/StructureDefinition/patient-with-mrn';
    const patient = {
      resourceType: 'Patient',
      active: true,
      identifier: [{ system: 'urn:example:mrn', value: 'MRN-T-1' }],
    };
    expect(hasErrors(validator.validate(patient as Resource, { profiles: [url] }))).toBe(false);
    const outcome = validator.validate({ resourceType: 'Patient', active: false } as Resource, { profiles: [url] });
    expect(outcome.issue.filter((i) => i.severity === 'error').map((i) => i.expression?.[0])).toEqual([
      'Patient.identifier',
      'Patient.active',
    ]);
  });
});
