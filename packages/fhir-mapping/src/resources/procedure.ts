import type { BmaOrder } from '@marrowbridge/model';
import type { Procedure } from '@medplum/fhirtypes';
import { procedureCodes } from '../code-tables';
import {
  bodySiteConcept,
  codeableConcept,
  earliest,
  fhirDateTime,
  profileMeta,
  prune,
  tableConcept,
} from '../datatypes';
import { keyIdentifier, procedureKey } from '../identity';
import type { MappingOptions } from '../options';
import { PROFILE_IDS } from '../systems';
import type { OrderLinks } from './links';

type ProcedureStatus = NonNullable<Procedure['status']>;

/**
 * Procedure.status: an explicit procedure status wins; a revoked order means the aspiration will not
 * be done; a collected specimen proves it was done; otherwise it is still being prepared.
 */
export function procedureStatus(order: BmaOrder): ProcedureStatus {
  if (order.procedure.status) return order.procedure.status;
  if (order.status === 'revoked') return 'not-done';
  if (order.specimens.some((s) => s.collectedAt)) return 'completed';
  return 'preparation';
}

/** The collection act: one per order, keyed by the placer number. */
export function mapProcedure(order: BmaOrder, links: OrderLinks, options: MappingOptions): Procedure {
  const info = order.procedure;
  const codes = procedureCodes[info.type];
  const status = procedureStatus(order);
  return prune<Procedure>({
    resourceType: 'Procedure',
    meta: profileMeta(PROFILE_IDS.procedure, options),
    identifier: [keyIdentifier(procedureKey(order))],
    basedOn: [links.serviceRequest],
    status,
    statusReason: status === 'not-done' && info.notDoneReason ? { text: info.notDoneReason } : undefined,
    code: tableConcept(codes.codings, codes.text),
    subject: links.patient,
    ...performed(order, status),
    performer: links.performer ? [{ actor: links.performer }] : undefined,
    bodySite: [bodySiteConcept(info.bodySite)],
    complication: info.complications?.map((c) => codeableConcept(c.code ? [c.code] : [], c.text, options)),
    followUp: info.followUp?.map((text) => ({ text })),
  });
}

/**
 * performed[x] only once the procedure has started (in-progress, completed): a period from the
 * procedure times when given, else the earliest specimen collection.
 */
function performed(order: BmaOrder, status: ProcedureStatus): Pick<Procedure, 'performedDateTime' | 'performedPeriod'> {
  if (status !== 'completed' && status !== 'in-progress') return {};
  const { performedStart, performedEnd } = order.procedure;
  if (performedStart) {
    return {
      performedPeriod: {
        start: fhirDateTime(performedStart),
        end: performedEnd ? fhirDateTime(performedEnd) : undefined,
      },
    };
  }
  const collected = earliest(order.specimens.flatMap((s) => (s.collectedAt ? [s.collectedAt] : [])));
  if (collected) return { performedDateTime: fhirDateTime(collected) };
  return performedEnd ? { performedPeriod: { end: fhirDateTime(performedEnd) } } : {};
}
