import { OperationOutcomeError, validateResource } from '@medplum/core';
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import type { ElementIndex } from './element-index';
import type { Category, IssueCode, RawIssue, Segments, Severity } from './issues';
import { medplumPathToSegments } from './location';

interface Rule {
  readonly match: RegExp;
  readonly category: Category;
  readonly code: IssueCode;
  /** Severity override (Medplum reports some real R4 errors as warnings). */
  readonly severity?: Severity;
  /** Drop the issue (another check covers the rule correctly). */
  readonly ignore?: boolean;
  /** The value has the wrong JSON shape (RawIssue.wrongShape). */
  readonly wrongShape?: boolean;
  /** Message template: `$1`.. are the regex groups; `{path}`, `{type}`, `{format}`, `{min}`, `{max}` are filled in later. */
  readonly text: string;
}

/** How @medplum/core's messages are turned into ours (one table; first match wins). */
const RULES: readonly Rule[] = [
  {
    match: /^Missing required property$/,
    category: 'required',
    code: 'required',
    text: 'Missing required element {path} (cardinality {min}..{max})',
  },
  {
    match: /^Invalid additional property "(.*)"$/,
    category: 'unknown-element',
    code: 'structure',
    text: 'Unknown element at {path}: it is not defined in FHIR R4 (remove it, or carry the data in an extension)',
  },
  {
    match: /^Invalid JSON type: expected (\w+), but got (\w+)$/,
    category: 'value',
    code: 'structure',
    wrongShape: true,
    text: 'Wrong JSON type at {path}: a {type} must be a JSON $1, found a $2',
  },
  {
    match: /^Expected array of values for property$/,
    category: 'value',
    code: 'structure',
    wrongShape: true,
    text: '{path} must be a JSON array: the element repeats (cardinality {min}..{max})',
  },
  {
    match: /^Expected single value for property$/,
    category: 'value',
    code: 'structure',
    wrongShape: true,
    text: '{path} must be a single value, not an array (cardinality {min}..{max})',
  },
  // Medplum rejects whitespace inside base64Binary, which R4 allows: the walker checks base64 instead.
  { match: /^Invalid base64Binary format$/, category: 'value', code: 'value', ignore: true, text: '' },
  { match: /^Invalid (\w+) format$/, category: 'value', code: 'value', text: 'Invalid $1 value at {path}: {format}' },
  {
    match: /^Invalid (\w+) value$/,
    category: 'value',
    code: 'value',
    text: 'Invalid $1 at {path}: not a valid calendar date',
  },
  {
    match: /^String must contain non-whitespace content$/,
    category: 'value',
    code: 'value',
    text: 'Empty or whitespace-only value at {path}: leave the element out instead',
  },
  {
    match: /^String cannot be larger than 1 MB$/,
    category: 'value',
    code: 'value',
    text: 'Value at {path} is longer than the 1 MB FHIR limit',
  },
  {
    match: /^(Invalid numeric value|Expected number to be an integer|Expected number to be in the range .*)$/,
    category: 'value',
    code: 'value',
    text: '$1 at {path} ({type})',
  },
  { match: /^(base64Binary exceeds \d+ bytes)$/, category: 'value', code: 'too-long', text: 'Value at {path}: $1' },
  {
    match: /^Invalid number of values: expected (\S+), but found (\d+)$/,
    category: 'cardinality',
    code: 'structure',
    text: 'Wrong number of values at {path}: expected $1, found $2',
  },
  {
    match: /^Incorrect number of values provided for slice '(.*)': expected (\S+), but found (\d+)$/,
    category: 'cardinality',
    code: 'structure',
    text: "Slice '$1' at {path}: expected $2 values, found $3",
  },
  {
    match: /^Value did not match expected pattern$/,
    category: 'profile',
    code: 'value',
    text: 'Value at {path} does not match the fixed or pattern value required here',
  },
  {
    match: /^Constraint (\S+) not met: (.*)$/s,
    category: 'invariant',
    code: 'invariant',
    text: 'Constraint $1 failed at {path}: $2',
  },
  {
    match: /^Invalid (null|undefined) value$/,
    category: 'empty',
    code: 'structure',
    text: '{path} is null: leave the element out instead (null only keeps positions in arrays of primitives that have extensions)',
  },
  {
    match: /^Invalid empty (non-primitive )?value$/,
    category: 'empty',
    code: 'structure',
    text: '{path} is empty: an element must have a value, children or extensions',
  },
  {
    match: /^Conflicting choice of type properties: "(.*)", "(.*)"$/,
    category: 'choice',
    code: 'structure',
    severity: 'error',
    text: 'Several values given for one choice element at {path}: a [x] element takes exactly one type',
  },
  {
    match: /^Type of primitive extension does not match/,
    category: 'choice',
    code: 'structure',
    text: 'The primitive extension at {path} belongs to a different type than its value',
  },
  // Medplum misreads absolute URLs as types ("https:"): the walker checks target types instead.
  { match: /^Invalid reference: got /, category: 'reference', code: 'structure', ignore: true, text: '' },
  {
    match: /^Error evaluating invariant expression/,
    category: 'other',
    code: 'informational',
    severity: 'information',
    text: 'An invariant could not be evaluated at {path}; it was not checked',
  },
  {
    match: /^(Invalid resource type|Unknown data type)/,
    category: 'resource-type',
    code: 'structure',
    text: 'Unknown resource type at {path}',
  },
];

function translate(index: ElementIndex, root: unknown, issue: OperationOutcomeIssue): RawIssue | undefined {
  const original = issue.details?.text ?? issue.diagnostics ?? 'validation issue';
  const rule = RULES.find((r) => r.match.test(original));
  if (rule?.ignore) {
    return undefined; // before locating it: Medplum reports one per urn:uuid reference in a Bundle
  }
  const expression = issue.expression?.[0];
  const segments = expression ? medplumPathToSegments(index, root, expression) : [];
  let fhirpath: string | undefined;
  if (issue.diagnostics?.startsWith('{')) {
    try {
      fhirpath = (JSON.parse(issue.diagnostics) as { fhirpath?: string }).fhirpath;
    } catch {
      fhirpath = undefined;
    }
  }
  const diagnostics = `@medplum/core validateResource: ${original}${fhirpath ? ` (${fhirpath})` : ''}`;
  if (!rule) {
    return {
      severity: issue.severity,
      code: issue.code,
      category: 'other',
      segments,
      expression: segments ? undefined : expression,
      text: `${original} at {path}`,
      diagnostics,
    };
  }
  const m = rule.match.exec(original) as RegExpExecArray;
  const text = rule.text.replace(/\$(\d)/g, (_, n: string) => m[Number(n)] ?? '');
  const severity = rule.severity ?? issue.severity;
  return {
    severity,
    code: rule.code,
    category: rule.category,
    segments,
    expression: segments ? undefined : expression,
    text,
    diagnostics: rule.category === 'required' ? `${diagnostics}; cardinality of {element} in FHIR R4` : diagnostics,
    wrongShape: rule.wrongShape,
  };
}

/**
 * Run @medplum/core's validator (it throws OperationOutcomeError when it finds errors and
 * returns warnings otherwise) and translate its issues. `skip` lists JSON locations whose
 * issues are dropped (nested resources of unknown type, replaced before the call).
 */
export function runMedplum(index: ElementIndex, root: Record<string, unknown>, input: Resource): RawIssue[] {
  let issues: OperationOutcomeIssue[];
  try {
    issues = validateResource(input);
  } catch (err) {
    if (err instanceof OperationOutcomeError) {
      issues = err.outcome.issue ?? [];
    } else {
      return [
        {
          severity: 'information',
          code: 'exception',
          category: 'other',
          segments: [],
          text: 'The structural validator stopped on this input; the other checks still ran',
          diagnostics: `@medplum/core validateResource threw ${err instanceof Error ? err.name : 'a non-error value'}`,
        },
      ];
    }
  }
  const out: RawIssue[] = [];
  for (const issue of issues) {
    const raw = translate(index, root, issue);
    if (raw) {
      out.push(raw);
    }
  }
  return out;
}

const PLACEHOLDER = { resourceType: 'Basic', code: { text: 'placeholder' } };

/**
 * A copy of `root` in which the resources at `locations` are replaced by a minimal Basic
 * (issues found there are dropped: they sit below the unknown-type issue), so that one nested
 * resource of an unknown type does not stop @medplum/core from checking everything else.
 */
export function withoutNested(root: Record<string, unknown>, locations: readonly Segments[]): Record<string, unknown> {
  type Node = Record<string | number, unknown>;
  const copy: Node = { ...root };
  for (const loc of locations) {
    let node: Node = copy;
    for (let i = 0; i < loc.length - 1; i++) {
      const child: unknown = node[loc[i]];
      const cloned: Node = Array.isArray(child) ? ([...child] as unknown as Node) : { ...(child as Node) };
      node[loc[i]] = cloned;
      node = cloned;
    }
    node[loc[loc.length - 1]] = PLACEHOLDER;
  }
  return copy;
}
