/** Walking and rewriting `reference` strings inside resources. */

export interface ReferenceHolder {
  reference: string;
  /** The FHIRPath-ish location, e.g. "Observation.subject" (for messages). */
  path: string;
}

/** Every object with a string `reference` inside `value` (contained resources included). */
export function collectReferences(value: unknown, path: string): ReferenceHolder[] {
  const found: { holder: Record<string, unknown>; path: string }[] = [];
  walk(value, path, found);
  return found.map((f) => ({ reference: f.holder.reference as string, path: f.path }));
}

/**
 * Replaces each `reference` string for which `map` returns a new value. `map` may be async
 * (conditional references are resolved by a search). Mutates `value`.
 */
export async function rewriteReferences(
  value: unknown,
  path: string,
  map: (reference: string, path: string) => Promise<string | undefined> | string | undefined,
): Promise<void> {
  const found: { holder: Record<string, unknown>; path: string }[] = [];
  walk(value, path, found);
  for (const f of found) {
    const replacement = await map(f.holder.reference as string, f.path);
    if (replacement !== undefined) {
      f.holder.reference = replacement;
    }
  }
}

function walk(value: unknown, path: string, out: { holder: Record<string, unknown>; path: string }[]): void {
  if (Array.isArray(value)) {
    for (const item of value) {
      walk(item, path, out);
    }
    return;
  }
  if (!value || typeof value !== 'object') {
    return;
  }
  const obj = value as Record<string, unknown>;
  if (typeof obj.reference === 'string') {
    out.push({ holder: obj, path });
  }
  for (const [key, child] of Object.entries(obj)) {
    if (key !== 'reference' && child && typeof child === 'object') {
      walk(child, `${path}.${key}`, out);
    }
  }
}

const CONDITIONAL_RE = /^([A-Z][A-Za-z]+)\?(.+)$/;
const LOCAL_RE = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(\/_history\/[A-Za-z0-9\-.]{1,64})?$/;

/** `Patient?identifier=sys|val` → { resourceType, query }. */
export function parseConditionalReference(reference: string): { resourceType: string; query: string } | undefined {
  const m = CONDITIONAL_RE.exec(reference);
  return m ? { resourceType: m[1], query: m[2] } : undefined;
}

/** `Patient/123` or `Patient/123/_history/4` → { resourceType, id }. */
export function parseLocalReference(reference: string): { resourceType: string; id: string } | undefined {
  const m = LOCAL_RE.exec(reference);
  return m ? { resourceType: m[1], id: m[2] } : undefined;
}
