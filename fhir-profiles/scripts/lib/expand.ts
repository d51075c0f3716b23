/**
 * Local ValueSet expansion. Every ValueSet of the project enumerates its codes (compose.include.concept), or
 * includes a whole code system of the project; filters, imported value sets and excludes are refused so that a
 * validator never needs a terminology server.
 */
import type { FhirJson } from './run-sushi';

interface Concept {
  code: string;
  display?: string;
  concept?: Concept[];
}
interface Include {
  system?: string;
  version?: string;
  concept?: { code: string; display?: string }[];
  filter?: unknown[];
  valueSet?: string[];
}
export interface ExpansionContains {
  system: string;
  version?: string;
  code: string;
  display?: string;
}

/** Fixed so that the build is byte-for-byte reproducible; the expansion depends only on the compose. */
export const EXPANSION_TIMESTAMP = '2026-01-01T00:00:00Z';

function flatten(concepts: Concept[] | undefined, out: Concept[] = []): Concept[] {
  for (const c of concepts ?? []) {
    out.push(c);
    flatten(c.concept, out);
  }
  return out;
}

/**
 * Add an `expansion` to every ValueSet in `resources` (in place) and return the expansions by ValueSet url.
 */
export function expandValueSets(resources: FhirJson[]): Map<string, ExpansionContains[]> {
  const codeSystems = new Map<string, Concept[]>();
  for (const r of resources) {
    if (r.resourceType === 'CodeSystem' && r.url) codeSystems.set(r.url, flatten(r.concept as Concept[]));
  }
  const result = new Map<string, ExpansionContains[]>();
  for (const r of resources) {
    if (r.resourceType !== 'ValueSet') continue;
    const compose = r.compose as { include?: Include[]; exclude?: unknown[] } | undefined;
    if (compose?.exclude?.length) throw new Error(`ValueSet ${r.id}: exclude is not supported by the local expansion`);
    const contains: ExpansionContains[] = [];
    const seen = new Set<string>();
    for (const inc of compose?.include ?? []) {
      if (inc.filter?.length || inc.valueSet?.length || !inc.system) {
        throw new Error(
          `ValueSet ${r.id}: enumerate codes explicitly (filters and imported value sets cannot be expanded locally)`,
        );
      }
      const local = codeSystems.get(inc.system);
      const concepts = inc.concept ?? local?.map((c) => ({ code: c.code, display: c.display }));
      if (!concepts)
        throw new Error(`ValueSet ${r.id}: includes all of ${inc.system}, which is not a project code system`);
      for (const c of concepts) {
        if (local && !local.some((lc) => lc.code === c.code)) {
          throw new Error(`ValueSet ${r.id}: code ${c.code} is not in code system ${inc.system}`);
        }
        const key = `${inc.system}|${c.code}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const display = c.display ?? local?.find((lc) => lc.code === c.code)?.display;
        contains.push({
          system: inc.system,
          ...(inc.version ? { version: inc.version } : {}),
          code: c.code,
          ...(display ? { display } : {}),
        });
      }
    }
    r.expansion = {
      identifier: `${r.url}/expansion`,
      timestamp: EXPANSION_TIMESTAMP,
      total: contains.length,
      contains,
    };
    result.set(r.url as string, contains);
  }
  return result;
}
