/** OBX-5 by OBX-2 (IG OBX[Observation] rows), OBX-6 units, OBX-7 reference range, OBX-8 interpretation. */
import type { AttachedDocument, Interpretation, ObservationValue, ReferenceRange } from '@marrowbridge/model';
import { convertDt, convertTm } from './datetime';
import { Ctx, codingSystemUri, convertDtmAt, cweFrom } from './datatypes';
import { componentParts, Seg } from './message';
import { interpretation } from './tables';

export type ObxValue =
  | { kind: 'value'; value: ObservationValue }
  | { kind: 'empty' }
  | { kind: 'document'; doc: AttachedDocument }
  | { kind: 'error' };

const NUM = /^[+-]?(\d+\.?\d*|\.\d+)$/;

function num(text: string): number | undefined {
  const t = text.trim();
  if (!NUM.test(t)) return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/** OBX-6: the UCUM code when the coding system is UCUM, else the unit text as sent. */
export function unitOf(obx: Seg): string | undefined {
  const code = obx.comp(6, 1);
  const text = obx.comp(6, 2);
  const system = obx.comp(6, 3).toUpperCase();
  if (system === 'UCUM') return code || text || undefined;
  return text || code || undefined;
}

const COMPARATORS = new Set(['<', '>', '<=', '>=']);
type Comparator = '<' | '>' | '<=' | '>=';

function readSn(obx: Seg, ctx: Ctx, unit: string | undefined): ObxValue {
  let c1 = obx.comp(5, 1);
  let c2 = obx.comp(5, 2);
  let c3 = obx.comp(5, 3);
  let c4 = obx.comp(5, 4);
  if (!c2 && !c3 && !c4) {
    // not in component form, e.g. "<0.10", "2:1", "1-3"
    const m = /^(<=|>=|<>|<|>|=)?\s*([+-]?(?:\d+\.?\d*|\.\d+))\s*(?:([-:/+.])\s*([+-]?(?:\d+\.?\d*|\.\d+))?)?$/.exec(
      c1,
    );
    if (!m) return snError(obx, ctx);
    [c1, c2, c3, c4] = [m[1] ?? '', m[2], m[3] ?? '', m[4] ?? ''];
  }
  const comparator = c1 === '=' ? '' : c1;
  if (comparator !== '' && comparator !== '<>' && !COMPARATORS.has(comparator)) return snError(obx, ctx);
  if (comparator === '<>') {
    return { kind: 'value', value: { type: 'string', value: [c1, c2, c3, c4].filter(Boolean).join(' ') } };
  }
  const n1 = num(c2);
  const n2 = c4 ? num(c4) : undefined;
  if (c2 && n1 === undefined) return snError(obx, ctx);
  if (c4 && n2 === undefined) return snError(obx, ctx);
  if (c3 === ':' || c3 === '/') {
    if (n1 === undefined || n2 === undefined) return snError(obx, ctx);
    if (comparator)
      ctx.issues.warn(obx.loc(5, 1), 'OBX-5 SN ratio comparator cannot be kept (the canonical ratio has none)');
    return { kind: 'value', value: { type: 'ratio', numerator: n1, denominator: n2 } };
  }
  if (c3 === '-') {
    if (n1 === undefined && n2 === undefined) return snError(obx, ctx);
    if (comparator) ctx.issues.warn(obx.loc(5, 1), 'OBX-5 SN range comparator cannot be kept');
    const value: ObservationValue = { type: 'range' };
    if (n1 !== undefined) value.low = n1;
    if (n2 !== undefined) value.high = n2;
    if (unit) value.unit = unit;
    return { kind: 'value', value };
  }
  if (c3 === '+') {
    return { kind: 'value', value: { type: 'string', value: `${comparator}${c2}+${c4}` } };
  }
  if (n1 === undefined) return snError(obx, ctx);
  if (c3 || c4) ctx.issues.warn(obx.loc(5, 3), 'OBX-5 SN separator/second number not used (read as a quantity)');
  const value: ObservationValue = { type: 'quantity', value: n1 };
  if (unit) value.unit = unit;
  if (comparator) value.comparator = comparator as Comparator;
  return { kind: 'value', value };
}

function snError(obx: Seg, ctx: Ctx): ObxValue {
  ctx.issues.error(obx.loc(5), 102, 'OBX-5 is not a valid SN (structured numeric) value');
  return { kind: 'error' };
}

const PDF_SUBTYPES = new Set(['PDF', 'APPLICATION/PDF', 'X-PDF']);
const TEXT_SUBTYPES = new Set(['PLAIN', 'TEXT/PLAIN', 'RTF', 'HTML', 'XML', 'TEXT']);

function readEd(obx: Seg, ctx: Ctx, title: string | undefined): ObxValue {
  const typeOfData = obx.comp(5, 2).toUpperCase();
  const subtype = obx.comp(5, 3).toUpperCase();
  const encoding = obx.comp(5, 4).toUpperCase();
  const data = obx.comp(5, 5);
  const isPdf = PDF_SUBTYPES.has(subtype) || typeOfData === 'APPLICATION/PDF';
  if (!isPdf) {
    if ((typeOfData === 'TEXT' || TEXT_SUBTYPES.has(subtype)) && (encoding === 'A' || encoding === '')) {
      return data ? { kind: 'value', value: { type: 'string', value: data } } : { kind: 'empty' };
    }
    ctx.issues.error(
      obx.loc(5, 3),
      102,
      `OBX-5 ED content ${subtype || typeOfData || '(untyped)'} is neither a PDF nor text`,
    );
    return { kind: 'error' };
  }
  let base64: string;
  if (encoding === 'BASE64') {
    base64 = data.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(base64) || base64.length % 4 === 1) {
      ctx.issues.error(obx.loc(5, 5), 102, 'OBX-5 ED data is not valid Base64');
      return { kind: 'error' };
    }
  } else if (encoding === 'HEX') {
    const hex = data.replace(/\s+/g, '');
    if (!/^([0-9A-Fa-f]{2})*$/.test(hex)) {
      ctx.issues.error(obx.loc(5, 5), 102, 'OBX-5 ED data is not valid hexadecimal');
      return { kind: 'error' };
    }
    base64 = Buffer.from(hex, 'hex').toString('base64');
  } else if (encoding === 'A' || encoding === '') {
    base64 = Buffer.from(data, 'latin1').toString('base64');
  } else {
    ctx.issues.error(obx.loc(5, 4), 102, `OBX-5 ED encoding ${encoding} is not Base64, Hex or A`);
    return { kind: 'error' };
  }
  if (!base64) return { kind: 'empty' };
  if (!Buffer.from(base64.slice(0, 8), 'base64').toString('latin1').startsWith('%PDF')) {
    ctx.issues.warn(obx.loc(5, 5), 'OBX-5 ED is labelled PDF but does not start with %PDF');
  }
  const doc: AttachedDocument = { contentType: 'application/pdf', data: base64 };
  if (title) doc.title = title;
  return { kind: 'document', doc };
}

/** OBX-5 → a canonical value (or a document, or empty). Errors are reported on ctx.issues. */
export function readObxValue(obx: Seg, ctx: Ctx, title: string | undefined): ObxValue {
  const type = obx.comp(2, 1).toUpperCase();
  const has = obx.has(5);
  if (!has) return { kind: 'empty' };
  if (!type) {
    ctx.issues.error(obx.loc(2), 101, 'OBX-2 (value type) is required when OBX-5 is valued');
    return { kind: 'error' };
  }
  const repCount = obx.reps(5).length;
  const textTypes = type === 'ST' || type === 'TX' || type === 'FT';
  if (repCount > 1 && !textTypes) {
    ctx.issues.warn(obx.loc(5), `OBX-5 repeats for type ${type}: only the first repetition is kept`);
  }
  const unit = unitOf(obx);
  switch (type) {
    case 'ST':
    case 'TX':
    case 'FT': {
      const lines: string[] = [];
      for (let r = 0; r < repCount; r++) lines.push(obx.text(5, r));
      const value = lines.join('\n').replace(/\s+$/, '');
      return value ? { kind: 'value', value: { type: 'string', value } } : { kind: 'empty' };
    }
    case 'NM': {
      const n = num(obx.comp(5, 1));
      if (n === undefined) {
        ctx.issues.error(obx.loc(5), 102, 'OBX-5 is not a valid NM (numeric) value');
        return { kind: 'error' };
      }
      const value: ObservationValue = { type: 'quantity', value: n };
      if (unit) value.unit = unit;
      return { kind: 'value', value };
    }
    case 'SN':
      return readSn(obx, ctx, unit);
    case 'CE':
    case 'CWE':
    case 'CNE':
    case 'CF': {
      const cwe = cweFrom(componentParts(obx, 5), ctx);
      const coding = cwe.codings[0];
      if (!coding) {
        return cwe.text ? { kind: 'value', value: { type: 'string', value: cwe.text } } : { kind: 'empty' };
      }
      const value: ObservationValue = { type: 'coded', coding };
      if (cwe.text) value.text = cwe.text;
      return { kind: 'value', value };
    }
    case 'IS':
    case 'ID': {
      const code = obx.comp(5, 1);
      if (!code) return { kind: 'empty' };
      return { kind: 'value', value: { type: 'coded', coding: { system: codingSystemUri('', ctx), code } } };
    }
    case 'DT': {
      const raw = obx.comp(5, 1);
      const r = convertDt(raw);
      if (!r.ok) {
        ctx.issues.error(obx.loc(5), 102, 'OBX-5 is not a valid DT (YYYY[MM[DD]])');
        return { kind: 'error' };
      }
      return { kind: 'value', value: { type: 'dateTime', value: r.value } };
    }
    case 'DTM':
    case 'TS': {
      const v = convertDtmAt(obx.comp(5, 1), obx.loc(5), ctx, 'dateTime');
      return v ? { kind: 'value', value: { type: 'dateTime', value: v } } : { kind: 'error' };
    }
    case 'TM': {
      const r = convertTm(obx.comp(5, 1));
      if (!r.ok) {
        ctx.issues.error(obx.loc(5), 102, 'OBX-5 is not a valid TM (HH[MM[SS[.S]]])');
        return { kind: 'error' };
      }
      if (r.droppedOffset) ctx.issues.warn(obx.loc(5), 'OBX-5 TM offset dropped (a FHIR time has no offset)');
      return { kind: 'value', value: { type: 'time', value: r.value } };
    }
    case 'NR': {
      const low = obx.comp(5, 1);
      const high = obx.comp(5, 2);
      const lo = low ? num(low) : undefined;
      const hi = high ? num(high) : undefined;
      if ((low && lo === undefined) || (high && hi === undefined) || (lo === undefined && hi === undefined)) {
        ctx.issues.error(obx.loc(5), 102, 'OBX-5 is not a valid NR (numeric range)');
        return { kind: 'error' };
      }
      const value: ObservationValue = { type: 'range' };
      if (lo !== undefined) value.low = lo;
      if (hi !== undefined) value.high = hi;
      if (unit) value.unit = unit;
      return { kind: 'value', value };
    }
    case 'DR': {
      const before = ctx.issues.errors.length;
      const start = convertDtmAt(obx.comp(5, 1), obx.loc(5, 1), ctx, 'dateTime');
      const end = convertDtmAt(obx.comp(5, 2), obx.loc(5, 2), ctx, 'dateTime');
      if (ctx.issues.errors.length > before) return { kind: 'error' };
      ctx.issues.warn(obx.loc(5), 'OBX-5 DR (date range) carried as text: the canonical model has no period value');
      return { kind: 'value', value: { type: 'string', value: `${start ?? ''}/${end ?? ''}` } };
    }
    case 'VR':
      return { kind: 'value', value: { type: 'string', value: `${obx.comp(5, 1)}-${obx.comp(5, 2)}` } };
    case 'ED':
      return readEd(obx, ctx, title);
    case 'RP':
    case 'EI':
    case 'CX':
    case 'CP':
    case 'MO':
    case 'NA':
    case 'MA':
    case 'XPN':
    case 'XAD':
    case 'XCN':
    case 'XON':
    case 'XTN': {
      const value = obx.text(5, 0).replace(new RegExp(`\\${obx.d.component}+$`), '');
      ctx.issues.warn(obx.loc(2), `OBX-2 type ${type} carried as text`);
      return value ? { kind: 'value', value: { type: 'string', value } } : { kind: 'empty' };
    }
    default:
      ctx.issues.error(obx.loc(2), 102, `OBX-2 value type ${type} is not supported`);
      return { kind: 'error' };
  }
}

/** OBX-7 → reference range: "1-3" → low/high, "<5" / "<=5" → high, ">2" / ">=2" → low; the text is always kept. */
export function referenceRangeOf(text: string, unit: string | undefined): ReferenceRange | undefined {
  const t = text.trim();
  if (!t) return undefined;
  const rr: ReferenceRange = { text: t };
  const range = /^(-?\d+(?:\.\d+)?|-?\.\d+)\s*[-–]\s*(-?\d+(?:\.\d+)?|-?\.\d+)\s*([^\d\s].*)?$/.exec(t);
  const upper = /^(<=|<|≤)\s*(-?\d+(?:\.\d+)?)\s*([^\d\s].*)?$/.exec(t);
  const lower = /^(>=|>|≥)\s*(-?\d+(?:\.\d+)?)\s*([^\d\s].*)?$/.exec(t);
  if (range) {
    rr.low = Number(range[1]);
    rr.high = Number(range[2]);
  } else if (upper) {
    rr.high = Number(upper[2]);
  } else if (lower) {
    rr.low = Number(lower[2]);
  }
  if ((rr.low !== undefined || rr.high !== undefined) && unit) rr.unit = unit;
  return rr;
}

/** OBX-8 (repeating) → canonical interpretations; codes outside the canonical set are dropped with a warning. */
export function interpretationsOf(obx: Seg, ctx: Ctx): Interpretation[] | undefined {
  const out: Interpretation[] = [];
  const reps = obx.reps(8).length;
  for (let r = 0; r < reps; r++) {
    const code = obx.comp(8, 1, r);
    if (!code) continue;
    const v = interpretation.get(code.toUpperCase()) ?? interpretation.get(code);
    if (v) {
      if (!out.includes(v)) out.push(v);
    } else {
      ctx.issues.warn(obx.loc(8, 1, r + 1), `OBX-8 interpretation ${code} has no canonical value and was dropped`);
    }
  }
  return out.length ? out : undefined;
}
