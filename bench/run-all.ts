/**
 * `pnpm bench`: runs every benchmark in bench/ (each *.ts file here but this one), each in its own process, one
 * after the other; prints their output and a summary table; writes bench/results/<timestamp>.json and
 * bench/results/latest.json so runs can be compared.
 *
 *   pnpm bench                       (from the repository root)
 *   pnpm bench --only end-to-end     (a comma-separated subset, by file name without .ts)
 *
 * A benchmark that understands `--json <file>` (translate-validate, end-to-end) hands over its figures that way;
 * for any other (validate-profiles) its printed output and exit code are kept, and its "ratio" lines summarized.
 * The exit code is non-zero only when a benchmark crashed or reported lost or duplicated deliveries; figures
 * below the floors are reported, never turned into a failure.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from './lib/load';
import { stringOption, table, writeJson, type BenchReport } from './lib/stats';

const BENCH_DIR = __dirname;
const RESULTS_DIR = path.join(BENCH_DIR, 'results');
/** Files that take `--json <file>`. */
const JSON_AWARE = new Set(['translate-validate', 'end-to-end']);
/** Run order: the single-process benchmarks first, end-to-end (which loads the whole machine) last. */
const ORDER = ['translate-validate', 'validate-profiles', 'end-to-end'];

interface BenchRun {
  name: string;
  file: string;
  exitCode: number | string;
  durationMs: number;
  report?: BenchReport;
  /** Summary lines read from the output of a benchmark without --json. */
  parsed?: { label: string; value: string; ratio?: string }[];
  output?: string;
}

function benchFiles(): string[] {
  const only = stringOption('--only')?.split(',');
  const names = fs
    .readdirSync(BENCH_DIR)
    .filter((f) => f.endsWith('.ts') && f !== 'run-all.ts' && !f.endsWith('.d.ts'))
    .map((f) => f.slice(0, -3))
    .filter((n) => !only || only.includes(n));
  // Files not named in ORDER run just before end-to-end.
  const rank = (n: string) => (ORDER.includes(n) ? ORDER.indexOf(n) : ORDER.indexOf('end-to-end') - 0.5);
  return names.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

function runBench(name: string, jsonFile: string): Promise<{ exitCode: number | string; output: string }> {
  const args = ['--import', 'tsx', path.join(BENCH_DIR, `${name}.ts`)];
  if (JSON_AWARE.has(name)) args.push('--json', jsonFile);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const forward = (chunk: Buffer, to: NodeJS.WriteStream) => {
      output += chunk.toString('utf8');
      to.write(chunk);
    };
    child.stdout.on('data', (c: Buffer) => forward(c, process.stdout));
    child.stderr.on('data', (c: Buffer) => forward(c, process.stderr));
    // Ctrl-C: the child gets it from the terminal too; wait for it to clean up (Redis, services).
    child.on('exit', (code, signal) => resolve({ exitCode: code ?? signal ?? 'unknown', output }));
  });
}

/** "ratio" lines of a text-only benchmark, each labelled with the nearest unindented line above it. */
function parseRatios(output: string): { label: string; value: string; ratio?: string }[] {
  const rows: { label: string; value: string; ratio?: string }[] = [];
  let label = '';
  let value = '';
  for (const line of output.split('\n')) {
    if (/^\S/.test(line)) label = line.trim();
    const rate = /^\s+(.*?):\s+([\d,]+)\s*\/s/.exec(line);
    if (rate && !value) value = `${rate[2]} /s (${rate[1].trim()})`;
    const ratio = /^\s*ratio ([\d.]+)/.exec(line);
    if (ratio) {
      rows.push({ label, value, ratio: ratio[1] });
      value = '';
    }
  }
  return rows;
}

function gitCommit(): string | undefined {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const loadBefore = os.loadavg();
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'marrowbridge-bench-'));
  const names = benchFiles();
  console.log(
    `pnpm bench: ${names.join(', ')}; ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), ` +
      `load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, ${process.version}\n`,
  );
  const runs: BenchRun[] = [];
  try {
    for (const name of names) {
      console.log(`=== ${name} ${'='.repeat(Math.max(0, 70 - name.length))}`);
      const jsonFile = path.join(tmp, `${name}.json`);
      const t0 = Date.now();
      const { exitCode, output } = await runBench(name, jsonFile);
      const run: BenchRun = { name, file: `bench/${name}.ts`, exitCode, durationMs: Date.now() - t0 };
      if (fs.existsSync(jsonFile)) run.report = JSON.parse(fs.readFileSync(jsonFile, 'utf8')) as BenchReport;
      else {
        run.output = output;
        run.parsed = parseRatios(output);
      }
      runs.push(run);
      console.log('');
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }

  const finishedAt = new Date();
  const results = {
    command: 'pnpm bench',
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationMs: finishedAt.getTime() - startedAt.getTime(),
    git: gitCommit(),
    machine: {
      cpus: os.cpus().length,
      model: os.cpus()[0]?.model,
      memoryMb: Math.round(os.totalmem() / 2 ** 20),
      node: process.version,
      loadAverageBefore: loadBefore.map((l) => Math.round(l * 100) / 100),
      loadAverageAfter: os.loadavg().map((l) => Math.round(l * 100) / 100),
    },
    benches: runs,
  };
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  await writeJson(path.join(RESULTS_DIR, `${stamp}.json`), results);
  await writeJson(path.join(RESULTS_DIR, 'latest.json'), results);

  const rows: string[][] = [];
  for (const r of runs) {
    const lines = r.report?.summary ?? r.parsed ?? [];
    if (lines.length === 0) rows.push([r.name, '(no figures)', '', `exit ${r.exitCode}`]);
    for (const l of lines) rows.push([r.name, l.label, l.value, l.ratio ?? '']);
  }
  console.log('=== summary ' + '='.repeat(60));
  console.log(table(['bench', 'figure', 'value', 'ratio (same run)'], rows));
  const floors = runs.flatMap((r) => (r.report?.floorsMissed ?? []).map((f) => `${r.name}: ${f}`));
  const correctness = runs.flatMap((r) => (r.report?.correctness ?? []).map((c) => `${r.name}: ${c}`));
  const nonZero = runs.filter((r) => r.exitCode !== 0);
  if (floors.length) {
    console.log('\nBelow the floors of issue 7 (see each benchmark\'s "where the time goes" above):');
    for (const f of floors) console.log(`  - ${f}`);
  }
  if (correctness.length) {
    console.log('\nCorrectness problems:');
    for (const c of correctness) console.log(`  - ${c}`);
  }
  for (const r of nonZero)
    console.log(`\n${r.name} exited with ${r.exitCode}${r.report ? '' : ' (no figures handed over)'}`);
  console.log(
    `\n${(results.durationMs / 1000).toFixed(0)} s; load average before ${results.machine.loadAverageBefore.join(' ')}, ` +
      `after ${results.machine.loadAverageAfter.join(' ')}; results in bench/results/${stamp}.json and bench/results/latest.json`,
  );
  const failedBadly = correctness.length > 0 || runs.some((r) => JSON_AWARE.has(r.name) && !r.report);
  process.exitCode = failedBadly ? 1 : 0;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
