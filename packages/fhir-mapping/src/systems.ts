/**
 * URIs the mapping writes: code systems, the project's canonicals (mapping-contract.md) and the
 * identifier systems the project owns. Codes themselves live in ./codes/*.json.
 */

export const SNOMED = 'http://snomed.info/sct';
export const LOINC = 'http://loinc.org';
export const CPT = 'http://www.ama-assn.org/go/cpt';
export const ICD10CM = 'http://hl7.org/fhir/sid/icd-10-cm';
export const UCUM = 'http://unitsofmeasure.org';
export const NPI_SYSTEM = 'http://hl7.org/fhir/sid/us-npi';

/** Canonical base of the project's conformance resources. */
export const CANONICAL_BASE = 'http://marrowbridge.org/fhir';

/** Identifier systems for the keys the project derives (mapping-contract.md). */
export const PROCEDURE_KEY_SYSTEM = `${CANONICAL_BASE}/sid/procedure-key`;
export const REPORT_KEY_SYSTEM = `${CANONICAL_BASE}/sid/report-key`;
export const OBSERVATION_KEY_SYSTEM = `${CANONICAL_BASE}/sid/observation-key`;

export const LATERALITY_EXTENSION = `${CANONICAL_BASE}/StructureDefinition/bodysite-laterality`;
export const QUALIFIER_EXTENSION = `${CANONICAL_BASE}/StructureDefinition/bodysite-qualifier`;
/** R4 has no Specimen.collection.procedure; the R5 cross-version extension carries it. */
export const SPECIMEN_COLLECTION_PROCEDURE_EXTENSION =
  'http://hl7.org/fhir/5.0/StructureDefinition/extension-Specimen.collection.procedure';

/** Project profiles, by the id of their StructureDefinition. */
export const PROFILE_IDS = {
  serviceRequest: 'bma-service-request',
  procedure: 'bma-procedure',
  aspirateSpecimen: 'bma-aspirate-specimen',
  trephineSpecimen: 'bma-trephine-specimen',
  diagnosticReport: 'bma-diagnostic-report',
  resultObservation: 'bma-result-observation',
} as const;

export function profileUrl(id: string): string {
  return `${CANONICAL_BASE}/StructureDefinition/${id}`;
}
