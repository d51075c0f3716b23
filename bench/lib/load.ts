/**
 * Synthetic benchmark load made from the committed samples (invented data only): per order, one order message
 * and a series of versions of its bone marrow aspiration report, each with 8 observations, in two formats:
 *
 * - JSON: samples/orders/order-several-reasons.json and samples/results/result-mixed-values.json (its first 8
 *   observations), sent to POST /orders and POST /results;
 * - HL7 v2: samples/hl7/oml-o21-bma-v251.hl7 and samples/hl7/oru-r01-bma-final.hl7 (OBX 1-8), sent over MLLP.
 *
 * Every order has its own identifiers (placer/filler numbers, MRN, specimen ids, visit, message ids); every
 * version of a report has a later issued time and a non-decreasing status, and one numeric value changes, so
 * the newest version is also the one that must end in the EHR. Loads with the same tag share their orders, so
 * later versions (`firstVersion`) can follow earlier ones against the same orders. `interleave()` mixes the versions of all orders
 * in a seeded random order that keeps each order's own versions in sequence (as one lab system sends them).
 */
import fs from 'node:fs';
import path from 'node:path';
import { shuffled } from '../../test/support/random';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const OBSERVATIONS_PER_UPDATE = 8;

export type LoadFormat = 'json' | 'hl7v2';

export interface LoadItem {
  /** The bytes a sender sends (canonical JSON, or one HL7 v2 message with CR segment separators). */
  raw: string;
  orderIndex: number;
  /** 1-based version of the order's report (0 for the order itself). */
  version: number;
  /** Report status of this version (result updates). */
  status?: string;
  /** Issued instant of this version, as sent. */
  issued?: string;
}

export interface Load {
  format: LoadFormat;
  tag: string;
  orders: LoadItem[];
  /** Per order, its report versions in issue order. */
  updatesByOrder: LoadItem[][];
  /** Placer order number value of each order (index = orderIndex). */
  placers: string[];
}

type Json = Record<string, unknown>;

function readSample(...parts: string[]): string {
  return fs.readFileSync(path.join(REPO_ROOT, 'samples', ...parts), 'utf8');
}

/**
 * Version v (0-based) of an order's report: preliminary for v < 3, final for v < 6, corrected after that (HL7:
 * OBR-25 P / F / C), issued 6 + 2v hours after the order's base time, so any later version is also a newer one.
 */
function jsonStatus(v: number): string {
  return v < 3 ? 'preliminary' : v < 6 ? 'final' : 'corrected';
}

function hl7Status(v: number): 'P' | 'F' | 'C' {
  return v < 3 ? 'P' : v < 6 ? 'F' : 'C';
}

function issuedHours(v: number): number {
  return 6 + 2 * v;
}

/** Lymphocytes %: a different value from one version to the next. */
function lymphocytes(v: number): number {
  return 10 + (v % 40) * 0.5;
}

const BASE_MS = Date.parse('2026-03-02T14:00:00Z');

function serial(i: number): string {
  return String(100000 + i).padStart(6, '0');
}

/** ISO instant with the -05:00 offset the JSON samples use. */
function isoEst(ms: number): string {
  return new Date(ms - 5 * 3600_000).toISOString().replace(/\.\d{3}Z$/, '-05:00');
}

/** HL7 DTM with the -0400 offset the HL7 samples use. */
function hl7Time(ms: number): string {
  return (
    new Date(ms - 4 * 3600_000)
      .toISOString()
      .replace(/\.\d{3}Z$/, '')
      .replace(/[-:T]/g, '') + '-0400'
  );
}

/**
 * `orders` orders with report versions `firstVersion` .. `firstVersion + versions - 1` each, in canonical JSON.
 * `tag` (letters/digits) keeps the identifiers of different loads apart; the same tag gives the same orders.
 */
export function jsonLoad(orders: number, versions: number, tag: string, firstVersion = 0): Load {
  const orderText = readSample('orders', 'order-several-reasons.json');
  const resultDoc = JSON.parse(readSample('results', 'result-mixed-values.json')) as Json;
  resultDoc.observations = (resultDoc.observations as Json[]).slice(0, OBSERVATIONS_PER_UPDATE);
  const resultText = JSON.stringify(resultDoc);
  const personalize = (text: string, i: number): string => {
    const n = serial(i);
    return text
      .replaceAll('ORD-26-000142', `ORD-${tag}-${n}`)
      .replaceAll('HP26-000298', `HP${tag}-${n}`)
      .replaceAll('MRN-40012058', `MRN-${tag}${n}`)
      .replaceAll('SP-26-000142-1', `SP-${tag}-${n}-1`)
      .replaceAll('BM26-000298-A', `BM${tag}-${n}-A`);
  };
  const load: Load = { format: 'json', tag, orders: [], updatesByOrder: [], placers: [] };
  for (let i = 0; i < orders; i++) {
    const order = JSON.parse(personalize(orderText, i)) as Json;
    (order.source as Json).messageId = `EHR-${tag}-${i}`;
    load.orders.push({ raw: JSON.stringify(order), orderIndex: i, version: 0 });
    load.placers.push(`ORD-${tag}-${serial(i)}`);
    const t0 = BASE_MS + i * 60_000;
    const versionsOfOrder: LoadItem[] = [];
    for (let v = firstVersion; v < firstVersion + versions; v++) {
      const status = jsonStatus(v);
      const doc = JSON.parse(personalize(resultText, i)) as Json;
      doc.source = { system: 'bench-lis', messageId: `LIS-${tag}-${i}-${v + 1}` };
      doc.status = status;
      doc.issued = isoEst(t0 + issuedHours(v) * 3600_000);
      for (const obs of doc.observations as Json[]) {
        if (status === 'preliminary' || status === 'final') obs.status = status;
        const value = obs.value as Json;
        if ((obs.code as Json).code === '11108-8' && value.type === 'quantity') value.value = lymphocytes(v);
      }
      versionsOfOrder.push({
        raw: JSON.stringify(doc),
        orderIndex: i,
        version: v + 1,
        status,
        issued: doc.issued as string,
      });
    }
    load.updatesByOrder.push(versionsOfOrder);
  }
  return load;
}

function segmentsOf(text: string): string[] {
  return text.split(/\r\n|\r|\n/).filter((s) => s.length > 0);
}

function setField(segment: string, index: number, value: string): string {
  const fields = segment.split('|');
  while (fields.length <= index) fields.push('');
  fields[index] = value;
  return fields.join('|');
}

/** The ORU sample with OBX 1-8 (and their NTEs) kept; the other observations and the PDF are dropped. */
function oruTemplate(): string[] {
  const out: string[] = [];
  let keep = true;
  for (const seg of segmentsOf(readSample('hl7', 'oru-r01-bma-final.hl7'))) {
    if (seg.startsWith('OBX|')) keep = Number(seg.split('|')[1]) <= OBSERVATIONS_PER_UPDATE;
    else if (!seg.startsWith('NTE|')) keep = true;
    if (keep) out.push(seg);
  }
  return out;
}

/** `orders` OML^O21 orders with ORU^R01 report versions `firstVersion` .. (as jsonLoad), in HL7 v2.5.1. */
export function hl7Load(orders: number, versions: number, tag: string, firstVersion = 0): Load {
  const oml = segmentsOf(readSample('hl7', 'oml-o21-bma-v251.hl7'));
  const oru = oruTemplate();
  const personalize = (seg: string, i: number): string => {
    const n = serial(i);
    return seg
      .replaceAll('PLC-5001', `PLC-${tag}${n}`)
      .replaceAll('FIL-7001', `FIL-${tag}${n}`)
      .replaceAll('SPC-5001', `SPC-${tag}${n}`)
      .replaceAll('MRN-900001', `MRN-${tag}${n}`)
      .replaceAll('VN-77001', `VN-${tag}${n}`)
      .replaceAll('ACC-24-001', `ACC-${tag}-${n}`);
  };
  const load: Load = { format: 'hl7v2', tag, orders: [], updatesByOrder: [], placers: [] };
  for (let i = 0; i < orders; i++) {
    const order = oml
      .map((s) => personalize(s, i))
      .map((s) => (s.startsWith('MSH|') ? setField(s, 9, `OML-${tag}-${i}`) : s));
    load.orders.push({ raw: order.join('\r') + '\r', orderIndex: i, version: 0 });
    load.placers.push(`PLC-${tag}${serial(i)}`);
    const t0 = BASE_MS + i * 60_000;
    const versionsOfOrder: LoadItem[] = [];
    for (let v = firstVersion; v < firstVersion + versions; v++) {
      const status = hl7Status(v);
      const issuedMs = t0 + issuedHours(v) * 3600_000;
      const segs = oru.map((s) => {
        let seg = personalize(s, i);
        if (seg.startsWith('MSH|')) {
          seg = setField(seg, 9, `ORU-${tag}-${i}-${v + 1}`);
          seg = setField(seg, 6, hl7Time(issuedMs + 60_000).slice(0, 14));
        } else if (seg.startsWith('OBR|')) {
          seg = setField(seg, 22, hl7Time(issuedMs));
          seg = setField(seg, 25, status);
        } else if (seg.startsWith('OBX|')) {
          const setId = Number(seg.split('|')[1]);
          // OBX-11: the observation's status; in a corrected report only the corrected value says C.
          seg = setField(seg, 11, status === 'C' ? (setId === 1 ? 'C' : 'F') : status);
          if (setId === 1) seg = setField(seg, 5, lymphocytes(v).toFixed(1));
        }
        return seg;
      });
      versionsOfOrder.push({
        raw: segs.join('\r') + '\r',
        orderIndex: i,
        version: v + 1,
        status,
        issued: hl7Time(issuedMs),
      });
    }
    load.updatesByOrder.push(versionsOfOrder);
  }
  return load;
}

export function makeLoad(format: LoadFormat, orders: number, versions: number, tag: string, firstVersion = 0): Load {
  return format === 'json'
    ? jsonLoad(orders, versions, tag, firstVersion)
    : hl7Load(orders, versions, tag, firstVersion);
}

/**
 * All updates of the load in a seeded random order that keeps each order's versions in issue order: the
 * sequence of order indexes is shuffled, and the k-th time an order comes up it sends its k-th version.
 */
export function interleave(load: Load, seed: number): LoadItem[] {
  const slots = load.updatesByOrder.flatMap((versions, i) => versions.map(() => i));
  const next = new Array<number>(load.updatesByOrder.length).fill(0);
  return shuffled(slots, seed).map((i) => load.updatesByOrder[i][next[i]++]);
}
