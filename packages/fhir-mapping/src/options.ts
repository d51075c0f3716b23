import type { Coding } from '@marrowbridge/model';

/**
 * Extra standard codings for local codes: key `<system>|<code>` of the code as it arrives, value
 * the codings to add next to it (e.g. a lab's local blast-count code → its LOINC term).
 */
export type CodeMap = Readonly<Record<string, readonly Coding[]>>;

export interface MappingOptions {
  codeMap?: CodeMap;
  /** Set meta.profile to the project profiles (default true). */
  profiles?: boolean;
}

/** The key of a code in a CodeMap. */
export function codeMapKey(system: string, code: string): string {
  return `${system}|${code}`;
}

/**
 * Input that cannot make a valid transaction. `kind` says which rule it breaks, so that callers choose their
 * answer (an HL7 error code) from it, not from the message text.
 */
export class MappingError extends Error {
  constructor(
    message: string,
    readonly kind: 'duplicate-key' | 'invalid' = 'invalid',
  ) {
    super(message);
    this.name = 'MappingError';
  }
}
