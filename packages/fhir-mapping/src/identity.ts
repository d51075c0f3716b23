/**
 * Identity of every resource the mapping writes: its conditional key (an identifier), the
 * deterministic urn:uuid of its Bundle entry, and conditional references to it.
 * The delivery worker uses the same helpers to find the EHR's copy of a resource.
 */
import { createHash } from 'node:crypto';
import type { BusinessIdentifier, Coding as ModelCoding, ObservationResult } from '@marrowbridge/model';
import type { ExtractResource, Identifier, Reference, ResourceType } from '@medplum/fhirtypes';
import {
  CANONICAL_BASE,
  LOINC,
  NPI_SYSTEM,
  OBSERVATION_KEY_SYSTEM,
  PROCEDURE_KEY_SYSTEM,
  REPORT_KEY_SYSTEM,
  SNOMED,
} from './systems';

/** A conditional key: the identifier a resource is found by (`?identifier=system|value`). */
export interface ResourceKey {
  system: string;
  value: string;
}

const RFC4122_URL_NAMESPACE = '6ba7b811-9dad-11d1-80b4-00c04fd430c8';

function uuidBytes(uuid: string): Buffer {
  return Buffer.from(uuid.replace(/-/g, ''), 'hex');
}

function uuidV5(namespace: Buffer, name: string): string {
  const bytes = createHash('sha1').update(namespace).update(name, 'utf8').digest().subarray(0, 16);
  bytes[6] = (bytes[6] & 0x0f) | 0x50; // version 5
  bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The project's UUID v5 namespace: the v5 UUID of the canonical base in the RFC 4122 URL namespace. */
export const UUID_NAMESPACE = uuidV5(uuidBytes(RFC4122_URL_NAMESPACE), CANONICAL_BASE);

/** Parsed once: every fullUrl and reference of a Bundle hashes it. */
const NAMESPACE_BYTES = uuidBytes(UUID_NAMESPACE);

/**
 * UUID v5 (SHA-1) of `<ResourceType>|<keySystem>|<keyValue>` in the project namespace: the same
 * resource gets the same fullUrl in every Bundle, and no randomness leaks into the output.
 */
export function deterministicUuid(resourceType: string, keySystem: string, keyValue: string): string {
  return uuidV5(NAMESPACE_BYTES, `${resourceType}|${keySystem}|${keyValue}`);
}

export function fullUrl(resourceType: string, key: ResourceKey): string {
  return `urn:uuid:${deterministicUuid(resourceType, key.system, key.value)}`;
}

/** `Type?identifier=<system>|<value>`, both parts URL-encoded: the conditional-update URL and reference. */
export function conditionalUrl(resourceType: string, key: ResourceKey): string {
  return `${resourceType}?identifier=${encodeURIComponent(key.system)}|${encodeURIComponent(key.value)}`;
}

/** A reference to a resource the EHR already holds (created by an earlier Bundle), by its key. */
export function conditionalReference<K extends ResourceType>(
  resourceType: K,
  key: ResourceKey,
): Reference<ExtractResource<K>> {
  return { reference: conditionalUrl(resourceType, key) };
}

/** A reference to another entry of the same Bundle. */
export function localReference<K extends ResourceType>(
  resourceType: K,
  key: ResourceKey,
): Reference<ExtractResource<K>> {
  return { reference: fullUrl(resourceType, key) };
}

/** Short name of a code system inside derived keys: loinc, snomed, else the full URI. */
export function systemShortName(system: string): string {
  if (system === LOINC) return 'loinc';
  if (system === SNOMED) return 'snomed';
  return system;
}

function plain(id: BusinessIdentifier): ResourceKey {
  return { system: id.system, value: id.value };
}

export function patientKey(mrn: BusinessIdentifier): ResourceKey {
  return plain(mrn);
}

export function practitionerKey(npi: string): ResourceKey {
  return { system: NPI_SYSTEM, value: npi };
}

/** The ServiceRequest is found by its placer number (the one every order and result carries). */
export function serviceRequestKey(placerOrderNumber: BusinessIdentifier): ResourceKey {
  return plain(placerOrderNumber);
}

export function specimenKey(specimenId: BusinessIdentifier): ResourceKey {
  return plain(specimenId);
}

/** `<placerSystem>::<placerValue>`: one collection procedure per order. */
export function procedureKey(order: { placerOrderNumber: BusinessIdentifier }): ResourceKey {
  const placer = order.placerOrderNumber;
  return { system: PROCEDURE_KEY_SYSTEM, value: `${placer.system}::${placer.value}` };
}

/**
 * `<placerSystem>::<placerValue>::<short>:<reportCode>`: one order has several reports (morphology,
 * flow, cytogenetics…), told apart by their code; every version of one report shares this key.
 */
export function reportKey(update: { placerOrderNumber: BusinessIdentifier; reportCode: ModelCoding }): ResourceKey {
  const placer = update.placerOrderNumber;
  const code = update.reportCode;
  return {
    system: REPORT_KEY_SYSTEM,
    value: `${placer.system}::${placer.value}::${systemShortName(code.system)}:${code.code}`,
  };
}

/** `<reportKeyValue>::<short>:<code>[::<subId>]`: never the OBX set id, which shifts between versions. */
export function observationKey(report: ResourceKey, result: Pick<ObservationResult, 'code' | 'subId'>): ResourceKey {
  const base = `${report.value}::${systemShortName(result.code.system)}:${result.code.code}`;
  return { system: OBSERVATION_KEY_SYSTEM, value: result.subId ? `${base}::${result.subId}` : base };
}

/** The key as a FHIR Identifier (no type: the project owns these systems). */
export function keyIdentifier(key: ResourceKey): Identifier {
  return { system: key.system, value: key.value };
}
