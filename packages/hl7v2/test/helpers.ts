import fs from 'node:fs';
import path from 'node:path';
import type { BmaOrder, ResultUpdate } from '@marrowbridge/model';
import { translateHl7 } from '../src';
import type { Hl7Error, Hl7Options, Hl7TranslateResult } from '../src';

export const fixturesDir = path.join(__dirname, 'fixtures');

/** A fixture as text (CR-separated, as stored). */
export function fixture(name: string): string {
  return fs.readFileSync(path.join(fixturesDir, name), 'latin1');
}

export function fixtureBytes(name: string): Buffer {
  return fs.readFileSync(path.join(fixturesDir, name));
}

function segments(text: string): string[] {
  return text.split(/\r\n|\n|\r/).filter((s) => s !== '');
}

/**
 * Sets SEG-field (1-based; MSH counts MSH-1 as the separator) of the n-th segment with that name (1-based).
 * `undefined` removes the segment.
 */
export function setField(text: string, seg: string, occurrence: number, field: number, value: string): string {
  let seen = 0;
  return segments(text)
    .map((s) => {
      if (!s.startsWith(`${seg}|`)) return s;
      seen++;
      if (seen !== occurrence) return s;
      const parts = s.split('|');
      const idx = seg === 'MSH' ? field - 1 : field;
      while (parts.length <= idx) parts.push('');
      parts[idx] = value;
      return parts.join('|');
    })
    .join('\r');
}

export function removeSegments(text: string, seg: string): string {
  return segments(text)
    .filter((s) => !s.startsWith(`${seg}|`))
    .join('\r');
}

export function insertAfter(text: string, seg: string, occurrence: number, line: string): string {
  let seen = 0;
  const out: string[] = [];
  for (const s of segments(text)) {
    out.push(s);
    if (s.startsWith(`${seg}|`) && ++seen === occurrence) out.push(line);
  }
  return out.join('\r');
}

export function ok(r: Hl7TranslateResult): Extract<Hl7TranslateResult, { ok: true }> {
  if (!r.ok) throw new Error(`expected ok, got errors: ${JSON.stringify(r.errors)}`);
  return r;
}

export function failed(r: Hl7TranslateResult): Extract<Hl7TranslateResult, { ok: false }> {
  if (r.ok) throw new Error('expected a rejection, got ok');
  return r;
}

export function order(text: string | Buffer, options?: Hl7Options): BmaOrder {
  const r = ok(translateHl7(text, options));
  const item = r.items[0];
  if (item.kind !== 'order') throw new Error('expected an order');
  return item;
}

export function result(text: string | Buffer, options?: Hl7Options): ResultUpdate {
  const r = ok(translateHl7(text, options));
  const item = r.items[0];
  if (item.kind !== 'result') throw new Error('expected a result');
  return item;
}

/** The single error expected at a location. */
export function errorAt(r: Hl7TranslateResult, segment: string, field: number): Hl7Error {
  const f = failed(r);
  const e = f.errors.find((x) => x.segment === segment && x.field === field);
  if (!e) throw new Error(`no error at ${segment}-${field}; got ${JSON.stringify(f.errors)}`);
  return e;
}

export const OML = 'oml-o21-bma-v251.hl7';
export const ORM = 'orm-o01-bma-v23.hl7';
export const ORU_P = 'oru-r01-bma-preliminary.hl7';
export const ORU_F = 'oru-r01-bma-final.hl7';
export const ORU_C = 'oru-r01-bma-corrected.hl7';

/** Patient data from the fixtures that must never appear in an error message. */
export const PATIENT_DATA = [
  'TESTPATIENT',
  'ALPHA',
  'BRAVO',
  'MRN-900001',
  'MRN-900002',
  '19610704',
  '19550212',
  '555001234',
];
