import fs from 'node:fs';
import type { ConformanceProblem, ProfileValidator } from '@marrowbridge/validation';
import { createValidator, hasErrors, loadIg, summarize } from '@marrowbridge/validation';
import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';
import { json, parseCommandArgs, readInputFile, UsageError, type Io } from '../io';

/**
 * `marrowbridge validate FILE [--profile URL]... [--ig PATH]... [--json]`
 * Validates a FHIR resource or Bundle (JSON) against base R4, the profiles it declares in
 * meta.profile, and the --profile ones. --ig loads conformance resources from files or folders
 * (StructureDefinitions with or without snapshot, ValueSets, CodeSystems; JSON or FHIR XML).
 * Exit 0 no errors, 1 errors, 2 usage errors (bad options, missing file or --ig path, unknown --profile).
 */
export async function validateCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    json: { type: 'boolean', default: false },
    profile: { type: 'string', multiple: true },
    ig: { type: 'string', multiple: true },
  });
  if (positionals.length !== 1) throw new UsageError('validate takes exactly one FILE');
  const text = readInputFile(positionals[0]).toString('utf8');
  const igPaths = values.ig ?? [];
  for (const p of igPaths) {
    if (!fs.existsSync(p)) throw new UsageError(`no such file or folder for --ig: ${p}`);
  }
  const ig = igPaths.length > 0 ? loadIg(igPaths) : undefined;
  const validator = createValidator(ig ? { conformance: ig.resources } : {});
  const profiles = values.profile ?? [];
  const unknown = profiles.filter((url) => !validator.hasProfile(url));
  if (unknown.length > 0) {
    const own = validator.profileUrls.filter((u) => validator.hasProfile(u));
    throw new UsageError(
      `unknown profile ${unknown.join(', ')}; load its StructureDefinition with --ig PATH. Profiles loaded: ${own.length ? own.join(', ') : '(none)'}`,
    );
  }
  const outcome = validator.validateJson(text, profiles.length ? { profiles } : undefined);
  const problems = [...(ig?.problems ?? []), ...validator.conformanceProblems];
  if (values.json) {
    io.out(json(withConformanceProblems(outcome, problems)));
  } else {
    io.out(readable(positionals[0], outcome, validator, profiles, problems));
  }
  return hasErrors(outcome) ? 1 : 0;
}

/**
 * Problems of the loaded conformance resources (files that could not be read, differential
 * elements the snapshot generator could not apply) go into the OperationOutcome as warnings:
 * they weaken the check, they are not errors of the instance.
 */
function withConformanceProblems(outcome: OperationOutcome, problems: readonly ConformanceProblem[]): OperationOutcome {
  const extra: OperationOutcomeIssue[] = problems
    .filter((p) => p.severity !== 'information')
    .map((p) => ({
      severity: 'warning',
      code: 'informational',
      details: { text: `Conformance resource ${p.source}: ${p.message}` },
      diagnostics: 'marrowbridge validate --ig: loading conformance resources',
    }));
  if (extra.length === 0) return outcome;
  const issues = (outcome.issue ?? []).filter(
    (i) => !(i.code === 'informational' && i.details?.text === 'No issues found'),
  );
  return { ...outcome, issue: [...issues, ...extra] };
}

function readable(
  file: string,
  outcome: OperationOutcome,
  validator: ProfileValidator,
  explicit: readonly string[],
  problems: readonly ConformanceProblem[],
): string {
  const s = summarize(outcome);
  const errors = s.fatal + s.error;
  const lines: string[] = [];
  const profileNote = explicit.length ? ` (also against ${explicit.join(', ')})` : '';
  lines.push(
    `${file}: ${errors > 0 ? 'INVALID' : 'VALID'}: ${errors} error(s), ${s.warning} warning(s), ${s.information} information${profileNote}`,
  );
  for (const issue of outcome.issue ?? []) {
    if (issue.code === 'informational' && issue.details?.text === 'No issues found') continue;
    const where = issue.expression?.[0] ?? '(resource)';
    lines.push(`  ${issue.severity.padEnd(11)} ${where}`);
    lines.push(`              ${issue.details?.text ?? issue.code}`);
    if (issue.diagnostics) lines.push(`              rule: ${issue.diagnostics}`);
  }
  const shown = problems.filter((p) => p.severity !== 'information');
  if (shown.length > 0) {
    lines.push(`Conformance resources (${validator.profileUrls.length} StructureDefinitions loaded):`);
    for (const p of shown) lines.push(`  ${p.severity.padEnd(11)} ${p.source}: ${p.message}`);
  }
  return lines.join('\n');
}
