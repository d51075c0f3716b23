import type { Resource } from '@medplum/fhirtypes';

/**
 * Returns `value` with every `reference` string (Reference.reference, wherever it sits) passed through `map`: a
 * string replaces it, undefined keeps it, null removes the whole Reference (from its array, or the property
 * holding it). Copy on write: only the objects and arrays on the path to a changed reference are copied; the rest
 * is shared with `value` (which is never modified), so callers must not modify the result in place either.
 */
export function rewriteReferences<T>(value: T, map: (reference: string) => string | null | undefined): T {
  return rewrite(value, map) as T;
}

const REMOVE = Symbol('remove');

// A push rewrote every resource twice as full deep copies, though a resource holds only a few references: most of
// what it allocated was garbage copies of codings and quantities that nothing changed.
function rewrite(value: unknown, map: (reference: string) => string | null | undefined): unknown {
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const r = rewrite(item, map);
      if (r !== item && out === undefined) {
        out = value.slice(0, i);
      }
      if (out !== undefined && r !== REMOVE) {
        out.push(r);
      }
    }
    return out ?? value;
  }
  if (value && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    if (typeof obj.reference === 'string') {
      const mapped = map(obj.reference);
      if (mapped === null) {
        return REMOVE;
      }
      if (mapped !== undefined && mapped !== obj.reference) {
        // A Reference has no nested References worth visiting except in its extensions; keep it simple.
        return { ...obj, reference: mapped };
      }
      if (mapped !== undefined) {
        return obj;
      }
    }
    const keys = Object.keys(obj);
    let out: Record<string, unknown> | undefined;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      const v = obj[key];
      const r = rewrite(v, map);
      if (r === v) {
        if (out !== undefined) {
          out[key] = v;
        }
        continue;
      }
      if (out === undefined) {
        out = {};
        for (let k = 0; k < i; k++) {
          out[keys[k]] = obj[keys[k]];
        }
      }
      if (r === REMOVE) {
        continue;
      }
      if (Array.isArray(r) && r.length === 0 && Array.isArray(v) && v.length > 0) {
        continue; // every Reference in the array was removed: drop the empty array
      }
      out[key] = r;
    }
    return out ?? obj;
  }
  return value;
}

/** Every `reference` string in a resource, in document order (duplicates kept). */
export function collectReferences(value: unknown): string[] {
  const out: string[] = [];
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) {
      v.forEach(visit);
    } else if (v && typeof v === 'object') {
      const obj = v as Record<string, unknown>;
      if (typeof obj.reference === 'string') {
        out.push(obj.reference);
      }
      Object.values(obj).forEach(visit);
    }
  };
  visit(value);
  return out;
}

/** `Type?query` (a FHIR conditional reference), e.g. Patient?identifier=urn%3Aoid%3A1.2.3|MRN-1. */
export function parseConditionalReference(reference: string): { resourceType: string; query: string } | undefined {
  const m = /^([A-Z][A-Za-z]+)\?(.+)$/.exec(reference);
  return m ? { resourceType: m[1], query: m[2] } : undefined;
}

export function isUrnUuid(reference: string): boolean {
  return /^urn:uuid:[0-9a-fA-F-]{36}$/.test(reference);
}

export interface ReferenceOrder {
  /** Entry indexes in write order: every entry after the entries it references, where there is no cycle. */
  order: number[];
  /**
   * References that point forward in `order` (cycle breakers): [from, to] entry indexes. `from` is written
   * before `to` exists; the writer resolves or drops that reference first and fixes it up afterwards.
   */
  deferred: [number, number][];
}

/**
 * Orders Bundle entries so that referenced entries come first (Kahn's algorithm; ties keep Bundle order). A
 * cycle (e.g. ServiceRequest.specimen ↔ Specimen.request) is broken at an entry on the cycle with the fewest
 * unmet references (earliest in Bundle order on a tie), whose forward references are reported in `deferred`.
 */
export function orderByReferences(entries: { fullUrl?: string; resource?: Resource }[]): ReferenceOrder {
  const n = entries.length;
  const indexOf = new Map<string, number>();
  entries.forEach((e, i) => {
    if (e.fullUrl) {
      indexOf.set(e.fullUrl, i);
    }
  });
  const deps: Set<number>[] = entries.map((e, i) => {
    const s = new Set<number>();
    for (const ref of collectReferences(e.resource)) {
      const j = indexOf.get(ref);
      if (j !== undefined && j !== i) {
        s.add(j);
      }
    }
    return s;
  });

  const done = new Set<number>();
  const order: number[] = [];
  const deferred: [number, number][] = [];
  while (order.length < n) {
    let next = -1;
    for (let i = 0; i < n; i++) {
      if (!done.has(i) && [...deps[i]].every((j) => done.has(j))) {
        next = i;
        break;
      }
    }
    if (next === -1) {
      // Only cycles (and what waits on them) remain: take an entry that lies on a cycle, with the fewest unmet
      // references (then the earliest); those references become deferred.
      let fewest = Number.POSITIVE_INFINITY;
      for (let i = 0; i < n; i++) {
        if (done.has(i) || !onCycle(i, deps, done)) {
          continue;
        }
        const unmet = [...deps[i]].filter((j) => !done.has(j)).length;
        if (unmet < fewest) {
          fewest = unmet;
          next = i;
        }
      }
      for (const j of deps[next]) {
        if (!done.has(j)) {
          deferred.push([next, j]);
        }
      }
    }
    done.add(next);
    order.push(next);
  }
  return { order, deferred };
}

/** True when entry `start` reaches itself through references to entries not yet written. */
function onCycle(start: number, deps: Set<number>[], done: Set<number>): boolean {
  const seen = new Set<number>();
  const stack = [...deps[start]].filter((j) => !done.has(j));
  while (stack.length) {
    const k = stack.pop() as number;
    if (k === start) {
      return true;
    }
    if (seen.has(k)) {
      continue;
    }
    seen.add(k);
    for (const j of deps[k]) {
      if (!done.has(j)) {
        stack.push(j);
      }
    }
  }
  return false;
}
