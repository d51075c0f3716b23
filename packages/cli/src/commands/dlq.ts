import type { Env } from '@marrowbridge/config';
import type { DeadLetterEntry } from '@marrowbridge/queue';
import { json, parseCommandArgs, UsageError, type Io } from '../io';
import { openQueues } from '../queues';

/** `marrowbridge dlq list [--json]` and `marrowbridge dlq replay ID... | --all`. */
export async function dlqCommand(args: string[], io: Io, env: Env): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'list':
      return list(rest, io, env);
    case 'replay':
      return replay(rest, io, env);
    case undefined:
      throw new UsageError('dlq needs a subcommand: list or replay');
    default:
      throw new UsageError(`unknown dlq subcommand "${sub}" (list, replay)`);
  }
}

async function list(args: string[], io: Io, env: Env): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, { json: { type: 'boolean', default: false } });
  if (positionals.length > 0) throw new UsageError('dlq list takes no arguments');
  const open = await openQueues(env);
  try {
    const entries = sortByTime(await open.queues.listDeadLetters());
    if (values.json) {
      // The whole entries, payload included: for tools and for a look at exactly what was kept.
      io.out(json(entries));
      return 0;
    }
    if (entries.length === 0) {
      io.out(`the dead-letter queue is empty (${open.where})`);
      return 0;
    }
    io.out(`${entries.length} dead-lettered deliver${entries.length === 1 ? 'y' : 'ies'} (${open.where}):`);
    for (const e of entries) io.out(describe(e));
    return 0;
  } finally {
    await open.close();
  }
}

async function replay(args: string[], io: Io, env: Env): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, { all: { type: 'boolean', default: false } });
  if (values.all && positionals.length > 0) throw new UsageError('dlq replay takes IDs or --all, not both');
  if (!values.all && positionals.length === 0)
    throw new UsageError('dlq replay needs an entry ID (see dlq list) or --all');
  const open = await openQueues(env);
  let failed = 0;
  let replayed = 0;
  try {
    const ids = values.all ? sortByTime(await open.queues.listDeadLetters()).map((e) => e.id) : positionals;
    if (ids.length === 0) io.out('the dead-letter queue is empty; nothing to replay');
    for (const id of ids) {
      const r = await open.queues.replayDeadLetter(id);
      if (r.ok) {
        replayed++;
        io.out(`${id}: replayed as ${r.job.kind} job ${r.job.jobId} on ${r.job.queue}`);
      } else {
        failed++;
        io.out(`${id}: not replayed: ${r.reason}`);
        if (r.outcome) io.out(json(r.outcome));
      }
    }
  } finally {
    await open.close();
  }
  if (replayed + failed > 1) io.out(`${replayed} replayed, ${failed} not replayed`);
  return failed > 0 ? 1 : 0;
}

function sortByTime(entries: DeadLetterEntry[]): DeadLetterEntry[] {
  return [...entries].sort((a, b) => a.failedAt.localeCompare(b.failedAt) || a.id.localeCompare(b.id));
}

/**
 * One entry for people: identity, when, how often, why (the reason and the outcome's issues with their
 * locations). No payload: it holds patient data, and `--json` shows it to those who need it.
 */
function describe(e: DeadLetterEntry): string {
  const message = e.data.message;
  const what =
    message.kind === 'result'
      ? `result ${message.reportCode.code} (${message.status}) of order ${message.placerOrderNumber.value}`
      : `order ${message.placerOrderNumber.value}`;
  const lines = [
    `${e.id}`,
    `  ${what}, queue ${e.queue}, failed ${e.failedAt}, ${e.attempts.length} attempt(s)` +
      (e.lastHttpStatus ? `, last HTTP ${e.lastHttpStatus}` : ''),
    `  reason: ${e.reason}`,
  ];
  for (const issue of e.lastOutcome?.issue ?? []) {
    if (issue.severity !== 'error' && issue.severity !== 'fatal') continue;
    const where = issue.expression?.[0] ?? issue.location?.[0];
    lines.push(`  - ${issue.details?.text ?? issue.diagnostics ?? issue.code}${where ? ` (at ${where})` : ''}`);
  }
  return lines.join('\n');
}
