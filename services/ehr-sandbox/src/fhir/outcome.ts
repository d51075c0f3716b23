import { getStatus, OperationOutcomeError } from '@medplum/core';
import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';

export type IssueCode = OperationOutcomeIssue['code'];

/** An error that knows its HTTP status and carries the OperationOutcome to answer with. */
export class HttpError extends Error {
  readonly status: number;
  readonly outcome: OperationOutcome;
  readonly headers: Record<string, string>;

  constructor(status: number, outcome: OperationOutcome, headers: Record<string, string> = {}) {
    super(outcome.issue?.[0]?.diagnostics ?? outcome.issue?.[0]?.details?.text ?? `HTTP ${status}`);
    this.name = 'HttpError';
    this.status = status;
    this.outcome = outcome;
    this.headers = headers;
  }
}

/** A one-issue OperationOutcome. */
export function makeOutcome(
  code: IssueCode,
  diagnostics: string,
  severity: OperationOutcomeIssue['severity'] = 'error',
  expression?: string[],
): OperationOutcome {
  const issue: OperationOutcomeIssue = { severity, code, diagnostics };
  if (expression?.length) {
    issue.expression = expression;
  }
  return { resourceType: 'OperationOutcome', issue: [issue] };
}

export function httpError(status: number, code: IssueCode, diagnostics: string, expression?: string[]): HttpError {
  return new HttpError(status, makeOutcome(code, diagnostics, 'error', expression));
}

/** True when the outcome holds an issue of severity error or fatal. */
export function hasErrors(outcome: OperationOutcome | undefined): boolean {
  return !!outcome?.issue?.some((i) => i.severity === 'error' || i.severity === 'fatal');
}

/**
 * Turns anything thrown into an HttpError. Medplum's OperationOutcomeError keeps its outcome and
 * status; anything else becomes a 500 whose message does not echo the error text (it could carry
 * resource content).
 */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) {
    return err;
  }
  if (err instanceof OperationOutcomeError) {
    return new HttpError(getStatus(err.outcome), stripOutcomeId(err.outcome));
  }
  return httpError(500, 'exception', 'Internal server error');
}

/** Medplum's canned outcomes carry ids such as "not-found"; clients do not need them. */
export function stripOutcomeId(outcome: OperationOutcome): OperationOutcome {
  const { id: _id, ...rest } = outcome;
  return rest;
}
