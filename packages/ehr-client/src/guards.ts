/**
 * Precedence guards of the mapping contract (the worker's push and the gateway's dry-run diff): what an incoming
 * update may overwrite in the EHR, decided by pushBundle on the EHR's copies it has just read (so the rule sees
 * the state the write is based on, and is asked again after a conflict). Results follow the report status
 * precedence (precedence.ts, design.md); an order (re-sent or updated) must never move what later messages
 * advanced back to an earlier state: the order's `registered` report placeholder never overwrites a report that
 * exists, and a Procedure never moves back (preparation < in-progress < completed).
 */
import { fullUrl, orderReportCode, procedureKey, reportKey } from '@marrowbridge/fhir-mapping';
import type { BmaOrder, CanonicalMessage, ResultUpdate } from '@marrowbridge/model';
import { decideReportUpdate } from './precedence';
import type { PushGuard } from './push';
import type { Bundle, DiagnosticReport, Procedure } from '@medplum/fhirtypes';

const PROCEDURE_RANK: Record<string, number> = { preparation: 0, 'in-progress': 1, completed: 2 };

/** The guard the worker pushes a message's Bundle with (and the gateway's dry run plans with): by its kind. */
export function guardFor(message: CanonicalMessage, bundle: Bundle): PushGuard {
  return message.kind === 'result' ? resultGuard(message, bundle) : orderGuard(message, bundle);
}

/**
 * A result update is written only when the report precedence says "apply"; otherwise the push stops with the
 * decision ("duplicate", "review" or "superseded") and its reason.
 */
export function resultGuard(update: ResultUpdate, bundle: Bundle): PushGuard {
  const url = fullUrl('DiagnosticReport', reportKey(update));
  const incoming = bundle.entry?.find((e) => e.fullUrl === url)?.resource;
  if (incoming?.resourceType !== 'DiagnosticReport') throw new Error('result Bundle has no DiagnosticReport entry');
  return (current) => {
    const decision = decideReportUpdate(current.get(url) as DiagnosticReport | undefined, incoming);
    return decision.action === 'apply' ? {} : { stop: decision };
  };
}

/** An order keeps the EHR's report (whatever its state) and a Procedure that is further along than the order's. */
export function orderGuard(order: BmaOrder, bundle: Bundle): PushGuard {
  const drUrl = fullUrl(
    'DiagnosticReport',
    reportKey({ placerOrderNumber: order.placerOrderNumber, reportCode: orderReportCode }),
  );
  const procUrl = fullUrl('Procedure', procedureKey(order));
  const incomingProcedure = bundle.entry?.find((e) => e.fullUrl === procUrl)?.resource as Procedure | undefined;
  return (current) => {
    const keep = new Map<string, string>();
    const report = current.get(drUrl) as DiagnosticReport | undefined;
    if (report) keep.set(drUrl, `the EHR's report (${report.status}) is kept; an order never resets it`);
    const procedure = current.get(procUrl) as Procedure | undefined;
    if (procedure && incomingProcedure && movesBack(procedure.status, incomingProcedure.status)) {
      keep.set(procUrl, `the EHR's procedure (${procedure.status}) is kept over ${incomingProcedure.status}`);
    }
    return { keep };
  };
}

function movesBack(current: string | undefined, incoming: string | undefined): boolean {
  if (!current || !incoming || current === incoming) return false;
  if (current === 'not-done' || current === 'entered-in-error') return true; // terminal
  if (incoming === 'not-done') return current === 'completed' || current === 'in-progress';
  return (PROCEDURE_RANK[incoming] ?? 0) < (PROCEDURE_RANK[current] ?? 0);
}
