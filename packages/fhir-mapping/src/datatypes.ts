/** Builders for FHIR datatypes shared by the resource modules. */
import type { BodySiteInfo, BusinessIdentifier, Coding as ModelCoding, PersonName } from '@marrowbridge/model';
import type { CodeableConcept, Coding, HumanName, Identifier, Meta, Quantity } from '@medplum/fhirtypes';
import {
  bodySiteCodes,
  identifierTypeCodes,
  lateralityCodes,
  siteQualifierCodes,
  type IdentifierTypeCode,
} from './code-tables';
import { codeMapKey, MappingError, type MappingOptions } from './options';
import { LATERALITY_EXTENSION, profileUrl, QUALIFIER_EXTENSION, UCUM } from './systems';

export function coding(c: ModelCoding): Coding {
  return c.display === undefined
    ? { system: c.system, code: c.code }
    : { system: c.system, code: c.code, display: c.display };
}

/**
 * A CodeableConcept from input codings, each followed by the standard codings the code map adds for
 * it; a code already present is not repeated.
 */
export function codeableConcept(
  codings: ModelCoding[],
  text: string | undefined,
  options: MappingOptions,
): CodeableConcept {
  const out: Coding[] = [];
  const seen = new Set<string>();
  const add = (c: ModelCoding): void => {
    const key = codeMapKey(c.system, c.code);
    if (seen.has(key)) return;
    seen.add(key);
    out.push(coding(c));
  };
  for (const c of codings) add(c);
  const map = options.codeMap;
  if (map) {
    for (const c of codings) {
      const key = codeMapKey(c.system, c.code);
      if (Object.hasOwn(map, key)) map[key].forEach(add);
    }
  }
  return text === undefined ? { coding: out } : { coding: out, text };
}

/** A CodeableConcept from a code table (no code map: table codes are standard already). */
export function tableConcept(codings: ModelCoding[], text?: string): CodeableConcept {
  return text === undefined ? { coding: codings.map(coding) } : { coding: codings.map(coding), text };
}

/**
 * A business identifier copied element by element: output key order must never follow the
 * input's (same input, same bytes, whatever order its keys came in).
 */
export function identifier(id: BusinessIdentifier): Identifier {
  return { system: id.system, value: id.value };
}

export function typedIdentifier(type: IdentifierTypeCode, system: string, value: string): Identifier {
  return { type: { coding: [{ ...identifierTypeCodes[type] }] }, system, value };
}

export function humanName(name: PersonName): HumanName {
  return { family: name.family, given: name.given, prefix: name.prefix, suffix: name.suffix };
}

export function ucumQuantity(value: number, unit: string | undefined): Quantity {
  return unit === undefined ? { value } : { value, unit, system: UCUM, code: unit };
}

export function profileMeta(profileId: string, options: MappingOptions): Meta | undefined {
  return options.profiles === false ? undefined : { profile: [profileUrl(profileId)] };
}

const DATE_TIME_WITHOUT_SECONDS = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})(Z|[+-]\d{2}:\d{2})$/;

/** FHIR dateTime needs seconds once a time is given; the canonical model allows hh:mm. */
export function fhirDateTime(value: string): string {
  return value.replace(DATE_TIME_WITHOUT_SECONDS, '$1:00$2');
}

/** FHIR instant: a full date-time with seconds and offset. */
export function fhirInstant(value: string): string {
  const normalized = fhirDateTime(value);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(normalized)) {
    throw new MappingError(`"${value}" is not a date-time with a UTC offset, as an instant (issued) needs`);
  }
  return normalized;
}

/** FHIR time is hh:mm:ss. */
export function fhirTime(value: string): string {
  return /^\d{2}:\d{2}$/.test(value) ? `${value}:00` : value;
}

/** The earliest of several date-times (compared as instants); ties keep the first. */
export function earliest(values: string[]): string | undefined {
  let best: string | undefined;
  for (const v of values) {
    if (best === undefined || Date.parse(v) < Date.parse(best)) best = v;
  }
  return best;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * Body site with laterality and direction qualifier as the project extensions on the
 * CodeableConcept (mapping-contract.md), plus a readable text ("Posterior left ilium").
 */
export function bodySiteConcept(site: BodySiteInfo): CodeableConcept {
  const siteCodes = bodySiteCodes[site.site];
  const extension = [];
  const words: string[] = [];
  if (site.qualifier) {
    words.push(siteQualifierCodes[site.qualifier].text);
  }
  if (site.laterality) {
    extension.push({
      url: LATERALITY_EXTENSION,
      valueCodeableConcept: { coding: [{ ...lateralityCodes[site.laterality].coding }] },
    });
    words.push(lateralityCodes[site.laterality].text);
  }
  if (site.qualifier) {
    extension.push({
      url: QUALIFIER_EXTENSION,
      valueCodeableConcept: { coding: [{ ...siteQualifierCodes[site.qualifier].coding }] },
    });
  }
  words.push(siteCodes.text);
  return {
    extension: extension.length > 0 ? extension : undefined,
    coding: [{ ...siteCodes.coding }],
    text: capitalize(words.join(' ')),
  };
}

type Pruned = unknown;

/**
 * Drops undefined values, empty arrays and empty objects, so that resource modules can write
 * every element in FHIR order and leave the optional ones undefined. Key order is kept.
 */
export function prune<T>(value: T): T {
  return pruneValue(value) as T;
}

// Runs over every value of every Bundle: no intermediate arrays (entries, map+filter, keys).
function pruneValue(value: unknown): Pruned {
  if (Array.isArray(value)) {
    const items: unknown[] = [];
    for (const v of value) {
      const p = pruneValue(v);
      if (p !== undefined) items.push(p);
    }
    return items.length > 0 ? items : undefined;
  }
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    let empty = true;
    for (const k of Object.keys(obj)) {
      const p = pruneValue(obj[k]);
      if (p !== undefined) {
        out[k] = p;
        empty = false;
      }
    }
    return empty ? undefined : out;
  }
  return value;
}
