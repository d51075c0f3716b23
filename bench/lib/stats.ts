/** Small helpers shared by the benchmarks: percentiles, number formatting, plain-text tables, options. */
import fs from 'node:fs';
import prettier from 'prettier';

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))];
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** Rounded to `digits` decimals (a plain number, for the JSON results). */
export function round(n: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export function fmt(n: number, digits = 0): string {
  if (!Number.isFinite(n)) return '-';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** A plain-text table with right-aligned columns (the first column left-aligned). */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) =>
    r.map((v, c) => (c === 0 ? (v ?? '').padEnd(widths[c]) : (v ?? '').padStart(widths[c]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `--name value` from argv, as a number (fallback when absent or not a positive number). */
export function numberOption(name: string, fallback: number, argv = process.argv): number {
  const i = argv.indexOf(name);
  const n = i >= 0 ? Number(argv[i + 1]) : NaN;
  return Number.isFinite(n) && n > 0 ? n : fallback;
}

/** `--name value` from argv, as text. */
export function stringOption(name: string, argv = process.argv): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

export function flag(name: string, argv = process.argv): boolean {
  return argv.includes(name);
}

/** Writes `value` as JSON formatted the way the repository's prettier check expects. */
export async function writeJson(file: string, value: unknown): Promise<void> {
  const options = (await prettier.resolveConfig(file)) ?? {};
  const text = await prettier.format(JSON.stringify(value), { ...options, filepath: file });
  fs.writeFileSync(file, text);
}

/** What a benchmark hands to run-all (`--json <file>`): its figures and the floors it was judged against. */
export interface BenchReport {
  name: string;
  /** ISO time the benchmark started. */
  startedAt: string;
  durationMs: number;
  /** Key figures for the summary table (label → value with unit). */
  summary: { label: string; value: string; ratio?: string; note?: string }[];
  /** Floors from the issue that this run fell short of (empty when none). */
  floorsMissed: string[];
  /** Correctness problems (lost or duplicated deliveries); any makes run-all exit non-zero. */
  correctness: string[];
  figures: unknown;
}

/** Writes the report when `--json <file>` was given. */
export async function emitReport(report: BenchReport): Promise<void> {
  const file = stringOption('--json');
  if (file) await writeJson(file, report);
}
