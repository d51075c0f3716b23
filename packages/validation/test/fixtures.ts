/** Synthetic BMA resources (invented patient, MRN and order numbers) used by the validation tests, and the corpora. */
import fs from 'node:fs';
import path from 'node:path';
import { loadInvalidExamples, loadValidExamples } from '@marrowbridge/fhir-profiles';
import { tryGetDataType } from '@medplum/core';
import { externalDir } from '../../../test/support/paths';
import type {
  Bundle,
  BundleEntry,
  DiagnosticReport,
  Observation,
  Resource,
  ServiceRequest,
  Specimen,
} from '@medplum/fhirtypes';

export const PATIENT_REF = { reference: 'Patient?identifier=urn%3Aoid%3A1.2.3|MRN-TEST-0001' };

export function aspirateSpecimen(): Specimen {
  return {
    resourceType: 'Specimen',
    identifier: [
      {
        type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'SID' }] },
        system: 'urn:oid:1.2.3.4',
        value: 'SP-TEST-1',
      },
    ],
    status: 'available',
    type: {
      coding: [
        {
          system: 'http://snomed.info/sct',
          code: '396997002',
          display: 'Specimen from bone marrow obtained by aspiration',
        },
        { system: 'http://terminology.hl7.org/CodeSystem/v2-0487', code: 'MAR' },
      ],
    },
    subject: PATIENT_REF,
    collection: {
      collectedDateTime: '2026-03-02T09:15:00+01:00',
      method: { coding: [{ system: 'http://snomed.info/sct', code: '129316008', display: 'Aspiration - action' }] },
      bodySite: {
        coding: [{ system: 'http://snomed.info/sct', code: '22356005', display: 'Ilium structure' }],
        extension: [
          {
            url: 'http://marrowbridge.org/fhir/StructureDefinition/bodysite-laterality',
            valueCodeableConcept: { coding: [{ system: 'http://snomed.info/sct', code: '7771000', display: 'Left' }] },
          },
        ],
      },
      quantity: { value: 2, unit: 'mL', system: 'http://unitsofmeasure.org', code: 'mL' },
    },
  };
}

export function bmaServiceRequest(): ServiceRequest {
  return {
    resourceType: 'ServiceRequest',
    identifier: [
      {
        type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'PLAC' }] },
        system: 'urn:oid:1.2.3.5',
        value: 'ORD-TEST-77',
      },
    ],
    status: 'active',
    intent: 'order',
    priority: 'routine',
    code: {
      coding: [
        { system: 'http://snomed.info/sct', code: '49401003', display: 'Bone marrow aspiration procedure' },
        { system: 'http://www.ama-assn.org/go/cpt', code: '38220' },
      ],
    },
    orderDetail: [{ coding: [{ system: 'http://marrowbridge.org/fhir/CodeSystem/bma-study', code: 'morphology' }] }],
    subject: PATIENT_REF,
    authoredOn: '2026-03-01T16:00:00Z',
  };
}

export function bmaReport(): DiagnosticReport {
  return {
    resourceType: 'DiagnosticReport',
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'HM' }] }],
    code: { coding: [{ system: 'http://loinc.org', code: '48807-2', display: 'Bone marrow aspiration report' }] },
    subject: PATIENT_REF,
    effectiveDateTime: '2026-03-02T09:15:00+01:00',
    issued: '2026-03-03T11:00:00.000+01:00',
    conclusion: 'Normocellular marrow with trilineage haematopoiesis.',
  };
}

export function blastObservation(): Observation {
  return {
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '11150-2', display: 'Blasts/100 cells in Bone marrow' }] },
    subject: PATIENT_REF,
    valueQuantity: { value: 2.5, unit: '%', system: 'http://unitsofmeasure.org', code: '%' },
  };
}

export function orderBundle(): Bundle {
  const entry = (n: number, resource: Resource): BundleEntry => ({
    fullUrl: `urn:uuid:00000000-0000-5000-8000-00000000000${n}`,
    resource,
    request: { method: 'PUT', url: `${resource.resourceType}?identifier=urn%3Aoid%3A1.2.3|X-${n}` },
  });
  const patientRef = { reference: 'urn:uuid:00000000-0000-5000-8000-000000000001' };
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      entry(1, {
        resourceType: 'Patient',
        identifier: [{ system: 'urn:oid:1.2.3', value: 'MRN-TEST-0001' }],
        name: [{ family: 'Testperson', given: ['Alex'] }],
        gender: 'female',
        birthDate: '1980-01-01',
      }),
      entry(2, { ...bmaServiceRequest(), subject: patientRef }),
      entry(3, {
        ...aspirateSpecimen(),
        subject: patientRef,
        request: [{ reference: 'urn:uuid:00000000-0000-5000-8000-000000000002' }],
      }),
    ],
  };
}

function jsonFiles(dir: string | undefined, out: string[] = []): string[] {
  if (!dir) return out;
  for (const name of fs.readdirSync(dir)) {
    const p = path.join(dir, name);
    if (fs.statSync(p).isDirectory()) jsonFiles(p, out);
    else if (name.endsWith('.json')) out.push(p);
  }
  return out;
}

/** Whether the outside corpora (../shared/external) are there; corpusResources() is much smaller without them. */
export function hasExternalCorpora(): boolean {
  return externalDir('fhir-examples', 'r4-core') !== undefined;
}

/**
 * Every resource of a known type in the corpora: the official R4 examples and the HL7 validator's test cases
 * (../shared/external, where present), the mapping's golden Bundles, and the project profiles' valid and invalid
 * examples. Needs base R4 indexed in @medplum/core (loadBaseR4) to tell known types.
 */
export function corpusResources(): Resource[] {
  if (!hasExternalCorpora()) {
    console.warn(
      "corpus: ../shared/external is absent (set MARROWBRIDGE_EXTERNAL_DIR): only the project's own examples and golden Bundles are used",
    );
  }
  const files = [
    ...jsonFiles(externalDir('fhir-examples', 'r4-core')),
    ...jsonFiles(externalDir('fhir-test-cases', 'validator')),
    ...jsonFiles(path.resolve(__dirname, '..', '..', 'fhir-mapping', 'test', 'golden')),
  ];
  const resources: Resource[] = [
    ...loadValidExamples().map((e) => e.resource),
    ...loadInvalidExamples().map((e) => e.resource),
  ];
  for (const f of files) {
    try {
      const r = JSON.parse(fs.readFileSync(f, 'utf8')) as Resource;
      if (typeof r?.resourceType === 'string' && tryGetDataType(r.resourceType)) resources.push(r);
    } catch {
      // not JSON (the strict-JSON test cases)
    }
  }
  return resources;
}
