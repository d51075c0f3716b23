/**
 * The one loader of the code tables in ./codes/*.json. Every code the mapping emits on its own
 * (not copied from the input) comes from these files, so that a terminology change is a data edit.
 * The typed views below make the compiler check that every canonical value has an entry.
 */
import type {
  BodySite,
  Interpretation,
  Laterality,
  ObservationResult,
  OrderPriority,
  PlannedProcedure,
  ReportStatus,
  RequestedStudy,
  SiteQualifier,
  SpecimenAdditive,
  SpecimenKind,
} from '@marrowbridge/model';
import type { Coding } from '@medplum/fhirtypes';
import additivesJson from './codes/additives.json';
import bodySitesJson from './codes/body-sites.json';
import categoriesJson from './codes/categories.json';
import collectionMethodsJson from './codes/collection-methods.json';
import dataAbsentReasonsJson from './codes/data-absent-reasons.json';
import identifierTypesJson from './codes/identifier-types.json';
import interpretationsJson from './codes/interpretations.json';
import lateralitiesJson from './codes/lateralities.json';
import prioritiesJson from './codes/priorities.json';
import proceduresJson from './codes/procedures.json';
import reportCodesJson from './codes/report-codes.json';
import reportSectionsJson from './codes/report-sections.json';
import reportStatusesJson from './codes/report-statuses.json';
import siteQualifiersJson from './codes/site-qualifiers.json';
import specimenKindsJson from './codes/specimen-kinds.json';
import studiesJson from './codes/studies.json';

/** A coding as stored in the tables (system, code and display all present). */
export interface TableCoding {
  system: string;
  code: string;
  display: string;
}

type Without<T> = Omit<T, '_comment'>;

/** Drops the documentation key every table carries. */
function entries<T extends { _comment?: string }>(table: T): Without<T> {
  const copy: Record<string, unknown> = { ...table };
  delete copy._comment;
  return copy as Without<T>;
}

/** A flat "code → display" table of one code system, as a lookup returning full codings. */
function codeSystemTable<K extends string>(system: string, codes: Record<K, string>): Record<K, TableCoding> {
  const out = {} as Record<K, TableCoding>;
  for (const code of Object.keys(codes) as K[]) {
    out[code] = { system, code, display: codes[code] };
  }
  return out;
}

export type CollectionMethod = keyof Without<typeof collectionMethodsJson>;

export interface ProcedureCodes {
  text: string;
  codings: TableCoding[];
}
export interface SpecimenKindCodes {
  text: string;
  method: CollectionMethod;
  profile: string;
  type: TableCoding[];
}
export interface BodySiteCodes {
  text: string;
  paired: boolean;
  coding: TableCoding;
}
export interface QualifierCodes {
  text: string;
  coding: TableCoding;
}
export interface ReportStatusEntry {
  fhir: ReportStatus;
}

export const procedureCodes: Record<PlannedProcedure, ProcedureCodes> = entries(proceduresJson);
export const specimenKindCodes: Record<SpecimenKind, SpecimenKindCodes> = entries(specimenKindsJson) as Record<
  SpecimenKind,
  SpecimenKindCodes
>;
export const collectionMethodCodes: Record<CollectionMethod, TableCoding> = entries(collectionMethodsJson);
export const bodySiteCodes: Record<BodySite, BodySiteCodes> = entries(bodySitesJson);
export const lateralityCodes: Record<Laterality, QualifierCodes> = entries(lateralitiesJson);
export const siteQualifierCodes: Record<SiteQualifier, QualifierCodes> = entries(siteQualifiersJson);
export const priorityCodes: Record<OrderPriority, 'routine' | 'urgent' | 'asap' | 'stat'> = entries(
  prioritiesJson,
) as Record<OrderPriority, 'routine' | 'urgent' | 'asap' | 'stat'>;
export const reportStatusCodes: Record<ReportStatus, ReportStatusEntry> = entries(reportStatusesJson) as Record<
  ReportStatus,
  ReportStatusEntry
>;

export const studyCodes: Record<RequestedStudy, TableCoding> = codeSystemTable(studiesJson.system, studiesJson.codes);
export const interpretationCodes: Record<Interpretation, TableCoding> = codeSystemTable(
  interpretationsJson.system,
  interpretationsJson.codes,
);
export const identifierTypeCodes = codeSystemTable(identifierTypesJson.system, identifierTypesJson.codes);
export type IdentifierTypeCode = keyof typeof identifierTypesJson.codes;
export const dataAbsentReasonCodes: Record<
  NonNullable<ObservationResult['dataAbsentReason']>,
  TableCoding
> = codeSystemTable(dataAbsentReasonsJson.system, dataAbsentReasonsJson.codes);

export const additiveCodes: Record<SpecimenAdditive, TableCoding> = (() => {
  const out = {} as Record<SpecimenAdditive, TableCoding>;
  for (const [kind, entry] of Object.entries(additivesJson.codes)) {
    out[kind as SpecimenAdditive] = { system: additivesJson.system, ...entry };
  }
  return out;
})();

export const REPORT_SECTION_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v2-0074';
const reportSectionDisplays: Record<string, string> = entries(reportSectionsJson);

/** v2-0074 section → category coding; an unknown section keeps its code, with no display. */
export function reportSectionCoding(section: string): Coding {
  const display = Object.hasOwn(reportSectionDisplays, section) ? reportSectionDisplays[section] : undefined;
  return display
    ? { system: REPORT_SECTION_SYSTEM, code: section, display }
    : { system: REPORT_SECTION_SYSTEM, code: section };
}

export const serviceRequestCategory: TableCoding = categoriesJson.serviceRequest;
export const observationCategory: TableCoding = categoriesJson.observation;
export const reportBaseSection: string = categoriesJson.reportBaseSection;
export const orderReportSection: string = categoriesJson.orderReportSection;
export const orderReportCode: TableCoding = reportCodesJson.orderReport;
