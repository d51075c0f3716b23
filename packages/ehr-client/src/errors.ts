import type { OperationOutcome } from '@medplum/fhirtypes';

/** transient: worth retrying later (with backoff); permanent: retrying the same request cannot help. */
export type EhrErrorKind = 'transient' | 'permanent';

/**
 * What went wrong, for metrics and for the worker's decisions (the `reason` is for people).
 * - network: connection refused/reset/DNS, dropped connection
 * - timeout: no complete answer within the client's timeout
 * - http: the server answered with an error status (see `status`)
 * - auth: the token endpoint refused us, or the FHIR server still answers 401 with a fresh token (or 403)
 * - reference-not-found: a conditional reference in the Bundle matched no resource (yet)
 * - ambiguous: a conditional key or reference matched several resources
 * - conflict: If-Match kept failing (412) after the bounded number of re-reads
 * - invalid-bundle: the Bundle cannot be pushed as given (not a transaction, unsupported entry request)
 * - invalid-response: the server answered 2xx with something that is not what FHIR promises
 */
export type EhrErrorCategory =
  | 'network'
  | 'timeout'
  | 'http'
  | 'auth'
  | 'reference-not-found'
  | 'ambiguous'
  | 'conflict'
  | 'invalid-bundle'
  | 'invalid-response';

export interface EhrErrorInit {
  kind: EhrErrorKind;
  category: EhrErrorCategory;
  reason: string;
  status?: number;
  outcome?: OperationOutcome;
  retryAfterMs?: number;
  cause?: unknown;
}

/**
 * Every failure of the EHR client. `reason` never carries patient data (no identifier values, no query
 * strings): it is written to logs and dead-letter entries. The server's own OperationOutcome, when it sent one,
 * is in `outcome` (it may mention data the EHR already holds; treat it like the payload).
 */
export class EhrError extends Error {
  readonly kind: EhrErrorKind;
  readonly category: EhrErrorCategory;
  readonly reason: string;
  readonly status?: number;
  readonly outcome?: OperationOutcome;
  readonly retryAfterMs?: number;

  constructor(init: EhrErrorInit) {
    super(init.reason, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'EhrError';
    this.kind = init.kind;
    this.category = init.category;
    this.reason = init.reason;
    this.status = init.status;
    this.outcome = init.outcome;
    this.retryAfterMs = init.retryAfterMs;
  }

  get transient(): boolean {
    return this.kind === 'transient';
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      kind: this.kind,
      category: this.category,
      reason: this.reason,
      status: this.status,
      retryAfterMs: this.retryAfterMs,
      outcome: this.outcome,
    };
  }
}

export function isEhrError(err: unknown): err is EhrError {
  return err instanceof EhrError;
}

/** HTTP status → transient or permanent: network-ish statuses (408, 429, 5xx) are transient, other 4xx permanent. */
export function classifyStatus(status: number): EhrErrorKind {
  if (status === 408 || status === 429 || status >= 500) {
    return 'transient';
  }
  return 'permanent';
}

/**
 * Parses a Retry-After header value: delay-seconds or an HTTP-date. Returns milliseconds from `now` (never
 * negative), or undefined when absent or unparseable.
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value === null || value === undefined) {
    return undefined;
  }
  const text = value.trim();
  if (text === '') {
    return undefined;
  }
  if (/^\d+$/.test(text)) {
    return Number(text) * 1000;
  }
  const at = Date.parse(text);
  if (Number.isNaN(at)) {
    return undefined;
  }
  return Math.max(0, at - now);
}

export function isOperationOutcomeBody(body: unknown): body is OperationOutcome {
  return (
    typeof body === 'object' &&
    body !== null &&
    (body as { resourceType?: unknown }).resourceType === 'OperationOutcome'
  );
}

/**
 * Builds the EhrError for a non-2xx answer. `what` names the request without patient data, e.g.
 * "PUT DiagnosticReport/123" or "GET DiagnosticReport (search)".
 */
export function errorFromResponse(
  what: string,
  status: number,
  headers: { get(name: string): string | null },
  body: unknown,
  now: number = Date.now(),
): EhrError {
  const kind = classifyStatus(status);
  const outcome = isOperationOutcomeBody(body) ? body : undefined;
  const retryAfterMs = kind === 'transient' ? parseRetryAfter(headers.get('retry-after'), now) : undefined;
  const category = status === 401 || status === 403 ? 'auth' : 'http';
  return new EhrError({
    kind,
    category,
    status,
    outcome,
    retryAfterMs,
    reason: `${what} failed with HTTP ${status}`,
  });
}

/** Builds the EhrError for a fetch that threw (no HTTP answer): always transient. */
export function errorFromException(what: string, err: unknown, timeoutMs?: number): EhrError {
  if (err instanceof EhrError) {
    return err;
  }
  const name = (err as { name?: unknown } | undefined)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') {
    return new EhrError({
      kind: 'transient',
      category: 'timeout',
      reason: `${what} timed out${timeoutMs === undefined ? '' : ` after ${timeoutMs} ms`}`,
      cause: err,
    });
  }
  return new EhrError({
    kind: 'transient',
    category: 'network',
    reason: `${what} failed: network error${networkCode(err)}`,
    cause: err,
  });
}

function networkCode(err: unknown): string {
  let current: unknown = err;
  for (let depth = 0; depth < 4 && current; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') {
      return ` (${code})`;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return '';
}
