import type { ProviderInfo } from '@marrowbridge/model';
import type { Practitioner } from '@medplum/fhirtypes';
import { humanName, prune, typedIdentifier } from '../datatypes';
import { NPI_SYSTEM } from '../systems';

/** A clinician identified by NPI (ordering provider, procedure performer, results interpreter). */
export function mapPractitioner(provider: ProviderInfo): Practitioner {
  return prune<Practitioner>({
    resourceType: 'Practitioner',
    identifier: [typedIdentifier('NPI', NPI_SYSTEM, provider.npi)],
    name: provider.name ? [humanName(provider.name)] : undefined,
  });
}
