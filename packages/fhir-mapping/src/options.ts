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

export class MappingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MappingError';
  }
}
