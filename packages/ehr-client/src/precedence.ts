import { REPORT_KEY_SYSTEM } from '@marrowbridge/fhir-mapping';
import type { DiagnosticReport, Identifier } from '@medplum/fhirtypes';
import type { EhrClient } from './client';
import precedenceData from './data/report-status-precedence.json';

// The report-key system is the mapping's: one declaration of the mapping contract.
export { REPORT_KEY_SYSTEM };

export type ReportStatus = DiagnosticReport['status'];

export interface TerminalRule {
  /** Entering this status is allowed whatever the current status (entered-in-error). */
  fromAnyStatus: boolean;
  /** Otherwise: allowed while the current status's rank is at most this (cancelled: up to preliminary). */
  fromRankAtMost?: number;
}

export interface PrecedenceTable {
  rank: Record<string, number>;
  terminal: Record<string, TerminalRule>;
  /** Statuses that replace the current copy only with a strictly newer `issued`. */
  requiresNewerIssued: string[];
}

export type ReportDecisionAction = 'apply' | 'superseded' | 'duplicate' | 'review';

export interface ReportDecision {
  /**
   * apply: push it. superseded: stale or lower precedence, record it, do not push. duplicate: same status rank
   * and same issued instant as the EHR's copy, nothing to do. review: a transition the rules refuse to decide
   * (e.g. final → cancelled, cancelled → final, unknown status): route to manual review.
   */
  action: ReportDecisionAction;
  /** Short explanation with statuses only (no patient data). */
  reason: string;
}

/** The precedence table (data file), validated once. */
export const REPORT_PRECEDENCE: PrecedenceTable = loadPrecedenceTable(precedenceData);

export function loadPrecedenceTable(data: unknown): PrecedenceTable {
  const d = data as Partial<PrecedenceTable>;
  if (!d || typeof d.rank !== 'object' || typeof d.terminal !== 'object' || !Array.isArray(d.requiresNewerIssued)) {
    throw new Error('report status precedence table: rank, terminal and requiresNewerIssued are required');
  }
  for (const [status, rank] of Object.entries(d.rank)) {
    if (!Number.isInteger(rank) || rank < 0) {
      throw new Error(`report status precedence table: bad rank for ${status}`);
    }
    if (status in d.terminal) {
      throw new Error(`report status precedence table: ${status} is both ranked and terminal`);
    }
  }
  return { rank: { ...d.rank }, terminal: { ...d.terminal }, requiresNewerIssued: [...d.requiresNewerIssued] };
}

/** Rank of a ranked status (registered 0 … amended/corrected/appended 3); undefined for terminal or unknown ones. */
export function reportRank(status: string | undefined, table: PrecedenceTable = REPORT_PRECEDENCE): number | undefined {
  if (status === undefined || !Object.hasOwn(table.rank, status)) {
    return undefined;
  }
  return table.rank[status];
}

export function isTerminalStatus(status: string | undefined, table: PrecedenceTable = REPORT_PRECEDENCE): boolean {
  return status !== undefined && Object.hasOwn(table.terminal, status);
}

/**
 * Compares two FHIR instants as points in time (time zones and fraction digits normalized).
 * Returns -1/0/1, or undefined when either is missing or unparseable.
 */
export function compareInstants(a: string | undefined, b: string | undefined): -1 | 0 | 1 | undefined {
  const ta = instantMillis(a);
  const tb = instantMillis(b);
  if (ta === undefined || tb === undefined) {
    return undefined;
  }
  if (ta.ms !== tb.ms) {
    return ta.ms < tb.ms ? -1 : 1;
  }
  // Same millisecond: compare the sub-millisecond digits, if any.
  if (ta.sub !== tb.sub) {
    return ta.sub < tb.sub ? -1 : 1;
  }
  return 0;
}

const INSTANT = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/;

function instantMillis(value: string | undefined): { ms: number; sub: string } | undefined {
  if (!value) {
    return undefined;
  }
  const m = INSTANT.exec(value.trim());
  if (!m) {
    return undefined;
  }
  const fraction = (m[2] ?? '').padEnd(3, '0');
  const ms = Date.parse(`${m[1]}.${fraction.slice(0, 3)}${m[3]}`);
  if (Number.isNaN(ms)) {
    return undefined;
  }
  return { ms, sub: fraction.slice(3).replace(/0+$/, '') };
}

/**
 * Decides what to do with an incoming DiagnosticReport given the EHR's current copy of the same report
 * (same report key). Rules, in order:
 * 1. No current copy → apply.
 * 2. A status in neither the rank table nor the terminal list (e.g. "unknown") → review.
 * 3. Same rank (or same terminal status) and the same `issued` instant → duplicate.
 * 4. Incoming entered-in-error → apply (from any status; an older one over entered-in-error is superseded).
 * 5. Current terminal (cancelled / entered-in-error): the same status again applies when newer, is superseded
 *    when older; any other status → review (a cancelled report comes back only under a new filler number).
 * 6. Incoming cancelled: from registered/partial/preliminary → apply (superseded when older than the current
 *    copy); from final or later → review.
 * 7. Ranked → ranked: lower rank → superseded; older `issued` → superseded; amended/corrected need a strictly
 *    newer `issued` (equal → superseded; not comparable → review); higher rank → apply; same rank with newer
 *    `issued` → apply; same rank without issued times to compare → apply (the push writes only what changed).
 * `issued` is compared as an instant; an incoming issued against a current copy without one counts as newer.
 */
export function decideReportUpdate(
  current: DiagnosticReport | undefined,
  incoming: DiagnosticReport,
  table: PrecedenceTable = REPORT_PRECEDENCE,
): ReportDecision {
  if (!current) {
    return { action: 'apply', reason: 'no copy of this report in the EHR yet' };
  }
  const cur = current.status;
  const inc = incoming.status;
  const curRank = reportRank(cur, table);
  const incRank = reportRank(inc, table);
  const curTerminal = isTerminalStatus(cur, table);
  const incTerminal = isTerminalStatus(inc, table);
  if (curRank === undefined && !curTerminal) {
    return { action: 'review', reason: `the EHR's copy has status "${String(cur)}", which has no precedence rule` };
  }
  if (incRank === undefined && !incTerminal) {
    return { action: 'review', reason: `incoming status "${String(inc)}" has no precedence rule` };
  }

  let cmp = compareInstants(incoming.issued, current.issued);
  if (cmp === undefined && instantMillis(incoming.issued) && !instantMillis(current.issued)) {
    cmp = 1;
  }
  const transition = `${cur} → ${inc}`;

  const sameLevel = incTerminal || curTerminal ? inc === cur : incRank === curRank;
  if (sameLevel && cmp === 0) {
    return { action: 'duplicate', reason: `${transition}: same status rank and same issued time as the EHR's copy` };
  }

  if (incTerminal) {
    const rule = table.terminal[inc];
    if (rule.fromAnyStatus) {
      if (inc === cur && cmp === -1) {
        return { action: 'superseded', reason: `${transition}: older than the EHR's copy` };
      }
      return { action: 'apply', reason: `${transition}: allowed from any status` };
    }
  }

  if (curTerminal) {
    if (inc === cur) {
      return cmp === -1
        ? { action: 'superseded', reason: `${transition}: older than the EHR's copy` }
        : { action: 'apply', reason: `${transition}: newer copy of the same terminal status` };
    }
    return {
      action: 'review',
      reason: `${transition}: the report is ${cur} in the EHR (terminal); a new report needs a new filler number`,
    };
  }

  // From here the current status is ranked.
  const currentRank = curRank as number;
  if (incTerminal) {
    const rule = table.terminal[inc];
    if (rule.fromRankAtMost !== undefined && currentRank <= rule.fromRankAtMost) {
      return cmp === -1
        ? { action: 'superseded', reason: `${transition}: older than the EHR's copy` }
        : { action: 'apply', reason: `${transition}: allowed before final` };
    }
    return { action: 'review', reason: `${transition}: refused once a report is ${cur}; needs manual review` };
  }

  const incomingRank = incRank as number;
  if (incomingRank < currentRank) {
    return { action: 'superseded', reason: `${transition}: lower status precedence than the EHR's copy` };
  }
  if (cmp === -1) {
    return { action: 'superseded', reason: `${transition}: issued earlier than the EHR's copy` };
  }
  if (table.requiresNewerIssued.includes(inc)) {
    if (cmp === 0) {
      return { action: 'superseded', reason: `${transition}: ${inc} replaces only with a newer issued time` };
    }
    if (cmp === undefined) {
      return { action: 'review', reason: `${transition}: ${inc} needs issued times to be ordered` };
    }
    return { action: 'apply', reason: `${transition}: newer ${inc} report` };
  }
  if (incomingRank > currentRank) {
    return { action: 'apply', reason: `${transition}: higher status precedence` };
  }
  if (cmp === 1) {
    return { action: 'apply', reason: `${transition}: same status rank, newer issued time` };
  }
  return {
    action: 'apply',
    reason: `${transition}: same status rank and no issued times to order them; only changed content is written`,
  };
}

/** The report-key identifier of a DiagnosticReport (mapping contract), if it has one. */
export function reportKeyOf(report: DiagnosticReport): Identifier | undefined {
  return report.identifier?.find((i) => i.system === REPORT_KEY_SYSTEM && i.value);
}

/**
 * The EHR's current copy of a report, searched by its report-key identifier (an Identifier, or the key value
 * alone with the report-key system). Undefined when the EHR has none; several → permanent EhrError "ambiguous".
 */
export async function findCurrentReport(
  client: EhrClient,
  reportKey: Identifier | string,
): Promise<DiagnosticReport | undefined> {
  const identifier: Identifier =
    typeof reportKey === 'string'
      ? { system: REPORT_KEY_SYSTEM, value: reportKey }
      : { system: reportKey.system ?? REPORT_KEY_SYSTEM, value: reportKey.value };
  if (!identifier.value) {
    throw new Error('findCurrentReport: the report key has no value');
  }
  return client.conditionalRead<DiagnosticReport>('DiagnosticReport', identifier);
}

/**
 * Reads the EHR's copy of the incoming report (by its report key) and decides. The incoming report must carry
 * the report-key identifier.
 */
export async function checkReportPrecedence(
  client: EhrClient,
  incoming: DiagnosticReport,
): Promise<ReportDecision & { current?: DiagnosticReport }> {
  const key = reportKeyOf(incoming);
  if (!key) {
    throw new Error(`checkReportPrecedence: the DiagnosticReport has no ${REPORT_KEY_SYSTEM} identifier`);
  }
  const current = await findCurrentReport(client, key);
  return { ...decideReportUpdate(current, incoming), current };
}
