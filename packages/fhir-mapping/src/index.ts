/**
 * @marrowbridge/fhir-mapping: canonical BMA order / result update → FHIR R4 transaction Bundles.
 */
export { mapOrder } from './order-bundle';
export { mapResultUpdate } from './result-bundle';
export { codeMapKey, MappingError, type CodeMap, type MappingOptions } from './options';
export {
  conditionalReference,
  conditionalUrl,
  deterministicUuid,
  fullUrl,
  keyIdentifier,
  localReference,
  observationKey,
  patientKey,
  practitionerKey,
  procedureKey,
  reportKey,
  serviceRequestKey,
  specimenKey,
  systemShortName,
  UUID_NAMESPACE,
  type ResourceKey,
} from './identity';
export {
  CANONICAL_BASE,
  CPT,
  ICD10CM,
  LATERALITY_EXTENSION,
  LOINC,
  NPI_SYSTEM,
  OBSERVATION_KEY_SYSTEM,
  PROCEDURE_KEY_SYSTEM,
  PROFILE_IDS,
  profileUrl,
  QUALIFIER_EXTENSION,
  REPORT_KEY_SYSTEM,
  SNOMED,
  SPECIMEN_COLLECTION_PROCEDURE_EXTENSION,
  UCUM,
} from './systems';
export { procedureStatus } from './resources/procedure';
export { orderReportCode } from './code-tables';
