import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';

export type Severity = OperationOutcomeIssue['severity'];
export type IssueCode = OperationOutcomeIssue['code'];

/**
 * What kind of problem an issue is. Two sources reporting the same category at the same
 * location are reporting the same problem, so the merge keeps only the first.
 */
export type Category =
  | 'parse'
  | 'resource-type'
  | 'unknown-element'
  | 'required'
  | 'cardinality'
  | 'value'
  | 'empty'
  | 'code'
  | 'invariant'
  | 'reference'
  | 'choice'
  | 'profile'
  | 'other';

/** A JSON location: property names and array indexes from the root of the validated input. */
export type Segments = readonly (string | number)[];

/** An issue before its location is rendered as FHIRPath. */
export interface RawIssue {
  readonly severity: Severity;
  readonly code: IssueCode;
  readonly category: Category;
  /** JSON location (preferred): rendered to FHIRPath with the element index. */
  readonly segments?: Segments;
  /** Already-rendered location, used when no JSON location is known. */
  readonly expression?: string;
  /** Human-readable message; `{path}` is replaced by the rendered location. */
  readonly text: string;
  /** The rule that fired and where it comes from. */
  readonly diagnostics: string;
  /**
   * Keep only when the element at the location has a required binding (the JSON Schema also
   * inlines some extensible bindings as enums).
   */
  readonly onlyIfRequiredBinding?: boolean;
  /**
   * Keep only when the R4 definitions do not know the element either (the JSON Schema lacks
   * some `_x` companions that R4 allows, e.g. for canonical elements).
   */
  readonly onlyIfUnknownElement?: boolean;
  /**
   * The value at the location has the wrong JSON shape (a string where an object belongs, an array where a single
   * value belongs, or the reverse): issues below it are dropped, they would only repeat this one.
   */
  readonly wrongShape?: boolean;
}

const SEVERITY_ORDER: Record<Severity, number> = { fatal: 0, error: 1, warning: 2, information: 3 };

function sortIssues(issues: OperationOutcomeIssue[]): OperationOutcomeIssue[] {
  return issues
    .map((issue, i) => ({ issue, i }))
    .sort((a, b) => SEVERITY_ORDER[a.issue.severity] - SEVERITY_ORDER[b.issue.severity] || a.i - b.i)
    .map((x) => x.issue);
}

export function outcomeOf(issues: OperationOutcomeIssue[]): OperationOutcome {
  if (issues.length === 0) {
    return {
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'information', code: 'informational', details: { text: 'No issues found' } }],
    };
  }
  return { resourceType: 'OperationOutcome', issue: sortIssues(issues) };
}

/** Counts of issues by severity (the "No issues found" information issue is not counted). */
export interface OutcomeSummary {
  fatal: number;
  error: number;
  warning: number;
  information: number;
}

export function summarize(outcome: OperationOutcome): OutcomeSummary {
  const s: OutcomeSummary = { fatal: 0, error: 0, warning: 0, information: 0 };
  for (const issue of outcome.issue ?? []) {
    if (issue.code === 'informational' && issue.details?.text === 'No issues found') {
      continue;
    }
    s[issue.severity]++;
  }
  return s;
}

/** True when the outcome has any issue of severity fatal or error. */
export function hasErrors(outcome: OperationOutcome): boolean {
  return (outcome.issue ?? []).some((i) => i.severity === 'fatal' || i.severity === 'error');
}
