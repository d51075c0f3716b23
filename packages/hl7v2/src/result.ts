/** ORU^R01 → one ResultUpdate per OBR (order group). */
import type {
  AttachedDocument,
  BusinessIdentifier,
  Coding,
  ObservationResult,
  ResultUpdate,
} from '@marrowbridge/model';
import { mrnOf, orderNumbersOf, spmIdOf, spsSpecimenId } from './common';
import {
  cnnParts,
  Ctx,
  cweFrom,
  displayName,
  eiFrom,
  identifier,
  pickCodes,
  providerOf,
  readDtm,
  convertDtmAt,
} from './datatypes';
import { componentParts, Seg, subParts } from './message';
import { interpretationsOf, readObxValue, referenceRangeOf, unitOf } from './obx';
import type { MessageInfo } from './order';
import type { Group, ObxEntry, Structure } from './structure';
import { observationStatus, reportCodes, resultStatus } from './tables';
import type { Hl7ItemDetail } from './types';

const sameCoding = (a: Coding, b: Coding): boolean => a.system === b.system && a.code === b.code;

function performerOf(obr: Seg, ctx: Ctx): ResultUpdate['performer'] | undefined {
  for (const f of [34, 35]) {
    if (!obr.has(f)) continue;
    const p = cnnParts(obr, f);
    const name = displayName(p) || p.id;
    if (!name) continue;
    const out: NonNullable<ResultUpdate['performer']> = { name };
    if (p.id) {
      const id = identifier(p.id, p.authority, ctx.fillerFac, ctx);
      if (id) out.identifier = id;
    }
    return out;
  }
  return undefined;
}

function obxSpecimenId(entry: ObxEntry, ctx: Ctx): BusinessIdentifier | undefined {
  const obx = entry.obx;
  if (obx.sub(33, 1, 1)) return eiFrom(subParts(obx, 33, 1), ctx.placerApp, ctx);
  if (obx.sub(33, 2, 1)) return eiFrom(subParts(obx, 33, 2), ctx.fillerApp, ctx);
  return entry.specimen ? spmIdOf(entry.specimen.spm, ctx) : undefined;
}

function mapGroup(
  g: Group,
  structure: Structure,
  info: MessageInfo,
  ctx: Ctx,
): { update?: ResultUpdate; detail: Hl7ItemDetail } {
  const obr = g.obr as Seg;
  const detail: Hl7ItemDetail = {};
  const before = ctx.issues.errors.length;
  const mrn = mrnOf(g.pid, ctx);
  const numbers = orderNumbersOf(g, ctx);
  let placer = numbers.placer;
  if (!placer && numbers.filler) {
    placer = numbers.filler;
    detail.placerFromFiller = true;
    ctx.issues.warn(g.orc?.loc(2) ?? obr.loc(2), 'no placer order number: the filler order number stands in for it');
  }
  if (!placer) {
    ctx.issues.error(
      g.orc?.loc(2) ?? obr.loc(2),
      101,
      'neither a placer (ORC-2/OBR-2) nor a filler (ORC-3/OBR-3) order number is given',
    );
  }

  const reportCwe = cweFrom(componentParts(obr, 4), ctx);
  const reportCode = pickCodes(reportCwe).code;
  if (!reportCode) ctx.issues.error(obr.loc(4), 101, 'OBR-4 (universal service identifier) is required');
  else {
    detail.serviceCode = reportCode;
    if (!reportCodes.has(reportCode)) {
      detail.nonMarrowService = true;
      if (ctx.opts.acceptAnyReport) {
        ctx.issues.warn(obr.loc(4), `OBR-4 report ${reportCode.code} is not a BMA report code: kept as sent`);
      } else {
        ctx.issues.error(
          obr.loc(4),
          103,
          `OBR-4 report ${reportCode.code} is not a bone marrow report code (LOINC ${[...reportCodes.codes].join(', ')})`,
        );
      }
    }
  }

  const s25 = obr.comp(25, 1);
  let status: ResultUpdate['status'] | undefined;
  if (!s25) ctx.issues.error(obr.loc(25), 101, 'OBR-25 (result status) is required');
  else {
    const e = resultStatus.get(s25.toUpperCase());
    if (!e || e.reject || !e.status) {
      ctx.issues.error(obr.loc(25), 103, `OBR-25 result status ${s25} cannot be processed (table 0123)`);
    } else status = e.status;
  }

  let issued = obr.comp(22, 1) ? readDtm(obr, 22, ctx, 'instant') : undefined;
  if (!obr.comp(22, 1)) {
    if (info.messageInstant) {
      issued = info.messageInstant;
      ctx.issues.warn(obr.loc(22), 'OBR-22 is empty: issued taken from MSH-7');
    } else
      ctx.issues.error(obr.loc(22), 101, 'OBR-22 (results report/status change time) is required when MSH-7 is empty');
  }

  let effective = obr.comp(7, 1) ? readDtm(obr, 7, ctx, 'dateTime') : undefined;
  if (!obr.comp(7, 1)) {
    const spm = g.spm.find((s) => s.spm.sub(17, 1, 1));
    if (spm) effective = convertDtmAt(spm.spm.sub(17, 1, 1), spm.spm.loc(17, 1), ctx, 'dateTime');
    else ctx.issues.error(obr.loc(7), 101, 'OBR-7 (observation date/time) is required (no SPM-17 either)');
  }

  // specimens: SPM-2 ids, else the OBR-15 specimen
  const specimenIds: BusinessIdentifier[] = [];
  const addSpecimen = (id: BusinessIdentifier | undefined): void => {
    if (id && !specimenIds.some((s) => s.system === id.system && s.value === id.value)) specimenIds.push(id);
  };
  for (const s of g.spm) {
    const id = spmIdOf(s.spm, ctx);
    // A result only refers to the order's specimens; without an id there is nothing to refer to (the report
    // is still usable). An order, which creates the Specimen, keeps SPM-2 required.
    if (!id) ctx.issues.warn(s.spm.loc(2), 'SPM-2 (specimen id) is empty: the report names no specimen for this SPM');
    addSpecimen(id);
  }
  if (g.spm.length === 0 && obr.has(15) && placer) addSpecimen(spsSpecimenId(obr, placer));

  // observations
  const observations: ObservationResult[] = [];
  const conclusion: string[] = [];
  const conclusionCodes: Coding[] = [];
  const notes: string[] = [...structure.messageNotes, ...g.notes];
  let presentedForm: AttachedDocument | undefined;
  let sawPreliminary = false;
  const entries = [...g.obx, ...g.spm.flatMap((s) => s.obx)].sort((a, b) => a.obx.seq - b.obx.seq);
  for (const entry of entries) {
    const obx = entry.obx;
    const codeCwe = cweFrom(componentParts(obx, 3), ctx);
    const { code, local } = pickCodes(codeCwe);
    if (!code) {
      ctx.issues.error(obx.loc(3), 101, 'OBX-3 (observation identifier) is required');
      continue;
    }
    const s11 = obx.comp(11, 1);
    if (!s11) {
      ctx.issues.error(obx.loc(11), 101, 'OBX-11 (observation result status) is required');
      continue;
    }
    const st = observationStatus.get(s11.toUpperCase());
    if (!st) {
      ctx.issues.error(obx.loc(11), 103, `OBX-11 observation result status ${s11} is not in table 0085`);
      continue;
    }
    if (st.skip) {
      ctx.issues.warn(obx.loc(11), `OBX-11 ${s11}: the OBX carries no result and is not mapped`);
      notes.push(...entry.notes);
      continue;
    }
    const value = readObxValue(obx, ctx, codeCwe.text ?? code.display);
    if (value.kind === 'error') continue;
    if (value.kind === 'document') {
      if (presentedForm) {
        ctx.issues.error(obx.loc(5), 102, 'more than one PDF report in one OBR group');
      } else presentedForm = value.doc;
      notes.push(...entry.notes);
      continue;
    }
    // The report's own narrative / coded conclusion: the OBX coded like the report itself (domain-reference 4.4).
    if (reportCode && sameCoding(code, reportCode) && value.kind === 'value') {
      const v = value.value;
      if (v.type === 'string') {
        conclusion.push(v.value);
        notes.push(...entry.notes);
        continue;
      }
      if (v.type === 'coded') {
        conclusionCodes.push(v.coding);
        notes.push(...entry.notes);
        continue;
      }
    }
    const status11 = st.status as ObservationResult['status'];
    if (status11 === 'preliminary' || status11 === 'registered') sawPreliminary = true;
    let dataAbsentReason: ObservationResult['dataAbsentReason'];
    if (value.kind !== 'value' && status11 !== 'cancelled' && status11 !== 'entered-in-error') {
      if (st.skipWithoutValue) {
        ctx.issues.warn(
          obx.loc(11),
          'OBX-11 U without a value (status-only change) cannot be expressed: OBX not mapped',
        );
        notes.push(...entry.notes);
        continue;
      }
      dataAbsentReason = st.dataAbsentReason ?? 'unknown';
    }
    const subId = obx.comp(4, 1);
    const referenceRange = referenceRangeOf(obx.comp(7, 1) ? obx.text(7) : '', unitOf(obx));
    const interp = interpretationsOf(obx, ctx);
    const effectiveObx = obx.comp(14, 1) ? readDtm(obx, 14, ctx, 'dateTime') : undefined;
    const spec = obxSpecimenId(entry, ctx);
    if (spec) addSpecimen(spec);
    // built in the model's field order so the JSON reads like the type
    const obs: ObservationResult = {
      code,
      ...(local ? { localCode: local } : {}),
      ...(subId ? { subId } : {}),
      ...(value.kind === 'value' ? { value: value.value } : {}),
      ...(dataAbsentReason ? { dataAbsentReason } : {}),
      ...(referenceRange ? { referenceRange } : {}),
      ...(interp ? { interpretation: interp } : {}),
      status: status11,
      ...(effectiveObx ? { effective: effectiveObx } : {}),
      ...(spec ? { specimenId: spec.value } : {}),
      ...(entry.notes.length ? { notes: [...entry.notes] } : {}),
    };

    // Repeated OBX with the same code and sub-id: text continuation lines merge, exact duplicates are dropped,
    // anything else cannot be told apart downstream (the observation key is code + sub-id).
    const twin = observations.find((o) => sameCoding(o.code, obs.code) && o.subId === obs.subId);
    if (twin) {
      if (JSON.stringify({ ...twin, notes: undefined }) === JSON.stringify({ ...obs, notes: undefined })) {
        ctx.issues.warn(obx.loc(0), 'duplicated OBX dropped');
        if (obs.notes) twin.notes = [...(twin.notes ?? []), ...obs.notes.filter((n) => !twin.notes?.includes(n))];
        continue;
      }
      if (twin.value?.type === 'string' && obs.value?.type === 'string' && twin.status === obs.status) {
        twin.value = { type: 'string', value: `${twin.value.value}\n${obs.value.value}` };
        if (obs.notes) twin.notes = [...(twin.notes ?? []), ...obs.notes];
        continue;
      }
      ctx.issues.error(
        obx.loc(4),
        205,
        'OBX-3 repeats with the same OBX-4 sub-id and a different value: the results cannot be told apart',
      );
      continue;
    }
    observations.push(obs);
  }
  if (status === 'final' && sawPreliminary) {
    ctx.issues.warn(obr.loc(25), 'OBR-25 is final while an OBX-11 is still preliminary/pending');
  }

  if (ctx.issues.errors.length > before || !mrn || !placer || !reportCode || !status || !issued || !effective) {
    return { detail };
  }
  const performer = performerOf(obr, ctx);
  let resultsInterpreter: ResultUpdate['resultsInterpreter'];
  if (obr.has(32)) {
    const parts = cnnParts(obr, 32);
    resultsInterpreter = providerOf(parts);
    if (!resultsInterpreter && (parts.id || parts.family)) {
      ctx.issues.warn(
        obr.loc(32),
        'OBR-32 results interpreter has no NPI: left out (the canonical interpreter needs one)',
      );
    }
  }
  const section = obr.comp(24, 1);
  // built in the model's field order so the JSON reads like the type
  const u: ResultUpdate = {
    kind: 'result',
    source: { system: info.source, messageId: info.messageId },
    placerOrderNumber: placer,
    ...(numbers.filler ? { fillerOrderNumber: numbers.filler } : {}),
    patient: { mrn },
    reportCode,
    ...(section ? { section } : {}),
    status,
    issued,
    effective,
    ...(performer ? { performer } : {}),
    ...(resultsInterpreter ? { resultsInterpreter } : {}),
    specimenIds,
    observations,
  };
  if (conclusion.length) u.conclusion = conclusion.join('\n');
  if (conclusionCodes.length) u.conclusionCodes = conclusionCodes;
  if (presentedForm) u.presentedForm = presentedForm;
  if (notes.length) u.notes = notes;
  return { update: u, detail };
}

export function mapResults(
  structure: Structure,
  info: MessageInfo,
  ctx: Ctx,
): { items: ResultUpdate[]; details: Hl7ItemDetail[] } {
  const items: ResultUpdate[] = [];
  const details: Hl7ItemDetail[] = [];
  const groups = structure.groups.filter((g) => g.obr);
  for (const g of structure.groups) {
    if (!g.obr && g.orc) ctx.issues.warn(g.orc.loc(0), 'an ORC without an OBR carries no result: ignored');
  }
  if (groups.length === 0) {
    ctx.issues.error({ segment: 'OBR', sequence: 1, field: 0 }, 100, 'the message has no OBR segment');
    return { items, details };
  }
  if (!structure.pid) {
    ctx.issues.error({ segment: 'PID', sequence: 1, field: 0 }, 100, 'the message has no PID segment');
    return { items, details };
  }
  for (const g of groups) {
    const r = mapGroup(g, structure, info, ctx);
    if (r.update) {
      items.push(r.update);
      details.push(r.detail);
    }
  }
  if (items.length > 1) {
    items.forEach((u, i) => (u.source = { system: info.source, messageId: `${info.messageId}#${i + 1}` }));
  }
  return { items, details };
}
