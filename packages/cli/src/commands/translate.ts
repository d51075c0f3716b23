import { translateInput, type MessageResult } from '@marrowbridge/intake';
import type { Bundle } from '@medplum/fhirtypes';
import { json, parseCommandArgs, readInputFile, UsageError, type Io } from '../io';

export async function translateCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    json: { type: 'boolean', default: false },
    'time-zone': { type: 'string' },
  });
  if (positionals.length !== 1) throw new UsageError('translate takes exactly one FILE');
  const zone = values['time-zone'];
  if (zone !== undefined && !isValidTimeZone(zone)) throw new UsageError(`unknown time zone "${zone}"`);
  const results = translateInput(readInputFile(positionals[0]), { hl7: zone ? { timeZone: zone } : undefined });
  const failed = results.filter((r) => !r.ok);

  if (values.json) {
    if (results.length === 1) {
      const r = results[0];
      io.out(json(r.ok ? singleOrList(r.items.map((i) => i.bundle)) : r.outcome));
    } else {
      // A batch: one entry per message, a Bundle (or a list of Bundles) or the OperationOutcome that rejected it.
      io.out(json(results.map((r) => (r.ok ? singleOrList(r.items.map((i) => i.bundle)) : r.outcome))));
    }
  } else {
    results.forEach((r, i) => io.out(summarize(r, results.length > 1 ? i + 1 : undefined)));
  }
  return failed.length > 0 ? 1 : 0;
}

function singleOrList(bundles: Bundle[]): Bundle | Bundle[] {
  return bundles.length === 1 ? bundles[0] : bundles;
}

/** A readable account of one message: what it became, or why it was rejected. */
export function summarize(r: MessageResult, index?: number): string {
  const title = index ? `message ${index}` : 'input';
  const source = r.hl7?.control ? ` (HL7 ${r.hl7.control.version}, control id ${r.hl7.control.messageId})` : '';
  if (!r.ok) {
    const lines = r.outcome.issue.map((i) => `  - ${i.details?.text ?? i.code}`);
    return `${title}${source}: REJECTED\n${lines.join('\n')}`;
  }
  const lines: string[] = [`${title}${source}: ${r.items.length} item(s)`];
  for (const { message, bundle } of r.items) {
    const what =
      message.kind === 'order'
        ? `order ${message.placerOrderNumber.value}`
        : `result ${message.reportCode.code} (${message.status}) for order ${message.placerOrderNumber.value}`;
    lines.push(`  ${what} → transaction Bundle with ${bundle.entry?.length ?? 0} entries`);
    for (const e of bundle.entry ?? []) {
      const type = e.resource?.resourceType ?? '?';
      // Patient keys carry the MRN: show the type only.
      const key = type === 'Patient' ? '(by MRN)' : decodeURIComponent(e.request?.url.split('?')[1] ?? '');
      lines.push(`    ${e.request?.method ?? ''} ${type} ${key}`.trimEnd());
    }
  }
  return lines.join('\n');
}

export function isValidTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
