import type { Filter, SearchRequest } from '@medplum/core';
import { getSearchParameter, Operator, tryGetDataType } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';

/**
 * Searches made only of `identifier` and `_id` equality filters (the conditional keys of the mapping
 * contract). MemoryRepository evaluates the R4 `identifier` parameter's FHIRPath union over ~40
 * resource types for every stored resource (about 13 µs each: 25 ms a search at 2,000 Patients with two
 * identifiers each, measured with MemoryRepository 5.2.13); these are matched directly:
 * case-insensitive, comma = or, `\,` a literal comma, `[system]|[value]`, `|[value]`, `[system]|`, `[value]`.
 * That is @medplum/core's token matching for the identifiers the mapping writes; it differs for a search value
 * holding a second unescaped `|` (here the rest is the value, Medplum drops it) and for malformed stored
 * identifiers (non-string parts), which no conditional key of the mapping contract produces.
 */
export function isTokenSearch(searchRequest: SearchRequest): boolean {
  const filters = searchRequest.filters ?? [];
  return (
    filters.length > 0 &&
    filters.every(
      (f) =>
        f.operator === Operator.EQUALS &&
        (f.code === '_id' || (f.code === 'identifier' && identifierIsOwnList(searchRequest.resourceType))),
    )
  );
}

const ownIdentifierList = new Map<string, boolean>();

/**
 * Whether the type's `identifier` search parameter is its own `identifier` list, the one shape matched
 * and indexed here. Others are scanned: a single Identifier (QuestionnaireResponse, Bundle, Composition),
 * or more than one path (DocumentReference: masterIdentifier too).
 */
function identifierIsOwnList(resourceType: string): boolean {
  let own = ownIdentifierList.get(resourceType);
  if (own === undefined) {
    const param = getSearchParameter(resourceType, 'identifier');
    if (!param) {
      return false; // no such parameter, or the definitions are not loaded yet: nothing to remember
    }
    const paths = (param.expression ?? '')
      .split('|')
      .map((p) => p.trim())
      .filter((p) => p.startsWith(`${resourceType}.`));
    own =
      paths.length === 1 &&
      paths[0] === `${resourceType}.identifier` &&
      tryGetDataType(resourceType)?.elements.identifier?.isArray === true;
    ownIdentifierList.set(resourceType, own);
  }
  return own;
}

/** A filter's alternatives: comma = or, `\,` is a literal comma. */
function filterValues(filter: Filter): string[] {
  return filter.value.split(/(?<!\\),/).map((v) => v.replace(/\\,/g, ','));
}

export function matchesTokenFilter(resource: Resource, filter: Filter): boolean {
  const wanted = filterValues(filter);
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

// Index keys. They only narrow the candidates: every candidate is checked with matchesTokenFilter,
// so a key shared by two different identifiers (a `|` inside a system) costs a check, not a result.
const BY_VALUE = 'v:';
const BY_SYSTEM = 's:';
const BY_BOTH = 'b:';

/** The key under which everything a filter alternative can match is indexed; undefined: matches nothing. */
function lookupKey(filterValue: string): string | undefined {
  const bar = filterValue.indexOf('|');
  if (bar < 0) {
    return BY_VALUE + filterValue.toLowerCase();
  }
  // Split before lowercasing, as tokenMatches does (lowercasing can change a string's length).
  const fs = filterValue.slice(0, bar).toLowerCase();
  const fv = filterValue.slice(bar + 1).toLowerCase();
  if (!fs) {
    return fv ? BY_VALUE + fv : undefined;
  }
  return fv ? `${BY_BOTH}${fs}|${fv}` : BY_SYSTEM + fs;
}

/**
 * The keys of a resource's identifiers, or undefined when they are not plain strings in an array
 * (a scan of such a resource can throw or match in odd ways: it is then checked on every search).
 */
function identifierKeys(resource: Resource): string[] | undefined {
  const identifiers: unknown = (resource as { identifier?: unknown }).identifier;
  if (identifiers === undefined || identifiers === null) {
    return [];
  }
  if (!Array.isArray(identifiers)) {
    return undefined;
  }
  const keys = new Set<string>();
  for (const idf of identifiers as ({ system?: unknown; value?: unknown } | null | undefined)[]) {
    if (idf === null || idf === undefined) {
      return undefined;
    }
    const { system, value } = idf;
    if ((system != null && typeof system !== 'string') || (value != null && typeof value !== 'string')) {
      return undefined;
    }
    const sys = system?.toLowerCase();
    const val = value?.toLowerCase();
    if (val !== undefined) {
      keys.add(BY_VALUE + val);
    }
    if (sys) {
      keys.add(BY_SYSTEM + sys);
      if (val !== undefined) {
        keys.add(`${BY_BOTH}${sys}|${val}`);
      }
    }
  }
  return [...keys];
}

function sameKeys(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((k, i) => k === b[i]);
}

interface TypeIndex {
  /** Insertion rank of each stored id: matches are returned in the store's (Map) order, as a scan finds them. */
  rank: Map<string, number>;
  nextRank: number;
  keysOf: Map<string, string[]>;
  idsOf: Map<string, Set<string>>;
  /** Ids whose identifiers could not be indexed: candidates of every identifier search. */
  irregular: Set<string>;
}

/**
 * Per resource type, identifier token → ids, so that identifier/_id equality searches cost
 * O(matches) instead of a scan of every stored resource of the type. The repository calls update()
 * after every write of a resource and rebuild() when it replaces a type's map wholesale.
 */
export class TokenIndex {
  private readonly types = new Map<string, TypeIndex>();

  /** Brings the index in line with the stored resource (undefined: no longer stored). */
  update(resourceType: string, id: string, stored: Resource | undefined): void {
    const t = this.typeIndex(resourceType);
    const keys = stored && identifierKeys(stored);
    const before = t.keysOf.get(id);
    if (keys && before && sameKeys(keys, before)) {
      return; // a new version with the same identifiers (the usual update): nothing to move
    }
    for (const key of before ?? []) {
      const ids = t.idsOf.get(key) as Set<string>;
      ids.delete(id);
      if (ids.size === 0) {
        t.idsOf.delete(key);
      }
    }
    t.keysOf.delete(id);
    t.irregular.delete(id);
    if (!stored) {
      t.rank.delete(id);
      return;
    }
    if (!t.rank.has(id)) {
      t.rank.set(id, t.nextRank++);
    }
    if (!keys) {
      t.irregular.add(id);
      return;
    }
    t.keysOf.set(id, keys);
    for (const key of keys) {
      let ids = t.idsOf.get(key);
      if (!ids) {
        ids = new Set();
        t.idsOf.set(key, ids);
      }
      ids.add(id);
    }
  }

  /** Re-indexes a type from its stored map (in the map's order); undefined drops the type. */
  rebuild(resourceType: string, byId: Map<string, Resource> | undefined): void {
    this.types.delete(resourceType);
    for (const [id, resource] of byId ?? []) {
      this.update(resourceType, id, resource);
    }
  }

  clear(): void {
    this.types.clear();
  }

  /** The stored resources matching every filter (see isTokenSearch), in the store's order. */
  search(resourceType: string, filters: Filter[], byId: Map<string, Resource>): Resource[] {
    const t = this.types.get(resourceType);
    if (!t || filters.length === 0) {
      return [];
    }
    // Any one filter's candidates hold every match; take the fewest.
    let fewest: Set<string> | undefined;
    for (const filter of filters) {
      const candidates = this.candidates(t, filter, byId);
      if (!fewest || candidates.size < fewest.size) {
        fewest = candidates;
      }
    }
    const matches: string[] = [];
    for (const id of new Set([...(fewest as Set<string>), ...t.irregular])) {
      const resource = byId.get(id);
      if (resource && filters.every((f) => matchesTokenFilter(resource, f))) {
        matches.push(id);
      }
    }
    matches.sort((a, b) => (t.rank.get(a) as number) - (t.rank.get(b) as number));
    return matches.map((id) => byId.get(id) as Resource);
  }

  private candidates(t: TypeIndex, filter: Filter, byId: Map<string, Resource>): Set<string> {
    const out = new Set<string>();
    for (const w of filterValues(filter)) {
      if (filter.code === '_id') {
        if (byId.has(w)) {
          out.add(w);
        }
        continue;
      }
      const key = lookupKey(w);
      for (const id of (key && t.idsOf.get(key)) || []) {
        out.add(id);
      }
    }
    return out;
  }

  private typeIndex(resourceType: string): TypeIndex {
    let t = this.types.get(resourceType);
    if (!t) {
      t = { rank: new Map(), nextRank: 0, keysOf: new Map(), idsOf: new Map(), irregular: new Set() };
      this.types.set(resourceType, t);
    }
    return t;
  }
}
