/**
 * Service processes for the end-to-end benchmark (the ehr-sandbox and the gateway as their operators start
 * them: `node --import tsx services/<name>/src/main.ts` with settings in the environment), and what /proc
 * tells about any process: peak and current resident memory, CPU time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { inspectorUrlIn } from './inspector';
import { REPO_ROOT } from './load';

export interface ServiceProcess {
  name: string;
  child: ChildProcess;
  readonly pid: number;
  /** The last stdout/stderr lines (for error messages). */
  tail(): string;
  /** The inspector's WebSocket URL, when the process was started with --inspect. */
  readonly inspectorUrl?: string;
  /** SIGTERM, then SIGKILL after graceMs; resolves with the exit code or signal. */
  stop(graceMs?: number): Promise<number | string>;
}

const TAIL_LINES = 40;

/**
 * Starts `services/<service>/src/main.ts` and resolves once a stdout line satisfies `ready` (JSON-parsed when it
 * can be). Rejects when the process exits first or after timeoutMs.
 */
export async function startService(
  name: string,
  service: string,
  env: Record<string, string>,
  ready: (line: Record<string, unknown>) => boolean,
  timeoutMs = 90_000,
): Promise<ServiceProcess> {
  const main = path.join(REPO_ROOT, 'services', service, 'src', 'main.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', main], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let inspectorUrl: string | undefined;
  let onLine: ((line: string) => void) | undefined;
  const keep = (line: string) => {
    lines.push(line);
    if (lines.length > TAIL_LINES) lines.shift();
    inspectorUrl ??= inspectorUrlIn(line);
    onLine?.(line);
  };
  for (const stream of [child.stdout!, child.stderr!]) {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      partial += chunk;
      const parts = partial.split('\n');
      partial = parts.pop() ?? '';
      for (const p of parts) if (p.trim()) keep(p);
    });
  }
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  let exitCode: number | string | undefined;
  void exited.then((c) => (exitCode = c));
  const proc: ServiceProcess = {
    name,
    child,
    pid: child.pid!,
    tail: () => lines.join('\n'),
    get inspectorUrl() {
      return inspectorUrl;
    },
    async stop(graceMs = 15_000) {
      if (exitCode !== undefined) return exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      onLine = undefined;
      child.kill('SIGKILL');
      reject(new Error(`${name} did not start within ${timeoutMs} ms:\n${proc.tail()}`));
    }, timeoutMs);
    onLine = (line) => {
      let rec: Record<string, unknown> | undefined;
      try {
        rec = JSON.parse(line) as Record<string, unknown>;
      } catch {
        rec = undefined;
      }
      if (rec && ready(rec)) {
        clearTimeout(timer);
        onLine = undefined;
        resolve();
      }
    };
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code}) during start-up:\n${proc.tail()}`));
    });
  });
  return proc;
}

export interface MemoryFigures {
  /** Peak resident set size (VmHWM), MB. */
  peakRssMb: number;
  /** Current resident set size (VmRSS), MB. */
  rssMb: number;
}

/** VmHWM / VmRSS of a live process (undefined when it is gone). */
export function memoryOf(pid: number): MemoryFigures | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)\\s+kB`, 'm').exec(status)?.[1] ?? NaN);
    return { peakRssMb: Math.round(kb('VmHWM') / 102.4) / 10, rssMb: Math.round(kb('VmRSS') / 102.4) / 10 };
  } catch {
    return undefined;
  }
}

const CLOCK_TICKS_PER_SECOND = 100;

/** User + system CPU time of a process so far, in ms (undefined when it is gone). */
export function cpuMsOf(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at ") ".
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** CPU ms of several named processes at one moment. */
export function cpuSnapshot(pids: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, pid] of Object.entries(pids)) out[name] = cpuMsOf(pid) ?? NaN;
  return out;
}

/** CPU ms spent by each process between two snapshots. */
export function cpuDelta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of Object.keys(after)) out[name] = Math.max(0, after[name] - (before[name] ?? 0));
  return out;
}
