import { deepClone, OperationOutcomeError, preconditionFailed, stringify } from '@medplum/core';
import type { WithId } from '@medplum/core';
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
