import { Hl7Message } from '@medplum/core';
import type { Hl7Field, Hl7Segment } from '@medplum/core';
import { Delimiters, unescapeHl7 } from './escape';
import { Loc, loc } from './issues';

/**
 * Safe, decoding access to one parsed segment. @medplum/core's Hl7Segment returns undefined for a missing field
 * (despite its type) and throws for a missing repetition; every read here is guarded. Values come back with
 * escape sequences decoded, and the HL7 null `""` reads as empty.
 */
export class Seg {
  constructor(
    private readonly s: Hl7Segment,
    readonly name: string,
    /** 1-based occurrence of this segment name in the message. */
    readonly seq: number,
    readonly d: Delimiters,
  ) {}

  private fieldObj(f: number): Hl7Field | undefined {
    try {
      return this.s.getField(f) as Hl7Field | undefined;
    } catch {
      return undefined;
    }
  }

  /** Raw components per repetition (not decoded). */
  reps(f: number): string[][] {
    const fld = this.fieldObj(f);
    if (!fld || !Array.isArray(fld.components)) return [];
    return fld.components;
  }

  /** True when the field has any content. */
  has(f: number): boolean {
    return this.reps(f).some((r) => r.some((c) => c !== '' && c !== '""'));
  }

  /** Decoded component (1-based), subcomponent separators kept as data. */
  comp(f: number, c = 1, rep = 0): string {
    const raw = this.reps(f)[rep]?.[c - 1] ?? '';
    if (raw === '""') return '';
    return unescapeHl7(raw, this.d).trim();
  }

  /** Decoded subcomponent (1-based) of a component. */
  sub(f: number, c: number, s: number, rep = 0): string {
    const raw = this.reps(f)[rep]?.[c - 1] ?? '';
    const part = raw.split(this.d.subcomponent)[s - 1] ?? '';
    if (part === '""') return '';
    return unescapeHl7(part, this.d).trim();
  }

  /** Subcomponents of a component, raw (for data types nested one level down, e.g. EI inside EIP). */
  subs(f: number, c: number, rep = 0): string[] {
    const raw = this.reps(f)[rep]?.[c - 1] ?? '';
    return raw.split(this.d.subcomponent);
  }

  /** Decoded text of a whole field repetition for a text type (ST/TX/FT): components re-joined as data. */
  text(f: number, rep = 0): string {
    const r = this.reps(f)[rep];
    if (!r) return '';
    const raw = r.join(this.d.component);
    if (raw === '""') return '';
    return unescapeHl7(raw, this.d);
  }

  loc(field: number, component?: number, repetition?: number): Loc {
    return loc(this.name, this.seq, field, component, repetition);
  }
}

/** A Seg-like view of one component of a field whose subcomponents form a data type (e.g. CWE inside SPS). */
export interface Parts {
  /** 1-based part, decoded, trimmed. */
  get(i: number): string;
}

export function componentParts(seg: Seg, f: number, rep = 0): Parts {
  return { get: (i) => seg.comp(f, i, rep) };
}

export function subParts(seg: Seg, f: number, c: number, rep = 0): Parts {
  return { get: (i) => seg.sub(f, c, i, rep) };
}

export interface ParsedMessage {
  delimiters: Delimiters;
  segments: Seg[];
  msh: Seg;
}

export type ParseFailure = { error: string; field: number };

/** Parses one normalised message (segments joined by CR, starting with MSH). */
export function parseMessage(text: string): ParsedMessage | ParseFailure {
  if (!text.startsWith('MSH')) return { error: 'the message does not start with an MSH segment', field: 0 };
  const field = text.charAt(3);
  const firstSeg = text.split('\r', 1)[0];
  const msh2 = firstSeg.slice(4).split(field, 1)[0];
  if (!field || /[A-Za-z0-9\s]/.test(field) || msh2.length < 4) {
    return { error: 'MSH-1/MSH-2 do not declare usable delimiters', field: 2 };
  }
  const chars = [field, ...msh2.slice(0, 4)];
  if (new Set(chars).size !== 5 || chars.some((c) => /[A-Za-z0-9\s]/.test(c))) {
    return { error: 'MSH-1/MSH-2 do not declare usable delimiters', field: 2 };
  }
  const delimiters: Delimiters = {
    field,
    component: msh2.charAt(0),
    repetition: msh2.charAt(1),
    escape: msh2.charAt(2),
    subcomponent: msh2.charAt(3),
  };
  if (msh2.length >= 5) delimiters.truncation = msh2.charAt(4);
  const msg = Hl7Message.parse(text);
  const counts = new Map<string, number>();
  const segments: Seg[] = [];
  for (const s of msg.segments) {
    const name = s.name;
    const n = (counts.get(name) ?? 0) + 1;
    counts.set(name, n);
    segments.push(new Seg(s, name, n, delimiters));
  }
  return { delimiters, segments, msh: segments[0] };
}
