/** OML^O21 / ORM^O01 → BmaOrder (one per placer order number; order groups sharing one are merged). */
import {
  REQUESTED_STUDIES,
  type BmaOrder,
  type BodySiteInfo,
  type BusinessIdentifier,
  type Coding,
  type EncounterInfo,
  type OrderPriority,
  type OrderReason,
  type OrderStatus,
  type PatientInfo,
  type PlannedProcedure,
  type ProcedureInfo,
  type ProviderInfo,
  type RequestedStudy,
  type SpecimenInfo,
} from '@marrowbridge/model';
import { OrderNumbers, orderNumbersOf, patientOf, SpecimenRead, specimenFromSps, specimenFromSpm } from './common';
import { Ctx, cweFrom, hdFrom, identifier, isLocalSystem, pickCodes, providerOf, readDtm, xcnParts } from './datatypes';
import { Loc } from './issues';
import { componentParts, Seg, subParts } from './message';
import { readObxValue } from './obx';
import type { Group, ObxEntry, Structure } from './structure';
import { lookupPriority, orderControl, orderStatus, patientClass, services, ServiceEntry } from './tables';
import type { Hl7ItemDetail } from './types';

const ICD10CM = 'http://hl7.org/fhir/sid/icd-10-cm';

export interface MessageInfo {
  source: string;
  messageId: string;
  /** MSH-7 converted as a dateTime and as an instant, for fallbacks. */
  messageTime?: string;
  messageInstant?: string;
}

function serviceOf(coding: Coding): ServiceEntry | undefined {
  return (
    services.code(coding.system, coding.code) ??
    (isLocalSystem(coding.system) ? services.anyCode(coding.code) : undefined)
  );
}

function statusOf(g: Group, ctx: Ctx): OrderStatus | undefined {
  const orc = g.orc;
  if (!orc) return undefined;
  const s5 = orc.comp(5, 1);
  if (s5) {
    const e = orderStatus.get(s5.toUpperCase());
    if (!e || e.reject) {
      ctx.issues.error(orc.loc(5), 103, `ORC-5 order status ${s5} is not in table 0038`);
      return undefined;
    }
    return e.status ?? undefined;
  }
  const s1 = orc.comp(1, 1);
  if (!s1) {
    ctx.issues.error(orc.loc(1), 101, 'ORC-1 (order control) is required');
    return undefined;
  }
  const e = orderControl.get(s1.toUpperCase());
  if (!e) {
    ctx.issues.error(orc.loc(1), 103, `ORC-1 order control ${s1} is not in table 0119`);
    return undefined;
  }
  if (e.reject) {
    ctx.issues.error(
      orc.loc(1),
      103,
      `ORC-1 order control ${s1} is a response/failure code and cannot be processed as an order`,
    );
    return undefined;
  }
  return e.status ?? undefined;
}

function priorityOf(groups: Group[], ctx: Ctx): OrderPriority {
  const candidates: { code: string; at: Loc }[] = [];
  for (const g of groups) {
    for (const tq1 of g.tq1) if (tq1.comp(9, 1)) candidates.push({ code: tq1.comp(9, 1), at: tq1.loc(9) });
    if (g.orc?.comp(7, 6)) candidates.push({ code: g.orc.comp(7, 6), at: g.orc.loc(7, 6) });
    if (g.obr?.comp(27, 6)) candidates.push({ code: g.obr.comp(27, 6), at: g.obr.loc(27, 6) });
    if (g.obr?.comp(5, 1)) candidates.push({ code: g.obr.comp(5, 1), at: g.obr.loc(5) });
  }
  const first = candidates[0];
  if (!first) return 'routine';
  const p = lookupPriority(first.code.toUpperCase());
  if (!p) {
    ctx.issues.error(
      first.at,
      103,
      `${first.at.segment}-${first.at.field} priority ${first.code} is not in table 0485`,
    );
    return 'routine';
  }
  return p;
}

function orderingProviderOf(groups: Group[], ctx: Ctx): ProviderInfo | undefined {
  let anyGiven = false;
  for (const [segName, field] of [
    ['ORC', 12],
    ['OBR', 16],
  ] as const) {
    for (const g of groups) {
      const seg = segName === 'ORC' ? g.orc : g.obr;
      if (!seg || !seg.has(field)) continue;
      anyGiven = true;
      const reps = seg.reps(field).length;
      for (let r = 0; r < reps; r++) {
        const p = providerOf(xcnParts(seg, field, r));
        if (p) return p;
      }
    }
  }
  const at = groups[0].orc?.loc(12) ?? groups[0].obr?.loc(16) ?? { segment: 'ORC', sequence: 1, field: 12 };
  if (anyGiven) ctx.issues.error(at, 102, 'the ordering provider (ORC-12 / OBR-16) has no NPI');
  else ctx.issues.error(at, 101, 'the ordering provider (ORC-12, else OBR-16) is required');
  return undefined;
}

function reasonFromCwe(seg: Seg, field: number, rep: number, ctx: Ctx, fallbackText?: string): OrderReason | undefined {
  const cwe = cweFrom(componentParts(seg, field, rep), ctx);
  const icd = cwe.codings.find((c) => c.system === ICD10CM);
  const reason: OrderReason = {};
  if (icd) reason.icd10 = icd.code;
  const text = cwe.text ?? fallbackText ?? (icd ? undefined : cwe.codings[0]?.code);
  if (text) reason.text = text;
  return reason.icd10 || reason.text ? reason : undefined;
}

function reasonsOf(groups: Group[], messageDg1: Seg[], ctx: Ctx): OrderReason[] {
  const out: OrderReason[] = [];
  const add = (r: OrderReason | undefined): void => {
    if (r && !out.some((o) => o.icd10 === r.icd10 && o.text === r.text)) out.push(r);
  };
  for (const dg1 of [...messageDg1, ...groups.flatMap((g) => g.dg1)]) {
    add(reasonFromCwe(dg1, 3, 0, ctx, dg1.comp(4, 1) || undefined));
  }
  for (const g of groups) {
    if (!g.obr) continue;
    for (let r = 0; r < g.obr.reps(31).length; r++) add(reasonFromCwe(g.obr, 31, r, ctx));
  }
  return out;
}

function encounterOf(pv1: Seg | undefined, ctx: Ctx): EncounterInfo | undefined {
  if (!pv1) return undefined;
  const enc: EncounterInfo = {};
  const vn = pv1.comp(19, 1);
  if (vn) {
    const id = identifier(vn, hdFrom(subParts(pv1, 19, 4)), ctx.placerFac, ctx);
    if (id) enc.identifier = id;
  }
  const cls = pv1.comp(2, 1);
  if (cls) {
    const c = patientClass.get(cls.toUpperCase());
    if (c) enc.class = c;
  }
  return enc.identifier || enc.class ? enc : undefined;
}

/** An order-entry OBX (ask-at-order-entry answer) as a clinical note "label: value". */
function obxAsNote(entry: ObxEntry, ctx: Ctx): string | undefined {
  const obx = entry.obx;
  const cwe = cweFrom(componentParts(obx, 3), ctx);
  const label = cwe.text ?? cwe.codings[0]?.code ?? 'observation';
  const v = readObxValue(obx, ctx, label);
  let text: string | undefined;
  if (v.kind === 'value') {
    const val = v.value;
    switch (val.type) {
      case 'quantity':
        text = `${val.comparator ?? ''}${val.value}${val.unit ? ` ${val.unit}` : ''}`;
        break;
      case 'coded':
        text = val.text ?? val.coding.display ?? val.coding.code;
        break;
      case 'ratio':
        text = `${val.numerator}:${val.denominator}`;
        break;
      case 'range':
        text = `${val.low ?? ''}-${val.high ?? ''}${val.unit ? ` ${val.unit}` : ''}`;
        break;
      default:
        text = val.value;
    }
  } else if (v.kind === 'document') {
    ctx.issues.warn(obx.loc(5), 'a PDF attached to an order cannot be carried by the canonical order: left out');
  }
  const parts = [text ? `${label}: ${text}` : undefined, ...entry.notes].filter((x): x is string => !!x);
  return parts.length ? parts.join('\n') : undefined;
}

function combineSites(specimens: SpecimenInfo[]): BodySiteInfo | undefined {
  const withSite = specimens.filter((s) => s.bodySite);
  const first = withSite.find((s) => s.kind !== 'trephine-core') ?? withSite[0];
  if (!first?.bodySite) return undefined;
  const site = { ...first.bodySite };
  const lats = new Set(withSite.filter((s) => s.bodySite?.site === site.site).map((s) => s.bodySite?.laterality));
  if (lats.has('left') && lats.has('right')) site.laterality = 'bilateral';
  return site;
}

function timeOf(iso: string): number {
  return Date.parse(iso.length === 4 ? `${iso}-01-01` : iso.length === 7 ? `${iso}-01` : iso);
}

interface OrderBucket {
  key: string;
  numbers: OrderNumbers & { placer: BusinessIdentifier };
  placerFromFiller: boolean;
  groups: Group[];
}

export function mapOrders(
  structure: Structure,
  info: MessageInfo,
  ctx: Ctx,
): { items: BmaOrder[]; details: Hl7ItemDetail[] } {
  const items: BmaOrder[] = [];
  const details: Hl7ItemDetail[] = [];
  const patient: PatientInfo | undefined = patientOf(structure.pid, ctx);
  const pids = new Set(structure.groups.map((g) => g.pid).filter(Boolean));
  if (pids.size > 1) {
    ctx.issues.error({ segment: 'PID', sequence: 2, field: 0 }, 100, 'an order message may hold only one patient');
  }
  const withObr = structure.groups.filter((g) => g.obr);
  for (const g of structure.groups) {
    if (!g.obr && g.orc) ctx.issues.error(g.orc.loc(0), 100, 'an ORC without its OBR cannot be mapped to an order');
  }
  if (withObr.length === 0) {
    if (structure.groups.length === 0) {
      ctx.issues.error({ segment: 'OBR', sequence: 1, field: 0 }, 100, 'the message has no OBR segment');
    }
    return { items, details };
  }
  // Bucket the groups by placer order number.
  const buckets: OrderBucket[] = [];
  for (const g of withObr) {
    const numbers = orderNumbersOf(g, ctx);
    let placer = numbers.placer;
    let fromFiller = false;
    if (!placer && numbers.filler) {
      placer = numbers.filler;
      fromFiller = true;
      ctx.issues.warn(
        g.orc?.loc(2) ?? (g.obr as Seg).loc(2),
        'no placer order number: the filler order number stands in for it',
      );
    }
    if (!placer) {
      ctx.issues.error(
        g.orc?.loc(2) ?? (g.obr as Seg).loc(2),
        101,
        'neither a placer (ORC-2/OBR-2) nor a filler (ORC-3/OBR-3) order number is given',
      );
      continue;
    }
    const key = `${placer.system}|${placer.value}`;
    const bucket = buckets.find((b) => b.key === key);
    if (bucket) {
      bucket.groups.push(g);
      if (!bucket.numbers.filler && numbers.filler) bucket.numbers.filler = numbers.filler;
    } else {
      buckets.push({ key, numbers: { ...numbers, placer }, placerFromFiller: fromFiller, groups: [g] });
    }
  }

  for (const b of buckets) {
    const { groups } = b;
    const first = groups[0];
    const obr0 = first.obr as Seg;
    const status = statusOf(groups.find((g) => g.orc) ?? first, ctx);
    let authoredOn: string | undefined;
    for (const g of groups) {
      if (g.orc?.comp(9, 1)) {
        authoredOn = readDtm(g.orc, 9, ctx, 'dateTime');
        break;
      }
    }
    if (!authoredOn && !groups.some((g) => g.orc?.comp(9, 1))) {
      if (info.messageTime) {
        authoredOn = info.messageTime;
        ctx.issues.warn(first.orc?.loc(9) ?? obr0.loc(0), 'ORC-9 is empty: authoredOn taken from MSH-7');
      } else {
        ctx.issues.error(
          first.orc?.loc(9) ?? obr0.loc(0),
          101,
          'ORC-9 (order date/time) is required when MSH-7 is empty',
        );
      }
    }
    const priority = priorityOf(groups, ctx);
    const orderingProvider = orderingProviderOf(groups, ctx);
    const reasons = reasonsOf(groups, structure.messageDg1, ctx);

    // services → procedure type and studies
    const studies = new Set<RequestedStudy>();
    let procedure: PlannedProcedure | undefined;
    let serviceCode: Coding | undefined;
    let nonMarrow = false;
    for (const g of groups) {
      const obr = g.obr as Seg;
      const cwe = cweFrom(componentParts(obr, 4), ctx);
      const picked = pickCodes(cwe);
      if (!picked.code) {
        ctx.issues.error(obr.loc(4), 101, 'OBR-4 (universal service identifier) is required');
        continue;
      }
      serviceCode ??= picked.code;
      const hits = cwe.codings.map(serviceOf).filter((e): e is ServiceEntry => !!e);
      if (hits.length === 0) {
        if (!ctx.opts.acceptAnyService) {
          ctx.issues.error(
            obr.loc(4),
            103,
            `OBR-4 service ${picked.code.code} is not a bone marrow aspiration service`,
          );
        }
        nonMarrow = true;
      }
      for (const h of hits) {
        if (h.study) studies.add(h.study);
        if (h.procedure === 'aspiration-biopsy' || (h.procedure && !procedure)) procedure = h.procedure;
      }
      for (const f of [46, 47]) {
        for (let r = 0; r < obr.reps(f).length; r++) {
          for (const c of cweFrom(componentParts(obr, f, r), ctx).codings) {
            const s = serviceOf(c)?.study;
            if (s) studies.add(s);
          }
        }
      }
    }

    // specimens: SPM where there are any in a group, else that group's OBR-15; merged by identifier
    const specimens: SpecimenInfo[] = [];
    const reads: SpecimenRead[] = [];
    let specimenFailed = false;
    for (const g of groups) {
      const obr = g.obr as Seg;
      const obr7 = obr.comp(7, 1) ? readDtm(obr, 7, ctx, 'dateTime') : undefined;
      if (g.spm.length > 0) {
        if (obr.has(15)) ctx.issues.warn(obr.loc(15), 'OBR-15 ignored: the group has SPM segments');
        for (const s of g.spm) {
          const r = specimenFromSpm(s, obr7, ctx);
          if (r) reads.push(r);
          else specimenFailed = true;
        }
      } else {
        const r = specimenFromSps(obr, b.numbers.placer, obr7, ctx);
        if (r) reads.push(r);
        else if (r === null) specimenFailed = true;
      }
    }
    for (const r of reads) {
      const same = specimens.find((s) => s.id.system === r.info.id.system && s.id.value === r.info.id.value);
      if (!same) specimens.push(r.info);
      else if (same.kind !== r.info.kind) {
        ctx.issues.error(r.at, 205, 'the same specimen id is given twice with different specimen types');
      }
    }
    // (a parent that failed its own checks is already reported: no second error for its aliquots)
    for (const s of specimenFailed ? [] : specimens) {
      if (s.parentId && !specimens.some((p) => p.id.value === s.parentId && p !== s)) {
        const r = reads.find((x) => x.info === s);
        ctx.issues.error(
          r ? { ...r.at, field: 3 } : { segment: 'SPM', sequence: 1, field: 3 },
          204,
          'SPM-3 names a parent specimen that is not in this order',
        );
      }
    }
    if (specimens.some((s) => s.kind === 'trephine-core')) procedure = 'aspiration-biopsy';

    const bodySite = combineSites(specimens);
    if (!bodySite && !ctx.issues.failed) {
      const at = first.spm[0]?.spm.loc(8) ?? obr0.loc(15, 4);
      ctx.issues.error(at, 101, 'the order gives no body site (SPM-8, or OBR-15.4 without SPM)');
    }

    // notes: message-level, order-level, order-entry OBX (with their NTEs)
    const notes: string[] = [...structure.messageNotes];
    for (const g of groups) {
      notes.push(...g.notes);
      for (const o of [...g.obx, ...g.spm.flatMap((s) => s.obx)]) {
        const n = obxAsNote(o, ctx);
        if (n) notes.push(n);
      }
    }

    if (ctx.issues.failed || !patient || !orderingProvider || !authoredOn || !bodySite) continue;

    const proc: ProcedureInfo = { type: procedure ?? 'aspiration', bodySite, status: 'preparation' };
    const collector = obr0.has(10) ? providerOf(xcnParts(obr0, 10)) : undefined;
    if (collector) proc.performer = collector;
    if (status === 'revoked') {
      proc.status = 'not-done';
      const orc = groups.find((g) => g.orc)?.orc;
      proc.notDoneReason =
        (orc && (cweFrom(componentParts(orc, 16), ctx).text ?? orc.comp(16, 1))) || 'order cancelled';
    } else {
      const times = specimens.map((s) => s.collectedAt).filter((t): t is string => !!t && t.includes('T'));
      if (times.length) {
        times.sort((x, y) => timeOf(x) - timeOf(y));
        proc.status = 'completed';
        proc.performedStart = times[0];
        if (times[times.length - 1] !== times[0]) proc.performedEnd = times[times.length - 1];
      }
    }

    const enc = encounterOf(first.pv1, ctx);
    // built in the model's field order so the JSON reads like the type
    const order: BmaOrder = {
      kind: 'order',
      source: { system: info.source, messageId: info.messageId },
      placerOrderNumber: b.numbers.placer,
      ...(b.numbers.filler ? { fillerOrderNumber: b.numbers.filler } : {}),
      ...(status ? { status } : {}),
      authoredOn,
      priority,
      patient,
      ...(enc ? { encounter: enc } : {}),
      orderingProvider,
      reasons,
      requestedStudies: REQUESTED_STUDIES.filter((s) => studies.has(s)),
      procedure: proc,
      specimens,
    };
    if (notes.length) order.clinicalNotes = notes;
    items.push(order);
    const detail: Hl7ItemDetail = {};
    if (serviceCode) detail.serviceCode = serviceCode;
    if (nonMarrow) detail.nonMarrowService = true;
    if (b.placerFromFiller) detail.placerFromFiller = true;
    details.push(detail);
  }
  if (items.length > 1)
    items.forEach((o, i) => (o.source = { system: info.source, messageId: `${info.messageId}#${i + 1}` }));
  return { items, details };
}
