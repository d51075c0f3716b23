/**
 * The whole build of fhir-profiles: FHIR package cache → SUSHI (snapshots, offline) → unfold extension slices →
 * local ValueSet expansions → build/ (resources, bundle.json, docs/, manifest.json).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { renderIndexDoc, renderStructureDefinitionDoc, type DocsContext, type StructureDefinitionJson } from './docs';
import { expandValueSets } from './expand';
import { ensureFhirCache, type FhirCache } from './fhir-cache';
import { runSushi, type FhirJson, type SushiMessage } from './run-sushi';
import { unfoldExtensionSlices } from './unfold';

export const PROJECT_DIR = path.resolve(__dirname, '..', '..');
export const DEFAULT_OUT_DIR = path.join(PROJECT_DIR, 'build');
export const DEFAULT_CACHE_ROOT = path.join(PROJECT_DIR, 'node_modules', '.cache', 'marrowbridge-fhir');

/** SUSHI warnings that are expected in this project and reported apart. */
const EXPECTED_WARNINGS = [/^The FSHOnly property is set to true/];

export interface BuildOptions {
  projectDir?: string;
  outDir?: string;
  cacheRoot?: string;
}

export interface BuildReport {
  outDir: string;
  cache: FhirCache;
  sushiVersion: string;
  files: string[];
  warnings: SushiMessage[];
  expectedWarnings: SushiMessage[];
  skippedAutomaticDependencies: string[];
  unfoldedSlices: string[];
  timingsMs: { cache: number; sushi: number; postprocess: number; total: number };
}

export class SushiBuildError extends Error {
  constructor(readonly errors: SushiMessage[]) {
    super(
      `SUSHI reported ${errors.length} error(s):\n${errors.map((e) => `  ${e.file ?? ''}${e.line ? ':' + e.line : ''} ${e.message}`).join('\n')}`,
    );
  }
}

const KIND_ORDER: Record<string, number> = { CodeSystem: 0, ValueSet: 1, StructureDefinition: 2 };

function sortKey(r: FhirJson): string {
  const isExtension = r.resourceType === 'StructureDefinition' && r.type === 'Extension';
  return `${KIND_ORDER[r.resourceType] ?? 9}-${isExtension ? 0 : 1}-${r.id}`;
}

function writeJson(file: string, value: unknown): void {
  fs.writeFileSync(file, JSON.stringify(value, null, 2) + '\n');
}

/** SHA-256 over sushi-config.yaml and input/fsh/*.fsh (sorted), to tell whether build/ was made from these inputs. */
export function inputsDigest(projectDir = PROJECT_DIR): string {
  const hash = crypto.createHash('sha256');
  const fshDir = path.join(projectDir, 'input', 'fsh');
  const files = [
    'sushi-config.yaml',
    ...fs
      .readdirSync(fshDir)
      .filter((f) => f.endsWith('.fsh'))
      .sort()
      .map((f) => path.join('input', 'fsh', f)),
  ];
  for (const f of files) {
    hash.update(f + '\0');
    hash.update(fs.readFileSync(path.join(projectDir, f)));
    hash.update('\0');
  }
  return hash.digest('hex');
}

function coreLookup(corePackageDir: string): (url: string) => StructureDefinitionJson | undefined {
  let index: Map<string, string> | undefined;
  return (url) => {
    // Core StructureDefinitions are stored as StructureDefinition-<id>.json; try that before the index.
    const conventional = path.join(corePackageDir, `StructureDefinition-${url.slice(url.lastIndexOf('/') + 1)}.json`);
    if (url.startsWith('http://hl7.org/fhir/StructureDefinition/') && fs.existsSync(conventional)) {
      return JSON.parse(fs.readFileSync(conventional, 'utf8')) as StructureDefinitionJson;
    }
    if (!index) {
      index = new Map();
      const idx = JSON.parse(fs.readFileSync(path.join(corePackageDir, '.index.json'), 'utf8')) as {
        files: { filename: string; url?: string }[];
      };
      for (const f of idx.files) if (f.url) index.set(f.url, f.filename);
    }
    const file = index.get(url);
    return file
      ? (JSON.parse(fs.readFileSync(path.join(corePackageDir, file), 'utf8')) as StructureDefinitionJson)
      : undefined;
  };
}

/** Build the profiles into `outDir` (replacing its content). Throws SushiBuildError when SUSHI reports errors. */
export async function buildProfiles(options: BuildOptions = {}): Promise<BuildReport> {
  const projectDir = options.projectDir ?? PROJECT_DIR;
  const outDir = options.outDir ?? DEFAULT_OUT_DIR;
  const t0 = performance.now();
  const cache = ensureFhirCache(options.cacheRoot ?? DEFAULT_CACHE_ROOT);
  const t1 = performance.now();
  const sushi = await runSushi(projectDir, cache.home, true);
  if (sushi.errors.length) throw new SushiBuildError(sushi.errors);
  const t2 = performance.now();

  const lookup = coreLookup(cache.corePackageDir);
  const resources = [...sushi.resources].sort((a, b) => sortKey(a).localeCompare(sortKey(b)));
  const { unfolded } = unfoldExtensionSlices(resources, (url) => lookup(url));
  const expansions = expandValueSets(resources);

  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(path.join(outDir, 'docs'), { recursive: true });
  const files: string[] = [];
  for (const r of resources) {
    const name = `${r.resourceType}-${r.id}.json`;
    writeJson(path.join(outDir, name), r);
    files.push(name);
  }
  writeJson(path.join(outDir, 'bundle.json'), {
    resourceType: 'Bundle',
    id: 'marrowbridge-bma-conformance',
    type: 'collection',
    entry: resources.map((r) => ({ fullUrl: r.url, resource: r })),
  });
  files.push('bundle.json');

  const byUrl = new Map(resources.filter((r) => r.url).map((r) => [r.url as string, r]));
  const ctx: DocsContext = {
    byUrl,
    expansions,
    baseSd: (url) => (byUrl.get(url) as StructureDefinitionJson | undefined) ?? lookup(url),
  };
  for (const r of resources) {
    if (r.resourceType !== 'StructureDefinition') continue;
    const name = path.join('docs', `${r.id}.md`);
    fs.writeFileSync(path.join(outDir, name), renderStructureDefinitionDoc(r as StructureDefinitionJson, ctx));
    files.push(name);
  }
  fs.writeFileSync(
    path.join(outDir, 'docs', 'README.md'),
    renderIndexDoc(resources, ctx, { sushiVersion: sushi.sushiVersion }),
  );
  files.push(path.join('docs', 'README.md'));

  writeJson(path.join(outDir, 'manifest.json'), {
    generator: 'fhir-profiles/scripts/build.ts',
    sushiVersion: sushi.sushiVersion,
    fhirVersion: '4.0.1',
    inputsSha256: inputsDigest(projectDir),
    profiles: resources
      .filter((r) => r.resourceType === 'StructureDefinition' && r.type !== 'Extension')
      .map((r) => r.url),
    extensions: resources
      .filter((r) => r.resourceType === 'StructureDefinition' && r.type === 'Extension')
      .map((r) => r.url),
    valueSets: resources.filter((r) => r.resourceType === 'ValueSet').map((r) => r.url),
    codeSystems: resources.filter((r) => r.resourceType === 'CodeSystem').map((r) => r.url),
    files: [...files].sort(),
  });
  files.push('manifest.json');
  const t3 = performance.now();

  const expectedWarnings = sushi.warnings.filter((w) => EXPECTED_WARNINGS.some((re) => re.test(w.message)));
  return {
    outDir,
    cache,
    sushiVersion: sushi.sushiVersion,
    files: files.sort(),
    warnings: sushi.warnings.filter((w) => !expectedWarnings.includes(w)),
    expectedWarnings,
    skippedAutomaticDependencies: sushi.skippedAutomaticDependencies,
    unfoldedSlices: unfolded,
    timingsMs: { cache: t1 - t0, sushi: t2 - t1, postprocess: t3 - t2, total: t3 - t0 },
  };
}

/** Relative paths of all files under `dir`, sorted. */
export function listFiles(dir: string, prefix = ''): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory() ? listFiles(path.join(dir, e.name), path.join(prefix, e.name)) : [path.join(prefix, e.name)],
    )
    .sort();
}

/** Files that differ between two build folders (missing on either side, or different bytes). */
export function diffBuilds(expectedDir: string, actualDir: string): string[] {
  const a = listFiles(expectedDir);
  const b = listFiles(actualDir);
  const all = [...new Set([...a, ...b])].sort();
  return all.filter((f) => {
    const pa = path.join(expectedDir, f);
    const pb = path.join(actualDir, f);
    if (!fs.existsSync(pa) || !fs.existsSync(pb)) return true;
    return !fs.readFileSync(pa).equals(fs.readFileSync(pb));
  });
}
