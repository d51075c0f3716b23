/**
 * "Where the time goes": CPU profiles (V8 .cpuprofile format), taken in this process with the inspector's
 * Profiler or in another one through lib/inspector.ts, summarized as the functions and the modules with the most
 * self time.
 */
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { fmt, table } from './stats';
import { REPO_ROOT } from './load';

export interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

export interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface ProfileRow {
  name: string;
  where: string;
  selfMs: number;
  percent: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Self time outside idle, GC and the program root. */
  busyMs: number;
  gcMs: number;
  idleMs: number;
  functions: ProfileRow[];
  modules: ProfileRow[];
}

/** Runs `fn` under the inspector's CPU profiler (sampling every 200 µs) and returns its result and the profile. */
export async function profileInProcess<T>(fn: () => Promise<T> | T): Promise<{ result: T; profile: CpuProfile }> {
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 200 });
    await session.post('Profiler.start');
    const result = await fn();
    const { profile } = (await session.post('Profiler.stop')) as { profile: CpuProfile };
    await session.post('Profiler.disable');
    return { result, profile };
  } finally {
    session.disconnect();
  }
}

/** Where a script URL lives: `node_modules/<package>`, a workspace folder, or node's internals. */
export function moduleOf(url: string): string {
  if (!url) return '(native)';
  if (url.startsWith('node:')) return 'node internals';
  const file = url.startsWith('file://') ? decodeURIComponent(new URL(url).pathname) : url;
  const nm = file.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = file.slice(nm + '/node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  const rel = path.relative(REPO_ROOT, file);
  if (!rel.startsWith('..')) {
    const parts = rel.split(path.sep);
    return parts[0] === 'packages' || parts[0] === 'services' ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  return file;
}

function shortLocation(url: string, line: number): string {
  if (!url) return '';
  const file = url.startsWith('file://') ? decodeURIComponent(new URL(url).pathname) : url;
  const nm = file.lastIndexOf('/node_modules/');
  if (nm >= 0) return `${file.slice(nm + '/node_modules/'.length)}:${line + 1}`;
  // The repository's TypeScript runs transpiled by tsx: its line numbers would not match the source.
  if (file.endsWith('.ts')) return path.relative(REPO_ROOT, file);
  return `${file}:${line + 1}`;
}

/** Self time per function and per module (top `top` of each). */
export function summarizeProfile(profile: CpuProfile, top = 15): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  // timeDeltas[i] is the time before sample i; attribute the gap after a sample to it.
  for (let i = 0; i < samples.length; i++) {
    const dt = deltas[i + 1] ?? 0;
    selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + Math.max(0, dt));
  }
  const fnTotals = new Map<string, ProfileRow>();
  const modTotals = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  let gcUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    totalUs += us;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)' || functionName === '(program)' || functionName === '(root)') {
      idleUs += us;
      continue;
    }
    if (functionName === '(garbage collector)') {
      gcUs += us;
      continue;
    }
    const name = functionName || '(anonymous)';
    const where = shortLocation(url, lineNumber);
    const key = `${name}@${where}`;
    const row = fnTotals.get(key) ?? { name, where, selfMs: 0, percent: 0 };
    row.selfMs += us / 1000;
    fnTotals.set(key, row);
    const mod = moduleOf(url);
    modTotals.set(mod, (modTotals.get(mod) ?? 0) + us / 1000);
  }
  const busyMs = (totalUs - idleUs - gcUs) / 1000;
  const pct = (ms: number) => (busyMs > 0 ? (100 * ms) / (busyMs + gcUs / 1000) : 0);
  const functions = [...fnTotals.values()]
    .sort((a, b) => b.selfMs - a.selfMs)
    .slice(0, top)
    .map((r) => ({ ...r, selfMs: Math.round(r.selfMs), percent: Math.round(pct(r.selfMs) * 10) / 10 }));
  const modules = [...modTotals.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, ms]) => ({ name, where: '', selfMs: Math.round(ms), percent: Math.round(pct(ms) * 10) / 10 }));
  return { totalMs: totalUs / 1000, busyMs, gcMs: gcUs / 1000, idleMs: idleUs / 1000, functions, modules };
}

/** The summary as text: busy/GC/idle split, then the top modules and functions by self time. */
export function formatProfile(title: string, s: ProfileSummary, topFunctions = 12): string {
  const busy = s.busyMs + s.gcMs;
  return [
    `${title}: ${fmt(s.totalMs)} ms profiled, ${fmt(busy)} ms on the CPU (GC ${fmt(s.gcMs)} ms), ${fmt(s.idleMs)} ms idle`,
    table(
      ['module (self time)', 'ms', '% of CPU'],
      s.modules.slice(0, 8).map((m) => [m.name, fmt(m.selfMs), fmt(m.percent, 1)]),
    ),
    table(
      ['function (self time)', 'where', 'ms', '% of CPU'],
      s.functions
        .slice(0, topFunctions)
        .map((f) => [f.name.slice(0, 40), f.where.slice(-60), fmt(f.selfMs), fmt(f.percent, 1)]),
    ),
  ].join('\n');
}
