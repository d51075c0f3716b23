/** Small shared pieces of the validator (one definition each). */

/** Canonical base of the FHIR core StructureDefinitions. */
export const BASE_SD = 'http://hl7.org/fhir/StructureDefinition/';

export const UCUM = 'http://unitsofmeasure.org';

/** A JSON object (not null, not an array). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A canonical URL without its `|version`. */
export function stripVersion(url: string): string {
  const bar = url.indexOf('|');
  return bar < 0 ? url : url.slice(0, bar);
}

/** `a word` or `an word` (by the first letter), for messages. */
export function withArticle(word: string): string {
  return /^[AEIOUaeiou]/.test(word) ? `an ${word}` : `a ${word}`;
}
