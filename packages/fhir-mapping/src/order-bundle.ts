import type { BmaOrder } from '@marrowbridge/model';
import type { Bundle, BundleEntry, Reference, Specimen } from '@medplum/fhirtypes';
import { orderReportCode } from './code-tables';
import { transactionBundle, upsertEntry } from './bundle';
import {
  conditionalReference,
  localReference,
  patientKey,
  practitionerKey,
  procedureKey,
  reportKey,
  serviceRequestKey,
  specimenKey,
} from './identity';
import type { MappingOptions } from './options';
import { mapRegisteredReport } from './resources/diagnostic-report';
import type { OrderLinks } from './resources/links';
import { mapPatient } from './resources/patient';
import { mapPractitioner } from './resources/practitioner';
import { mapProcedure } from './resources/procedure';
import { mapServiceRequest } from './resources/service-request';
import { mapSpecimen } from './resources/specimen';

/**
 * An order as a transaction Bundle: Patient, Practitioner(s), ServiceRequest, Specimen(s), Procedure
 * and the registered aspirate report, linked by their deterministic urn:uuid fullUrls.
 */
export function mapOrder(order: BmaOrder, options: MappingOptions = {}): Bundle {
  const keys = {
    patient: patientKey(order.patient.mrn),
    requester: practitionerKey(order.orderingProvider.npi),
    performer: order.procedure.performer ? practitionerKey(order.procedure.performer.npi) : undefined,
    serviceRequest: serviceRequestKey(order.placerOrderNumber),
    specimens: order.specimens.map((s) => specimenKey(s.id)),
    procedure: procedureKey(order),
    report: reportKey({ placerOrderNumber: order.placerOrderNumber, reportCode: orderReportCode }),
  };
  const specimenRefs = keys.specimens.map((k) => localReference('Specimen', k));
  const links: OrderLinks = {
    patient: localReference('Patient', keys.patient),
    requester: localReference('Practitioner', keys.requester),
    performer: keys.performer ? localReference('Practitioner', keys.performer) : undefined,
    serviceRequest: localReference('ServiceRequest', keys.serviceRequest),
    procedure: localReference('Procedure', keys.procedure),
    specimens: specimenRefs,
    parentSpecimen: (parentId, childSystem) => parentReference(order, specimenRefs, parentId, childSystem),
  };

  // The links already hold these entries' fullUrls (a SHA-1 each): reuse them.
  const entries: BundleEntry[] = [
    upsertEntry(mapPatient(order.patient), keys.patient, links.patient.reference),
    upsertEntry(mapPractitioner(order.orderingProvider), keys.requester, links.requester.reference),
  ];
  // The performer gets their own entry only when they are not the ordering provider.
  if (order.procedure.performer && keys.performer && keys.performer.value !== keys.requester.value) {
    entries.push(upsertEntry(mapPractitioner(order.procedure.performer), keys.performer, links.performer?.reference));
  }
  entries.push(
    upsertEntry(mapServiceRequest(order, links, options), keys.serviceRequest, links.serviceRequest.reference),
  );
  order.specimens.forEach((s, i) =>
    entries.push(upsertEntry(mapSpecimen(order, s, links, options), keys.specimens[i], specimenRefs[i].reference)),
  );
  entries.push(upsertEntry(mapProcedure(order, links, options), keys.procedure, links.procedure.reference));
  entries.push(upsertEntry(mapRegisteredReport(order, links, options), keys.report));
  return transactionBundle(entries);
}

/**
 * An aliquot's parent: the order's specimen with that id value (same system first); a parent sent
 * in an earlier order is referred to by identifier, in the aliquot's own id system.
 */
function parentReference(
  order: BmaOrder,
  refs: Reference<Specimen>[],
  parentId: string,
  childSystem: string,
): Reference<Specimen> {
  let index = order.specimens.findIndex((s) => s.id.value === parentId && s.id.system === childSystem);
  if (index < 0) index = order.specimens.findIndex((s) => s.id.value === parentId);
  if (index >= 0) return refs[index];
  return conditionalReference('Specimen', { system: childSystem, value: parentId });
}
