import type { Hl7Error, Hl7ErrorCode, Hl7Warning } from './types';

/** Where in the message: segment name, occurrence, field, and optionally repetition and component. */
export interface Loc {
  segment: string;
  sequence: number;
  field: number;
  repetition?: number;
  component?: number;
}

/** Collects errors and warnings while a message is mapped; the mapping goes on to report every problem. */
export class Issues {
  readonly errors: Hl7Error[] = [];
  readonly warnings: Hl7Warning[] = [];

  error(loc: Loc, code: Hl7ErrorCode, message: string, severity: 'E' | 'F' = 'E'): void {
    const e: Hl7Error = { segment: loc.segment, sequence: loc.sequence, field: loc.field, code, severity, message };
    if (loc.repetition !== undefined) e.repetition = loc.repetition;
    if (loc.component !== undefined) e.component = loc.component;
    this.errors.push(e);
  }

  warn(loc: Loc, message: string): void {
    this.warnings.push({ segment: loc.segment, sequence: loc.sequence, field: loc.field, message });
  }

  get failed(): boolean {
    return this.errors.length > 0;
  }
}

export function loc(segment: string, sequence: number, field: number, component?: number, repetition?: number): Loc {
  const l: Loc = { segment, sequence, field };
  if (component !== undefined) l.component = component;
  if (repetition !== undefined) l.repetition = repetition;
  return l;
}
