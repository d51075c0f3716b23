/** Synthetic HL7 messages (invented patients and ids) and a recording sink for the MLLP tests. */
import type { MllpInbound, SinkResult } from '../src';

export const SENDER = { application: 'LIS', facility: 'MBLAB' };

/** A BMA ORU^R01 (final, 3 OBX). `n` makes the placer number and MRN distinct; `id` is MSH-10. */
export function oru(
  id: string,
  n = 1,
  options: { application?: string; facility?: string; value?: string } = {},
): string {
  const app = options.application ?? SENDER.application;
  const fac = options.facility ?? SENDER.facility;
  return [
    `MSH|^~\\&|${app}|${fac}|EPICORD|MBHOSP|20240315170000-0400||ORU^R01^ORU_R01|${id}|P|2.5.1|||AL|NE`,
    `PID|1||MRN-T${n}^^^MBHOSP&2.16.840.1.113883.3.9999.1&ISO^MR||TESTPATIENT^SYNTH||19610704|F`,
    `ORC|RE|PLC-${n}^EPICORD|FIL-${n}^LIS||CM`,
    `OBR|1|PLC-${n}^EPICORD|FIL-${n}^LIS|48807-2^Bone marrow aspiration report^LN|||20240312101000-0400|||||||||||||||20240315165500-0400||HM|F`,
    `OBX|1|NM|11108-8^Lymphocytes/cells in Bone marrow by Manual count^LN||${options.value ?? '12.0'}|%^percent^UCUM|5-20|N|||F`,
    'OBX|2|SN|11138-5^Myeloid cells/Erythroid cells [# Ratio] in Bone marrow^LN||^3^:^1||||||F',
    'OBX|3|TX|33893-9^Karyotype [Identifier] in Bone marrow Nominal^LN||46,XX[20]||||||F',
  ].join('\r');
}

/** A BMA ORM^O01 v2.3 order (specimen in OBR-15). */
export function orm(id: string, n = 1): string {
  return [
    `MSH|^~\\&|${SENDER.application}|${SENDER.facility}|LIS|MBLAB|20230115081500||ORM^O01|${id}|P|2.3`,
    `PID|1||MRN-T${n}^^^MBHOSP^MR||TESTPATIENT^SYNTH||19550212|M`,
    `ORC|NW|PLC-O${n}^HISORD|||||||20230115080000|||1987654328^PRESCRIBER^PAT^^^DR`,
    `OBR|1|PLC-O${n}^HISORD||BMA^Bone marrow aspiration^L|S||||||||||MAR&Marrow&HL70070^EDTA^^PIC&Posterior iliac crest&L^R&Right&HL70495|1987654328^PRESCRIBER^PAT^^^DR`,
  ].join('\r');
}

/** An ORU the translator rejects (no PID-3): AR with ERR 101. */
export function oruWithoutPatientId(id: string, n = 1): string {
  return oru(id, n).replace(/^PID\|1\|\|[^|]*\|/m, 'PID|1|||');
}

/** A message type the translator does not take (ADT^A01): AR with ERR 200. */
export function adt(id: string): string {
  return [
    `MSH|^~\\&|${SENDER.application}|${SENDER.facility}|EPICORD|MBHOSP|20240315170000||ADT^A01|${id}|P|2.5.1`,
    'PID|1||MRN-T1^^^MBHOSP^MR||TESTPATIENT^SYNTH',
  ].join('\r');
}

/** An ORU padded with a long TX OBX to `bytes` (at least). */
export function bigOru(id: string, bytes: number): string {
  const base = oru(id, 9999);
  const pad = Math.max(0, bytes - base.length);
  return `${base}\rOBX|4|TX|MBNOTE^Note^L||${'x'.repeat(pad)}||||||F`;
}

/** Records what the sink took; `failFirst` ids fail once (transient), `throwFor` ids throw once. */
export class RecordingSink {
  readonly taken = new Map<string, number>();
  attempts = 0;
  readonly failFirst = new Set<string>();
  readonly throwFor = new Set<string>();
  delayMs = 0;

  readonly sink = async (m: MllpInbound): Promise<SinkResult> => {
    this.attempts++;
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    const id = m.control.messageId;
    if (this.failFirst.delete(id)) return { ok: false, reason: 'queue unavailable (test)' };
    if (this.throwFor.delete(id)) throw new Error('sink exploded (test)');
    const key = `${m.control.sendingApplication}|${m.control.sendingFacility}|${id}`;
    this.taken.set(key, (this.taken.get(key) ?? 0) + 1);
    return { ok: true };
  };

  get total(): number {
    let t = 0;
    for (const v of this.taken.values()) t += v;
    return t;
  }

  count(id: string, sender = SENDER): number {
    return this.taken.get(`${sender.application}|${sender.facility}|${id}`) ?? 0;
  }
}
