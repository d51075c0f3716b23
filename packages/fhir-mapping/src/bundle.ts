import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { conditionalUrl, fullUrl, type ResourceKey } from './identity';
import { MappingError } from './options';

/**
 * An entry that creates or updates the resource found by its key (conditional update, no ids).
 * `url` is its fullUrl when the caller already holds it (from a local reference to the resource).
 */
export function upsertEntry<T extends Resource>(
  resource: T,
  key: ResourceKey,
  url = fullUrl(resource.resourceType, key),
): BundleEntry<T> {
  return {
    fullUrl: url,
    resource,
    request: { method: 'PUT', url: conditionalUrl(resource.resourceType, key) },
  };
}

/** A transaction Bundle; two entries for the same resource would make the EHR reject it. */
export function transactionBundle(entries: BundleEntry[]): Bundle {
  const seen = new Set<string>();
  for (const e of entries) {
    if (seen.has(e.fullUrl!)) {
      throw new MappingError(
        `two entries share the key of one ${e.resource!.resourceType} (${e.request!.url})`,
        'duplicate-key',
      );
    }
    seen.add(e.fullUrl!);
  }
  return { resourceType: 'Bundle', type: 'transaction', entry: entries };
}
