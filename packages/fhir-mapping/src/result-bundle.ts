import type { ResultUpdate } from '@marrowbridge/model';
import type { Bundle, BundleEntry } from '@medplum/fhirtypes';
import { transactionBundle, upsertEntry } from './bundle';
import {
  conditionalReference,
  localReference,
  observationKey,
  patientKey,
  practitionerKey,
  procedureKey,
  reportKey,
  serviceRequestKey,
  specimenKey,
} from './identity';
import { MappingError, type MappingOptions } from './options';
import { mapReport } from './resources/diagnostic-report';
import type { ResultLinks } from './resources/links';
import { mapObservation } from './resources/observation';
import { mapPractitioner } from './resources/practitioner';

/**
 * A result update as a transaction Bundle: the interpreter (when given), the report and one
 * Observation per result. What the order created (Patient, ServiceRequest, Procedure, Specimen) is
 * referred to conditionally, never copied: the delivery layer resolves those references in the EHR.
 */
export function mapResultUpdate(update: ResultUpdate, options: MappingOptions = {}): Bundle {
  const report = reportKey(update);
  const interpreterKey = update.resultsInterpreter ? practitionerKey(update.resultsInterpreter.npi) : undefined;
  const observationKeys = update.observations.map((o) => observationKey(report, o));
  const specimenRefs = update.specimenIds.map((id) => conditionalReference('Specimen', specimenKey(id)));

  const links: ResultLinks = {
    patient: conditionalReference('Patient', patientKey(update.patient.mrn)),
    serviceRequest: conditionalReference('ServiceRequest', serviceRequestKey(update.placerOrderNumber)),
    procedure: conditionalReference('Procedure', procedureKey(update)),
    specimens: specimenRefs,
    specimen: (value) => {
      // A result without its own specimen is on the report's first specimen (model default).
      if (value === undefined) return specimenRefs[0];
      const index = update.specimenIds.findIndex((id) => id.value === value);
      if (index < 0) throw new MappingError(`an observation names specimen "${value}", which the report does not list`);
      return specimenRefs[index];
    },
    interpreter: interpreterKey ? localReference('Practitioner', interpreterKey) : undefined,
    observations: observationKeys.map((k) => localReference('Observation', k)),
  };

  const entries: BundleEntry[] = [];
  // The references above already hold these entries' fullUrls (a SHA-1 each): reuse them.
  if (update.resultsInterpreter && interpreterKey) {
    entries.push(upsertEntry(mapPractitioner(update.resultsInterpreter), interpreterKey, links.interpreter?.reference));
  }
  entries.push(upsertEntry(mapReport(update, links, options), report));
  update.observations.forEach((o, i) =>
    entries.push(
      upsertEntry(mapObservation(update, o, links, options), observationKeys[i], links.observations[i].reference),
    ),
  );
  return transactionBundle(entries);
}
