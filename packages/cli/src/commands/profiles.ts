import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  buildProfiles,
  DEFAULT_OUT_DIR,
  diffBuilds,
  SushiBuildError,
  type BuildReport,
} from '@marrowbridge/fhir-profiles/scripts/lib/build-profiles';
import { parseCommandArgs, UsageError, type Io } from '../io';

/**
 * `marrowbridge profiles build [--out DIR] [--check]`: compile fhir-profiles/ (FSH → SUSHI with
 * snapshots, offline → unfolded extension slices → local expansions → build/). --check builds into
 * a temporary folder and fails (exit 1) when fhir-profiles/build differs from it.
 */
export async function profilesCommand(args: string[], io: Io): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'build') {
    throw new UsageError(
      sub === undefined ? 'profiles needs a subcommand: build' : `unknown profiles subcommand "${sub}"`,
    );
  }
  const { values, positionals } = parseCommandArgs(rest, {
    out: { type: 'string' },
    check: { type: 'boolean', default: false },
  });
  if (positionals.length > 0) throw new UsageError('profiles build takes no FILE');
  if (values.check && values.out) throw new UsageError('--check and --out cannot be combined');
  const outDir = values.check
    ? fs.mkdtempSync(path.join(os.tmpdir(), 'marrowbridge-profiles-'))
    : path.resolve(values.out ?? DEFAULT_OUT_DIR);
  try {
    let report: BuildReport;
    try {
      report = await buildProfiles({ outDir });
    } catch (err) {
      if (err instanceof SushiBuildError) {
        io.err(`marrowbridge: profiles build failed: ${err.message}`);
        return 1;
      }
      throw err;
    }
    io.out(describe(report));
    if (values.check) {
      const stale = diffBuilds(DEFAULT_OUT_DIR, outDir);
      if (stale.length > 0) {
        io.err(
          `fhir-profiles/build is stale; run \`marrowbridge profiles build\`. Differing files:\n  ${stale.join('\n  ')}`,
        );
        return 1;
      }
      io.out('fhir-profiles/build is up to date.');
    }
    return 0;
  } finally {
    if (values.check) fs.rmSync(outDir, { recursive: true, force: true });
  }
}

function describe(r: BuildReport): string {
  const t = r.timingsMs;
  return [
    `SUSHI ${r.sushiVersion}: 0 errors, ${r.warnings.length} warning(s)`,
    ...r.warnings.map((w) => `  warning: ${w.file ?? ''}${w.line ? `:${w.line}` : ''} ${w.message}`),
    `Unfolded ${r.unfoldedSlices.length} extension slices; wrote ${r.files.length} files to ${r.outDir}`,
    `Time: cache ${(t.cache / 1000).toFixed(2)} s, SUSHI ${(t.sushi / 1000).toFixed(2)} s, total ${(t.total / 1000).toFixed(2)} s`,
  ].join('\n');
}
