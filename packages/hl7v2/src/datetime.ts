/**
 * HL7 v2 DTM / DT / TM → ISO 8601 as the canonical model wants it.
 *
 * - A DTM with a UTC offset keeps it. Without one it is local time in the sending facility's IANA zone; the offset
 *   for that instant is computed with Intl (DST-correct). Output always carries an explicit offset (Z for zero).
 * - Precision is kept: YYYY, YYYYMM, YYYYMMDD stay a date (no offset) where the target allows a date
 *   (FHIR dateTime); a time of day is always written with seconds (FHIR requires them), fractions as given.
 *   For an instant target (DiagnosticReport.issued) a date alone becomes local midnight.
 * - In a wall-clock gap (spring forward) the earlier offset is used (the time moves forward by the gap); in an
 *   overlap (fall back) the earlier instant is chosen.
 */

const DTM_RE =
  /^(\d{4})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d{1,4}))?)?)?)?)?)?(?:([+-])(\d{2})(\d{2}))?$/;
const TM_RE = /^(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d{1,4}))?)?)?(?:[+-]\d{4})?$/;

export type DtmTarget = 'dateTime' | 'instant';

const pad2 = (n: number): string => String(n).padStart(2, '0');

function daysInMonth(y: number, m: number): number {
  return new Date(Date.UTC(y, m, 0)).getUTCDate();
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      era: 'short',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Throws RangeError for an unknown zone. */
export function checkTimeZone(timeZone: string): void {
  formatterFor(timeZone);
}

const isUtc = (tz: string): boolean => tz === 'UTC' || tz === 'Etc/UTC' || tz === 'GMT' || tz === 'Etc/GMT';

/** Offset of `timeZone` from UTC at the instant `utcMs`, in minutes (east positive). */
function zoneOffsetMinutes(timeZone: string, utcMs: number): number {
  if (isUtc(timeZone)) return 0;
  const parts = formatterFor(timeZone).formatToParts(new Date(utcMs));
  let y = 0;
  let mo = 0;
  let d = 0;
  let h = 0;
  let mi = 0;
  let s = 0;
  let bc = false;
  for (const p of parts) {
    switch (p.type) {
      case 'year':
        y = Number(p.value);
        break;
      case 'month':
        mo = Number(p.value);
        break;
      case 'day':
        d = Number(p.value);
        break;
      case 'hour':
        h = Number(p.value);
        break;
      case 'minute':
        mi = Number(p.value);
        break;
      case 'second':
        s = Number(p.value);
        break;
      case 'era':
        bc = p.value === 'BC' || p.value === 'B';
        break;
    }
  }
  if (bc) y = 1 - y;
  const wall = Date.UTC(y, mo - 1, d, h, mi, s);
  const whole = Math.floor(utcMs / 1000) * 1000;
  return Math.round((wall - whole) / 60000);
}

const BUCKET_MS = 15 * 60_000;
const offsetCache = new Map<string, number>();

/**
 * Offset (minutes) that makes the wall-clock time `wallMs` (fields read as if UTC) local time in `timeZone`.
 * Cached per zone and 15-minute wall-clock bucket: zone transitions happen on quarter hours.
 */
export function offsetForLocal(timeZone: string, wallMs: number): number {
  if (isUtc(timeZone)) return 0;
  const key = `${timeZone}|${Math.floor(wallMs / BUCKET_MS)}`;
  const cached = offsetCache.get(key);
  if (cached !== undefined) return cached;
  const off = computeOffsetForLocal(timeZone, wallMs);
  if (offsetCache.size > 50_000) offsetCache.clear();
  offsetCache.set(key, off);
  return off;
}

function computeOffsetForLocal(timeZone: string, wallMs: number): number {
  const DAY = 86_400_000;
  const before = zoneOffsetMinutes(timeZone, wallMs - DAY);
  const after = zoneOffsetMinutes(timeZone, wallMs + DAY);
  const candidates = new Set([before, after, zoneOffsetMinutes(timeZone, wallMs)]);
  const valid = [...candidates].filter((o) => zoneOffsetMinutes(timeZone, wallMs - o * 60000) === o);
  if (valid.length > 0) return Math.max(...valid); // overlap: the larger offset is the earlier instant
  return before; // gap: read with the offset in force before the transition
}

function formatOffset(minutes: number): string {
  if (minutes === 0) return 'Z';
  const sign = minutes < 0 ? '-' : '+';
  const a = Math.abs(minutes);
  return `${sign}${pad2(Math.floor(a / 60))}:${pad2(a % 60)}`;
}

export type DtmResult = { ok: true; value: string } | { ok: false };

/**
 * Converts a DTM (or the first component of a TS). Empty input is the caller's concern (pass non-empty text).
 */
export function convertDtm(raw: string, timeZone: string, target: DtmTarget): DtmResult {
  const m = DTM_RE.exec(raw.trim());
  if (!m) return { ok: false };
  const y = Number(m[1]);
  const mo = m[2] === undefined ? undefined : Number(m[2]);
  const d = m[3] === undefined ? undefined : Number(m[3]);
  const h = m[4] === undefined ? undefined : Number(m[4]);
  const mi = m[5] === undefined ? 0 : Number(m[5]);
  const s = m[6] === undefined ? 0 : Number(m[6]);
  const frac = m[7];
  if (mo !== undefined && (mo < 1 || mo > 12)) return { ok: false };
  if (d !== undefined && (d < 1 || d > daysInMonth(y, mo as number))) return { ok: false };
  if (h !== undefined && h > 23) return { ok: false };
  if (mi > 59 || s > 59) return { ok: false };
  let explicit: number | undefined;
  if (m[8]) {
    const oh = Number(m[9]);
    const om = Number(m[10]);
    if (oh > 14 || om > 59) return { ok: false };
    explicit = (m[8] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const date = `${m[1]}${mo === undefined ? '' : `-${pad2(mo)}`}${d === undefined ? '' : `-${pad2(d)}`}`;
  if (h === undefined) {
    if (target === 'dateTime') return { ok: true, value: date };
    // instant: local midnight (of the first day of the month/year when that is all we have)
    const wall = Date.UTC(y, (mo ?? 1) - 1, d ?? 1, 0, 0, 0);
    const off = explicit ?? offsetForLocal(timeZone, wall);
    return { ok: true, value: `${y}-${pad2(mo ?? 1)}-${pad2(d ?? 1)}T00:00:00${formatOffset(off)}` };
  }
  if (mo === undefined || d === undefined) return { ok: false };
  const wall = Date.UTC(y, mo - 1, d, h, mi, s);
  const off = explicit ?? offsetForLocal(timeZone, wall);
  const time = `${pad2(h)}:${pad2(mi)}:${pad2(s)}${frac ? `.${frac}` : ''}`;
  return { ok: true, value: `${date}T${time}${formatOffset(off)}` };
}

/** DT (YYYY[MM[DD]]) → YYYY[-MM[-DD]]. */
export function convertDt(raw: string): DtmResult {
  const m = /^(\d{4})(?:(\d{2})(?:(\d{2}))?)?$/.exec(raw.trim());
  if (!m) return { ok: false };
  return convertDtm(raw.trim(), 'UTC', 'dateTime');
}

/** A birth date (DTM, any precision) → its date part as given (no zone shift). */
export function convertBirthDate(raw: string): DtmResult {
  const m = DTM_RE.exec(raw.trim());
  if (!m) return { ok: false };
  const digits = raw
    .trim()
    .slice(0, 8)
    .replace(/[^0-9]/g, '');
  const r = convertDtm(digits, 'UTC', 'dateTime');
  return r;
}

/** TM (HH[MM[SS[.S]]][+/-ZZZZ]) → hh:mm:ss[.f]. The offset cannot be kept (FHIR time has none). */
export function convertTm(raw: string): DtmResult & { droppedOffset?: boolean } {
  const t = raw.trim();
  const m = TM_RE.exec(t);
  if (!m) return { ok: false };
  const h = Number(m[1]);
  const mi = m[2] === undefined ? 0 : Number(m[2]);
  const s = m[3] === undefined ? 0 : Number(m[3]);
  if (h > 23 || mi > 59 || s > 59) return { ok: false };
  const value = `${pad2(h)}:${pad2(mi)}:${pad2(s)}${m[4] ? `.${m[4]}` : ''}`;
  return { ok: true, value, droppedOffset: /[+-]\d{4}$/.test(t) };
}
