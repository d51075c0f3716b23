import type {
  Observation,
  Patient,
  Practitioner,
  Procedure,
  Reference,
  ServiceRequest,
  Specimen,
} from '@medplum/fhirtypes';

/**
 * References available while mapping an order: all point at entries of the same Bundle (urn:uuid),
 * except a parent specimen the order does not carry.
 */
export interface OrderLinks {
  patient: Reference<Patient>;
  requester: Reference<Practitioner>;
  performer?: Reference<Practitioner>;
  serviceRequest: Reference<ServiceRequest>;
  procedure: Reference<Procedure>;
  /** Aligned with order.specimens. */
  specimens: Reference<Specimen>[];
  /** The Specimen an aliquot was taken from, by the parent's specimen id value. */
  parentSpecimen(parentId: string, childSystem: string): Reference<Specimen>;
}

/**
 * References available while mapping a result update: what the order created is referred to
 * conditionally (by identifier); the interpreter and observations are entries of the same Bundle.
 */
export interface ResultLinks {
  patient: Reference<Patient>;
  serviceRequest: Reference<ServiceRequest>;
  procedure: Reference<Procedure>;
  /** Aligned with update.specimenIds. */
  specimens: Reference<Specimen>[];
  /** By specimen id value; undefined when the update names no specimen. */
  specimen(value: string | undefined): Reference<Specimen> | undefined;
  interpreter?: Reference<Practitioner>;
  /** Aligned with update.observations. */
  observations: Reference<Observation>[];
}
