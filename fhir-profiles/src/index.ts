/**
 * @marrowbridge/fhir-profiles: where the compiled profiles and the example instances are, and small loaders.
 * The compiled output (build/) is committed; rebuild it with `pnpm --filter @marrowbridge/fhir-profiles build`.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Bundle, Resource, StructureDefinition } from '@medplum/fhirtypes';

export const PACKAGE_DIR = path.resolve(__dirname, '..');
/** Compiled conformance resources, bundle.json, docs/ and manifest.json. */
export const BUILD_DIR = path.join(PACKAGE_DIR, 'build');
export const EXAMPLES_DIR = path.join(PACKAGE_DIR, 'examples');

export const CANONICAL_BASE = 'http://marrowbridge.org/fhir';

/** Canonical URLs of the six profiles (notes/mapping-contract.md). */
export const PROFILE_URLS = {
  serviceRequest: `${CANONICAL_BASE}/StructureDefinition/bma-service-request`,
  procedure: `${CANONICAL_BASE}/StructureDefinition/bma-procedure`,
  aspirateSpecimen: `${CANONICAL_BASE}/StructureDefinition/bma-aspirate-specimen`,
  trephineSpecimen: `${CANONICAL_BASE}/StructureDefinition/bma-trephine-specimen`,
  diagnosticReport: `${CANONICAL_BASE}/StructureDefinition/bma-diagnostic-report`,
  resultObservation: `${CANONICAL_BASE}/StructureDefinition/bma-result-observation`,
} as const;

export const EXTENSION_URLS = {
  laterality: `${CANONICAL_BASE}/StructureDefinition/bodysite-laterality`,
  qualifier: `${CANONICAL_BASE}/StructureDefinition/bodysite-qualifier`,
} as const;

/** Kinds of profile rule an invalid example breaks. */
export type RuleKind = 'invariant' | 'cardinality' | 'binding' | 'fixed' | 'pattern' | 'type' | 'slice' | 'extension';

/** One entry of examples/invalid/index.json. */
export interface InvalidExample {
  /** File name in examples/invalid. */
  file: string;
  /** The valid example it was made from by one change. */
  derivedFrom: string;
  /** Canonical URL of the profile it must fail. */
  profile: string;
  description: string;
  rule: {
    kind: RuleKind;
    /** Invariant key (kind invariant). */
    key?: string;
    /** Element id in the profile's StructureDefinition that carries the rule (for invariants: its context). */
    path: string;
    /** FHIRPath location in the instance where the issue is expected (OperationOutcome.issue.expression). */
    expectedExpression: string;
  };
}

function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

/** The collection Bundle of all compiled conformance resources (profiles, extensions, value sets, code systems). */
export function loadConformanceBundle(): Bundle {
  return readJson<Bundle>(path.join(BUILD_DIR, 'bundle.json'));
}

/** The compiled StructureDefinitions (profiles and extensions), with snapshots. */
export function loadStructureDefinitions(): StructureDefinition[] {
  return (loadConformanceBundle().entry ?? [])
    .map((e) => e.resource)
    .filter((r): r is StructureDefinition => r?.resourceType === 'StructureDefinition');
}

/** Valid examples: file name → resource (each declares its profile in meta.profile[0]). */
export function loadValidExamples(): { file: string; resource: Resource }[] {
  const dir = path.join(EXAMPLES_DIR, 'valid');
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, resource: readJson<Resource>(path.join(dir, file)) }));
}

/** Invalid examples with the one rule each must fail (examples/invalid/index.json). */
export function loadInvalidExamples(): (InvalidExample & { resource: Resource })[] {
  const dir = path.join(EXAMPLES_DIR, 'invalid');
  return readJson<InvalidExample[]>(path.join(dir, 'index.json')).map((entry) => ({
    ...entry,
    resource: readJson<Resource>(path.join(dir, entry.file)),
  }));
}
