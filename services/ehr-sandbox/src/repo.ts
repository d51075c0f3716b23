import {
  deepClone,
  matchesSearchRequest,
  Operator,
  OperationOutcomeError,
  preconditionFailed,
  stringify,
} from '@medplum/core';
import type { Filter, SearchRequest, WithId } from '@medplum/core';
import type { UpdateResourceOptions } from '@medplum/fhir-router';
import { MemoryRepository } from '@medplum/fhir-router';
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';

/** The storage MemoryRepository keeps in (TypeScript-)private fields; read here for snapshots. */
interface RepoInternals {
  resources: Map<string, Map<string, Resource>>;
  history: Map<string, Map<string, Resource[]>>;
}

/** An opaque copy of the repository's state (maps are copied; stored resources are never mutated). */
export interface RepoSnapshot {
  readonly resources: Map<string, Map<string, Resource>>;
  readonly history: Map<string, Map<string, Resource[]>>;
}

/**
 * MemoryRepository with what the sandbox needs on top:
 * - snapshot()/restore() so that a failed transaction leaves nothing behind
 *   (MemoryRepository.withTransaction has no rollback);
 * - updates whose content equals the current version are no-ops (no new version), as on HAPI and
 *   the Medplum server, so a re-sent conditional update changes nothing;
 * - readHistory without the in-place reverse() of the stored history (5.2.13 flips the order on
 *   every call), newest first, with request/response per entry, honouring _offset/_count;
 * - countByType() for tests and admin stats.
 */
export class SandboxRepository extends MemoryRepository {
  private get internals(): RepoInternals {
    return this as unknown as RepoInternals;
  }

  snapshot(): RepoSnapshot {
    const { resources, history } = this.internals;
    return {
      resources: new Map([...resources].map(([type, byId]) => [type, new Map(byId)])),
      history: new Map(
        [...history].map(([type, byId]) => [type, new Map([...byId].map(([id, versions]) => [id, [...versions]]))]),
      ),
    };
  }

  restore(snapshot: RepoSnapshot): void {
    const { resources, history } = this.internals;
    resources.clear();
    for (const [type, byId] of snapshot.resources) {
      resources.set(type, new Map(byId));
    }
    history.clear();
    for (const [type, byId] of snapshot.history) {
      history.set(type, new Map([...byId].map(([id, versions]) => [id, [...versions]])));
    }
  }

  /** Number of current (not deleted) resources per type; types with none are left out. */
  countByType(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const [type, byId] of this.internals.resources) {
      if (byId.size > 0) {
        counts[type] = byId.size;
      }
    }
    return counts;
  }

  /** The current resource, or undefined (no clone: callers must not mutate it). */
  peek(resourceType: string, id: string): Resource | undefined {
    return this.internals.resources.get(resourceType)?.get(id);
  }

  override async updateResource<T extends Resource>(resource: T, options?: UpdateResourceOptions): Promise<WithId<T>> {
    const existing = resource.id ? this.peek(resource.resourceType, resource.id) : undefined;
    if (existing && options?.ifMatch && existing.meta?.versionId !== options.ifMatch) {
      throw new OperationOutcomeError(preconditionFailed);
    }
    if (existing && sameContent(existing, resource)) {
      return deepClone(existing) as WithId<T>;
    }
    return super.updateResource(resource, options);
  }

  /**
   * Searches made only of `identifier` and `_id` equality filters (the conditional keys of the
   * mapping contract) take a fast path: MemoryRepository evaluates the R4 `identifier` parameter's
   * FHIRPath union over ~40 resource types for every stored resource (about 1-2 ms each). Same
   * semantics as @medplum/core's token matching (case-insensitive, comma = or).
   */
  override async search<T extends Resource>(searchRequest: SearchRequest<T>): Promise<Bundle<WithId<T>>> {
    const filters = searchRequest.filters ?? [];
    if (
      !isFastSearch(searchRequest) ||
      searchRequest.include?.length ||
      searchRequest.revInclude?.length ||
      searchRequest.sortRules?.length
    ) {
      return super.search(searchRequest);
    }
    const byId = this.internals.resources.get(searchRequest.resourceType) ?? new Map<string, Resource>();
    const matches: Resource[] = [];
    for (const resource of byId.values()) {
      if (filters.every((f) => matchesFast(resource, f))) {
        matches.push(resource);
      }
    }
    let page = matches;
    if (searchRequest.offset !== undefined) {
      page = page.slice(searchRequest.offset);
    }
    if (searchRequest.count !== undefined) {
      page = page.slice(0, searchRequest.count);
    }
    const entry = page.map((r): BundleEntry<WithId<T>> => ({
      search: { mode: 'match' },
      resource: deepClone(r) as WithId<T>,
    }));
    return { resourceType: 'Bundle', type: 'searchset', total: matches.length, ...(entry.length ? { entry } : {}) };
  }

  override async readHistory<T extends Resource>(
    resourceType: string,
    id: string,
    options?: { offset?: number; limit?: number },
  ): Promise<Bundle<T>> {
    await this.readResource(resourceType, id); // 404 when absent or deleted
    const versions = this.internals.history.get(resourceType)?.get(id) ?? [];
    const newestFirst = versions.map((v, i) => ({ v, i })).reverse();
    const offset = options?.offset ?? 0;
    const page = newestFirst.slice(offset, options?.limit === undefined ? undefined : offset + options.limit);
    const entry = page.map(({ v, i }): BundleEntry<T> => ({
      resource: deepClone(v) as T,
      request: { method: i === 0 ? 'POST' : 'PUT', url: i === 0 ? resourceType : `${resourceType}/${id}` },
      response: {
        status: i === 0 ? '201 Created' : '200 OK',
        etag: `W/"${v.meta?.versionId}"`,
        lastModified: v.meta?.lastUpdated,
      },
    }));
    return { resourceType: 'Bundle', type: 'history', total: versions.length, ...(entry.length ? { entry } : {}) };
  }
}

function isFastSearch(searchRequest: SearchRequest): boolean {
  const filters = searchRequest.filters ?? [];
  return (
    filters.length > 0 &&
    filters.every((f) => (f.code === 'identifier' || f.code === '_id') && f.operator === Operator.EQUALS)
  );
}

/** matchesSearchRequest, with the identifier/_id fast path. */
export function matchesSearch(resource: Resource, searchRequest: SearchRequest): boolean {
  if (!isFastSearch(searchRequest)) {
    return matchesSearchRequest(resource, searchRequest);
  }
  return (
    resource.resourceType === searchRequest.resourceType &&
    (searchRequest.filters ?? []).every((f) => matchesFast(resource, f))
  );
}

function matchesFast(resource: Resource, filter: Filter): boolean {
  const wanted = filter.value.split(/(?<!\\),/).map((v) => v.replace(/\\,/g, ','));
  if (filter.code === '_id') {
    return wanted.includes(resource.id as string);
  }
  const identifiers = (resource as { identifier?: { system?: string; value?: string }[] }).identifier ?? [];
  return wanted.some((w) => identifiers.some((idf) => tokenMatches(idf.system, idf.value, w)));
}

/** FHIR token semantics for `[system]|[value]`, `|[value]`, `[system]|` and `[value]`, case-insensitive. */
function tokenMatches(system: string | undefined, value: string | undefined, filterValue: string): boolean {
  const sys = system?.toLowerCase();
  const val = value?.toLowerCase();
  const bar = filterValue.indexOf('|');
  if (bar < 0) {
    return val === filterValue.toLowerCase();
  }
  const fs = filterValue.slice(0, bar).toLowerCase();
  const fv = filterValue.slice(bar + 1).toLowerCase();
  if (!fs && !fv) {
    return false;
  }
  if (!fs) {
    return !sys && val === fv;
  }
  return sys === fs && (!fv || val === fv);
}

/** Equal content, ignoring meta.versionId/lastUpdated, key order and empty values. */
export function sameContent(a: Resource, b: Resource): boolean {
  return canonical(a) === canonical(b);
}

function canonical(resource: Resource): string {
  const copy = JSON.parse(stringify(resource)) as Resource;
  if (copy.meta) {
    delete copy.meta.versionId;
    delete copy.meta.lastUpdated;
    if (Object.keys(copy.meta).length === 0) {
      delete copy.meta;
    }
  }
  return JSON.stringify(sortKeys(copy));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map(sortKeys);
  }
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}
