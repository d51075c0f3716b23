/**
 * Precedence guards: what an incoming update may overwrite in the EHR. Results follow the report status
 * precedence of the ehr-client (design.md); an order (re-sent or updated) must never move what later messages
 * advanced back to an earlier state: the order's `registered` report placeholder never overwrites a report
 * that exists, and a Procedure never moves back (preparation < in-progress < completed).
 */
import { fullUrl, orderReportCode, procedureKey, reportKey } from '@marrowbridge/fhir-mapping';
import type { BmaOrder, ResultUpdate } from '@marrowbridge/model';
import { checkReportPrecedence, type EhrClient, type ReportDecision } from '@marrowbridge/ehr-client';
import type { Bundle, BundleEntry, DiagnosticReport, Procedure, Resource } from '@medplum/fhirtypes';

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
  const drUrl = fullUrl(
    'DiagnosticReport',
    reportKey({ placerOrderNumber: order.placerOrderNumber, reportCode: orderReportCode }),
  );
  const procUrl = fullUrl('Procedure', procedureKey(order));
  const replaced = new Map<string, string>();
  const kept: string[] = [];
  for (const e of bundle.entry ?? []) {
    if (e.fullUrl === drUrl && e.resource) {
      const current = await findByKey<DiagnosticReport>(client, e);
      if (current) {
        replaced.set(e.fullUrl, `DiagnosticReport/${current.id}`);
        kept.push(`the EHR's report (${current.status}) is kept; an order never resets it`);
      }
    } else if (e.fullUrl === procUrl && e.resource) {
      const current = await findByKey<Procedure>(client, e);
      const incoming = e.resource as Procedure;
      if (current && movesBack(current.status, incoming.status)) {
        replaced.set(e.fullUrl, `Procedure/${current.id}`);
        kept.push(`the EHR's procedure (${current.status}) is kept over ${incoming.status}`);
      }
    }
  }
  if (replaced.size === 0) return { bundle, kept };
  const entries = (bundle.entry ?? []).filter((e) => !replaced.has(e.fullUrl ?? ''));
  return { bundle: { ...bundle, entry: entries.map((e) => rewrite(e, replaced)) }, kept };
}

function movesBack(current: string | undefined, incoming: string | undefined): boolean {
  if (!current || !incoming || current === incoming) return false;
  if (current === 'not-done' || current === 'entered-in-error') return true; // terminal
  if (incoming === 'not-done') return current === 'completed' || current === 'in-progress';
  return (PROCEDURE_RANK[incoming] ?? 0) < (PROCEDURE_RANK[current] ?? 0);
}

async function findByKey<T extends Resource>(client: EhrClient, entry: BundleEntry): Promise<T | undefined> {
  const url = entry.request?.url ?? '';
  const [type, query] = url.split('?');
  if (!query) return undefined;
  const params = new URLSearchParams(query);
  const identifier = params.get('identifier');
  if (!identifier) return undefined;
  return client.conditionalRead<T>(type as T['resourceType'], identifier);
}

function rewrite<T>(value: T, replaced: Map<string, string>): T {
  if (Array.isArray(value)) return value.map((v) => rewrite(v, replaced)) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = k === 'reference' && typeof v === 'string' && replaced.has(v) ? replaced.get(v) : rewrite(v, replaced);
    }
    return out as T;
  }
  return value;
}
