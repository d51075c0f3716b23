/**
 * The one loader for this package's code tables (src/data/*.json). Each file documents its source and the
 * decisions taken where the v2-to-FHIR IG leaves a code unmapped. The shapes are checked once at load so a
 * broken data file fails loudly in the tests, not silently at run time.
 */
import {
  ADMINISTRATIVE_SEXES,
  BODY_SITES,
  DATA_ABSENT_REASONS,
  ENCOUNTER_CLASSES,
  INTERPRETATIONS,
  LATERALITIES,
  OBSERVATION_STATUSES,
  ORDER_PRIORITIES,
  ORDER_STATUSES,
  PLANNED_PROCEDURES,
  REPORT_STATUSES,
  REQUESTED_STUDIES,
  SITE_QUALIFIERS,
  SPECIMEN_ADDITIVES,
  SPECIMEN_KINDS,
  type AdministrativeSex,
  type BodySite,
  type Interpretation,
  type Laterality,
  type ObservationResult,
  type ObservationStatus,
  type OrderPriority,
  type OrderStatus,
  type PlannedProcedure,
  type ReportStatus,
  type RequestedStudy,
  type SiteQualifier,
  type SpecimenAdditive,
  type SpecimenKind,
} from '@marrowbridge/model';
import orderControlJson from './data/order-control.json';
import orderStatusJson from './data/order-status.json';
import resultStatusJson from './data/result-status.json';
import observationStatusJson from './data/observation-status.json';
import priorityJson from './data/priority.json';
import sexJson from './data/administrative-sex.json';
import patientClassJson from './data/patient-class.json';
import interpretationJson from './data/interpretation.json';
import codingSystemsJson from './data/coding-systems.json';
import authoritiesJson from './data/known-authorities.json';
import specimenTypesJson from './data/specimen-types.json';
import methodsJson from './data/collection-methods.json';
import additivesJson from './data/additives.json';
import bodySitesJson from './data/body-sites.json';
import servicesJson from './data/bma-services.json';
import reportCodesJson from './data/report-codes.json';
import volumeUnitsJson from './data/volume-units.json';

function fail(file: string, what: string): never {
  throw new Error(`hl7v2 code table ${file}: ${what}`);
}

function oneOf<T extends string>(file: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    fail(file, `unexpected value ${JSON.stringify(value)}`);
  }
  return value as T;
}

const METHODS = ['aspiration', 'biopsy'] as const;

/** Result of looking up a status code: a status, "keep the current one" (null), or a rejection. */
export type StatusEntry<S> = { status: S | null; reject?: false } | { reject: true };

function statusTable<S extends string>(
  file: string,
  codes: Record<string, { status?: string | null; reject?: boolean }>,
  allowed: readonly S[],
): Map<string, StatusEntry<S>> {
  const m = new Map<string, StatusEntry<S>>();
  for (const [code, e] of Object.entries(codes)) {
    if (e.reject) m.set(code, { reject: true });
    else if (e.status === null) m.set(code, { status: null });
    else m.set(code, { status: oneOf(file, e.status, allowed) });
  }
  return m;
}

export const orderControl = statusTable<OrderStatus>('order-control', orderControlJson.codes, ORDER_STATUSES);
export const orderStatus = statusTable<OrderStatus>('order-status', orderStatusJson.codes, ORDER_STATUSES);
export const resultStatus = statusTable<ReportStatus>('result-status', resultStatusJson.codes, REPORT_STATUSES);

export interface ObxStatusEntry {
  status?: ObservationStatus;
  skip?: boolean;
  skipWithoutValue?: boolean;
  dataAbsentReason?: NonNullable<ObservationResult['dataAbsentReason']>;
}
export const observationStatus = new Map<string, ObxStatusEntry>();
for (const [code, raw] of Object.entries(observationStatusJson.codes)) {
  const e = raw as { status?: string; skip?: boolean; skipWithoutValue?: boolean; dataAbsentReason?: string };
  const entry: ObxStatusEntry = {};
  if (e.skip) entry.skip = true;
  else entry.status = oneOf('observation-status', e.status, OBSERVATION_STATUSES);
  if (e.skipWithoutValue) entry.skipWithoutValue = true;
  if (e.dataAbsentReason) entry.dataAbsentReason = oneOf('observation-status', e.dataAbsentReason, DATA_ABSENT_REASONS);
  observationStatus.set(code, entry);
}

const priorityExact = new Map<string, OrderPriority>();
const priorityPrefix: [string, OrderPriority][] = [];
for (const [code, p] of Object.entries(priorityJson.codes)) {
  const v = oneOf('priority', p, ORDER_PRIORITIES);
  if (code.endsWith('*')) priorityPrefix.push([code.slice(0, -1), v]);
  else priorityExact.set(code, v);
}
export function lookupPriority(code: string): OrderPriority | undefined {
  const exact = priorityExact.get(code);
  if (exact) return exact;
  for (const [prefix, v] of priorityPrefix) {
    if (code.startsWith(prefix) && /^\d+$/.test(code.slice(prefix.length))) return v;
  }
  return undefined;
}

export const administrativeSex = new Map<string, AdministrativeSex>(
  Object.entries(sexJson.codes).map(([k, v]) => [k, oneOf('administrative-sex', v, ADMINISTRATIVE_SEXES)]),
);
export const patientClass = new Map<string, (typeof ENCOUNTER_CLASSES)[number]>(
  Object.entries(patientClassJson.codes).map(([k, v]) => [k, oneOf('patient-class', v, ENCOUNTER_CLASSES)]),
);
export const interpretation = new Map<string, Interpretation>(
  Object.entries(interpretationJson.codes).map(([k, v]) => [k, oneOf('interpretation', v, INTERPRETATIONS)]),
);

export const codingSystems = new Map<string, string>(Object.entries(codingSystemsJson.systems));
export const localCodeSystemBase: string = codingSystemsJson.localBase;
export const authorities = {
  byNamespace: new Map<string, string>(Object.entries(authoritiesJson.byNamespace)),
  byOid: new Map<string, string>(Object.entries(authoritiesJson.byOid)),
  npiSystem: authoritiesJson.npiSystem,
  namespaceBase: authoritiesJson.namespaceBase,
  unspecifiedSystem: authoritiesJson.unspecifiedSystem,
};

/** A table keyed by (system, code) with optional whole-text entries, matched case-insensitively. */
export class CodeTable<V> {
  private readonly byCode = new Map<string, V>();
  private readonly byLocalCode = new Map<string, V>();
  private readonly byText = new Map<string, V>();

  add(entry: { system?: string; code?: string; text?: string; local?: boolean }, value: V): void {
    if (entry.text) this.byText.set(entry.text.toLowerCase(), value);
    else if (entry.code && entry.system) this.byCode.set(`${entry.system}|${entry.code}`, value);
    else if (entry.code) this.byLocalCode.set(entry.code.toUpperCase(), value);
  }

  /** Exact (system, code). */
  code(system: string, code: string): V | undefined {
    return this.byCode.get(`${system}|${code}`);
  }

  /** A code entry that has no system in the table (matched on any system, case-insensitively). */
  anyCode(code: string): V | undefined {
    return this.byLocalCode.get(code.toUpperCase());
  }

  text(text: string): V | undefined {
    return this.byText.get(text.trim().toLowerCase().replace(/\s+/g, ' '));
  }
}

export interface SpecimenTypeEntry {
  kind: SpecimenKind;
  generic: boolean;
}
export const specimenTypes = new CodeTable<SpecimenTypeEntry>();
for (const e of specimenTypesJson.entries as {
  system?: string;
  code?: string;
  text?: string;
  kind: string;
  generic?: boolean;
}[]) {
  specimenTypes.add(e, { kind: oneOf('specimen-types', e.kind, SPECIMEN_KINDS), generic: e.generic === true });
}

export const collectionMethods = new CodeTable<'aspiration' | 'biopsy'>();
for (const e of methodsJson.entries as { system?: string; code?: string; text?: string; method: string }[]) {
  collectionMethods.add(e, oneOf('collection-methods', e.method, METHODS));
}

export const additives = new CodeTable<SpecimenAdditive>();
for (const e of additivesJson.entries as { code?: string; text?: string; additive: string }[]) {
  additives.add(e, oneOf('additives', e.additive, SPECIMEN_ADDITIVES));
}

export interface SiteEntry {
  site: BodySite;
  qualifier?: SiteQualifier;
}
export interface ModifierEntry {
  laterality?: Laterality;
  qualifier?: SiteQualifier;
}
export const bodySites = new CodeTable<SiteEntry>();
for (const e of bodySitesJson.sites as { system?: string; code: string; site: string; qualifier?: string }[]) {
  const v: SiteEntry = { site: oneOf('body-sites', e.site, BODY_SITES) };
  if (e.qualifier) v.qualifier = oneOf('body-sites', e.qualifier, SITE_QUALIFIERS);
  bodySites.add(e, v);
}
export const siteModifiers = new CodeTable<ModifierEntry>();
for (const e of bodySitesJson.modifiers as {
  system?: string;
  code: string;
  laterality?: string;
  qualifier?: string;
}[]) {
  const v: ModifierEntry = {};
  if (e.laterality) v.laterality = oneOf('body-sites', e.laterality, LATERALITIES);
  if (e.qualifier) v.qualifier = oneOf('body-sites', e.qualifier, SITE_QUALIFIERS);
  siteModifiers.add(e, v);
}
export const siteKeywords = {
  site: new Map<string, BodySite>(
    Object.entries(bodySitesJson.keywords.site).map(([k, v]) => [k, oneOf('body-sites', v, BODY_SITES)]),
  ),
  laterality: new Map<string, Laterality>(
    Object.entries(bodySitesJson.keywords.laterality).map(([k, v]) => [k, oneOf('body-sites', v, LATERALITIES)]),
  ),
  qualifier: new Map<string, SiteQualifier>(
    Object.entries(bodySitesJson.keywords.qualifier).map(([k, v]) => [k, oneOf('body-sites', v, SITE_QUALIFIERS)]),
  ),
};

export interface ServiceEntry {
  procedure?: PlannedProcedure;
  study?: RequestedStudy;
}
export const services = new CodeTable<ServiceEntry>();
for (const e of servicesJson.entries as {
  system?: string;
  code: string;
  local?: boolean;
  procedure?: string;
  study?: string;
}[]) {
  const v: ServiceEntry = {};
  if (e.procedure) v.procedure = oneOf('bma-services', e.procedure, PLANNED_PROCEDURES);
  if (e.study) v.study = oneOf('bma-services', e.study, REQUESTED_STUDIES);
  services.add(e, v);
}

const volumeUnits = new Map<string, number>(Object.entries(volumeUnitsJson.units));
export function volumeFactor(unit: string): number | undefined {
  const exact = volumeUnits.get(unit);
  if (exact !== undefined) return exact;
  for (const [k, v] of volumeUnits) if (k.toLowerCase() === unit.toLowerCase()) return v;
  return undefined;
}

/** The report codes a BMA DiagnosticReport may carry (the profile's bma-report-codes value set). */
export const reportCodes = {
  system: reportCodesJson.system,
  codes: new Set<string>(reportCodesJson.codes),
  has(c: { system: string; code: string }): boolean {
    return c.system === reportCodesJson.system && this.codes.has(c.code);
  },
};
