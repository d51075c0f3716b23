/**
 * Runs SUSHI through its API, in process and offline.
 *
 * What `sushi build --snapshot` does, minus the network: the SUSHI CLI also runs `npm view fsh-sushi version`
 * and asks the FHIR package registry for the `latest` version of its automatic dependencies (hl7.fhir.uv.tools.r4,
 * hl7.terminology.r4, hl7.fhir.uv.extensions.r4). Here the package loader gets a registry client that refuses
 * every download and every `latest` lookup at once, so those automatic dependencies are skipped with a warning
 * and only hl7.fhir.r4.core#4.0.1 is loaded, from the local cache (see fhir-cache.ts).
 */
import path from 'node:path';
import { Readable } from 'node:stream';
import { fhirdefs, sushiExport, utils } from 'fsh-sushi';

/** A FHIR resource as SUSHI emits it (plain JSON). */
export type FhirJson = { resourceType: string; id: string; url?: string; [key: string]: unknown };

export interface SushiMessage {
  message: string;
  file?: string;
  line?: number;
}

export interface SushiResult {
  resources: FhirJson[];
  errors: SushiMessage[];
  /** Warnings, without the expected "automatic dependency not loaded" ones (see `skippedAutomaticDependencies`). */
  warnings: SushiMessage[];
  /** Automatic dependencies SUSHI could not load offline (expected; the profiles do not use them). */
  skippedAutomaticDependencies: string[];
  sushiVersion: string;
}

class OfflineError extends Error {}

/** Package registry client that never goes to the network. */
const offlineRegistry = {
  async resolveVersion(name: string, version: string): Promise<string> {
    if (version === 'latest' || version === 'current' || version === 'dev' || /[x*^~]/.test(version)) {
      throw new OfflineError(`offline build: cannot resolve ${name}#${version}`);
    }
    return version;
  },
  async download(name: string, version: string): Promise<Readable> {
    throw new OfflineError(`offline build: ${name}#${version} is not in the local FHIR package cache`);
  },
};

const offlineCurrentBuilds = {
  async downloadCurrentBuild(name: string): Promise<Readable> {
    throw new OfflineError(`offline build: no current build of ${name}`);
  },
  async getCurrentBuildDate(name: string): Promise<string> {
    throw new OfflineError(`offline build: no current build of ${name}`);
  },
};

/**
 * The package cache SUSHI reads. FHIRDefinitions would use `os.homedir()/.fhir/packages`; changing HOME does not
 * work in process (jest gives each test file its own copy of process.env, which os.homedir() does not see), so
 * the cache is passed explicitly, built with fhir-package-loader (SUSHI's own dependency, resolved from it).
 */
function diskPackageCache(packagesDir: string): unknown {
  const fplPath = require.resolve('fhir-package-loader', { paths: [path.dirname(require.resolve('fsh-sushi'))] });
  const fpl = require(fplPath) as { DiskBasedPackageCache: new (dir: string, options: object) => unknown };
  return new fpl.DiskBasedPackageCache(packagesDir, {
    log: (level: string, message: string) => utils.logMessage(level, message),
  });
}

function toMessage(m: { message: string; location?: { startLine: number }; input?: string }): SushiMessage {
  return {
    message: m.message,
    ...(m.input ? { file: m.input } : {}),
    ...(m.location ? { line: m.location.startLine } : {}),
  };
}

const AUTOMATIC_DEPENDENCY_WARNING = /^Failed to load automatically-provided (\S+)/;

/**
 * Compile the SUSHI project in `projectDir` (sushi-config.yaml + input/fsh) to FHIR JSON, offline.
 * @param projectDir - folder holding sushi-config.yaml
 * @param fhirHome - folder whose `.fhir/packages` holds hl7.fhir.r4.core#4.0.1
 * @param snapshot - generate snapshots (as `sushi build --snapshot`)
 */
export async function runSushi(projectDir: string, fhirHome: string, snapshot = true): Promise<SushiResult> {
  const { logger, errorsAndWarnings } = utils;
  const console0 = logger.transports[0];
  const savedSilent = console0.silent;
  errorsAndWarnings.reset();
  errorsAndWarnings.shouldTrack = true;
  console0.silent = true; // messages are collected and reported by the caller
  try {
    const config = utils.readConfig(projectDir);
    const rawFsh = utils.getRawFSHes(path.join(projectDir, 'input', 'fsh'));
    const tank = utils.fillTank(rawFsh, config);
    tank.checkDuplicateNameEntities();

    type Override = NonNullable<ConstructorParameters<typeof fhirdefs.FHIRDefinitions>[0]>;
    const defs = new fhirdefs.FHIRDefinitions({
      packageCache: diskPackageCache(path.join(fhirHome, '.fhir', 'packages')) as Override['packageCache'],
      registryClient: offlineRegistry,
      currentBuildClient: offlineCurrentBuilds,
    });
    await defs.initialize();
    await utils.loadExternalDependencies(defs, config);
    defs.optimize();
    const structureDefinition = defs.fishForFHIR('StructureDefinition', utils.Type.Resource) as
      { version?: string } | undefined;
    if (!structureDefinition) {
      throw new Error(`hl7.fhir.r4.core#4.0.1 did not load from ${path.join(fhirHome, '.fhir', 'packages')}`);
    }

    const pkg = sushiExport.exportFHIR(tank, defs);
    const artifacts = [
      ...pkg.profiles,
      ...pkg.extensions,
      ...pkg.logicals,
      ...pkg.resources,
      ...pkg.valueSets,
      ...pkg.codeSystems,
    ];
    const resources = artifacts.map((a) => {
      utils.checkNullValuesOnArray(a);
      return a.toJSON(snapshot) as FhirJson;
    });

    const skippedAutomaticDependencies: string[] = [];
    const warnings: SushiMessage[] = [];
    for (const w of errorsAndWarnings.warnings) {
      const auto = AUTOMATIC_DEPENDENCY_WARNING.exec(w.message);
      if (auto) skippedAutomaticDependencies.push(auto[1]);
      else warnings.push(toMessage(w));
    }
    return {
      resources,
      errors: errorsAndWarnings.errors.map(toMessage),
      warnings,
      skippedAutomaticDependencies,
      sushiVersion: utils.getLocalSushiVersion(),
    };
  } finally {
    console0.silent = savedSilent;
    errorsAndWarnings.shouldTrack = false;
  }
}
