/**
 * Runs the HL7 fhir-test-cases R4 JSON subset (../shared/external/fhir-test-cases, the Java
 * reference validator's verdicts) through our validator and compares verdicts (base step only:
 * the instance against core R4). Used by run.ts (prints a report) and conformance.test.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Validator } from '@marrowbridge/validation';
import { createValidator, hasErrors, loadIg } from '@marrowbridge/validation';
import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';

interface Expectation {
  valid: boolean;
  errorCount?: number | null;
  outcomeFile?: string;
  outcome?: OperationOutcome;
}

export interface ManifestCase {
  name: string;
  file: string;
  module?: string;
  externalCodeSystems?: string[];
  hasXmlSupportingFiles?: boolean;
  /** Conformance resources to load before validating (`profiles` is an alias). */
  supporting?: string[];
  profiles?: string[];
  expected: Expectation;
  /** Profile step: the instance validated against `source` (a StructureDefinition) as well. */
  profile?: {
    source: string;
    supporting?: string[];
    profileHasSnapshot?: boolean | 'xml';
    expected: Expectation;
  };
}

/** Base step (instance against core R4 and what it declares) or profile step (also against profile.source). */
export type Step = 'base' | 'profile';

export interface CaseResult {
  readonly name: string;
  readonly file: string;
  readonly step: Step;
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

function javaOutcome(dir: string, expected: Expectation): OperationOutcome | undefined {
  if (expected.outcome) {
    return expected.outcome;
  }
  if (expected.outcomeFile) {
    const file = path.join(dir, expected.outcomeFile);
    if (fs.existsSync(file)) {
      return JSON.parse(fs.readFileSync(file, 'utf8')) as OperationOutcome;
    }
  }
  return undefined;
}

function errorIssues(outcome: OperationOutcome): OperationOutcomeIssue[] {
  return (outcome.issue ?? []).filter((i) => i.severity === 'error' || i.severity === 'fatal');
}

function javaFirstError(expected: Expectation, outcome: OperationOutcome | undefined): string | undefined {
  if (!outcome) {
    return expected.valid ? undefined : `(legacy: ${expected.errorCount ?? '?'} errors, no outcome)`;
  }
  const first = errorIssues(outcome)[0];
  return first ? describeIssue(first) : undefined;
}

/** Normalise a location for comparison: no `[0]` (Java writes indexes on repeats), no Java comments. */
export function normalizeLocation(p: string): string {
  return p.replace(/\/\*.*?\*\//g, '').replace(/\[0\]/g, '');
}

/** Validators for the conformance resources a case loads (kept per file list: cases share them). */
export class ValidatorPool {
  private readonly byFiles = new Map<string, { validator: Validator; problems: string[] }>();

  constructor(
    private readonly dir: string,
    private readonly plain: Validator,
  ) {}

  get(files: readonly string[]): { validator: Validator; problems: string[] } {
    if (files.length === 0) {
      return { validator: this.plain, problems: [] };
    }
    const key = [...files].sort().join('|');
    let entry = this.byFiles.get(key);
    if (!entry) {
      const ig = loadIg(files.map((f) => path.join(this.dir, 'validator', f)));
      entry = {
        validator: createValidator({ conformance: ig.resources }),
        problems: ig.problems
          .filter((p) => p.severity === 'error')
          .map((p) => `${path.basename(p.source)}: ${p.message}`),
      };
      this.byFiles.set(key, entry);
    }
    return entry;
  }
}

function canonicalOf(dir: string, file: string): string | undefined {
  const ig = loadIg([path.join(dir, 'validator', file)]);
  const sd = ig.resources.find((r) => r.resourceType === 'StructureDefinition');
  return sd && 'url' in sd ? (sd.url as string | undefined) : undefined;
}

function runStep(pool: ValidatorPool, dir: string, c: ManifestCase, step: Step): CaseResult {
  const started = performance.now();
  const expected = step === 'base' ? c.expected : (c.profile as NonNullable<ManifestCase['profile']>).expected;
  const java = javaOutcome(dir, expected);
  const base = {
    name: c.name,
    file: c.file,
    step,
    core: isCore(c),
    javaValid: expected.valid,
    javaFirstError: javaFirstError(expected, java),
    javaErrorPaths: java ? errorIssues(java).map((i) => i.expression?.[0] ?? '') : undefined,
  };
  try {
    const files = [...(c.supporting ?? []), ...(c.profiles ?? [])];
    let profiles: string[] | undefined;
    if (step === 'profile' && c.profile) {
      files.push(c.profile.source, ...(c.profile.supporting ?? []));
      const url = canonicalOf(dir, c.profile.source);
      if (!url) {
        throw new Error(`profile ${c.profile.source} could not be read`);
      }
      profiles = [url];
    }
    const { validator } = pool.get(files);
    const text = fs.readFileSync(path.join(dir, 'validator', c.file), 'utf8');
    const outcome = validator.validateJson(text, profiles ? { profiles } : undefined);
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

/** The base step of a case and, when it has one, its profile step. */
export function runCase(pool: ValidatorPool, dir: string, c: ManifestCase): CaseResult[] {
  const out = [runStep(pool, dir, c, 'base')];
  if (c.profile) {
    out.push(runStep(pool, dir, c, 'profile'));
  }
  return out;
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

/** Every step of every case (218 base steps, 35 profile steps). */
export function runAll(validator: Validator, dir: string): CaseResult[] {
  const pool = new ValidatorPool(dir, validator);
  return loadCases(dir).flatMap((c) => runCase(pool, dir, c));
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
    lines.push(
      `  [${r.core ? 'core' : 'rest'}] [${r.step.padEnd(7)}] ${kind.padEnd(11)} ${r.name} (${r.file}) | ${reason}`,
    );
  }
  return lines.join('\n');
}

export function report(results: readonly CaseResult[]): string {
  const baseSteps = results.filter((r) => r.step === 'base');
  const profileSteps = results.filter((r) => r.step === 'profile');
  const core = baseSteps.filter((r) => r.core);
  const overlap = locationOverlap(core);
  return [
    formatMatrix('Base step, all R4 JSON cases', matrixOf(baseSteps)),
    formatMatrix('Base step, hard core subset', matrixOf(core)),
    formatMatrix('Profile step (profile.source), all cases', matrixOf(profileSteps)),
    formatMatrix('Profile step, hard core subset', matrixOf(profileSteps.filter((r) => r.core))),
    formatMatrix('All steps (base + profile), all cases', matrixOf(results)),
    formatMatrix('All steps, hard core subset', matrixOf(results.filter((r) => r.core))),
    `Hard core base step, both invalid: ${overlap.shared}/${overlap.both} share an error location with Java`,
    `Disagreements (${results.filter((r) => r.javaValid !== r.ourValid || r.crashed).length} of ${results.length} steps):`,
    formatDisagreements(results),
  ].join('\n');
}
