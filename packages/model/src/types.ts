/**
 * The canonical model: one shape for a bone marrow aspiration order and one for a result update,
 * whatever the source (JSON over HTTP, HL7 v2). Everything downstream (mapping, queue, worker)
 * reads only these types. The JSON Schemas in ./schemas check untrusted input against them.
 *
 * Conventions
 * - Dates are ISO 8601: `date` is YYYY-MM-DD, `dateTime` is YYYY-MM-DDThh:mm[:ss[.sss]] with a UTC offset
 *   (Z or ±hh:mm). FHIR requires the offset once a time is given. A dateTime field also accepts a date alone
 *   (YYYY-MM-DD), except `ResultUpdate.issued`, which needs the time; `birthDate` and a `dateTime`
 *   observation value may also be YYYY or YYYY-MM. Impossible dates and times (2024-02-30, 25:00) are rejected.
 * - A business identifier is a value within a namespace (`system`, a URI: urn:oid:…, https://…).
 * - A closed set of codes is a list (`REPORT_STATUSES`, …) and its type the list's members: code that checks
 *   values at run time (the HL7 v2 code tables) reads the same list the compiler does.
 */

/** A value in a namespace: placer/filler order numbers, MRNs, specimen ids. */
export interface BusinessIdentifier {
  /** URI of the assigning authority or namespace (e.g. `urn:oid:2.16.840.1.113883.3.1234.1`). */
  system: string;
  value: string;
}

/** A code from a code system. `system` is a FHIR system URI (http://snomed.info/sct, http://loinc.org, …). */
export interface Coding {
  system: string;
  code: string;
  display?: string;
}

export interface PersonName {
  family: string;
  given?: string[];
  prefix?: string[];
  suffix?: string[];
}

export const ADMINISTRATIVE_SEXES = ['male', 'female', 'other', 'unknown'] as const;
export type AdministrativeSex = (typeof ADMINISTRATIVE_SEXES)[number];

export interface PatientInfo {
  /** Medical record number with its assigning authority. Required: it is the patient's identity. */
  mrn: BusinessIdentifier;
  name?: PersonName;
  /** YYYY-MM-DD (or YYYY, YYYY-MM when only that is known). */
  birthDate?: string;
  sex?: AdministrativeSex;
}

/** Only the identity of a patient: what a result update carries to refer to its order's patient. */
export interface PatientRef {
  mrn: BusinessIdentifier;
}

export const ENCOUNTER_CLASSES = ['inpatient', 'outpatient', 'emergency'] as const;

export interface EncounterInfo {
  /** Visit number (PV1-19). */
  identifier?: BusinessIdentifier;
  class?: (typeof ENCOUNTER_CLASSES)[number];
}

/** A clinician identified by NPI (http://hl7.org/fhir/sid/us-npi). */
export interface ProviderInfo {
  npi: string;
  name?: PersonName;
}

export const ORDER_PRIORITIES = ['routine', 'urgent', 'asap', 'stat'] as const;
export type OrderPriority = (typeof ORDER_PRIORITIES)[number];

/** ServiceRequest.status values the order can carry (v2 ORC-1/ORC-5 mapped, see domain-reference §3.3). */
export const ORDER_STATUSES = ['active', 'on-hold', 'revoked', 'completed', 'entered-in-error'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export interface OrderReason {
  /** ICD-10-CM code (system http://hl7.org/fhir/sid/icd-10-cm), e.g. C92.00. */
  icd10?: string;
  text?: string;
}

/**
 * Studies requested on the marrow; each becomes its own report over the following weeks. The list's order is the
 * order of `BmaOrder.requestedStudies` (the HL7 v2 reader sorts by it).
 */
export const REQUESTED_STUDIES = [
  'morphology',
  'iron-stain',
  'flow-cytometry',
  'cytogenetics',
  'fish',
  'molecular',
] as const;
export type RequestedStudy = (typeof REQUESTED_STUDIES)[number];

/** Aspiration alone (CPT 38220) or aspiration plus trephine core biopsy in the same session (CPT 38222). */
export const PLANNED_PROCEDURES = ['aspiration', 'aspiration-biopsy'] as const;
export type PlannedProcedure = (typeof PLANNED_PROCEDURES)[number];

export const BODY_SITES = ['ilium', 'sternum', 'tibia'] as const;
export type BodySite = (typeof BODY_SITES)[number];
export const LATERALITIES = ['left', 'right', 'bilateral'] as const;
export type Laterality = (typeof LATERALITIES)[number];
/** Direction qualifier: a posterior iliac crest is ilium + posterior. */
export const SITE_QUALIFIERS = ['anterior', 'posterior'] as const;
export type SiteQualifier = (typeof SITE_QUALIFIERS)[number];

export interface BodySiteInfo {
  site: BodySite;
  /** Required for the paired bones (ilium, tibia); not used for the sternum. */
  laterality?: Laterality;
  qualifier?: SiteQualifier;
}

/** Procedure.status values (R4 event-status) the canonical model uses. */
export type ProcedureStatus = 'preparation' | 'in-progress' | 'completed' | 'not-done';

export interface ProcedureInfo {
  type: PlannedProcedure;
  bodySite: BodySiteInfo;
  /** Defaults to `preparation` with a new order. */
  status?: ProcedureStatus;
  performedStart?: string;
  performedEnd?: string;
  performer?: ProviderInfo;
  /** e.g. bleeding or infection at the needle site. */
  complications?: { code?: Coding; text: string }[];
  followUp?: string[];
  /** Why it was not done (status `not-done`). */
  notDoneReason?: string;
}

/**
 * aspirate: liquid marrow (SNOMED 396997002, v2-0487 MAR);
 * trephine-core: the core biopsy (its own Specimen, biopsy method);
 * aspirate-aliquot: a portion of an aspirate sent to one lab section (flow, cytogenetics, molecular).
 */
export const SPECIMEN_KINDS = ['aspirate', 'trephine-core', 'aspirate-aliquot'] as const;
export type SpecimenKind = (typeof SPECIMEN_KINDS)[number];

export const SPECIMEN_ADDITIVES = ['EDTA', 'heparin', 'citrate', 'none'] as const;
export type SpecimenAdditive = (typeof SPECIMEN_ADDITIVES)[number];

export interface SpecimenInfo {
  /** Specimen id (SPM-2); identifier type SID. */
  id: BusinessIdentifier;
  /** Accession number given by the lab (SPM-30); identifier type ACSN. */
  accession?: BusinessIdentifier;
  kind: SpecimenKind;
  /** The parent specimen's id value for aliquots (SPM-3); must be another specimen of the same order. */
  parentId?: string;
  container?: { type?: string; additive?: SpecimenAdditive };
  /** Volume in mL. */
  volumeMl?: number;
  collectedAt?: string;
  /** Defaults to the procedure's body site. */
  bodySite?: BodySiteInfo;
  note?: string;
}

export interface BmaOrder {
  kind: 'order';
  /** Identity of the message this order came in (source system + message id), for dedup and tracing. */
  source?: { system: string; messageId: string };
  placerOrderNumber: BusinessIdentifier;
  fillerOrderNumber?: BusinessIdentifier;
  status?: OrderStatus;
  /** When the order was placed (ORC-9). */
  authoredOn: string;
  priority: OrderPriority;
  patient: PatientInfo;
  encounter?: EncounterInfo;
  orderingProvider: ProviderInfo;
  reasons: OrderReason[];
  requestedStudies: RequestedStudy[];
  procedure: ProcedureInfo;
  specimens: SpecimenInfo[];
  clinicalNotes?: string[];
}

/** DiagnosticReport.status (R4). */
export const REPORT_STATUSES = [
  'registered',
  'partial',
  'preliminary',
  'final',
  'amended',
  'corrected',
  'appended',
  'cancelled',
  'entered-in-error',
] as const;
export type ReportStatus = (typeof REPORT_STATUSES)[number];

/** Observation.status (R4). */
export const OBSERVATION_STATUSES = [
  'registered',
  'preliminary',
  'final',
  'amended',
  'corrected',
  'cancelled',
  'entered-in-error',
] as const;
export type ObservationStatus = (typeof OBSERVATION_STATUSES)[number];

/** A result value of any v2 type, as the FHIR value[x] it maps to. */
export type ObservationValue =
  /** NM, SN with a comparator. `unit` is UCUM (%, 10*9/L, {ratio}, …). */
  | { type: 'quantity'; value: number; unit?: string; comparator?: '<' | '<=' | '>=' | '>' }
  /** CWE/CE. */
  | { type: 'coded'; coding: Coding; text?: string }
  /** ST, TX, FT (an ISCN karyotype is a string). */
  | { type: 'string'; value: string }
  /** SN "2:1", e.g. the myeloid:erythroid ratio. */
  | { type: 'ratio'; numerator: number; denominator: number }
  /** SN "1-3" or NR. */
  | { type: 'range'; low?: number; high?: number; unit?: string }
  /** DT, DTM. */
  | { type: 'dateTime'; value: string }
  /** TM (hh:mm[:ss]). */
  | { type: 'time'; value: string };

export const INTERPRETATIONS = ['N', 'L', 'H', 'LL', 'HH', 'A', 'AA', 'POS', 'NEG', 'IND'] as const;
export type Interpretation = (typeof INTERPRETATIONS)[number];

export interface ReferenceRange {
  low?: number;
  high?: number;
  unit?: string;
  text?: string;
}

export const DATA_ABSENT_REASONS = ['not-performed', 'unknown', 'error', 'not-asked', 'asked-declined'] as const;

export interface ObservationResult {
  /** The standard code (LOINC preferred). */
  code: Coding;
  /** The sender's local code, kept beside the standard one. */
  localCode?: Coding;
  /** OBX-4 sub-id: tells apart repeated results of one code. */
  subId?: string;
  /** Absent with status cancelled, or when `dataAbsentReason` is given. */
  value?: ObservationValue;
  dataAbsentReason?: (typeof DATA_ABSENT_REASONS)[number];
  referenceRange?: ReferenceRange;
  interpretation?: Interpretation[];
  status: ObservationStatus;
  /** Defaults to the report's effective time. */
  effective?: string;
  /** Specimen id value (one of the update's specimens); defaults to the report's first specimen. */
  specimenId?: string;
  notes?: string[];
}

export interface AttachedDocument {
  contentType: 'application/pdf';
  /** Base64. */
  data: string;
  title?: string;
}

export interface ResultUpdate {
  kind: 'result';
  source?: { system: string; messageId: string };
  /** The order this report answers: the placer number identifies it; the filler's number is recorded too. */
  placerOrderNumber: BusinessIdentifier;
  fillerOrderNumber?: BusinessIdentifier;
  patient: PatientRef;
  /** Report code: LOINC 48807-2 for the aspirate report, 101119-6 flow, 33893-9 karyotype… */
  reportCode: Coding;
  /** Lab section (v2-0074 HM, SP, GE…), added next to LAB. */
  section?: string;
  status: ReportStatus;
  /** When the lab released this version (OBR-22), with a time and a UTC offset. Orders versions of one report. */
  issued: string;
  /** Clinically relevant time: collection (OBR-7). */
  effective: string;
  performer?: { name: string; identifier?: BusinessIdentifier };
  resultsInterpreter?: ProviderInfo;
  /** Specimens the report is on; each must be an id the order created. */
  specimenIds: BusinessIdentifier[];
  observations: ObservationResult[];
  conclusion?: string;
  conclusionCodes?: Coding[];
  presentedForm?: AttachedDocument;
  notes?: string[];
}

export type CanonicalMessage = BmaOrder | ResultUpdate;

/** One problem found in input, for a person: where (a JSON path like `/specimens/0/kind`) and what. */
export interface InputError {
  path: string;
  message: string;
}
