import { applyPatch, createPatch } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';

/** One RFC 6902 operation (the subset createPatch produces plus the rest, for consumers). */
export interface JsonPatchOperation {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  value?: unknown;
  from?: string;
}

/** Elements the server owns or that do not carry clinical content: ignored when comparing. */
const IGNORED_TOP_LEVEL = new Set(['id', 'meta', 'text']);

/**
 * The content of a resource that a push compares: a deep copy without id, meta and text, and without
 * undefined members or empty arrays/objects (which JSON cannot tell from absent).
 */
export function contentOf(resource: Resource): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(resource)) {
    if (IGNORED_TOP_LEVEL.has(key)) {
      continue;
    }
    const cleaned = clean(value);
    if (cleaned !== undefined) {
      out[key] = cleaned;
    }
  }
  return out;
}

/**
 * Same content (ignoring id, meta and text); member order does not matter, array order does. Equal exactly when
 * the canonical JSON of both `contentOf`s is, compared in place (a push compares every entry with the EHR's copy).
 */
export function sameContent(a: Resource, b: Resource): boolean {
  return sameMembers(
    a as unknown as Record<string, unknown>,
    b as unknown as Record<string, unknown>,
    IGNORED_TOP_LEVEL,
  );
}

/** The members of two objects (but `ignored`) hold the same values; a member absent on one side is absent on both. */
function sameMembers(x: Record<string, unknown>, y: Record<string, unknown>, ignored?: ReadonlySet<string>): boolean {
  for (const key of Object.keys(x)) {
    if (!ignored?.has(key) && !sameValue(x[key], y[key])) {
      return false;
    }
  }
  return Object.keys(y).every((key) => ignored?.has(key) || key in x || isAbsent(y[key]));
}

/** What `clean` drops: undefined, null, and arrays or objects holding nothing else. */
function isAbsent(value: unknown): boolean {
  if (value === undefined || value === null) {
    return true;
  }
  if (Array.isArray(value)) {
    return value.every(isAbsent);
  }
  return typeof value === 'object' && Object.values(value).every(isAbsent);
}

function sameValue(a: unknown, b: unknown): boolean {
  const aAbsent = isAbsent(a);
  if (aAbsent || isAbsent(b)) {
    return aAbsent && isAbsent(b);
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => sameValue(v, b[i]));
  }
  if (typeof a === 'object' && typeof b === 'object') {
    return sameMembers(a as Record<string, unknown>, b as Record<string, unknown>);
  }
  return a === b;
}

/** RFC 6902 JSON Patch turning the content of `current` into the content of `next` (id/meta/text ignored). */
export function contentPatch(current: Resource, next: Resource): JsonPatchOperation[] {
  return createPatch(contentOf(current), contentOf(next)) as JsonPatchOperation[];
}

/** Applies a JSON Patch to a copy of `target` (used by tests and the dry run's consumers). */
export function applyJsonPatch<T>(target: T, patch: JsonPatchOperation[]): T {
  const copy = structuredClone(target);
  const results = applyPatch(copy, patch as Parameters<typeof applyPatch>[1]);
  const failed = results.find((r) => r !== null);
  if (failed) {
    throw new Error(`JSON Patch failed: ${String(failed)}`);
  }
  return copy;
}

/** JSON with object keys sorted, for equality tests independent of member order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map(sortKeys);
  }
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      out[key] = sortKeys((value as Record<string, unknown>)[key]);
    }
    return out;
  }
  return value;
}

function clean(value: unknown): unknown {
  if (value === undefined || value === null) {
    return undefined;
  }
  if (Array.isArray(value)) {
    // null keeps its place (FHIR JSON aligns `_given: [null, {...}]` with `given`).
    const items = value.map((v) => clean(v) ?? null);
    return items.some((v) => v !== null) ? items : undefined;
  }
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const c = clean(v);
      if (c !== undefined) {
        out[k] = c;
      }
    }
    return Object.keys(out).length ? out : undefined;
  }
  return value;
}
