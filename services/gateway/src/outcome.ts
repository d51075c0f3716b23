/** OperationOutcomes for every error answer of the gateway. */
import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';
import type { Response } from 'express';

export const FHIR_JSON = 'application/fhir+json; charset=utf-8';

export type IssueCode = OperationOutcomeIssue['code'];

export function outcome(
  text: string,
  code: IssueCode = 'processing',
  severity: OperationOutcomeIssue['severity'] = 'error',
): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [{ severity, code, details: { text } }] };
}

/** An error the routes throw; the error handler answers it as `status` with its OperationOutcome. */
export class HttpError extends Error {
  readonly outcome: OperationOutcome;

  constructor(
    readonly status: number,
    text: string | OperationOutcome,
    code: IssueCode = 'processing',
    readonly headers: Record<string, string> = {},
  ) {
    super(typeof text === 'string' ? text : (text.issue[0]?.details?.text ?? `HTTP ${status}`));
    this.name = 'HttpError';
    this.outcome = typeof text === 'string' ? outcome(text, code) : text;
  }
}

export function sendOutcome(res: Response, status: number, body: OperationOutcome): void {
  res.status(status).type(FHIR_JSON).send(JSON.stringify(body));
}

export function sendFhir(res: Response, status: number, body: unknown): void {
  res.status(status).type(FHIR_JSON).send(JSON.stringify(body));
}
