/**
 * Precedence guards: what an incoming update may overwrite in the EHR. Results follow the report status
 * precedence of the ehr-client (design.md); an order (re-sent or updated) must never move what later messages
 * advanced back to an earlier state: the order's `registered` report placeholder never overwrites a report
 * that exists, and a Procedure never moves back (preparation < in-progress < completed).
 */
import { fullUrl, keyIdentifier, orderReportCode, procedureKey, reportKey } from '@marrowbridge/fhir-mapping';
import type { BmaOrder, ResultUpdate } from '@marrowbridge/model';
import {
  checkReportPrecedence,
  rewriteReferences,
  type EhrClient,
  type ReportDecision,
} from '@marrowbridge/ehr-client';
import type { Bundle, DiagnosticReport, Procedure } from '@medplum/fhirtypes';

const PROCEDURE_RANK: Record<string, number> = { preparation: 0, 'in-progress': 1, completed: 2 };

export async function decideResult(
  client: EhrClient,
  update: ResultUpdate,
  bundle: Bundle,
): Promise<ReportDecision & { current?: DiagnosticReport }> {
  const entry = bundle.entry?.find((e) => e.fullUrl === fullUrl('DiagnosticReport', reportKey(update)));
  if (!entry?.resource) throw new Error('result Bundle has no DiagnosticReport entry');
  return checkReportPrecedence(client, entry.resource as DiagnosticReport);
}

/**
 * Removes from an order Bundle the entries that would move the EHR backwards, pointing references to them at
 * the EHR's existing resource instead. Returns the guarded Bundle and a note per removed entry.
 */
export async function guardOrderBundle(
  client: EhrClient,
  order: BmaOrder,
  bundle: Bundle,
): Promise<{ bundle: Bundle; kept: string[] }> {
  const drKey = reportKey({ placerOrderNumber: order.placerOrderNumber, reportCode: orderReportCode });
  const procKey = procedureKey(order);
  const drUrl = fullUrl('DiagnosticReport', drKey);
  const procUrl = fullUrl('Procedure', procKey);
  const replaced = new Map<string, string>();
  const kept: string[] = [];
  for (const e of bundle.entry ?? []) {
    if (e.fullUrl === drUrl && e.resource) {
      const current = await client.conditionalRead<DiagnosticReport>('DiagnosticReport', keyIdentifier(drKey));
      if (current) {
        replaced.set(e.fullUrl, `DiagnosticReport/${current.id}`);
        kept.push(`the EHR's report (${current.status}) is kept; an order never resets it`);
      }
    } else if (e.fullUrl === procUrl && e.resource) {
      const current = await client.conditionalRead<Procedure>('Procedure', keyIdentifier(procKey));
      const incoming = e.resource as Procedure;
      if (current && movesBack(current.status, incoming.status)) {
        replaced.set(e.fullUrl, `Procedure/${current.id}`);
        kept.push(`the EHR's procedure (${current.status}) is kept over ${incoming.status}`);
      }
    }
  }
  if (replaced.size === 0) return { bundle, kept };
  const entries = (bundle.entry ?? []).filter((e) => !replaced.has(e.fullUrl ?? ''));
  return { bundle: rewriteReferences({ ...bundle, entry: entries }, (ref) => replaced.get(ref)), kept };
}

function movesBack(current: string | undefined, incoming: string | undefined): boolean {
  if (!current || !incoming || current === incoming) return false;
  if (current === 'not-done' || current === 'entered-in-error') return true; // terminal
  if (incoming === 'not-done') return current === 'completed' || current === 'in-progress';
  return (PROCEDURE_RANK[incoming] ?? 0) < (PROCEDURE_RANK[current] ?? 0);
}
