import type { BmaOrder } from '@marrowbridge/model';
import type { CodeableConcept, Identifier, ServiceRequest } from '@medplum/fhirtypes';
import { priorityCodes, procedureCodes, serviceRequestCategory, studyCodes } from '../code-tables';
import {
  bodySiteConcept,
  earliest,
  fhirDateTime,
  identifier,
  profileMeta,
  prune,
  tableConcept,
  typedIdentifier,
} from '../datatypes';
import type { MappingOptions } from '../options';
import { ICD10CM, PROFILE_IDS } from '../systems';
import type { OrderLinks } from './links';

/** The order itself: what was asked (aspiration ± trephine, studies), for whom, why and where. */
export function mapServiceRequest(order: BmaOrder, links: OrderLinks, options: MappingOptions): ServiceRequest {
  const codes = procedureCodes[order.procedure.type];
  return prune<ServiceRequest>({
    resourceType: 'ServiceRequest',
    meta: profileMeta(PROFILE_IDS.serviceRequest, options),
    identifier: orderIdentifiers(order),
    status: order.status ?? 'active',
    intent: 'order',
    category: [tableConcept([serviceRequestCategory])],
    priority: priorityCodes[order.priority],
    code: tableConcept(codes.codings, codes.text),
    orderDetail: order.requestedStudies.map((study) => tableConcept([studyCodes[study]])),
    subject: links.patient,
    // The visit is known only by its number; the EHR owns the Encounter, so refer by identifier.
    encounter: order.encounter?.identifier
      ? { type: 'Encounter', identifier: identifier(order.encounter.identifier) }
      : undefined,
    ...occurrence(order),
    authoredOn: fhirDateTime(order.authoredOn),
    requester: links.requester,
    reasonCode: order.reasons.map(reasonConcept),
    specimen: links.specimens,
    bodySite: [bodySiteConcept(order.procedure.bodySite)],
    note: order.clinicalNotes?.map((text) => ({ text })),
  });
}

/** PLAC (the conditional key) and, once the lab has numbered the order, FILL. */
function orderIdentifiers(order: BmaOrder): Identifier[] {
  const ids = [typedIdentifier('PLAC', order.placerOrderNumber.system, order.placerOrderNumber.value)];
  if (order.fillerOrderNumber) {
    ids.push(typedIdentifier('FILL', order.fillerOrderNumber.system, order.fillerOrderNumber.value));
  }
  return ids;
}

function reasonConcept(reason: BmaOrder['reasons'][number]): CodeableConcept {
  return {
    coding: reason.icd10 ? [{ system: ICD10CM, code: reason.icd10 }] : undefined,
    text: reason.text,
  };
}

/**
 * When the aspiration happens: the performed period once known, else the earliest specimen
 * collection; a new order has neither and leaves occurrence empty.
 */
function occurrence(order: BmaOrder): Pick<ServiceRequest, 'occurrenceDateTime' | 'occurrencePeriod'> {
  const { performedStart, performedEnd } = order.procedure;
  if (performedStart && performedEnd) {
    return { occurrencePeriod: { start: fhirDateTime(performedStart), end: fhirDateTime(performedEnd) } };
  }
  const when = performedStart ?? earliest(order.specimens.flatMap((s) => (s.collectedAt ? [s.collectedAt] : [])));
  return when ? { occurrenceDateTime: fhirDateTime(when) } : {};
}
