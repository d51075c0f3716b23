import type { PatientInfo } from '@marrowbridge/model';
import type { Patient } from '@medplum/fhirtypes';
import { humanName, prune, typedIdentifier } from '../datatypes';

/** The patient as the order knows them; the MRN (type MR, system = assigning authority) is the key. */
export function mapPatient(patient: PatientInfo): Patient {
  return prune<Patient>({
    resourceType: 'Patient',
    identifier: [{ use: 'usual', ...typedIdentifier('MR', patient.mrn.system, patient.mrn.value) }],
    name: patient.name ? [humanName(patient.name)] : undefined,
    gender: patient.sex,
    birthDate: patient.birthDate,
  });
}
