/**
 * What the delivery tests measure and check: the fate of every job (from BullMQ and the dead-letter queue) and
 * the EHR's end state (from the sandbox's store), so each test can print its figures and assert on them.
 */
import type { EhrSandbox } from '@marrowbridge/ehr-sandbox';
import { OBSERVATION_KEY_SYSTEM, observationKey, reportKey } from '@marrowbridge/fhir-mapping';
import type { ResultUpdate } from '@marrowbridge/model';
import type { DeliveryQueues } from '@marrowbridge/queue';
import type { DiagnosticReport, Observation, Resource } from '@medplum/fhirtypes';
import type { SyntheticLoad } from './synthetic';

export interface JobFigures {
  /** Jobs that completed, by outcome (delivered, superseded, unchanged, review). */
  completed: Record<string, number>;
  /** Jobs that ended failed (dead-lettered). */
  failed: number;
  /** Jobs still waiting, active or delayed. */
  pending: number;
  /** Attempts beyond the first, summed over completed jobs. */
  retries: number;
  deadLetters: number;
}

export async function jobFigures(queues: DeliveryQueues): Promise<JobFigures> {
  const completed: Record<string, number> = {};
  let failed = 0;
  let pending = 0;
  let retries = 0;
  for (const q of [queues.orders, queues.results]) {
    const done = await q.getJobs(['completed'], 0, -1);
    for (const job of done) {
      const outcome = job.returnvalue?.outcome ?? 'unknown';
      completed[outcome] = (completed[outcome] ?? 0) + 1;
      retries += Math.max(0, job.attemptsMade - 1);
    }
    failed += await q.getJobCountByTypes('failed');
    pending += await q.getJobCountByTypes('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
  }
  const deadLetters = (await queues.listDeadLetters()).length;
  return { completed, failed, pending, retries, deadLetters };
}

/** Jobs that finished (any outcome). */
export function finished(jobs: JobFigures): number {
  return Object.values(jobs.completed).reduce((a, b) => a + b, 0);
}

/** Resolves once no delivery job is waiting, active or delayed; rejects after timeoutMs. */
export async function waitIdle(queues: DeliveryQueues, timeoutMs: number, pollMs = 100): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    let pending = 0;
    for (const q of [queues.orders, queues.results]) {
      pending += await q.getJobCountByTypes('waiting', 'active', 'delayed', 'prioritized');
    }
    if (pending === 0) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error(`${pending} delivery job(s) still pending after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** The conditional key system of each resource type (mapping contract). */
const KEY_SYSTEMS: Record<string, (system: string) => boolean> = {
  Patient: (s) => s === 'urn:oid:2.16.840.1.113883.3.9999.1',
  Practitioner: (s) => s === 'http://hl7.org/fhir/sid/us-npi',
  ServiceRequest: (s) => s === 'urn:oid:2.16.840.1.113883.3.9999.2',
  Specimen: (s) => s === 'urn:oid:2.16.840.1.113883.3.9999.4',
  Procedure: (s) => s.endsWith('/sid/procedure-key'),
  DiagnosticReport: (s) => s.endsWith('/sid/report-key'),
  Observation: (s) => s === OBSERVATION_KEY_SYSTEM,
};

export interface EhrFigures {
  counts: Record<string, number>;
  /** Resources sharing a conditional key with another resource of the same type (must be 0). */
  duplicates: number;
  /** Duplicate keys, for the failure message. */
  duplicateKeys: string[];
}

async function ehrFigures(sandbox: EhrSandbox): Promise<EhrFigures> {
  const counts = await sandbox.countResources();
  let duplicates = 0;
  const duplicateKeys: string[] = [];
  for (const [type, isKey] of Object.entries(KEY_SYSTEMS)) {
    const all = await sandbox.repo.searchResources<Resource>({ resourceType: type as Resource['resourceType'] });
    const seen = new Map<string, number>();
    for (const r of all) {
      const ids = (r as { identifier?: { system?: string; value?: string }[] }).identifier ?? [];
      for (const id of ids) {
        if (id.system && isKey(id.system)) {
          const k = `${type} ${id.system}|${id.value}`;
          seen.set(k, (seen.get(k) ?? 0) + 1);
        }
      }
    }
    for (const [k, n] of seen) {
      if (n > 1) {
        duplicates += n - 1;
        duplicateKeys.push(k);
      }
    }
  }
  return { counts, duplicates, duplicateKeys };
}

export interface ReportCheck {
  reports: number;
  /** Reports whose EHR copy is not the newest version (status + issued + quantity values), with why. */
  wrong: string[];
  /** Reports with no DiagnosticReport in the EHR. */
  missing: number;
  /** Observations expected (union of result codes over a report's versions) and found once each. */
  observationsExpected: number;
  observationsFound: number;
}

/** Checks that every report of the load ends in its newest version, with one Observation per result code. */
export async function checkNewestState(sandbox: EhrSandbox, load: SyntheticLoad): Promise<ReportCheck> {
  const reports = await sandbox.repo.searchResources<DiagnosticReport>({ resourceType: 'DiagnosticReport' });
  const observations = await sandbox.repo.searchResources<Observation>({ resourceType: 'Observation' });
  const keyOf = (r: { identifier?: { system?: string; value?: string }[] }, test: (s: string) => boolean) =>
    r.identifier?.find((i) => i.system && test(i.system))?.value;
  const reportByKey = new Map(reports.map((r) => [keyOf(r, KEY_SYSTEMS.DiagnosticReport), r]));
  const obsByKey = new Map<string, Observation[]>();
  for (const o of observations) {
    const k = keyOf(o, KEY_SYSTEMS.Observation) ?? '?';
    obsByKey.set(k, [...(obsByKey.get(k) ?? []), o]);
  }
  // Result codes per report over all its versions.
  const codesPerReport = new Map<string, Set<string>>();
  for (const u of load.updates) {
    const msg = JSON.parse(u.raw) as ResultUpdate;
    const rk = reportKey(msg).value;
    const set = codesPerReport.get(rk) ?? new Set<string>();
    for (const o of msg.observations) set.add(observationKey(reportKey(msg), o).value);
    codesPerReport.set(rk, set);
  }

  const out: ReportCheck = { reports: 0, wrong: [], missing: 0, observationsExpected: 0, observationsFound: 0 };
  for (const newest of load.newest.values()) {
    out.reports++;
    const msg = JSON.parse(newest.raw) as ResultUpdate;
    const rk = reportKey(msg).value;
    const dr = reportByKey.get(rk);
    if (!dr) {
      out.missing++;
      continue;
    }
    const label = `${newest.placer} ${newest.reportCode}`;
    if (dr.status !== newest.status || Date.parse(dr.issued ?? '') !== Date.parse(newest.issued)) {
      out.wrong.push(`${label}: EHR has ${dr.status} ${dr.issued}, newest is ${newest.status} ${newest.issued}`);
      continue;
    }
    for (const key of codesPerReport.get(rk) ?? []) {
      out.observationsExpected++;
      const found = obsByKey.get(key) ?? [];
      if (found.length === 1) out.observationsFound++;
    }
    // The report points at the newest version's results, and their values are the newest ones.
    const resultIds = new Set((dr.result ?? []).map((r) => r.reference));
    if (resultIds.size !== msg.observations.length) {
      out.wrong.push(`${label}: ${resultIds.size} results, newest version has ${msg.observations.length}`);
      continue;
    }
    for (const o of msg.observations) {
      const [obs] = obsByKey.get(observationKey(reportKey(msg), o).value) ?? [];
      if (!obs || !resultIds.has(`Observation/${obs.id}`)) {
        out.wrong.push(`${label}: result ${o.code.code} is not linked from the report`);
        break;
      }
      if (o.value?.type === 'quantity' && obs.valueQuantity?.value !== o.value.value) {
        out.wrong.push(`${label}: ${o.code.code} is ${obs.valueQuantity?.value}, newest is ${o.value.value}`);
        break;
      }
    }
  }
  return out;
}

/**
 * Versions of the load's DiagnosticReports in the EHR's history, and how many of them repeat the status and issued
 * time of the version before (a report version written twice; must be 0).
 */
async function reportHistory(sandbox: EhrSandbox): Promise<{ versions: number; doubleWrites: number }> {
  const reports = await sandbox.repo.searchResources<DiagnosticReport>({ resourceType: 'DiagnosticReport' });
  let versions = 0;
  let doubleWrites = 0;
  for (const r of reports) {
    const history = await sandbox.repo.readHistory<DiagnosticReport>('DiagnosticReport', r.id!);
    const entries = (history.entry ?? []).map((e) => e.resource!).reverse(); // oldest first
    versions += entries.length;
    for (let i = 1; i < entries.length; i++) {
      if (entries[i].status === entries[i - 1].status && entries[i].issued === entries[i - 1].issued) doubleWrites++;
    }
  }
  return { versions, doubleWrites };
}

/** The EHR's end state after a run of `load`: what the exactly-once checks read. */
export interface EhrOutcome {
  ehr: EhrFigures;
  state: ReportCheck;
  history: { versions: number; doubleWrites: number };
}

export async function ehrOutcome(sandbox: EhrSandbox, load: SyntheticLoad): Promise<EhrOutcome> {
  return {
    ehr: await ehrFigures(sandbox),
    state: await checkNewestState(sandbox, load),
    history: await reportHistory(sandbox),
  };
}

/**
 * Delivered exactly once: no resource twice (one per conditional key), no report version written twice, every
 * report in the EHR in its newest version, and one Observation per result code, none extra.
 */
export function expectExactlyOnce({ ehr, state, history }: EhrOutcome): void {
  expect(ehr.duplicateKeys).toEqual([]);
  expect(history.doubleWrites).toBe(0);
  expect(state.missing).toBe(0);
  expect(state.wrong).toEqual([]);
  expect(state.observationsFound).toBe(state.observationsExpected);
  expect(ehr.counts.Observation ?? 0).toBe(state.observationsExpected);
}

/**
 * The EHR's content in a form two runs can be compared by: per resource, its conditional key, and its content
 * without server-assigned parts (id, meta, text) and with every `Type/id` reference replaced by the target's key.
 */
export async function ehrSnapshot(sandbox: EhrSandbox): Promise<Record<string, unknown>> {
  const all: Resource[] = [];
  for (const type of Object.keys(KEY_SYSTEMS)) {
    all.push(...(await sandbox.repo.searchResources<Resource>({ resourceType: type as Resource['resourceType'] })));
  }
  const keyOf = (r: Resource): string => {
    const ids = (r as { identifier?: { system?: string; value?: string }[] }).identifier ?? [];
    const key = ids.find((i) => i.system && KEY_SYSTEMS[r.resourceType]?.(i.system));
    return `${r.resourceType}[${key?.system}|${key?.value}]`;
  };
  const byRef = new Map(all.map((r) => [`${r.resourceType}/${r.id}`, keyOf(r)]));
  const normalize = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(normalize);
    if (value && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) {
        out[k] = k === 'reference' && typeof v === 'string' ? (byRef.get(v) ?? `unresolved ${v}`) : normalize(v);
      }
      return out;
    }
    return value;
  };
  const snapshot: Record<string, unknown> = {};
  for (const r of all) {
    const { id: _id, meta: _meta, text: _text, ...rest } = r as Resource & { text?: unknown };
    snapshot[keyOf(r)] = normalize(rest);
  }
  return Object.fromEntries(Object.entries(snapshot).sort(([a], [b]) => a.localeCompare(b)));
}

/** One line of figures, printed by every delivery test. */
export function printFigures(title: string, figures: Record<string, unknown>): void {
  const text = Object.entries(figures)
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join('  ');
  console.log(`[figures] ${title}: ${text}`);
}
