/**
 * String formats of the canonical model, with one checker per format that both decides (for ajv)
 * and explains (for error messages). Explanations never repeat the value: they are also used for
 * patient fields such as the birth date.
 */

/** What a date-like format accepts. */
interface DateSpec {
  /** YYYY and YYYY-MM are allowed (birth dates, FHIR dateTime values). */
  partial: boolean;
  time: 'forbidden' | 'optional' | 'required';
}

export const DATE_FORMATS = {
  /** YYYY-MM-DD, YYYY-MM or YYYY (birthDate). */
  'mb-partial-date': { partial: true, time: 'forbidden' },
  /** YYYY-MM-DD, or YYYY-MM-DDThh:mm[:ss[.s+]] with Z or ±hh:mm. */
  'mb-date-time': { partial: false, time: 'optional' },
  /** YYYY-MM-DDThh:mm[:ss[.s+]] with Z or ±hh:mm (a time is required). */
  'mb-instant': { partial: false, time: 'required' },
  /** FHIR dateTime: YYYY, YYYY-MM, YYYY-MM-DD, or a date-time with an offset. */
  'mb-fhir-date-time': { partial: true, time: 'optional' },
} satisfies Record<string, DateSpec>;

export type DateFormatName = keyof typeof DATE_FORMATS;

/** Longest string any date-like format can accept (YYYY-MM-DDThh:mm:ss.sssssssss+hh:mm is 35). */
const MAX_DATE_LENGTH = 40;

// Lenient shape, to diagnose as well as to accept: separators and widths are checked afterwards.
const LOOSE_DATE_TIME =
  /^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?(?:([Tt ])(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d+))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isLeapYear(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

function daysInMonth(y: number, m: number): number {
  return m === 2 && isLeapYear(y) ? 29 : DAYS_IN_MONTH[m - 1];
}

/** Parts of a valid date-like string. */
interface DateParts {
  year: number;
  month?: number;
  day?: number;
  hour?: number;
  minute?: number;
  second?: number;
  fraction?: string;
  /** Offset from UTC in minutes (only with a time). */
  offsetMinutes?: number;
}

type Checked = { ok: true; parts: DateParts } | { ok: false; reason: string };

function checkOffset(off: string): string | number {
  if (off === 'Z') return 0;
  if (off === 'z') return 'the UTC offset must be an upper-case Z or ±hh:mm';
  const m = /^([+-])(\d{2}):(\d{2})$/.exec(off);
  if (!m) return 'the UTC offset must be written Z or ±hh:mm, with a colon';
  const h = Number(m[2]);
  const mm = Number(m[3]);
  if (mm > 59 || h > 14 || (h === 14 && mm > 0)) return 'the UTC offset must lie between -14:00 and +14:00';
  return (m[1] === '-' ? -1 : 1) * (h * 60 + mm);
}

function checkDateLike(s: string, spec: DateSpec): Checked {
  if (s.length > MAX_DATE_LENGTH) return { ok: false, reason: 'it is far too long for a date' };
  const m = LOOSE_DATE_TIME.exec(s);
  if (!m) {
    if (/^\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}/.test(s)) return { ok: false, reason: 'the date must be written year first' };
    if (/^\d{8}/.test(s)) return { ok: false, reason: 'the parts of the date must be separated by "-"' };
    return { ok: false, reason: '' };
  }
  const [, ys, mos, ds, sep, hs, mis, ss, frac, off] = m;
  const year = Number(ys);
  if (year === 0) return { ok: false, reason: 'the year must not be 0000' };
  const parts: DateParts = { year };
  if (mos === undefined) {
    if (hs !== undefined || off !== undefined) return { ok: false, reason: '' };
    return spec.partial ? { ok: true, parts } : { ok: false, reason: 'a full date (YYYY-MM-DD) is required here' };
  }
  if (mos.length !== 2) return { ok: false, reason: 'the month must have two digits' };
  parts.month = Number(mos);
  if (parts.month < 1 || parts.month > 12) return { ok: false, reason: 'the month must be 01 to 12' };
  if (ds === undefined) {
    if (hs !== undefined || off !== undefined) return { ok: false, reason: '' };
    return spec.partial ? { ok: true, parts } : { ok: false, reason: 'a full date (YYYY-MM-DD) is required here' };
  }
  if (ds.length !== 2) return { ok: false, reason: 'the day must have two digits' };
  parts.day = Number(ds);
  if (parts.day < 1 || parts.day > daysInMonth(year, parts.month)) {
    return { ok: false, reason: 'that day does not exist in that month' };
  }
  if (hs === undefined) {
    if (off !== undefined) return { ok: false, reason: 'a UTC offset is only allowed after a time' };
    if (spec.time === 'required') return { ok: false, reason: 'a time with a UTC offset is required here' };
    return { ok: true, parts };
  }
  if (spec.time === 'forbidden') return { ok: false, reason: 'a date without a time is expected here' };
  if (sep !== 'T') return { ok: false, reason: 'the date and the time must be separated by an upper-case "T"' };
  if (hs.length !== 2 || mis.length !== 2 || (ss !== undefined && ss.length !== 2)) {
    return { ok: false, reason: 'hours, minutes and seconds must have two digits each' };
  }
  parts.hour = Number(hs);
  parts.minute = Number(mis);
  if (parts.hour > 23) return { ok: false, reason: 'the hour must be 00 to 23' };
  if (parts.minute > 59) return { ok: false, reason: 'the minutes must be 00 to 59' };
  if (ss !== undefined) {
    parts.second = Number(ss);
    if (parts.second > 60) return { ok: false, reason: 'the seconds must be 00 to 59' };
  }
  if (frac !== undefined) {
    if (frac.length > 9) return { ok: false, reason: 'at most 9 digits are allowed after the seconds' };
    parts.fraction = frac;
  }
  if (off === undefined) return { ok: false, reason: 'a time needs a UTC offset (Z or ±hh:mm)' };
  if (/\s$/.test(s.slice(0, s.length - off.length))) {
    return { ok: false, reason: 'there must be no space before the UTC offset' };
  }
  const o = checkOffset(off);
  if (typeof o === 'string') return { ok: false, reason: o };
  parts.offsetMinutes = o;
  return { ok: true, parts };
}

/** True when `s` is valid in the named date-like format. */
export function isValidDate(format: DateFormatName, s: string): boolean {
  return checkDateLike(s, DATE_FORMATS[format]).ok;
}

/** Why `s` is not valid in the named format, without repeating it ('' when there is nothing specific to say). */
export function explainDate(format: DateFormatName, s: string): string {
  const r = checkDateLike(s, DATE_FORMATS[format]);
  return r.ok ? '' : r.reason;
}

const TIME = /^(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?$/;

/** hh:mm[:ss[.s+]], a time of day without an offset (FHIR time, v2 TM). */
export function isValidTime(s: string): boolean {
  return explainTime(s) === null;
}

/** null when valid, else a reason ('' when there is nothing specific to say). */
export function explainTime(s: string): string | null {
  if (s.length > MAX_DATE_LENGTH) return 'it is far too long for a time';
  const m = TIME.exec(s);
  if (!m) {
    if (/[Zz+-]/.test(s)) return 'a time of day takes no UTC offset';
    return '';
  }
  if (Number(m[1]) > 23) return 'the hour must be 00 to 23';
  if (Number(m[2]) > 59) return 'the minutes must be 00 to 59';
  if (m[3] !== undefined && Number(m[3]) > 59) return 'the seconds must be 00 to 59';
  return null;
}

/** Standard base64 (RFC 4648 §4) with padding; checked with a loop so that 20 MB cost no regex backtracking. */
export function isBase64(s: string): boolean {
  const n = s.length;
  if (n === 0 || n % 4 !== 0) return false;
  let pad = 0;
  if (s.charCodeAt(n - 1) === 61) pad = s.charCodeAt(n - 2) === 61 ? 2 : 1;
  for (let i = 0; i < n - pad; i++) {
    const c = s.charCodeAt(i);
    const ok =
      (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 /* + */ || c === 47; /* / */
    if (!ok) return false;
  }
  return true;
}

/** Earliest and latest instant (epoch ms) a valid date-like string can mean; undefined when it is not valid. */
export function instantRange(s: string): { min: number; max: number } | undefined {
  const r = checkDateLike(s, { partial: true, time: 'optional' });
  if (!r.ok) return undefined;
  const p = r.parts;
  const HOUR = 3_600_000;
  if (p.hour === undefined) {
    // A date alone could be in any time zone: widen by the largest offsets (−12:00, +14:00).
    const start = utcMs(p.year, p.month ?? 1, p.day ?? 1, 0, 0, 0, 0);
    const end =
      p.day !== undefined
        ? utcMs(p.year, p.month!, p.day + 1, 0, 0, 0, 0)
        : p.month !== undefined
          ? utcMs(p.year, p.month + 1, 1, 0, 0, 0, 0)
          : utcMs(p.year + 1, 1, 1, 0, 0, 0, 0);
    return { min: start - 14 * HOUR, max: end + 12 * HOUR - 1 };
  }
  const ms = p.fraction !== undefined ? Number(p.fraction.slice(0, 3).padEnd(3, '0')) : 0;
  const t = utcMs(p.year, p.month!, p.day!, p.hour, p.minute!, p.second ?? 0, ms) - p.offsetMinutes! * 60_000;
  // Without seconds the time stands for the whole minute; without a fraction, for the whole second.
  const width = p.second === undefined ? 59_999 : p.fraction === undefined ? 999 : 0;
  return { min: t, max: t + width };
}

function utcMs(y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number): number {
  const dt = new Date(0);
  dt.setUTCFullYear(y, mo - 1, d); // handles years below 100, which Date.UTC would move to 19xx
  dt.setUTCHours(h, mi, s, ms);
  return dt.getTime();
}
