/**
 * Field-level comparison of our FHIR output for an HL7 v2 message with a reference converter's output for the
 * same message (FHIR-Converter batch Bundles, ReportStream message Bundles). A test tool, not product code.
 *
 * Both sides are reduced to the key fields named in ../shared/external/hl7v2/README.md — identifiers, codes,
 * statuses, values with units, times, specimen type — then paired (reports by code, observations by code and
 * order of appearance, orders by placer number) and compared field by field, over the fields both carry.
 * Ids, extensions, displays and narrative are not compared.
 */
import type {
  Bundle,
  CodeableConcept,
  Coding,
  DiagnosticReport,
  Identifier,
  Observation,
  Quantity,
  Reference,
  Resource,
  ServiceRequest,
  Specimen,
} from '@medplum/fhirtypes';

export const FIELDS = [
  'patient.identifier',
  'order.placer',
  'order.filler',
  'order.status',
  'order.authoredOn',
  'report.placer',
  'report.filler',
  'report.code',
  'report.status',
  'report.effective',
  'report.issued',
  'specimen.identifier',
  'specimen.type',
  'specimen.collected',
  'observation.code',
  'observation.status',
  'observation.value',
  'observation.unit',
  'observation.interpretation',
  'observation.effective',
] as const;
export type Field = (typeof FIELDS)[number];

interface Code {
  system?: string;
  code: string;
}

type Value =
  | { t: 'quantity'; value: number; comparator?: string; unit?: string }
  | { t: 'string'; s: string }
  | { t: 'coded'; codes: Code[]; text?: string }
  | { t: 'dateTime'; s: string }
  | { t: 'time'; s: string }
  | { t: 'ratio'; n?: number; d?: number }
  | { t: 'range'; low?: number; high?: number; unit?: string }
  | { t: 'period'; start?: string; end?: string }
  | { t: 'other'; kind: string };

interface ObsFacts {
  codes: Code[];
  status?: string;
  value?: Value;
  interpretation: string[];
  effective?: string;
}

interface ReportFacts {
  codes: Code[];
  status?: string;
  effective?: string;
  issued?: string;
  placer?: string;
  filler?: string;
  specimenIds: string[];
}

interface OrderFacts {
  placer?: string;
  filler?: string;
  status?: string;
  authoredOn?: string;
}

interface SpecimenFacts {
  ids: string[];
  types: Code[];
  collected?: string;
}

export interface Facts {
  patientIds: string[];
  /** Every Specimen identifier and accession in the output (whatever links to it). */
  allSpecimenIds: string[];
  orders: OrderFacts[];
  reports: ReportFacts[];
  specimens: SpecimenFacts[];
  observations: ObsFacts[];
}

/** Per field: pairs where both sides carry the field, how many agree, and a few disagreements (codes only). */
export type Tally = Map<Field, { pairs: number; agree: number; samples: string[] }>;

export function newTally(): Tally {
  return new Map(FIELDS.map((f) => [f, { pairs: 0, agree: 0, samples: [] }]));
}

export interface MatchCounts {
  reports: { matched: number; oursOnly: number; expectedOnly: number };
  observations: { matched: number; oursOnly: number; expectedOnly: number };
}

const STANDARD = new Set(['http://loinc.org', 'http://snomed.info/sct', 'http://unitsofmeasure.org']);
const isStandard = (c: Code): boolean => !!c.system && STANDARD.has(c.system);

// ---------------------------------------------------------------- extraction

function codesOf(cc: CodeableConcept | undefined): Code[] {
  return (cc?.coding ?? [])
    .filter((c: Coding) => c.code)
    .map((c: Coding) => ({ ...(c.system ? { system: c.system } : {}), code: String(c.code) }));
}

function typeCode(id: Identifier): string | undefined {
  return id.type?.coding?.[0]?.code;
}

function typed(ids: Identifier[] | undefined, type: string): string | undefined {
  return ids?.find((i) => typeCode(i) === type && i.value)?.value;
}

/** `Type?identifier=system|value` (URL-encoded parts) → the value. */
function conditionalValue(ref: string | undefined): string | undefined {
  const m = ref ? /^\w+\?identifier=(.*)$/.exec(ref) : null;
  if (!m) return undefined;
  const bar = m[1].lastIndexOf('|');
  return decodeURIComponent(bar >= 0 ? m[1].slice(bar + 1) : m[1]);
}

function valueOf(o: Observation): Value | undefined {
  const q = (x: Quantity | undefined): number | undefined => (typeof x?.value === 'number' ? x.value : undefined);
  // UCUM: the code; otherwise the unit as printed (a local CWE.1 code such as "1" says little)
  const unitOf = (x: Quantity | undefined): string | undefined =>
    (x?.system === 'http://unitsofmeasure.org' ? x.code : undefined) ?? x?.unit ?? x?.code ?? undefined;
  if (o.valueQuantity) {
    const v = o.valueQuantity;
    return {
      t: 'quantity',
      value: v.value as number,
      ...(v.comparator ? { comparator: v.comparator } : {}),
      ...(unitOf(v) ? { unit: unitOf(v) } : {}),
    };
  }
  if (o.valueString !== undefined) return { t: 'string', s: o.valueString };
  if (o.valueCodeableConcept) {
    return {
      t: 'coded',
      codes: codesOf(o.valueCodeableConcept),
      ...(o.valueCodeableConcept.text ? { text: o.valueCodeableConcept.text } : {}),
    };
  }
  if (o.valueDateTime) return { t: 'dateTime', s: o.valueDateTime };
  if (o.valueTime) return { t: 'time', s: o.valueTime };
  if (o.valueRatio) return { t: 'ratio', n: q(o.valueRatio.numerator), d: q(o.valueRatio.denominator) };
  if (o.valueRange) {
    const unit = unitOf(o.valueRange.low) ?? unitOf(o.valueRange.high);
    return { t: 'range', low: q(o.valueRange.low), high: q(o.valueRange.high), ...(unit ? { unit } : {}) };
  }
  if (o.valuePeriod) return { t: 'period', start: o.valuePeriod.start, end: o.valuePeriod.end };
  const other = Object.keys(o).find((k) => k.startsWith('value') && !k.startsWith('value_'));
  return other ? { t: 'other', kind: other } : undefined;
}

/** 'unknown' is what the reference converters write when the v2 field is empty: not a status they carry. */
const status = (s: string | undefined): string | undefined => (s && s !== 'unknown' ? s : undefined);

/** Facts from one or more Bundles (ours: one per item of a message; theirs: the one expected Bundle). */
export function extractFacts(bundles: Bundle[]): Facts {
  const resources: Resource[] = [];
  const byRef = new Map<string, Resource>();
  for (const b of bundles) {
    for (const e of b.entry ?? []) {
      if (!e.resource) continue;
      resources.push(e.resource);
      if (e.fullUrl) byRef.set(e.fullUrl, e.resource);
      if (e.resource.id) byRef.set(`${e.resource.resourceType}/${e.resource.id}`, e.resource);
    }
  }
  const resolve = <T extends Resource>(r: Reference | undefined): T | undefined =>
    r?.reference ? (byRef.get(r.reference) as T | undefined) : undefined;
  const of = <T extends Resource>(type: T['resourceType']): T[] =>
    resources.filter((r): r is T => r.resourceType === type);

  const patientIds = new Set<string>();
  for (const p of of<Resource & { identifier?: Identifier[] }>('Patient')) {
    for (const i of p.identifier ?? []) if (i.value) patientIds.add(i.value);
  }
  const observations = of<Observation>('Observation');
  for (const r of [...of<DiagnosticReport>('DiagnosticReport'), ...observations]) {
    const v = conditionalValue(r.subject?.reference);
    if (v) patientIds.add(v);
  }

  const specimenFacts = (s: Specimen): SpecimenFacts => ({
    ids: [
      ...(s.identifier ?? []).map((i) => i.value),
      ...(s.accessionIdentifier?.value ? [s.accessionIdentifier.value] : []),
    ].filter((x): x is string => !!x),
    types: codesOf(s.type),
    ...(s.collection?.collectedDateTime ? { collected: s.collection.collectedDateTime } : {}),
    ...(s.collection?.collectedPeriod?.start ? { collected: s.collection.collectedPeriod.start } : {}),
  });

  const reports: ReportFacts[] = of<DiagnosticReport>('DiagnosticReport').map((d) => {
    const sr = d.basedOn?.map((b) => resolve<ServiceRequest>(b)).find(Boolean);
    const placer =
      typed(d.identifier, 'PLAC') ?? typed(sr?.identifier, 'PLAC') ?? conditionalValue(d.basedOn?.[0]?.reference);
    const filler = typed(d.identifier, 'FILL') ?? typed(sr?.identifier, 'FILL');
    const specimenIds: string[] = [];
    for (const s of d.specimen ?? []) {
      const own = conditionalValue(s.reference);
      if (own) specimenIds.push(own);
      const res = resolve<Specimen>(s);
      if (res) specimenIds.push(...specimenFacts(res).ids);
    }
    return {
      codes: codesOf(d.code),
      ...(status(d.status) ? { status: d.status } : {}),
      ...(d.effectiveDateTime ? { effective: d.effectiveDateTime } : {}),
      ...(d.effectivePeriod?.start ? { effective: d.effectivePeriod.start } : {}),
      ...(d.issued ? { issued: d.issued } : {}),
      ...(placer ? { placer } : {}),
      ...(filler ? { filler } : {}),
      specimenIds,
    };
  });

  const orders: OrderFacts[] = of<ServiceRequest>('ServiceRequest').map((s) => ({
    ...(typed(s.identifier, 'PLAC') ? { placer: typed(s.identifier, 'PLAC') } : {}),
    ...(typed(s.identifier, 'FILL') ? { filler: typed(s.identifier, 'FILL') } : {}),
    ...(status(s.status) ? { status: s.status } : {}),
    ...(s.authoredOn ? { authoredOn: s.authoredOn } : {}),
  }));

  const specimens = of<Specimen>('Specimen').map(specimenFacts);
  return {
    patientIds: [...patientIds],
    allSpecimenIds: [...new Set(specimens.flatMap((x) => x.ids))],
    orders,
    reports,
    specimens,
    observations: observations.map((o) => {
      const value = valueOf(o);
      return {
        codes: codesOf(o.code),
        ...(status(o.status) ? { status: o.status } : {}),
        ...(value ? { value } : {}),
        interpretation: (o.interpretation ?? []).flatMap((i) => codesOf(i).map((c) => c.code)),
        ...(o.effectiveDateTime ? { effective: o.effectiveDateTime } : {}),
        ...(o.effectivePeriod?.start ? { effective: o.effectivePeriod.start } : {}),
      };
    }),
  };
}

// ---------------------------------------------------------------- agreement rules

/** Two codes agree when the codes are equal and the systems are equal, or either side is not a standard system. */
function sameCode(a: Code, b: Code): boolean {
  if (a.code !== b.code) return false;
  if (isStandard(a) && isStandard(b)) return a.system === b.system;
  return true;
}

/** Code lists agree when they share a code (standard codes first: when both carry one, those must match). */
function sameCodes(a: Code[], b: Code[]): boolean {
  const sa = a.filter(isStandard);
  const sb = b.filter(isStandard);
  if (sa.length && sb.length) return sa.some((x) => sb.some((y) => sameCode(x, y)));
  return a.some((x) => b.some((y) => sameCode(x, y)));
}

interface Moment {
  ms?: number;
  digits: string;
}

/** A FHIR date/dateTime/instant: its instant when it has a time and an offset, and its digits (wall clock). */
function moment(s: string): Moment {
  const digits = s.replace(/([+-]\d\d:\d\d|Z)$/, '').replace(/\D/g, '');
  const hasZone = /T.*([+-]\d\d:\d\d|Z)$/.test(s);
  return hasZone ? { ms: Date.parse(s), digits } : { digits };
}

/**
 * Times agree when they are the same instant (both with a time and an offset), else when the wall-clock digits
 * agree to the precision of the less precise one (a date against a dateTime, or a time without an offset).
 */
export function sameTime(a: string, b: string): boolean {
  const x = moment(a);
  const y = moment(b);
  if (x.ms !== undefined && y.ms !== undefined && x.digits.length >= 12 && y.digits.length >= 12) {
    // compare to the minute when either side has no seconds
    const unit = x.digits.length < 14 || y.digits.length < 14 ? 60_000 : 1000;
    return Math.floor(x.ms / unit) === Math.floor(y.ms / unit);
  }
  const n = Math.min(x.digits.length, y.digits.length, 14);
  return x.digits.slice(0, n) === y.digits.slice(0, n);
}

/** Whitespace collapsed; v2 formatting escapes (\\.br\\, \\.sp\\ …), which ReportStream leaves in the text, read as spaces. */
const norm = (s: string): string =>
  s
    .replace(/\\\.(br|sp\d*|in[+-]?\d*|ti[+-]?\d*|fi|nf|ce)\\/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
const numEq = (a: number | undefined, b: number | undefined): boolean =>
  a === b || (a !== undefined && b !== undefined && Math.abs(a - b) < 1e-9);

function sameValue(a: Value, b: Value): boolean {
  switch (a.t) {
    case 'quantity':
      return b.t === 'quantity' && numEq(a.value, b.value) && (a.comparator ?? '') === (b.comparator ?? '');
    case 'string':
      return b.t === 'string' && norm(a.s) === norm(b.s);
    case 'coded':
      return (
        b.t === 'coded' && (sameCodes(a.codes, b.codes) || (!!a.text && !!b.text && norm(a.text) === norm(b.text)))
      );
    case 'dateTime':
      return b.t === 'dateTime' && sameTime(a.s, b.s);
    case 'time': {
      // hh:mm[:ss]; ReportStream writes the v2 TM digits as they came (e.g. 223100.0000)
      const digits = (t: string): string => t.replace(/\..*$/, '').replace(/\D/g, '').padEnd(6, '0').slice(0, 6);
      return b.t === 'time' && digits(a.s) === digits(b.s);
    }
    case 'ratio':
      return b.t === 'ratio' && numEq(a.n, b.n) && numEq(a.d, b.d);
    case 'range':
      return b.t === 'range' && numEq(a.low, b.low) && numEq(a.high, b.high);
    case 'period':
      return b.t === 'period' && (a.start ?? '') === (b.start ?? '') && (a.end ?? '') === (b.end ?? '');
    default:
      return b.t === 'other' && a.kind === b.kind;
  }
}

function unitOf(v: Value | undefined): string | undefined {
  return v && (v.t === 'quantity' || v.t === 'range') ? v.unit : undefined;
}

const describeValue = (v: Value): string => {
  switch (v.t) {
    case 'quantity':
      return `Quantity ${v.comparator ?? ''}${v.value}`;
    case 'coded':
      return `Coded ${v.codes.map((c) => c.code).join('/')}`;
    case 'string':
      return `string(${v.s.length} chars)`;
    default:
      return v.t;
  }
};

// ---------------------------------------------------------------- pairing and tallying

/** Pairs items by a key (in order of appearance within each key). */
function pairBy<T>(
  ours: T[],
  theirs: T[],
  key: (x: T) => string | undefined,
): { pairs: [T, T][]; a: number; b: number } {
  const pool = new Map<string, T[]>();
  for (const t of theirs) {
    const k = key(t);
    if (k === undefined) continue;
    pool.set(k, [...(pool.get(k) ?? []), t]);
  }
  const pairs: [T, T][] = [];
  for (const o of ours) {
    const k = key(o);
    const list = k === undefined ? undefined : pool.get(k);
    if (list?.length) pairs.push([o, list.shift() as T]);
  }
  return { pairs, a: ours.length - pairs.length, b: theirs.length - pairs.length };
}

const primaryKey = (codes: Code[]): string | undefined => (codes.find(isStandard) ?? codes[0])?.code;

/** Compares one message's facts; fields in `exclude` (filled in by the harness) are skipped. */
export function compareFacts(
  ours: Facts,
  theirs: Facts,
  tally: Tally,
  exclude: ReadonlySet<Field> = new Set(),
  label = '',
): MatchCounts {
  const add = <A, B>(
    field: Field,
    a: A | undefined,
    b: B | undefined,
    agree: (a: A, b: B) => boolean,
    show?: () => string,
  ): void => {
    if (exclude.has(field) || a === undefined || b === undefined) return;
    if (Array.isArray(a) && a.length === 0) return;
    if (Array.isArray(b) && b.length === 0) return;
    const t = tally.get(field) as { pairs: number; agree: number; samples: string[] };
    t.pairs++;
    if (agree(a, b)) t.agree++;
    else if (t.samples.length < 12) t.samples.push(`${label}${show ? `: ${show()}` : ''}`);
  };

  add('patient.identifier', ours.patientIds, theirs.patientIds, (a, b) => a.some((x) => b.includes(x)));

  // orders: by placer number, else in order
  const orders = pairBy(ours.orders, theirs.orders, (o) => o.placer ?? '');
  for (const [a, b] of orders.pairs) {
    add('order.placer', a.placer, b.placer, (x, y) => x === y);
    add('order.filler', a.filler, b.filler, (x, y) => x === y);
    add(
      'order.status',
      a.status,
      b.status,
      (x, y) => x === y,
      () => `${a.status} vs ${b.status}`,
    );
    add('order.authoredOn', a.authoredOn, b.authoredOn, sameTime, () => `${a.authoredOn} vs ${b.authoredOn}`);
  }

  const reports = pairBy(ours.reports, theirs.reports, (r) => primaryKey(r.codes));
  for (const [a, b] of reports.pairs) {
    add(
      'report.placer',
      a.placer,
      b.placer,
      (x, y) => x === y,
      () => `${a.placer} vs ${b.placer}`,
    );
    add(
      'report.filler',
      a.filler,
      b.filler,
      (x, y) => x === y,
      () => `${a.filler} vs ${b.filler}`,
    );
    add('report.code', a.codes, b.codes, sameCodes);
    add(
      'report.status',
      a.status,
      b.status,
      (x, y) => x === y,
      () => `${a.status} vs ${b.status}`,
    );
    add('report.effective', a.effective, b.effective, sameTime, () => `${a.effective} vs ${b.effective}`);
    add('report.issued', a.issued, b.issued, sameTime, () => `${a.issued} vs ${b.issued}`);
    // FHIR-Converter links the report to a Specimen it builds from OBR (identified by the order numbers) and
    // keeps the SPM specimen beside it: the report's specimen ids are looked up among all the reference's Specimens.
    add(
      'specimen.identifier',
      a.specimenIds,
      b.specimenIds.length ? theirs.allSpecimenIds : [],
      (x, y) => x.every((i) => y.includes(i)),
      () => `${a.specimenIds.length} id(s) not among the reference's ${theirs.allSpecimenIds.length} specimen ids`,
    );
  }

  const specimens = pairBy(ours.specimens, theirs.specimens, (s) => s.ids[0] ?? '');
  for (const [a, b] of specimens.pairs) {
    add(
      'specimen.type',
      a.types,
      b.types,
      sameCodes,
      () => `${a.types.map((c) => c.code)} vs ${b.types.map((c) => c.code)}`,
    );
    add('specimen.collected', a.collected, b.collected, sameTime);
  }

  const obs = pairBy(ours.observations, theirs.observations, (o) => primaryKey(o.codes));
  for (const [a, b] of obs.pairs) {
    const code = primaryKey(a.codes);
    add(
      'observation.code',
      a.codes,
      b.codes,
      (x, y) => {
        // matched by the primary code; the other codes both carry must agree too
        const locals = x.filter((c) => !isStandard(c));
        const theirLocals = y.filter((c) => !isStandard(c));
        return (
          sameCodes(x, y) &&
          (!locals.length || !theirLocals.length || locals.some((l) => theirLocals.some((t) => t.code === l.code)))
        );
      },
      () => `${code}: local codes differ`,
    );
    add(
      'observation.status',
      a.status,
      b.status,
      (x, y) => x === y,
      () => `${code} ${a.status} vs ${b.status}`,
    );
    add(
      'observation.value',
      a.value,
      b.value,
      sameValue,
      () => `${code} ${a.value && describeValue(a.value)} vs ${b.value && describeValue(b.value)}`,
    );
    add(
      'observation.unit',
      unitOf(a.value),
      unitOf(b.value),
      (x, y) => x === y,
      () => `${code} ${unitOf(a.value)} vs ${unitOf(b.value)}`,
    );
    add(
      'observation.interpretation',
      a.interpretation,
      b.interpretation,
      (x, y) => x.length === y.length && x.every((c) => y.includes(c)),
      () => `${code} ${a.interpretation} vs ${b.interpretation}`,
    );
    add('observation.effective', a.effective, b.effective, sameTime, () => `${code} ${a.effective} vs ${b.effective}`);
  }
  return {
    reports: { matched: reports.pairs.length, oursOnly: reports.a, expectedOnly: reports.b },
    observations: { matched: obs.pairs.length, oursOnly: obs.a, expectedOnly: obs.b },
  };
}

// ---------------------------------------------------------------- completing fragments

/**
 * The ReportStream mapping-inventory messages are fragments written to test one mapping rule: they lack what
 * our translator requires to identify anything (PID-3, an order number, OBR-7, OBR-25, OBX-11). To compare the
 * rule they test, the harness fills those fields in with fixed synthetic values and leaves the fields filled in
 * out of the comparison. ORU^R01 only; returns undefined when nothing was missing.
 */
export function completeFragment(text: string): { text: string; injected: Set<Field> } | undefined {
  const segs = text.split(/\r\n|\n|\r/).filter((s) => s.trim() !== '');
  const msh = segs[0] ?? '';
  if (!/^MSH\|/.test(msh) || !/\|ORU\^R01/.test(msh)) return undefined;
  const msh7 = (msh.split('|')[6] ?? '').split('^')[0];
  const injected = new Set<Field>();
  const set = (i: number, field: number, value: string): void => {
    const parts = segs[i].split('|');
    while (parts.length <= field) parts.push('');
    parts[field] = value;
    segs[i] = parts.join('|');
  };
  const get = (i: number, field: number): string => (segs[i].split('|')[field] ?? '').split('^')[0].trim();
  let orc = -1;
  let obrCount = 0;
  for (let i = 1; i < segs.length; i++) {
    const name = segs[i].slice(0, 3);
    if (name === 'PID' && !get(i, 3)) {
      set(i, 3, 'SYNTH-MRN-1^^^SYNTH^MR');
      injected.add('patient.identifier');
    }
    if (name === 'ORC') orc = i;
    if (name === 'OBR') {
      obrCount++;
      const orcHas = orc >= 0 && (get(orc, 2) || get(orc, 3));
      if (!orcHas && !get(i, 2) && !get(i, 3)) {
        set(i, 2, `SYNTH-PLC-${obrCount}^SYNTH`);
        injected.add('report.placer');
        injected.add('order.placer');
      }
      const hasSpm17 = segs.some((s) => s.startsWith('SPM|') && (s.split('|')[17] ?? '').split('^')[0]);
      if (!get(i, 7) && !hasSpm17 && msh7) {
        set(i, 7, msh7);
        injected.add('report.effective');
        injected.add('observation.effective');
      }
      if (!get(i, 25)) {
        set(i, 25, 'F');
        injected.add('report.status');
      }
      orc = -1;
    }
    if (name === 'OBX' && !get(i, 11)) {
      set(i, 11, 'F');
      injected.add('observation.status');
    }
  }
  return injected.size ? { text: segs.join('\r'), injected } : undefined;
}
