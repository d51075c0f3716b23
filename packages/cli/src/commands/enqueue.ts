import path from 'node:path';
import type { Env } from '@marrowbridge/config';
import { translateInput, type MessageResult } from '@marrowbridge/intake';
import type { EnqueueResult } from '@marrowbridge/queue';
import type { OperationOutcome } from '@medplum/fhirtypes';
import { json, parseCommandArgs, readInputFile, UsageError, type Io } from '../io';
import { openQueues } from '../queues';
import { isValidTimeZone } from './translate';

/** What became of one message of one file. */
export interface EnqueueReport {
  file: string;
  /** 1-based position of the message in the file (an HL7 batch holds several). */
  message: number;
  ok: boolean;
  trackingId?: string;
  jobs?: { jobId: string; queue: string; kind: string; created: boolean }[];
  outcome?: OperationOutcome;
}

/**
 * `marrowbridge enqueue FILE...`: translates each file (canonical JSON or HL7 v2) and puts its items on the
 * delivery queues, as the gateway would. A re-sent message (same sender, message id and content) finds the job it
 * made before and is not queued again. Exit 1 when any message was rejected (nothing of it is queued).
 */
export async function enqueueCommand(args: string[], io: Io, env: Env): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    json: { type: 'boolean', default: false },
    'time-zone': { type: 'string' },
  });
  if (positionals.length === 0) throw new UsageError('enqueue takes one or more FILEs');
  const zone = values['time-zone'];
  if (zone !== undefined && !isValidTimeZone(zone)) throw new UsageError(`unknown time zone "${zone}"`);
  const intake = { hl7: zone ? { timeZone: zone } : undefined };
  // Every file is read before anything is queued: a typo in the last name queues nothing.
  const inputs = positionals.map((file) => ({ file, bytes: readInputFile(file) }));

  const open = await openQueues(env, intake);
  const reports: EnqueueReport[] = [];
  try {
    for (const { file, bytes } of inputs) {
      const results = translateInput(bytes, intake);
      for (const [i, r] of results.entries()) {
        const report: EnqueueReport = { file, message: i + 1, ok: r.ok };
        if (!r.ok) {
          report.outcome = r.outcome;
        } else {
          // One message of a batch is its own raw input (a replay re-translates exactly it).
          const raw = r.raw ?? bytes.toString('utf8');
          const queued = await open.queues.enqueueMessage(r, raw, { channel: 'cli', system: senderOf(r) });
          report.trackingId = queued.trackingId;
          report.jobs = jobsOf(queued);
        }
        reports.push(report);
        if (!values.json) io.out(describe(report, results.length > 1));
      }
    }
  } finally {
    await open.close();
  }
  if (values.json) io.out(json(reports));
  const rejected = reports.filter((r) => !r.ok).length;
  if (!values.json) {
    const queued = reports.flatMap((r) => r.jobs ?? []);
    io.out(
      `${queued.filter((j) => j.created).length} job(s) queued, ${queued.filter((j) => !j.created).length} already existed, ` +
        `${rejected} message(s) rejected (${open.where})`,
    );
  }
  return rejected > 0 ? 1 : 0;
}

/** The sender, as the gateway names it: MSH-3|MSH-4 for HL7, the canonical `source.system` for JSON. */
function senderOf(r: MessageResult & { ok: true }): string {
  const control = r.hl7?.control;
  if (control) return `${control.sendingApplication}|${control.sendingFacility}`;
  return r.items[0]?.message.source?.system ?? 'cli';
}

function jobsOf(queued: EnqueueResult): NonNullable<EnqueueReport['jobs']> {
  return queued.jobs.map((j) => ({ jobId: j.jobId, queue: j.queue, kind: j.kind, created: j.created }));
}

function describe(report: EnqueueReport, batch: boolean): string {
  const title = `${path.basename(report.file)}${batch ? ` (message ${report.message})` : ''}`;
  if (!report.ok) {
    const reasons = (report.outcome?.issue ?? []).map((i) => `  - ${i.details?.text ?? i.diagnostics ?? i.code}`);
    return [`${title}: REJECTED, nothing queued`, ...reasons, json(report.outcome)].join('\n');
  }
  const lines = (report.jobs ?? []).map((j) =>
    j.created
      ? `  queued ${j.kind} job ${j.jobId} on ${j.queue}`
      : `  job ${j.jobId} already existed (re-sent message); not queued again`,
  );
  return [`${title}: tracking id ${report.trackingId}`, ...lines].join('\n');
}
