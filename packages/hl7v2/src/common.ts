/** Mapping pieces shared by orders and results: patient, order numbers, body sites, specimens. */
import type {
  BodySiteInfo,
  BusinessIdentifier,
  Laterality,
  PatientInfo,
  SiteQualifier,
  SpecimenAdditive,
  SpecimenInfo,
} from '@marrowbridge/model';
import { convertBirthDate } from './datetime';
import { convertDtmAt, Ctx, Cwe, cweFrom, eiFrom, Hd, hdFrom, identifier, isLocalSystem, xpnFrom } from './datatypes';
import { Loc } from './issues';
import { componentParts, Seg, subParts } from './message';
import type { Group, SpmEntry } from './structure';
import {
  additives,
  administrativeSex,
  bodySites,
  CodeTable,
  collectionMethods,
  siteKeywords,
  siteModifiers,
  specimenTypes,
  volumeFactor,
} from './tables';

/**
 * The patient's identifier from PID-3: the first repetition whose CX.5 is an MRN type (default MR), its system
 * from CX.4 or the placer facility. When no repetition is MRN-typed, the first fallback-typed repetition (CX.5
 * empty, PI, PT, PN, PE, MRT by default) that names an assigning authority stands in, else the first fallback-typed
 * one (with a warning). Other types (SS, DL, PPN, AN, VN, …) never become the patient key.
 */
export function mrnOf(pid: Seg | undefined, ctx: Ctx): BusinessIdentifier | undefined {
  if (!pid) {
    ctx.issues.error({ segment: 'PID', sequence: 1, field: 0 }, 100, 'the message has no PID segment');
    return undefined;
  }
  if (!pid.has(3)) {
    ctx.issues.error(pid.loc(3), 101, 'PID-3 (patient identifier list) is required');
    return undefined;
  }
  const reps = pid.reps(3).length;
  const hdOf = (r: number): Hd => ({
    ns: pid.sub(3, 4, 1, r),
    uid: pid.sub(3, 4, 2, r),
    type: pid.sub(3, 4, 3, r).toUpperCase(),
  });
  let withAuthority: number | undefined;
  let anyFallback: number | undefined;
  for (let r = 0; r < reps; r++) {
    const type = pid.comp(3, 5, r).toUpperCase();
    const value = pid.comp(3, 1, r);
    if (!value) continue;
    if (ctx.opts.mrnTypes.has(type)) return identifier(value, hdOf(r), ctx.placerFac, ctx);
    if (!ctx.opts.mrnFallbackTypes.has(type)) continue;
    anyFallback ??= r;
    const hd = hdOf(r);
    if (withAuthority === undefined && (hd.ns || hd.uid)) withAuthority = r;
  }
  const pick = withAuthority ?? anyFallback;
  if (pick !== undefined) {
    const type = pid.comp(3, 5, pick).toUpperCase();
    ctx.issues.warn(
      pid.loc(3, 1, pick + 1),
      `PID-3 has no identifier of type ${[...ctx.opts.mrnTypes].join('/')}: repetition ${pick + 1} ` +
        `(type ${type || 'not given'}${withAuthority === pick ? ', with an assigning authority' : ''}) stands in for the MRN`,
    );
    return identifier(pid.comp(3, 1, pick), hdOf(pick), ctx.placerFac, ctx);
  }
  ctx.issues.error(
    pid.loc(3, 5),
    101,
    `PID-3 has no identifier of type ${[...ctx.opts.mrnTypes].join('/')} (medical record number)` +
      (ctx.opts.mrnFallbackTypes.size ? ' nor one that may stand in for it' : ''),
  );
  return undefined;
}

export function patientOf(pid: Seg | undefined, ctx: Ctx): PatientInfo | undefined {
  const mrn = mrnOf(pid, ctx);
  if (!mrn || !pid) return undefined;
  const patient: PatientInfo = { mrn };
  const reps = pid.reps(5).length;
  for (let r = 0; r < reps; r++) {
    const name = xpnFrom(pid, 5, r);
    if (name) {
      patient.name = name;
      break;
    }
  }
  const dob = pid.comp(7, 1);
  if (dob) {
    const b = convertBirthDate(dob);
    if (b.ok) patient.birthDate = b.value;
    else ctx.issues.error(pid.loc(7), 102, 'PID-7 (date of birth) is not a valid HL7 date');
  }
  const sex = pid.comp(8, 1);
  if (sex) {
    const s = administrativeSex.get(sex.toUpperCase());
    if (s) patient.sex = s;
    else ctx.issues.error(pid.loc(8), 103, `PID-8 administrative sex ${sex} is not in table 0001`);
  }
  return patient;
}

export interface OrderNumbers {
  placer?: BusinessIdentifier;
  filler?: BusinessIdentifier;
}

/** ORC-2/3, else OBR-2/3 (EI). Placer numbers default to the placer application's namespace, filler to the filler's. */
export function orderNumbersOf(g: Group, ctx: Ctx): OrderNumbers {
  const out: OrderNumbers = {};
  const pick = (f: number, implied: Hd): BusinessIdentifier | undefined => {
    if (g.orc?.comp(f, 1)) return eiFrom(componentParts(g.orc, f), implied, ctx);
    if (g.obr?.comp(f, 1)) return eiFrom(componentParts(g.obr, f), implied, ctx);
    return undefined;
  };
  const placer = pick(2, ctx.placerApp);
  const filler = pick(3, ctx.fillerApp);
  if (placer) out.placer = placer;
  if (filler) out.filler = filler;
  return out;
}

function lookup<V>(table: CodeTable<V>, cwe: Cwe): V | undefined {
  for (const c of cwe.codings) {
    const v = table.code(c.system, c.code) ?? (isLocalSystem(c.system) ? table.anyCode(c.code) : undefined);
    if (v !== undefined) return v;
  }
  for (const c of cwe.codings) {
    const v = table.anyCode(c.code);
    if (v !== undefined) return v;
  }
  if (cwe.text) return table.text(cwe.text);
  return undefined;
}

const isEmptyCwe = (c: Cwe): boolean => c.codings.length === 0 && !c.text;

function words(text: string | undefined): string[] {
  return (text ?? '')
    .toLowerCase()
    .split(/[^a-z]+/)
    .filter(Boolean);
}

/**
 * Site (SPM-8 / SPS.4) + modifiers (SPM-9 / SPS.5) → BodySiteInfo. Codes first, then the words of the text.
 * Returns undefined when no site is given, null after an error.
 */
function bodySiteOf(
  site: Cwe,
  modifiers: { cwe: Cwe; at: Loc }[],
  siteAt: Loc,
  ctx: Ctx,
): BodySiteInfo | undefined | null {
  if (isEmptyCwe(site)) {
    if (modifiers.some((m) => !isEmptyCwe(m.cwe))) {
      ctx.issues.warn(siteAt, 'a site modifier is given without a body site: ignored');
    }
    return undefined;
  }
  let laterality: Laterality | undefined;
  let qualifier: SiteQualifier | undefined;
  let conflict = false;
  const setLat = (l: Laterality | undefined): void => {
    if (!l) return;
    if (laterality && laterality !== l) conflict = true;
    laterality = l;
  };
  const setQual = (q: SiteQualifier | undefined): void => {
    if (!q) return;
    if (qualifier && qualifier !== q) conflict = true;
    qualifier = q;
  };
  const entry = lookup(bodySites, site);
  let found = entry?.site;
  setQual(entry?.qualifier);
  if (!found) {
    for (const w of words(site.text)) {
      found ??= siteKeywords.site.get(w);
      setLat(siteKeywords.laterality.get(w));
      setQual(siteKeywords.qualifier.get(w));
    }
  }
  if (!found) {
    const code = site.codings[0]?.code;
    ctx.issues.error(
      siteAt,
      103,
      `${siteAt.segment}-${siteAt.field} body site ${code ?? '(text only)'} is not a bone marrow site (ilium, sternum, tibia)`,
    );
    return null;
  }
  for (const m of modifiers) {
    if (isEmptyCwe(m.cwe)) continue;
    const mod = lookup(siteModifiers, m.cwe);
    if (mod) {
      setLat(mod.laterality);
      setQual(mod.qualifier);
      continue;
    }
    let any = false;
    for (const w of words(m.cwe.text ?? m.cwe.codings[0]?.code)) {
      const l = siteKeywords.laterality.get(w);
      const q = siteKeywords.qualifier.get(w);
      if (l || q) any = true;
      setLat(l);
      setQual(q);
    }
    if (!any)
      ctx.issues.warn(
        m.at,
        `${m.at.segment}-${m.at.field} site modifier is neither a laterality nor a direction: ignored`,
      );
  }
  if (conflict) {
    ctx.issues.error(siteAt, 102, `${siteAt.segment}-${siteAt.field} body site modifiers contradict each other`);
    return null;
  }
  const info: BodySiteInfo = { site: found };
  if (found === 'sternum') {
    if (laterality) ctx.issues.warn(siteAt, 'laterality given for the sternum: not used');
  } else if (!laterality) {
    const modAt = modifiers[0]?.at ?? siteAt;
    ctx.issues.error(modAt, 101, `a laterality (left/right/bilateral) is required for the ${found}`);
    return null;
  } else {
    info.laterality = laterality;
  }
  if (qualifier) info.qualifier = qualifier;
  return info;
}

const V2_0487 = 'http://terminology.hl7.org/CodeSystem/v2-0487';
const V2_0070 = 'http://terminology.hl7.org/CodeSystem/v2-0070';
const V2_0488 = 'http://terminology.hl7.org/CodeSystem/v2-0488';

export interface SpecimenRead {
  info: SpecimenInfo;
  at: Loc;
}

function additiveOf(cwe: Cwe, at: Loc, ctx: Ctx): SpecimenAdditive | undefined {
  if (isEmptyCwe(cwe)) return undefined;
  const a = lookup(additives, cwe);
  if (!a) ctx.issues.warn(at, `${at.segment}-${at.field} additive not recognised: left out`);
  return a;
}

function volumeOf(seg: Seg, field: number, ctx: Ctx): number | undefined {
  const qty = seg.comp(field, 1);
  if (!qty) return undefined;
  const n = Number(qty);
  if (!/^\d+(\.\d*)?$|^\.\d+$/.test(qty) || !Number.isFinite(n)) {
    ctx.issues.error(seg.loc(field, 1), 102, `${seg.name}-${field} quantity is not a number`);
    return undefined;
  }
  const unit = seg.sub(field, 2, 1) || seg.sub(field, 2, 2);
  if (!unit) {
    ctx.issues.warn(seg.loc(field, 2), `${seg.name}-${field} has no unit: read as mL`);
    return n;
  }
  const f = volumeFactor(unit);
  if (f === undefined) {
    ctx.issues.warn(
      seg.loc(field, 2),
      `${seg.name}-${field} unit ${unit} is not a volume unit we know: volume left out`,
    );
    return undefined;
  }
  return Math.round(n * f * 1e6) / 1e6;
}

/** EIP (placer part, else filler part) from a field's components 1/2, each an EI in subcomponents. */
function eipOf(seg: Seg, field: number, ctx: Ctx, rep = 0): BusinessIdentifier | undefined {
  if (seg.sub(field, 1, 1, rep)) return eiFrom(subParts(seg, field, 1, rep), ctx.placerApp, ctx);
  if (seg.sub(field, 2, 1, rep)) return eiFrom(subParts(seg, field, 2, rep), ctx.fillerApp, ctx);
  return undefined;
}

/** Just the id of an SPM (results need no more). */
export function spmIdOf(spm: Seg, ctx: Ctx): BusinessIdentifier | undefined {
  return eipOf(spm, 2, ctx);
}

/** SPM → SpecimenInfo (orders). null after an error. */
export function specimenFromSpm(entry: SpmEntry, fallbackCollected: string | undefined, ctx: Ctx): SpecimenRead | null {
  const spm = entry.spm;
  const at = spm.loc(2);
  const before = ctx.issues.errors.length;
  const id = spmIdOf(spm, ctx);
  if (!id) ctx.issues.error(spm.loc(2), 101, 'SPM-2 (specimen id) is required');
  const type = cweFrom(componentParts(spm, 4), ctx, V2_0487);
  let kindEntry = isEmptyCwe(type) ? undefined : lookup(specimenTypes, type);
  if (isEmptyCwe(type)) ctx.issues.error(spm.loc(4), 101, 'SPM-4 (specimen type) is required');
  else if (!kindEntry) {
    ctx.issues.error(
      spm.loc(4),
      103,
      `SPM-4 specimen type ${type.codings[0]?.code ?? '(text only)'} is not a bone marrow specimen (aspirate or trephine core)`,
    );
  }
  const method = lookup(collectionMethods, cweFrom(componentParts(spm, 7), ctx, V2_0488));
  if (kindEntry && method) {
    if (kindEntry.generic) kindEntry = { kind: method === 'biopsy' ? 'trephine-core' : 'aspirate', generic: false };
    else if ((kindEntry.kind === 'trephine-core') !== (method === 'biopsy')) {
      ctx.issues.warn(spm.loc(7), 'SPM-7 collection method disagrees with SPM-4: the specimen type decides');
    }
  }
  const site = cweFrom(componentParts(spm, 8), ctx);
  const mods: { cwe: Cwe; at: Loc }[] = [];
  const modReps = spm.reps(9).length;
  for (let r = 0; r < modReps; r++)
    mods.push({ cwe: cweFrom(componentParts(spm, 9, r), ctx), at: spm.loc(9, undefined, r + 1) });
  const bodySite = bodySiteOf(site, mods, spm.loc(8), ctx);
  const collected = spm.sub(17, 1, 1) ? readSubDtm(spm, 17, 1, 1, ctx) : fallbackCollected;
  const accessionHd = hdFrom(subParts(spm, 30, 4));
  const accession = spm.comp(30, 1) ? identifier(spm.comp(30, 1), accessionHd, ctx.fillerFac, ctx) : undefined;
  const parent = spm.sub(3, 1, 1) || spm.sub(3, 2, 1);
  if (ctx.issues.errors.length > before || !id || !kindEntry) return null;
  const info: SpecimenInfo = { id, kind: kindEntry.kind };
  if (accession) info.accession = accession;
  if (parent) {
    info.parentId = parent;
    if (info.kind === 'aspirate') info.kind = 'aspirate-aliquot';
  }
  const containerType = cweFrom(componentParts(spm, 27), ctx);
  const additive = additiveOf(cweFrom(componentParts(spm, 6), ctx), spm.loc(6), ctx);
  const containerText = containerType.text ?? containerType.codings[0]?.code;
  if (containerText || additive) {
    info.container = {};
    if (containerText) info.container.type = containerText;
    if (additive) info.container.additive = additive;
  }
  const volume = volumeOf(spm, 12, ctx);
  if (volume !== undefined) info.volumeMl = volume;
  if (collected) info.collectedAt = collected;
  if (bodySite) info.bodySite = bodySite;
  const notes: string[] = [];
  for (let r = 0; r < spm.reps(14).length; r++) {
    const t = spm.text(14, r).trim();
    if (t) notes.push(t);
  }
  if (notes.length) info.note = notes.join('\n');
  return { info, at };
}

function readSubDtm(seg: Seg, field: number, comp: number, sub: number, ctx: Ctx): string | undefined {
  const raw = seg.sub(field, comp, sub);
  return raw ? convertDtmAt(raw, seg.loc(field, comp), ctx, 'dateTime') : undefined;
}

/** Identifier of the specimen an OBR-15 (SPS) stands for: the order's placer number, plus the source code. */
export function spsSpecimenId(obr: Seg, placer: BusinessIdentifier): BusinessIdentifier {
  const code = obr.sub(15, 1, 1);
  return { system: placer.system, value: code ? `${placer.value}:${code}` : placer.value };
}

/** OBR-15 (SPS, v2.3-2.4 and messages without SPM) → SpecimenInfo. null after an error, undefined when empty. */
export function specimenFromSps(
  obr: Seg,
  placer: BusinessIdentifier,
  collected: string | undefined,
  ctx: Ctx,
): SpecimenRead | null | undefined {
  if (!obr.has(15)) return undefined;
  const before = ctx.issues.errors.length;
  const source = cweFrom(subParts(obr, 15, 1), ctx, V2_0070);
  let kindEntry = isEmptyCwe(source) ? undefined : lookup(specimenTypes, source);
  if (!kindEntry) {
    // a text-only source misplaced in SPS.2 (seen in the wild: "^Bone marrow")
    const alt = obr.comp(15, 2);
    if (isEmptyCwe(source) && alt) kindEntry = specimenTypes.text(alt);
  }
  if (!kindEntry) {
    ctx.issues.error(
      obr.loc(15, 1),
      103,
      `OBR-15 specimen source ${source.codings[0]?.code ?? '(text only)'} is not a bone marrow specimen`,
    );
  }
  const site = cweFrom(subParts(obr, 15, 4), ctx);
  const mod = cweFrom(subParts(obr, 15, 5), ctx);
  const bodySite = bodySiteOf(site, [{ cwe: mod, at: obr.loc(15, 5) }], obr.loc(15, 4), ctx);
  if (ctx.issues.errors.length > before || !kindEntry) return null;
  const info: SpecimenInfo = { id: spsSpecimenId(obr, placer), kind: kindEntry.kind };
  const additive = additiveOf(cweFrom(subParts(obr, 15, 2), ctx), obr.loc(15, 2), ctx);
  if (additive) info.container = { additive };
  const volume = volumeOf(obr, 9, ctx);
  if (volume !== undefined) info.volumeMl = volume;
  if (collected) info.collectedAt = collected;
  if (bodySite) info.bodySite = bodySite;
  const note = obr.comp(15, 3);
  if (note) info.note = note;
  return { info, at: obr.loc(15) };
}
