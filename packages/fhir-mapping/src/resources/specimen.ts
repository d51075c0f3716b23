import type { BmaOrder, SpecimenInfo } from '@marrowbridge/model';
import type { Specimen } from '@medplum/fhirtypes';
import { additiveCodes, collectionMethodCodes, specimenKindCodes } from '../code-tables';
import {
  bodySiteConcept,
  fhirDateTime,
  profileMeta,
  prune,
  tableConcept,
  typedIdentifier,
  ucumQuantity,
} from '../datatypes';
import type { MappingOptions } from '../options';
import { SPECIMEN_COLLECTION_PROCEDURE_EXTENSION } from '../systems';
import type { OrderLinks } from './links';

/** One Specimen per aspirate, aliquot or trephine core; keyed by the specimen id (SID). */
export function mapSpecimen(
  order: BmaOrder,
  specimen: SpecimenInfo,
  links: OrderLinks,
  options: MappingOptions,
): Specimen {
  const kind = specimenKindCodes[specimen.kind];
  const additive = specimen.container?.additive;
  return prune<Specimen>({
    resourceType: 'Specimen',
    meta: profileMeta(kind.profile, options),
    identifier: [typedIdentifier('SID', specimen.id.system, specimen.id.value)],
    accessionIdentifier: specimen.accession
      ? typedIdentifier('ACSN', specimen.accession.system, specimen.accession.value)
      : undefined,
    type: tableConcept(kind.type, kind.text),
    subject: links.patient,
    parent: specimen.parentId ? [links.parentSpecimen(specimen.parentId, specimen.id.system)] : undefined,
    request: [links.serviceRequest],
    collection: {
      // R4 has no collection.procedure: the R5 cross-version extension links the collection act.
      extension: [{ url: SPECIMEN_COLLECTION_PROCEDURE_EXTENSION, valueReference: links.procedure }],
      collectedDateTime: specimen.collectedAt ? fhirDateTime(specimen.collectedAt) : undefined,
      quantity: specimen.volumeMl === undefined ? undefined : ucumQuantity(specimen.volumeMl, 'mL'),
      method: tableConcept([collectionMethodCodes[kind.method]]),
      bodySite: bodySiteConcept(specimen.bodySite ?? order.procedure.bodySite),
    },
    container: specimen.container
      ? [
          {
            type: specimen.container.type ? { text: specimen.container.type } : undefined,
            additiveCodeableConcept: additive ? tableConcept([additiveCodes[additive]]) : undefined,
          },
        ]
      : undefined,
    note: specimen.note ? [{ text: specimen.note }] : undefined,
  });
}
