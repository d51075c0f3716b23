/** v2 data types (HD, EI, CX, CWE, XPN, XCN/CNN, DTM) → canonical pieces, following the IG's data-type maps. */
import type { BusinessIdentifier, Coding, PersonName, ProviderInfo } from '@marrowbridge/model';
import { convertDtm, DtmTarget } from './datetime';
import type { Delimiters } from './escape';
import { Issues, Loc } from './issues';
import type { Parts, Seg } from './message';
import { authorities, codingSystems, localCodeSystemBase } from './tables';

export interface ResolvedOptions {
  timeZone: string;
  acceptAnyService: boolean;
  acceptAnyReport: boolean;
  namespaces: Record<string, string>;
  defaultIdentifierSystem: string;
  mrnTypes: Set<string>;
  mrnFallbackTypes: Set<string>;
  codingSystems: Record<string, string>;
}

/** Hierarchic designator: namespace id, universal id, universal id type. */
export interface Hd {
  ns: string;
  uid: string;
  type: string;
}

/** Per-message mapping context. */
export interface Ctx {
  opts: ResolvedOptions;
  issues: Issues;
  d: Delimiters;
  /**
   * Implied assigning authorities when an identifier carries none: the placer side is MSH-3/4 of an order
   * message and MSH-5/6 of a result message; the filler side the other pair.
   */
  placerApp: Hd;
  placerFac: Hd;
  fillerApp: Hd;
  fillerFac: Hd;
}

export function hdFrom(p: Parts, start = 1): Hd {
  return { ns: p.get(start), uid: p.get(start + 1), type: p.get(start + 2).toUpperCase() };
}

const OID = /^[0-2](\.(0|[1-9]\d*))+$/;
const URI = /^(urn:[a-z0-9][a-z0-9-]*:\S+|https?:\/\/\S+)$/i;

/**
 * HD → identifier system (brief + IG HD[uri]): a well-known authority (NPI) → its FHIR system; universal id of
 * type ISO (or an OID without a type) → urn:oid:<id>; UUID → urn:uuid:<id>; a URI stays as is; otherwise the
 * namespace id through the configured map, else http://marrowbridge.org/fhir/sid/ns/<namespaceId>.
 */
function systemForHd(hd: Hd, ctx: Ctx): string | undefined {
  const { ns, uid, type } = hd;
  const known = authorities.byNamespace.get(ns.toUpperCase()) ?? authorities.byOid.get(uid);
  if (known) return known;
  if (uid) {
    if ((type === 'ISO' || type === '') && OID.test(uid)) return `urn:oid:${uid}`;
    if (type === 'UUID') return `urn:uuid:${uid.toLowerCase()}`;
    if (type === 'URI' || type === 'URL' || (type === '' && URI.test(uid))) return uid;
  }
  if (ns) {
    const mapped = ctx.opts.namespaces[ns];
    if (mapped) return mapped;
    if (URI.test(ns)) return ns;
    return `${authorities.namespaceBase}${encodeURIComponent(ns)}`;
  }
  if (uid) return `${authorities.namespaceBase}${encodeURIComponent(uid)}`;
  return undefined;
}

/** value + its HD → BusinessIdentifier; the implied authority, then the default system, fill a missing HD. */
export function identifier(value: string, hd: Hd, implied: Hd | undefined, ctx: Ctx): BusinessIdentifier | undefined {
  const v = value.trim();
  if (!v) return undefined;
  const system =
    systemForHd(hd, ctx) ?? (implied ? systemForHd(implied, ctx) : undefined) ?? ctx.opts.defaultIdentifierSystem;
  return { system, value: v };
}

/** EI (value, namespace, universal id, type) read from 4 consecutive parts. */
export function eiFrom(p: Parts, implied: Hd | undefined, ctx: Ctx, start = 1): BusinessIdentifier | undefined {
  return identifier(p.get(start), hdFrom(p, start + 1), implied, ctx);
}

export function isLocalSystem(system: string): boolean {
  return system.startsWith(localCodeSystemBase);
}

/** v2 coding system name (table 0396) → FHIR system URI. */
export function codingSystemUri(name: string, ctx: Ctx, defaultSystem?: string): string {
  const n = name.trim();
  if (!n) return defaultSystem ?? `${localCodeSystemBase}unspecified`;
  const configured = ctx.opts.codingSystems[n];
  if (configured) return configured;
  const known = codingSystems.get(n.toUpperCase());
  if (known) return known;
  const table = /^HL7(\d{4})$/i.exec(n);
  if (table) return `http://terminology.hl7.org/CodeSystem/v2-${table[1]}`;
  if (/^(urn|https?):/i.test(n)) return n;
  return `${localCodeSystemBase}${encodeURIComponent(n)}`;
}

export interface Cwe {
  codings: Coding[];
  /** Original text (CWE.9), else the first display. */
  text?: string;
}

/**
 * CWE / CE / CNE → codings in message order (CWE.1-3, CWE.4-6, CWE.10-12). A triplet with text but no code
 * adds no coding (its text is kept as `text`).
 */
export function cweFrom(p: Parts, ctx: Ctx, defaultSystem?: string): Cwe {
  const codings: Coding[] = [];
  const triplets: [number, number, number][] = [
    [1, 2, 3],
    [4, 5, 6],
    [10, 11, 12],
  ];
  let firstDisplay: string | undefined;
  for (const [c, t, s] of triplets) {
    const code = p.get(c);
    const display = p.get(t);
    if (display && firstDisplay === undefined) firstDisplay = display;
    if (!code) continue;
    let sysName = p.get(s);
    if (!sysName && c === 1) {
      const oid = p.get(14);
      if (oid && OID.test(oid)) sysName = `urn:oid:${oid}`;
    }
    const coding: Coding = { system: codingSystemUri(sysName, ctx, c === 1 ? defaultSystem : undefined), code };
    if (display) coding.display = display;
    codings.push(coding);
  }
  const out: Cwe = { codings };
  const text = p.get(9) || firstDisplay;
  if (text) out.text = text;
  return out;
}

const LOINC = 'http://loinc.org';

/** The standard coding (LOINC first, then any non-local one, then the first) and the sender's local one. */
export function pickCodes(cwe: Cwe): { code?: Coding; local?: Coding } {
  const { codings } = cwe;
  if (codings.length === 0) return {};
  const code = codings.find((c) => c.system === LOINC) ?? codings.find((c) => !isLocalSystem(c.system)) ?? codings[0];
  const local = codings.find((c) => c !== code && isLocalSystem(c.system)) ?? codings.find((c) => c !== code);
  const out: { code?: Coding; local?: Coding } = { code };
  if (local) out.local = local;
  return out;
}

/**
 * Reads a DTM (or a TS, whose first component is the DTM) and converts it; a malformed value is a 102 error
 * (the message names the field, never the value).
 */
export function readDtm(
  seg: Seg,
  field: number,
  ctx: Ctx,
  target: DtmTarget,
  component = 1,
  rep = 0,
): string | undefined {
  const raw = seg.comp(field, component, rep);
  return convertDtmAt(raw, seg.loc(field, component === 1 ? undefined : component), ctx, target);
}

export function convertDtmAt(raw: string, where: Loc, ctx: Ctx, target: DtmTarget): string | undefined {
  if (!raw) return undefined;
  const r = convertDtm(raw, ctx.opts.timeZone, target);
  if (!r.ok) {
    const f = where.component
      ? `${where.segment}-${where.field}.${where.component}`
      : `${where.segment}-${where.field}`;
    ctx.issues.error(where, 102, `${f} is not a valid HL7 date/time (expected YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ])`);
    return undefined;
  }
  return r.value;
}

/** XPN (or the name part of XCN/CNN) → PersonName; undefined without a family name. */
function personName(family: string, given: string[], prefix: string[], suffix: string[]): PersonName | undefined {
  if (!family) return undefined;
  const name: PersonName = { family };
  const g = given.filter(Boolean);
  const p = prefix.filter(Boolean);
  const s = suffix.filter(Boolean);
  if (g.length) name.given = g;
  if (p.length) name.prefix = p;
  if (s.length) name.suffix = s;
  return name;
}

/** XPN from the components of one repetition. FN.1 (surname) is the first subcomponent of XPN.1. */
export function xpnFrom(seg: Seg, field: number, rep = 0): PersonName | undefined {
  return personName(
    seg.sub(field, 1, 1, rep),
    [seg.comp(field, 2, rep), seg.comp(field, 3, rep)],
    [seg.comp(field, 5, rep)],
    [seg.comp(field, 4, rep), seg.comp(field, 6, rep)],
  );
}

function luhnNpi(npi: string): boolean {
  if (!/^\d{10}$/.test(npi)) return false;
  const digits = `80840${npi.slice(0, 9)}`;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return (10 - (sum % 10)) % 10 === Number(npi[9]);
}

export interface PersonParts {
  id: string;
  family: string;
  given: string[];
  prefix: string[];
  suffix: string[];
  authority: Hd;
  idType: string;
}

/** XCN from one repetition of a field: 1 id, 2 family (FN), 3-4 given, 5 suffix, 6 prefix, 7 degree, 9 HD, 13 type. */
export function xcnParts(seg: Seg, field: number, rep = 0): PersonParts {
  return {
    id: seg.comp(field, 1, rep),
    family: seg.sub(field, 2, 1, rep),
    given: [seg.comp(field, 3, rep), seg.comp(field, 4, rep)],
    prefix: [seg.comp(field, 6, rep)],
    suffix: [seg.comp(field, 5, rep), seg.comp(field, 7, rep)],
    authority: {
      ns: seg.sub(field, 9, 1, rep),
      uid: seg.sub(field, 9, 2, rep),
      type: seg.sub(field, 9, 3, rep).toUpperCase(),
    },
    idType: seg.comp(field, 13, rep).toUpperCase(),
  };
}

/** CNN (NDL.1, as subcomponents): 1 id, 2 family, 3-4 given, 5 suffix, 6 prefix, 7 degree, 9-11 HD. */
export function cnnParts(seg: Seg, field: number, rep = 0): PersonParts {
  const s = (i: number): string => seg.sub(field, 1, i, rep);
  return {
    id: s(1),
    family: s(2),
    given: [s(3), s(4)],
    prefix: [s(6)],
    suffix: [s(5), s(7)],
    authority: { ns: s(9), uid: s(10), type: s(11).toUpperCase() },
    idType: '',
  };
}

/** NPI when the person's id is labelled as one (type NPI, NPI authority) or, unlabelled, passes the NPI check digit. */
function npiOf(p: PersonParts): string | undefined {
  if (!p.id) return undefined;
  const labelled =
    p.idType === 'NPI' ||
    p.authority.ns.toUpperCase() === 'NPI' ||
    authorities.byOid.get(p.authority.uid) === authorities.npiSystem;
  if (labelled) return p.id;
  const unlabelled = !p.idType && !p.authority.ns && !p.authority.uid;
  if (unlabelled && luhnNpi(p.id)) return p.id;
  return undefined;
}

export function providerOf(p: PersonParts): ProviderInfo | undefined {
  const npi = npiOf(p);
  if (!npi) return undefined;
  const out: ProviderInfo = { npi };
  const name = personName(p.family, p.given, p.prefix, p.suffix);
  if (name) out.name = name;
  return out;
}

export function displayName(p: PersonParts): string {
  const parts = [...p.prefix, ...p.given, p.family].filter(Boolean);
  return parts.join(' ');
}
