/**
 * Turns ajv's errors into InputErrors a person can act on: a JSON pointer and a sentence that
 * names the field, the rule and (for fields that are not patient data) a short excerpt of the value.
 */
import type { ErrorObject } from 'ajv';
import type { InputError } from './types';
import { type DateFormatName, DATE_FORMATS, explainDate, explainTime } from './formats';

/** At most this many errors are returned, plus one "…and N more" entry. */
export const MAX_ERRORS = 50;
/** At most this many characters of an offending value are shown. */
export const MAX_SHOWN_CHARS = 60;

type SchemaObject = Record<string, unknown>;

/** Appends a property name or an array index to a JSON pointer (RFC 6901 escaping). */
export function pointer(base: string, key: string | number): string {
  return `${base}/${String(key).replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

const SHOWN_PATIENT_FIELDS = new Set(['/patient/sex', '/patient/mrn/system']);
/** Free-text fields: their content may say anything about the patient, so it is never shown. */
const FREE_TEXT = new Set([
  'note',
  'notes',
  'clinicalNotes',
  'conclusion',
  'text',
  'display',
  'notDoneReason',
  'followUp',
  'data',
  'title',
]);

/**
 * Whether the value at `path` must not be repeated in a message: the patient's fields (name,
 * birth date, MRN value…) and free text. Only the patient's sex and the MRN's system are shown.
 */
export function isSensitivePath(path: string): boolean {
  if (path === '/patient' || path.startsWith('/patient/')) return !SHOWN_PATIENT_FIELDS.has(path);
  const named = path
    .split('/')
    .filter((s) => s !== '' && !/^\d+$/.test(s))
    .pop();
  return named !== undefined && FREE_TEXT.has(named);
}

/** "a string", "an array"… for the kind of a JSON value. */
export function describeType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  switch (typeof v) {
    case 'string':
      return 'a string';
    case 'number':
      return Number.isFinite(v) ? 'a number' : String(v);
    case 'boolean':
      return 'a boolean';
    case 'object':
      return 'an object';
    case 'undefined':
      return 'nothing';
    default:
      return `a ${typeof v}`;
  }
}

/** A short, safe rendering of a value: at most MAX_SHOWN_CHARS characters of a string, types for containers. */
export function showValue(v: unknown): string {
  if (typeof v === 'string') {
    const s = v.length > MAX_SHOWN_CHARS ? `${v.slice(0, MAX_SHOWN_CHARS - 1)}…` : v;
    return JSON.stringify(s);
  }
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return describeType(v);
}

/** " (got …)" for a value at `path`, or '' when the value must not be shown. */
export function got(path: string, v: unknown): string {
  return isSensitivePath(path) ? '' : ` (got ${showValue(v)})`;
}

/** A property or field name for a message, cut to MAX_SHOWN_CHARS. */
function showName(name: string): string {
  return JSON.stringify(name.length > MAX_SHOWN_CHARS ? `${name.slice(0, MAX_SHOWN_CHARS - 1)}…` : name);
}

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  integer: 'a whole number',
  boolean: 'true or false',
  object: 'an object',
  array: 'an array',
  null: 'null',
};

/** The base message of each date-like format, with an example. */
const FORMAT_MESSAGES: Record<string, string> = {
  'mb-partial-date': 'must be a date YYYY-MM-DD (or YYYY-MM or YYYY when only that is known), e.g. 1970-01-31',
  // A date alone (2026-03-02) is accepted too; the message leads with what a time needs.
  'mb-date-time': 'must be a date-time with a UTC offset, e.g. 2026-03-02T08:30:00-05:00',
  'mb-instant': 'must be a date-time with a UTC offset, e.g. 2026-03-02T08:30:00-05:00',
  'mb-fhir-date-time':
    'must be a date (YYYY, YYYY-MM or YYYY-MM-DD) or a date-time with a UTC offset, e.g. 2026-03-02T08:30:00-05:00',
  'mb-time': 'must be a time of day hh:mm or hh:mm:ss, e.g. 08:30',
  'mb-base64': 'must be base64 (A–Z, a–z, 0–9, + and /, padded with = to a multiple of 4 characters)',
  uri: 'must be a URI, e.g. urn:oid:2.16.840.1.113883.3.1234.1 or https://hospital.example/ids/mrn',
};

function hint(schema: unknown): string | undefined {
  const h = (schema as SchemaObject | undefined)?.['x-hint'];
  return typeof h === 'string' ? h : undefined;
}

function propertySchema(parent: unknown, name: string): SchemaObject | undefined {
  const props = (parent as SchemaObject | undefined)?.properties as Record<string, SchemaObject> | undefined;
  return props && Object.prototype.hasOwnProperty.call(props, name) ? props[name] : undefined;
}

/** Number of code points (what JSON Schema's length keywords count). */
function codePoints(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xdc00 || c > 0xdfff || i === 0 || s.charCodeAt(i - 1) < 0xd800 || s.charCodeAt(i - 1) > 0xdbff) n++;
  }
  return n;
}

function plural(n: number, word: string): string {
  return `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;
}

function formatMessage(format: string, path: string, data: unknown): string {
  const base = FORMAT_MESSAGES[format] ?? `must be in the format ${format}`;
  let reason = '';
  if (typeof data === 'string') {
    if (format in DATE_FORMATS) reason = explainDate(format as DateFormatName, data);
    else if (format === 'mb-time') reason = explainTime(data) ?? '';
  }
  return `${base}${got(path, data)}${reason ? `: ${reason}` : ''}`;
}

interface Translated {
  path: string;
  message: string;
  keyword: string;
}

function translateOne(e: ErrorObject): Translated | undefined {
  const path = e.instancePath;
  const data: unknown = e.data;
  const p = e.params as Record<string, unknown>;
  const out = (message: string, at = path): Translated => ({ path: at, message, keyword: e.keyword });
  switch (e.keyword) {
    case 'required': {
      const name = String(p.missingProperty);
      const desc = propertySchema(e.parentSchema, name)?.description;
      return out(typeof desc === 'string' ? `is required: ${desc}` : 'is required', pointer(path, name));
    }
    case 'additionalProperties': {
      const name = String(p.additionalProperty);
      const allowed = Object.keys(((e.parentSchema as SchemaObject | undefined)?.properties as object) ?? {});
      return out(`unknown field ${showName(name)} (allowed: ${allowed.join(', ')})`, pointer(path, name));
    }
    case 'type': {
      const expected = Array.isArray(p.type) ? (p.type as string[]) : [String(p.type)];
      if (typeof data === 'number' && !Number.isFinite(data) && expected.includes('number')) {
        return out(`must be a finite number (got ${String(data)})`);
      }
      return out(`must be ${expected.map((t) => TYPE_NAMES[t] ?? t).join(' or ')} (got ${describeType(data)})`);
    }
    case 'enum': {
      const allowed = (p.allowedValues as unknown[]).map((v) => (typeof v === 'string' ? v : JSON.stringify(v)));
      return out(`must be one of ${allowed.join(', ')}${got(path, data)}`);
    }
    case 'const':
      return out(`must be ${JSON.stringify(p.allowedValue)}${got(path, data)}`);
    case 'format':
      return out(formatMessage(String(p.format), path, data));
    case 'pattern': {
      const h = hint(e.parentSchema);
      return out(`${h ? `must be ${h}` : `must match the pattern ${String(p.pattern)}`}${got(path, data)}`);
    }
    case 'minLength':
      return out(p.limit === 1 ? 'must not be empty' : `must be at least ${plural(Number(p.limit), 'character')} long`);
    case 'maxLength': {
      const n = typeof data === 'string' ? codePoints(data) : 0;
      return out(`is too long: ${plural(n, 'character')}, at most ${Number(p.limit).toLocaleString('en-US')} allowed`);
    }
    case 'minItems':
      return out(`must have at least ${plural(Number(p.limit), 'item')}`);
    case 'maxItems': {
      const n = Array.isArray(data) ? data.length : 0;
      return out(`has too many items: ${n.toLocaleString('en-US')}, at most ${Number(p.limit)} allowed`);
    }
    case 'uniqueItems': {
      const [first, second] = [Number(p.i), Number(p.j)].sort((a, b) => a - b);
      return out(`repeats item ${first} of the list; each value may appear once`, pointer(path, second));
    }
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum': {
      const cmp = {
        minimum: 'at least',
        maximum: 'at most',
        exclusiveMinimum: 'greater than',
        exclusiveMaximum: 'less than',
      }[e.keyword];
      return out(`must be ${cmp} ${String(p.limit)}${got(path, data)}`);
    }
    case 'minProperties': {
      const h = hint(e.parentSchema);
      return out(h ? `must have ${h}` : 'must not be empty');
    }
    case 'discriminator': {
      const tag = String(p.tag);
      const branches = ((e.parentSchema as SchemaObject | undefined)?.oneOf as SchemaObject[] | undefined) ?? [];
      const tags = branches.map((b) => String((propertySchema(b, tag) as SchemaObject | undefined)?.const));
      const value = (data as Record<string, unknown> | null | undefined)?.[tag];
      const at = pointer(path, tag);
      if (value === undefined) return out(`is required: the kind of value, one of ${tags.join(', ')}`, at);
      return out(`must be one of ${tags.join(', ')}${got(at, value)}`, at);
    }
    default:
      return out(e.message ?? `fails the ${e.keyword} rule`);
  }
}

/** Keywords that, failing at a path, make the pattern/format failures at the same path uninteresting. */
const SHADOWING: Record<string, Set<string>> = {
  maxLength: new Set(['pattern', 'format']),
  minLength: new Set(['pattern', 'format']),
};

/** Translates ajv's errors, drops noise and duplicates, and caps the list. */
export function translateAjvErrors(errors: readonly ErrorObject[] | null | undefined): InputError[] {
  return capErrors(translateAllAjvErrors(errors));
}

/** Translates ajv's errors and drops noise, without capping the list (duplicates are left to capErrors). */
export function translateAllAjvErrors(errors: readonly ErrorObject[] | null | undefined): InputError[] {
  const all = (errors ?? []).map(translateOne).filter((t): t is Translated => t !== undefined);
  const typeFailed = new Set(all.filter((t) => t.keyword === 'type').map((t) => t.path));
  const shadowedAt = new Map<string, Set<string>>();
  for (const t of all) {
    const sh = SHADOWING[t.keyword];
    if (!sh) continue;
    const set = shadowedAt.get(t.path) ?? new Set<string>();
    sh.forEach((k) => set.add(k));
    shadowedAt.set(t.path, set);
  }
  const underTypeError = (path: string): boolean => {
    for (let p = path; ; p = p.slice(0, p.lastIndexOf('/'))) {
      if (typeFailed.has(p)) return true;
      if (p === '') return false;
    }
  };
  const kept = all.filter((t) => {
    if (t.keyword !== 'type' && underTypeError(t.path)) return false;
    return !shadowedAt.get(t.path)?.has(t.keyword);
  });
  return kept.map(({ path, message }) => ({ path, message }));
}

/** Removes duplicates and keeps the first MAX_ERRORS, with a final "…and N more" entry. */
export function capErrors(errors: readonly InputError[]): InputError[] {
  const seen = new Set<string>();
  const unique = errors.filter((e) => {
    const key = `${e.path}\u0000${e.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  if (unique.length <= MAX_ERRORS) return unique;
  const rest = unique.length - MAX_ERRORS;
  return [
    ...unique.slice(0, MAX_ERRORS),
    {
      path: '',
      message: `…and ${rest} more ${rest === 1 ? 'problem' : 'problems'} (only the first ${MAX_ERRORS} are listed)`,
    },
  ];
}
