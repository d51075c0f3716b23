/**
 * Runs the HL7 fhir-test-cases R4 JSON subset (../shared/external/fhir-test-cases, the Java
 * reference validator's verdicts) through our validator and compares verdicts (base step only:
 * the instance against core R4). Used by run.ts (prints a report) and conformance.test.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Validator } from '@marrowbridge/validation';
import { hasErrors } from '@marrowbridge/validation';
import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';

export interface ManifestCase {
  name: string;
  file: string;
  module?: string;
  externalCodeSystems?: string[];
  hasXmlSupportingFiles?: boolean;
  expected: {
    valid: boolean;
    errorCount?: number | null;
    outcomeFile?: string;
    outcome?: OperationOutcome;
  };
}

export interface CaseResult {
  readonly name: string;
  readonly file: string;
  readonly core: boolean;
  readonly javaValid: boolean;
  readonly ourValid: boolean;
  readonly ourFirstError?: string;
  readonly javaFirstError?: string;
  /** FHIRPath locations of our error/fatal issues, and of Java's (when its outcome is known). */
  readonly ourErrorPaths: string[];
  readonly javaErrorPaths?: string[];
  readonly ms: number;
  /** Set when our validator threw (it must not). */
  readonly crashed?: string;
}

export interface Matrix {
  /** Java valid and we say valid. */
  bothValid: number;
  /** Java invalid and we say invalid. */
  bothInvalid: number;
  /** Java valid, we report errors (false errors). */
  javaValidOursInvalid: number;
  /** Java invalid, we find nothing (missed errors). */
  javaInvalidOursValid: number;
  total: number;
  agreement: number;
}

/** The "hard core" subset of the README: not questionnaire, no external code systems, no XML supporting files. */
export function isCore(c: ManifestCase): boolean {
  return c.module !== 'questionnaire' && !c.externalCodeSystems?.length && !c.hasXmlSupportingFiles;
}

export function loadCases(dir: string): ManifestCase[] {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.r4-json.json'), 'utf8')) as {
    'test-cases': ManifestCase[];
  };
  return manifest['test-cases'];
}

function describeIssue(issue: OperationOutcomeIssue): string {
  const where = issue.expression?.[0] ?? issue.location?.[0] ?? '-';
  const text = (issue.details?.text ?? issue.diagnostics ?? '').replace(/\s+/g, ' ');
  return `${where}: ${text.length > 140 ? `${text.slice(0, 137)}...` : text}`;
}

function javaOutcome(dir: string, c: ManifestCase): OperationOutcome | undefined {
  if (c.expected.outcome) {
    return c.expected.outcome;
  }
  if (c.expected.outcomeFile) {
    const file = path.join(dir, c.expected.outcomeFile);
    if (fs.existsSync(file)) {
      return JSON.parse(fs.readFileSync(file, 'utf8')) as OperationOutcome;
    }
  }
  return undefined;
}

function errorIssues(outcome: OperationOutcome): OperationOutcomeIssue[] {
  return (outcome.issue ?? []).filter((i) => i.severity === 'error' || i.severity === 'fatal');
}

function javaFirstError(c: ManifestCase, outcome: OperationOutcome | undefined): string | undefined {
  if (!outcome) {
    return c.expected.valid ? undefined : `(legacy: ${c.expected.errorCount ?? '?'} errors, no outcome)`;
  }
  const first = errorIssues(outcome)[0];
  return first ? describeIssue(first) : undefined;
}

/** Normalise a location for comparison: no `[0]` (Java writes indexes on repeats), no Java comments. */
export function normalizeLocation(p: string): string {
  return p.replace(/\/\*.*?\*\//g, '').replace(/\[0\]/g, '');
}

export function runCase(validator: Validator, dir: string, c: ManifestCase): CaseResult {
  const started = performance.now();
  const java = javaOutcome(dir, c);
  const base = {
    name: c.name,
    file: c.file,
    core: isCore(c),
    javaValid: c.expected.valid,
    javaFirstError: javaFirstError(c, java),
    javaErrorPaths: java ? errorIssues(java).map((i) => i.expression?.[0] ?? '') : undefined,
  };
  try {
    const text = fs.readFileSync(path.join(dir, 'validator', c.file), 'utf8');
    const outcome = validator.validateJson(text);
    const errors = errorIssues(outcome);
    return {
      ...base,
      ourValid: !hasErrors(outcome),
      ourFirstError: errors[0] ? describeIssue(errors[0]) : undefined,
      ourErrorPaths: errors.map((i) => i.expression?.[0] ?? ''),
      ms: performance.now() - started,
    };
  } catch (err) {
    return {
      ...base,
      ourValid: false,
      ourErrorPaths: [],
      crashed: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
      ms: performance.now() - started,
    };
  }
}

/**
 * Of the cases both validators find invalid (with a Java outcome), how many share at least one
 * error location (ours may be more specific: `Patient.name` under Java's `Patient`).
 */
export function locationOverlap(results: readonly CaseResult[]): { both: number; shared: number } {
  let both = 0;
  let shared = 0;
  for (const r of results) {
    if (r.javaValid || r.ourValid || !r.javaErrorPaths) {
      continue;
    }
    both++;
    const java = r.javaErrorPaths.map(normalizeLocation);
    const ours = r.ourErrorPaths.map(normalizeLocation);
    if (ours.some((o) => java.some((j) => o === j || (j !== '' && o.startsWith(`${j}.`)) || (j === '' && o === '')))) {
      shared++;
    }
  }
  return { both, shared };
}

export function runAll(validator: Validator, dir: string): CaseResult[] {
  return loadCases(dir).map((c) => runCase(validator, dir, c));
}

export function matrixOf(results: readonly CaseResult[]): Matrix {
  const m: Matrix = {
    bothValid: 0,
    bothInvalid: 0,
    javaValidOursInvalid: 0,
    javaInvalidOursValid: 0,
    total: 0,
    agreement: 0,
  };
  for (const r of results) {
    m.total++;
    if (r.javaValid && r.ourValid) m.bothValid++;
    else if (!r.javaValid && !r.ourValid) m.bothInvalid++;
    else if (r.javaValid) m.javaValidOursInvalid++;
    else m.javaInvalidOursValid++;
  }
  m.agreement = m.total === 0 ? 0 : (m.bothValid + m.bothInvalid) / m.total;
  return m;
}

export function formatMatrix(title: string, m: Matrix): string {
  const pct = (m.agreement * 100).toFixed(1);
  return [
    `${title}: ${m.bothValid + m.bothInvalid}/${m.total} agree (${pct} %)`,
    '                     ours valid   ours invalid',
    `  Java valid     ${String(m.bothValid).padStart(10)} ${String(m.javaValidOursInvalid).padStart(14)}`,
    `  Java invalid   ${String(m.javaInvalidOursValid).padStart(10)} ${String(m.bothInvalid).padStart(14)}`,
  ].join('\n');
}

export function formatDisagreements(results: readonly CaseResult[]): string {
  const lines: string[] = [];
  for (const r of results) {
    if (r.javaValid === r.ourValid && !r.crashed) {
      continue;
    }
    const kind = r.crashed ? 'CRASH' : r.javaValid ? 'false error' : 'missed';
    const reason = r.crashed
      ? r.crashed
      : r.javaValid
        ? `ours: ${r.ourFirstError ?? '?'}`
        : `java: ${r.javaFirstError ?? '?'}`;
    lines.push(`  [${r.core ? 'core' : 'rest'}] ${kind.padEnd(11)} ${r.name} (${r.file}) | ${reason}`);
  }
  return lines.join('\n');
}

export function report(results: readonly CaseResult[]): string {
  const core = results.filter((r) => r.core);
  const overlap = locationOverlap(core);
  return [
    formatMatrix('All R4 JSON cases', matrixOf(results)),
    formatMatrix('Hard core subset', matrixOf(core)),
    `Hard core, both invalid: ${overlap.shared}/${overlap.both} share an error location with Java`,
    `Disagreements (${results.filter((r) => r.javaValid !== r.ourValid || r.crashed).length}):`,
    formatDisagreements(results),
  ].join('\n');
}
