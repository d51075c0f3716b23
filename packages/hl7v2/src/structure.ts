/**
 * Groups the segments of an OML^O21 / ORM^O01 / ORU^R01 into order groups ({[ORC], OBR, NTE*, TQ1*, DG1*,
 * {OBX, NTE*}*, {SPM, {OBX}*}*}), the way the three message structures nest them. The parser does not check the
 * structure; this walk is tolerant: an OBR without an ORC opens its own group (missing ORC), segments we do not
 * map (PRT, SFT, PV2, IN1, CTI, FT1, Z-segments …) are skipped, and every NTE is attached to what precedes it.
 */
import type { ParsedMessage, Seg } from './message';

export interface ObxEntry {
  obx: Seg;
  notes: string[];
  /** The SPM group the OBX sits in (ORU SPECIMEN group / OML specimen observations). */
  specimen?: SpmEntry;
}

export interface SpmEntry {
  spm: Seg;
  obx: ObxEntry[];
}

export interface Group {
  orc?: Seg;
  obr?: Seg;
  tq1: Seg[];
  dg1: Seg[];
  /** NTE after ORC/OBR (report / order notes). */
  notes: string[];
  obx: ObxEntry[];
  spm: SpmEntry[];
  pid?: Seg;
  pv1?: Seg;
}

export interface Structure {
  /** First PID (the patient of groups that came before any PID, if any). */
  pid?: Seg;
  groups: Group[];
  /** NTE after MSH or PID, before any order group: they belong to every item of the message. */
  messageNotes: string[];
  messageDg1: Seg[];
  /** OBX / SPM found outside any order group. */
  stray: Seg[];
}

/** NTE-3 (FT, repeating) as one note; repetitions are lines. */
function noteText(nte: Seg): string {
  const lines: string[] = [];
  const n = nte.reps(3).length;
  for (let r = 0; r < n; r++) lines.push(nte.text(3, r));
  return lines.join('\n').trim();
}

export function buildStructure(msg: ParsedMessage): Structure {
  const out: Structure = { groups: [], messageNotes: [], messageDg1: [], stray: [] };
  let pid: Seg | undefined;
  let pv1: Seg | undefined;
  let group: Group | undefined;
  let spm: SpmEntry | undefined;
  let lastObx: ObxEntry | undefined;
  let target: 'message' | 'group' | 'obx' = 'message';
  const open = (): Group => {
    const g: Group = { tq1: [], dg1: [], notes: [], obx: [], spm: [] };
    if (pid) g.pid = pid;
    if (pv1) g.pv1 = pv1;
    out.groups.push(g);
    spm = undefined;
    target = 'group';
    return g;
  };
  for (let i = 1; i < msg.segments.length; i++) {
    const seg = msg.segments[i];
    switch (seg.name) {
      case 'PID':
        pid = seg;
        pv1 = undefined;
        out.pid ??= seg;
        group = undefined;
        target = 'message';
        break;
      case 'PV1':
        pv1 = seg;
        if (group && !group.pv1) group.pv1 = seg;
        break;
      case 'ORC':
        group = open();
        group.orc = seg;
        break;
      case 'OBR':
        if (group && group.orc && !group.obr && group.obx.length === 0 && group.spm.length === 0) {
          group.obr = seg;
          target = 'group';
        } else {
          group = open();
          group.obr = seg;
        }
        break;
      case 'TQ1':
        group?.tq1.push(seg);
        break;
      case 'DG1':
        if (group) group.dg1.push(seg);
        else out.messageDg1.push(seg);
        break;
      case 'NTE': {
        const text = noteText(seg);
        if (!text) break;
        if (target === 'obx' && lastObx) lastObx.notes.push(text);
        else if (target === 'group' && group) group.notes.push(text);
        else out.messageNotes.push(text);
        break;
      }
      case 'OBX': {
        const entry: ObxEntry = { obx: seg, notes: [] };
        if (group && spm) {
          entry.specimen = spm;
          spm.obx.push(entry);
        } else if (group) {
          group.obx.push(entry);
        } else {
          // outside any order group: reported as a warning; its NTEs become message notes
          out.stray.push(seg);
          target = 'message';
          break;
        }
        lastObx = entry;
        target = 'obx';
        break;
      }
      case 'SPM':
        if (group) {
          spm = { spm: seg, obx: [] };
          group.spm.push(spm);
          // an NTE right after SPM has no SPM slot: it goes to the order group
          target = 'group';
        } else {
          out.stray.push(seg);
        }
        break;
      default:
        // PRT, SFT, PV2, IN1, GT1, AL1, CTD, CTI, FT1, BLG, TXA, SAC, Z-segments …: not mapped
        break;
    }
  }
  return out;
}
