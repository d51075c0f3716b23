import {
  deepClone,
  isCreated,
  matchesSearchRequest,
  notFound,
  OperationOutcomeError,
  preconditionFailed,
  stringify,
} from '@medplum/core';
import type { SearchRequest, WithId } from '@medplum/core';
import type { CreateResourceOptions, DeleteResourceOptions, UpdateResourceOptions } from '@medplum/fhir-router';
import { MemoryRepository } from '@medplum/fhir-router';
import type { Bundle, BundleEntry, OperationOutcome, Resource } from '@medplum/fhirtypes';
import { isTokenSearch, matchesTokenFilter, TokenIndex } from './token-index';

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

/** What a rollback puts back: each touched resource as it was before its first write. */
interface Journal {
  /** `Type/id` → the stored resource (undefined: none) and the length of its history (undefined: none). */
  before: Map<string, { resourceType: string; id: string; resource?: Resource; versions?: number }>;
  /** Types that had no map yet: dropped again. */
  newTypes: Set<string>;
  /**
   * A type's maps as they were at its first removal (delete, expunge): putting a removed id back would
   * move it to the end of the map, and the map's order is the order of search results.
   */
  beforeRemoval: Map<string, { resources: Map<string, Resource>; history?: Map<string, Resource[]> }>;
}

/**
 * MemoryRepository with what the sandbox needs on top:
 * - atomically() so that a failed transaction leaves nothing behind (MemoryRepository.withTransaction
 *   has no rollback): an undo journal of the resources it touched, not a copy of the whole store;
 * - snapshot()/restore() of the whole store (tests);
 * - updates whose content equals the current version are no-ops (no new version), as on HAPI and
 *   the Medplum server, so a re-sent conditional update changes nothing;
 * - identifier/_id equality searches answered from an index (see TokenIndex), kept in step by the
 *   write methods below;
 * - readHistory without the in-place reverse() of the stored history (5.2.13 flips the order on
 *   every call), newest first, with request/response per entry, honouring _offset/_count;
 * - countByType() for tests and admin stats;
 * - `shared`, reads without copies for the router's GET handlers.
 */
export class SandboxRepository extends MemoryRepository {
  private readonly tokens = new TokenIndex();
  private journal?: Journal;
  /** False only on `shared`. */
  private copiesOut = true;

  /**
   * The same store, whose reads (readResource, readVersion, readHistory, identifier/_id searches) hand out
   * the stored resources themselves, not copies. For the router's GET handlers, whose answers are only
   * serialized: stored resources are never mutated (every write stores a new object), and a copy made
   * only to be serialized and dropped was a third of a search's cost. Read-only: write through the
   * repository itself. Its own reads keep copying, for callers that may change what they get.
   */
  readonly shared: SandboxRepository = sharedView(this);

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
    this.tokens.clear();
    for (const [type, byId] of resources) {
      this.tokens.rebuild(type, byId);
    }
  }

  /**
   * Runs fn; when it throws, every write it made is undone (the store is as before, map order
   * included) and the error is rethrown. Not reentrant; callers serialize (the sandbox's mutex).
   */
  async atomically<T>(fn: () => Promise<T>): Promise<T> {
    if (this.journal) {
      throw new Error('SandboxRepository.atomically() is not reentrant');
    }
    const journal: Journal = { before: new Map(), newTypes: new Set(), beforeRemoval: new Map() };
    this.journal = journal;
    try {
      return await fn();
    } catch (err) {
      this.rollback(journal);
      throw err;
    } finally {
      this.journal = undefined;
    }
  }

  private rollback(journal: Journal): void {
    const { resources, history } = this.internals;
    for (const [type, maps] of journal.beforeRemoval) {
      resources.set(type, maps.resources);
      if (maps.history) {
        history.set(type, maps.history);
      } else {
        history.delete(type);
      }
    }
    for (const { resourceType, id, resource, versions } of journal.before.values()) {
      if (journal.newTypes.has(resourceType)) {
        continue;
      }
      const byId = resources.get(resourceType);
      if (resource) {
        byId?.set(id, resource);
      } else {
        byId?.delete(id);
      }
      const versionsById = history.get(resourceType);
      if (versions === undefined) {
        versionsById?.delete(id);
      } else {
        // Versions are only ever appended to the array; drop those the journal's writes added.
        const list = versionsById?.get(id);
        if (list) {
          list.length = versions;
        }
      }
      this.tokens.update(resourceType, id, byId?.get(id));
    }
    for (const type of journal.newTypes) {
      resources.delete(type);
      history.delete(type);
    }
    for (const type of new Set([...journal.beforeRemoval.keys(), ...journal.newTypes])) {
      this.tokens.rebuild(type, resources.get(type));
    }
  }

  /** Journals the resource's state before a write (the first one of the journal counts). */
  private beforeWrite(resourceType: string, id: string | undefined, removes = false): void {
    const journal = this.journal;
    if (!journal) {
      return;
    }
    const { resources, history } = this.internals;
    if (!resources.has(resourceType)) {
      journal.newTypes.add(resourceType);
    }
    if (removes && !journal.beforeRemoval.has(resourceType) && !journal.newTypes.has(resourceType)) {
      const versionsById = history.get(resourceType);
      journal.beforeRemoval.set(resourceType, {
        resources: new Map(resources.get(resourceType)),
        history: versionsById && new Map(versionsById),
      });
    }
    const key = `${resourceType}/${id}`;
    if (id && !journal.before.has(key)) {
      journal.before.set(key, {
        resourceType,
        id,
        resource: resources.get(resourceType)?.get(id),
        versions: history.get(resourceType)?.get(id)?.length,
      });
    }
  }

  /** Re-indexes a resource after a write. */
  private afterWrite(resourceType: string, id: string): void {
    this.tokens.update(resourceType, id, this.peek(resourceType, id));
  }

  override async createResource<T extends Resource>(
    resource: T,
    options?: CreateResourceOptions,
    update?: boolean,
  ): Promise<WithId<T>> {
    this.beforeWrite(resource.resourceType, resource.id);
    const stored = await super.createResource(resource, options, update);
    // Without an id, MemoryRepository generated a new one: nothing stood there before.
    this.beforeWrite(stored.resourceType, stored.id);
    this.afterWrite(stored.resourceType, stored.id);
    return stored;
  }

  override async conditionalCreate<T extends Resource>(
    resource: T,
    search: SearchRequest<T>,
    options?: CreateResourceOptions,
  ): Promise<{ resource: WithId<T>; outcome: OperationOutcome }> {
    // MemoryRepository stores the new resource itself (not through createResource).
    this.beforeWrite(resource.resourceType, resource.id);
    const result = await super.conditionalCreate(resource, search, options);
    if (isCreated(result.outcome)) {
      this.beforeWrite(result.resource.resourceType, result.resource.id);
      this.afterWrite(result.resource.resourceType, result.resource.id);
    }
    return result;
  }

  override async deleteResource(resourceType: string, id: string, options?: DeleteResourceOptions): Promise<void> {
    this.beforeWrite(resourceType, id, true);
    await super.deleteResource(resourceType, id, options);
    this.afterWrite(resourceType, id);
  }

  override async expungeResources(resourceType: string, ids: string[]): Promise<void> {
    for (const id of ids) {
      this.beforeWrite(resourceType, id, true);
    }
    await super.expungeResources(resourceType, ids);
    for (const id of ids) {
      this.afterWrite(resourceType, id);
    }
  }

  override clear(): void {
    super.clear();
    this.tokens.clear();
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

  override async readResource<T extends Resource>(resourceType: string, id: string): Promise<T> {
    return this.out(this.current(resourceType, id)) as T;
  }

  override async readVersion<T extends Resource>(resourceType: string, id: string, versionId: string): Promise<T> {
    this.current(resourceType, id); // 404 when absent or deleted, as MemoryRepository
    const version = this.internals.history
      .get(resourceType)
      ?.get(id)
      ?.find((v) => v.meta?.versionId === versionId);
    if (!version) {
      throw new OperationOutcomeError(notFound);
    }
    return this.out(version) as T;
  }

  /** The current resource (not copied); 404 when absent or deleted, as MemoryRepository's reads. */
  private current(resourceType: string, id: string): Resource {
    const stored = this.peek(resourceType, id);
    if (!stored) {
      throw new OperationOutcomeError(notFound);
    }
    return stored;
  }

  /** What a read hands out: a copy, except on `shared`. */
  private out(stored: Resource): Resource {
    return this.copiesOut ? deepClone(stored) : stored;
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

  override async search<T extends Resource>(searchRequest: SearchRequest<T>): Promise<Bundle<WithId<T>>> {
    if (
      !isTokenSearch(searchRequest) ||
      searchRequest.include?.length ||
      searchRequest.revInclude?.length ||
      searchRequest.sortRules?.length
    ) {
      return super.search(searchRequest);
    }
    const byId = this.internals.resources.get(searchRequest.resourceType) ?? new Map<string, Resource>();
    const matches = this.tokens.search(searchRequest.resourceType, searchRequest.filters ?? [], byId);
    let page = matches;
    if (searchRequest.offset !== undefined) {
      page = page.slice(searchRequest.offset);
    }
    if (searchRequest.count !== undefined) {
      page = page.slice(0, searchRequest.count);
    }
    const entry = page.map((r): BundleEntry<WithId<T>> => ({
      search: { mode: 'match' },
      resource: this.out(r) as WithId<T>,
    }));
    return { resourceType: 'Bundle', type: 'searchset', total: matches.length, ...(entry.length ? { entry } : {}) };
  }
  override async readHistory<T extends Resource>(
    resourceType: string,
    id: string,
    options?: { offset?: number; limit?: number },
  ): Promise<Bundle<T>> {
    this.current(resourceType, id); // 404 when absent or deleted
    const versions = this.internals.history.get(resourceType)?.get(id) ?? [];
    const newestFirst = versions.map((v, i) => ({ v, i })).reverse();
    const offset = options?.offset ?? 0;
    const page = newestFirst.slice(offset, options?.limit === undefined ? undefined : offset + options.limit);
    const entry = page.map(({ v, i }): BundleEntry<T> => ({
      resource: this.out(v) as T,
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

/** What writes: refused on the shared view, whose readers get the stored objects themselves. */
const WRITE_METHODS = [
  'createResource',
  'conditionalCreate',
  'updateResource',
  'patchResource',
  'deleteResource',
  'expungeResource',
  'expungeResources',
  'withTransaction',
  'withSeeding',
  'atomically',
  'restore',
  'clear',
] as const;

/**
 * A view of repo (every method and field inherited) that reads without copies; see SandboxRepository.shared. Its
 * write methods throw: a write through it would run with the view as `this` (its own journal, its own state).
 */
function sharedView(repo: SandboxRepository): SandboxRepository {
  const view = Object.create(repo) as SandboxRepository;
  Object.defineProperty(view, 'copiesOut', { value: false });
  for (const name of WRITE_METHODS) {
    Object.defineProperty(view, name, {
      value: () => {
        throw new Error(`SandboxRepository.shared is read-only: ${name}() goes through the repository itself`);
      },
    });
  }
  return view;
}

/** matchesSearchRequest, with the identifier/_id fast path. */
export function matchesSearch(resource: Resource, searchRequest: SearchRequest): boolean {
  if (!isTokenSearch(searchRequest)) {
    return matchesSearchRequest(resource, searchRequest);
  }
  return (
    resource.resourceType === searchRequest.resourceType &&
    (searchRequest.filters ?? []).every((f) => matchesTokenFilter(resource, f))
  );
}

/**
 * Equal content, ignoring meta.versionId/lastUpdated, key order and what @medplum/core's stringify drops
 * (undefined, null and '' values, arrays and objects holding nothing else; inside a kept array they stay
 * as null): the answer of canonicalContent(a) === canonicalContent(b), found by walking both resources in
 * place (no serialization) and stopping at the first difference. A value JSON cannot hold (a function,
 * NaN, a Date, ...) met on the way hands the pair to canonicalContent.
 */
export function sameContent(a: Resource, b: Resource): boolean {
  try {
    return sameResource(a, b);
  } catch (err) {
    if (err === NOT_JSON) {
      return canonicalContent(a) === canonicalContent(b);
    }
    throw err;
  }
}

/** The content sameContent compares, as text: stringify's output without meta.versionId/lastUpdated, keys sorted. */
export function canonicalContent(resource: Resource): string {
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

/** Thrown (and caught by sameContent) at a value outside JSON data, whose canonical form is not worked out here. */
const NOT_JSON = new Error('not JSON data');

const EMPTY = 0; // undefined, null, '': dropped by stringify
const PRIMITIVE = 1; // a non-empty string, a finite number, a boolean
const ARRAY = 2;
const OBJECT = 3; // a plain object without toJSON

type Obj = Record<string, unknown>;

function kind(v: unknown): number {
  if (v === undefined || v === null || v === '') {
    return EMPTY;
  }
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return PRIMITIVE;
    case 'number':
      if (Number.isFinite(v)) {
        return PRIMITIVE;
      }
      throw NOT_JSON; // NaN and Infinity serialize as null
    case 'object': {
      if (Array.isArray(v)) {
        return ARRAY;
      }
      const proto: unknown = Object.getPrototypeOf(v);
      if ((proto === Object.prototype || proto === null) && typeof (v as Obj).toJSON !== 'function') {
        return OBJECT;
      }
      throw NOT_JSON;
    }
    default:
      throw NOT_JSON; // function, symbol, bigint
  }
}

/** Whether stringify drops the value altogether (inside an array: writes null). */
function isEmptyValue(v: unknown): boolean {
  switch (kind(v)) {
    case EMPTY:
      return true;
    case PRIMITIVE:
      return false;
    case ARRAY:
      for (const item of v as unknown[]) {
        if (!isEmptyValue(item)) {
          return false;
        }
      }
      return true;
    default:
      for (const key in v as Obj) {
        if (!isEmptyValue((v as Obj)[key])) {
          return false;
        }
      }
      return true;
  }
}

function sameValue(a: unknown, b: unknown): boolean {
  // Both kinds first: a decision is only taken on values whose serialized form is known.
  const ka = kind(a);
  const kb = kind(b);
  if (ka === PRIMITIVE || kb === PRIMITIVE) {
    return a === b;
  }
  if (ka === EMPTY) {
    return isEmptyValue(b);
  }
  if (kb === EMPTY) {
    return isEmptyValue(a);
  }
  if (ka === ARRAY && kb === ARRAY && (a as unknown[]).length === (b as unknown[]).length) {
    // Same length: empty items on both sides are both null (or both arrays are dropped).
    const xs = a as unknown[];
    const ys = b as unknown[];
    for (let i = 0; i < xs.length; i++) {
      if (!sameValue(xs[i], ys[i])) {
        return false;
      }
    }
    return true;
  }
  if (ka === OBJECT && kb === OBJECT) {
    return sameObject(a as Obj, b as Obj, false);
  }
  // An array against an object, or arrays of different lengths: equal only when both are dropped.
  return isEmptyValue(a) && isEmptyValue(b);
}

function own(o: Obj, key: string): unknown {
  return Object.hasOwn(o, key) ? o[key] : undefined;
}

/** Keys missing on one side count as undefined; `meta` skips versionId and lastUpdated. */
function sameObject(a: Obj, b: Obj, meta: boolean): boolean {
  for (const key in a) {
    if (meta && (key === 'versionId' || key === 'lastUpdated')) {
      continue;
    }
    if (!sameValue(a[key], own(b, key))) {
      return false;
    }
  }
  for (const key in b) {
    if (meta && (key === 'versionId' || key === 'lastUpdated')) {
      continue;
    }
    if (!Object.hasOwn(a, key) && !isEmptyValue(b[key])) {
      return false;
    }
  }
  return true;
}

function sameResource(a: Resource, b: Resource): boolean {
  const ra = a as unknown as Obj;
  const rb = b as unknown as Obj;
  // stringify of nothing is '', which canonicalContent cannot parse: it throws, so must this.
  if (kind(ra) !== OBJECT || kind(rb) !== OBJECT || isEmptyValue(ra) || isEmptyValue(rb)) {
    throw NOT_JSON;
  }
  const ma = ra.meta;
  const mb = rb.meta;
  const kma = kind(ma);
  const kmb = kind(mb);
  // A meta that is not an object (not FHIR) is left to canonicalContent, as is its odd treatment there.
  if ((kma !== EMPTY && kma !== OBJECT) || (kmb !== EMPTY && kmb !== OBJECT)) {
    throw NOT_JSON;
  }
  // A meta left with nothing once versionId and lastUpdated are gone is dropped: an empty object does the same.
  if (!sameObject(kma === EMPTY ? {} : (ma as Obj), kmb === EMPTY ? {} : (mb as Obj), true)) {
    return false;
  }
  for (const key in ra) {
    if (key !== 'meta' && !sameValue(ra[key], own(rb, key))) {
      return false;
    }
  }
  for (const key in rb) {
    if (key !== 'meta' && !Object.hasOwn(ra, key) && !isEmptyValue(rb[key])) {
      return false;
    }
  }
  return true;
}
