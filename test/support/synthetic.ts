/**
 * Synthetic load for the delivery tests, derived from the committed samples (invented data only): N orders, each
 * with its own placer/filler numbers, MRN, specimen ids, accession numbers and visit number, and per order
 * several versions of two reports (aspirate morphology 48807-2 and flow cytometry 101119-6) with strictly
 * increasing issued times and non-decreasing status precedence, so the newest version is also the one that must
 * win. `shuffled()` mixes the updates of all orders in a seeded random order.
 */
import fs from 'node:fs';
import { sample } from './stack';

export interface SyntheticUpdate {
  /** Raw canonical JSON, as a sender would post it. */
  raw: string;
  orderIndex: number;
  placer: string;
  reportCode: string;
  status: string;
  issued: string;
  /** 1-based version number within its report. */
  version: number;
}

export interface SyntheticOrder {
  raw: string;
  index: number;
  placer: string;
}

export interface SyntheticLoad {
  orders: SyntheticOrder[];
  updates: SyntheticUpdate[];
  /** The version that must be in the EHR at the end, by `<placer>|<reportCode>`. */
  newest: Map<string, SyntheticUpdate>;
}

const ORDER_SAMPLE = 'order-aspiration-trephine-biopsy';

type Json = Record<string, unknown>;

/** Version plan per report: which sample it starts from, its status, the hours after the order's base time. */
interface VersionPlan {
  from: string;
  status: string;
  hours: number;
  /** Observation code whose numeric value is bumped, so same-status versions differ in content too. */
  bump?: string;
}

const ASPIRATE: VersionPlan[] = [
  { from: 'result-aspirate-1-preliminary', status: 'preliminary', hours: 6 },
  { from: 'result-aspirate-1-preliminary', status: 'preliminary', hours: 8, bump: '38257-2' },
  { from: 'result-aspirate-2-final', status: 'final', hours: 49 },
  { from: 'result-aspirate-2-final', status: 'final', hours: 51, bump: '38257-2' },
  { from: 'result-aspirate-3-corrected', status: 'corrected', hours: 71 },
  { from: 'result-aspirate-4-amended', status: 'amended', hours: 170 },
];
const FLOW: VersionPlan[] = [
  { from: 'result-flow-cytometry-pdf', status: 'preliminary', hours: 20 },
  { from: 'result-flow-cytometry-pdf', status: 'preliminary', hours: 24, bump: 'FC-BLAST' },
  { from: 'result-flow-cytometry-pdf', status: 'final', hours: 31 },
  { from: 'result-flow-cytometry-pdf', status: 'corrected', hours: 55, bump: 'FC-BLAST' },
];

/** Versions per order (10: six aspirate, four flow cytometry). */
export const UPDATES_PER_ORDER = ASPIRATE.length + FLOW.length;

const cache = new Map<string, string>();
function sampleText(name: string): string {
  let text = cache.get(name);
  if (text === undefined) {
    text = fs.readFileSync(sample(name), 'utf8');
    cache.set(name, text);
  }
  return text;
}

/** The sample with every identifier of the demo order replaced by order `i`'s own. */
function personalize(text: string, i: number, runTag: string): string {
  const n = String(100000 + i).padStart(6, '0');
  return text
    .replaceAll('ORD-26-000214', `ORD-${runTag}-${n}`)
    .replaceAll('HP26-000412', `HP${runTag}-${n}`)
    .replaceAll('SP-26-000214', `SP-${runTag}-${n}`)
    .replaceAll('BM26-000412', `BM${runTag}-${n}`)
    .replaceAll('MRN-40035519', `MRN-${runTag}${n}`)
    .replaceAll('V-26-90127', `V-${runTag}-${n}`);
}

/** An instant in the senders' form: Eastern standard time, with its -05:00 offset. */
export function isoOffset(ms: number): string {
  const d = new Date(ms - 5 * 3600_000);
  return d.toISOString().replace(/\.\d{3}Z$/, '-05:00');
}

/**
 * Builds `orders` orders and UPDATES_PER_ORDER result updates for each. `runTag` (2–6 letters/digits) keeps
 * the identifiers of different runs apart.
 */
export function syntheticLoad(orders: number, runTag = 'SY'): SyntheticLoad {
  const out: SyntheticLoad = { orders: [], updates: [], newest: new Map() };
  const base = Date.parse('2026-03-03T15:20:00Z');
  for (let i = 0; i < orders; i++) {
    const orderJson = JSON.parse(personalize(sampleText(ORDER_SAMPLE), i, runTag)) as Json;
    (orderJson.source as Json).messageId = `EHR-MSG-${runTag}-${i}`;
    const placer = (orderJson.placerOrderNumber as Json).value as string;
    out.orders.push({ raw: JSON.stringify(orderJson), index: i, placer });

    // Orders start a few minutes apart, so issued times differ between orders too.
    const t0 = base + i * 7 * 60_000;
    for (const [reportPlans, label] of [
      [ASPIRATE, 'A'],
      [FLOW, 'F'],
    ] as const) {
      reportPlans.forEach((plan, v) => {
        const doc = JSON.parse(personalize(sampleText(plan.from), i, runTag)) as Json;
        doc.source = { system: 'synthetic-lis', messageId: `LIS-${runTag}-${i}-${label}${v + 1}` };
        doc.status = plan.status;
        doc.issued = isoOffset(t0 + plan.hours * 3600_000);
        const obsStatus = plan.status === 'amended' || plan.status === 'corrected' ? undefined : plan.status;
        for (const obs of doc.observations as Json[]) {
          if (obsStatus) obs.status = obsStatus;
          const code = (obs.code as Json).code;
          const value = obs.value as Json;
          if (plan.bump && code === plan.bump && value.type === 'quantity') {
            value.value = (value.value as number) + 1;
          }
        }
        const update: SyntheticUpdate = {
          raw: JSON.stringify(doc),
          orderIndex: i,
          placer,
          reportCode: (doc.reportCode as Json).code as string,
          status: plan.status,
          issued: doc.issued as string,
          version: v + 1,
        };
        out.updates.push(update);
        out.newest.set(`${placer}|${update.reportCode}`, update); // plans are in issued order: last wins
      });
    }
  }
  return out;
}

/** The same orders with only some of the updates (the newest versions recomputed). */
export function subset(load: SyntheticLoad, keep: (u: SyntheticUpdate) => boolean): SyntheticLoad {
  const updates = load.updates.filter(keep);
  const newest = new Map<string, SyntheticUpdate>();
  for (const u of updates) {
    const key = `${u.placer}|${u.reportCode}`;
    const current = newest.get(key);
    if (!current || Date.parse(u.issued) > Date.parse(current.issued)) newest.set(key, u);
  }
  return { orders: load.orders, updates, newest };
}
