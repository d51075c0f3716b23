/** The gateway's CapabilityStatement (GET /fhir/metadata): what its FHIR-style endpoints offer. */
import type { CapabilityStatement, CapabilityStatementRestResource, StructureDefinition } from '@medplum/fhirtypes';

const VALIDATE = 'http://hl7.org/fhir/OperationDefinition/Resource-validate';

/** Types the mapping produces; each may be validated against base R4 and its BMA profile. */
const MAPPED_TYPES = [
  'Patient',
  'Practitioner',
  'ServiceRequest',
  'Specimen',
  'Procedure',
  'DiagnosticReport',
  'Observation',
] as const;

export function capabilityStatement(publicUrl: string, profiles: StructureDefinition[]): CapabilityStatement {
  const profilesOf = (type: string) =>
    profiles.filter((sd) => sd.type === type && sd.kind === 'resource').map((sd) => sd.url as string);
  const resources: CapabilityStatementRestResource[] = [
    ...MAPPED_TYPES.map((type): CapabilityStatementRestResource => ({
      type,
      ...(profilesOf(type).length ? { supportedProfile: profilesOf(type) } : {}),
      operation: [{ name: 'validate', definition: VALIDATE }],
    })),
    {
      type: 'Bundle',
      operation: [{ name: 'validate', definition: VALIDATE }],
      documentation: 'Validates a Bundle and every entry in it (the transaction Bundles of $translate, for example)',
    },
    {
      type: 'StructureDefinition',
      interaction: [{ code: 'read' }, { code: 'search-type' }],
      searchParam: [{ name: 'url', type: 'uri' }],
      documentation: 'The project profiles and extensions, compiled with snapshots',
    },
  ];
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: '2026-01-01',
    kind: 'instance',
    publisher: 'marrowbridge',
    software: { name: 'marrowbridge gateway', version: '0.1.0' },
    implementation: { description: 'marrowbridge gateway (FHIR-style operations)', url: `${publicUrl}/fhir` },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    rest: [
      {
        mode: 'server',
        documentation:
          'Bearer JWT on every operation (scope marrowbridge/read). $validate accepts a bare resource or a Parameters ' +
          'with "resource" and optional "profile" (also ?profile=). POST /$translate (beside /fhir) is a dry run of ' +
          'the intake: the transaction Bundles and their validation, with ?diff=true what a push would change in the EHR.',
        security: {
          description: 'OAuth 2 bearer JWT; scopes marrowbridge/intake, marrowbridge/read, marrowbridge/admin',
        },
        resource: resources,
        operation: [
          {
            name: 'translate',
            definition: 'http://marrowbridge.org/fhir/OperationDefinition/translate',
            documentation:
              'POST /$translate (beside /fhir): canonical JSON or HL7 v2 in; Bundles, validation and diff out',
          },
        ],
      },
    ],
  };
}
