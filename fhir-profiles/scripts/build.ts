/**
 * Build the FHIR profiles: `pnpm --filter @marrowbridge/fhir-profiles build`
 * (or `pnpm exec tsx fhir-profiles/scripts/build.ts` from the repository root).
 *
 *   --out <dir>   write somewhere other than fhir-profiles/build
 *   --check       build into a temporary folder and compare with fhir-profiles/build; exit 1 if it is stale
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildProfiles, DEFAULT_OUT_DIR, diffBuilds, SushiBuildError, type BuildReport } from './lib/build-profiles';

function ms(n: number): string {
  return `${(n / 1000).toFixed(2)} s`;
}

function printReport(r: BuildReport): void {
  const c = r.cache;
  console.log(
    `FHIR package cache: ${c.source}${c.built ? ' (assembled now)' : ''}, ${c.resourceCount} resources in ${c.corePackageDir}`,
  );
  console.log(`SUSHI ${r.sushiVersion}: 0 errors, ${r.warnings.length} warnings`);
  for (const w of r.warnings) console.log(`  warning: ${w.file ?? ''}${w.line ? ':' + w.line : ''} ${w.message}`);
  for (const w of r.expectedWarnings) console.log(`  expected warning: ${w.message.split('.')[0]}.`);
  if (r.skippedAutomaticDependencies.length) {
    console.log(`  offline: skipped automatic dependencies ${r.skippedAutomaticDependencies.join(', ')}`);
  }
  console.log(`Unfolded ${r.unfoldedSlices.length} extension slices; wrote ${r.files.length} files to ${r.outDir}`);
  const t = r.timingsMs;
  console.log(
    `Time: cache ${ms(t.cache)}, SUSHI ${ms(t.sushi)}, post-processing ${ms(t.postprocess)}, total ${ms(t.total)}`,
  );
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const outIndex = args.indexOf('--out');
  const check = args.includes('--check');
  if (check) {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fhir-profiles-check-'));
    try {
      const report = await buildProfiles({ outDir: tmp });
      printReport(report);
      const stale = diffBuilds(DEFAULT_OUT_DIR, tmp);
      if (stale.length) {
        console.error(`fhir-profiles/build is stale; run the build. Differing files:\n  ${stale.join('\n  ')}`);
        return 1;
      }
      console.log('fhir-profiles/build is up to date.');
      return 0;
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
  const outDir = outIndex >= 0 ? path.resolve(args[outIndex + 1]) : DEFAULT_OUT_DIR;
  printReport(await buildProfiles({ outDir }));
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof SushiBuildError ? e.message : e);
    process.exit(1);
  },
);
