/**
 * Real sync-worker processes for tests: `node <WORKER_NODE_FLAGS> --import tsx services/sync-worker/src/main.ts`
 * with its settings in the environment, exactly as an operator starts it. Output (pino JSON lines) is kept for
 * assertions.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { WORKER_NODE_FLAGS } from '../../services/sync-worker/src/node-flags';
import { repoRoot } from './paths';

export const SYNC_WORKER_MAIN = path.join(repoRoot, 'services', 'sync-worker', 'src', 'main.ts');

export interface WorkerProcess {
  child: ChildProcess;
  readonly pid: number;
  /** stdout lines so far (pino JSON). */
  readonly lines: string[];
  readonly stderr: string;
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
  /** Resolves once a stdout line satisfies `match` (rejects on exit or after timeoutMs). */
  waitFor(match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Parsed stdout lines. */
  records(): Record<string, unknown>[];
  kill(signal?: NodeJS.Signals): void;
}

/**
 * Starts one worker process (Node 22 from this process, tsx as loader, the worker's own V8 flags); does not wait
 * for it to be ready.
 */
export function spawnWorker(env: Record<string, string>, name = 'worker'): WorkerProcess {
  const child = spawn(process.execPath, [...WORKER_NODE_FLAGS, '--import', 'tsx', SYNC_WORKER_MAIN], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let stderr = '';
  let partial = '';
  const waiters = new Set<() => void>();
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    partial += chunk;
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    for (const p of parts) if (p.trim()) lines.push(p);
    for (const w of waiters) w();
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      for (const w of waiters) w();
      resolve(code ?? signal ?? 'unknown');
    });
  });
  let exitCode: number | string | undefined;
  void exited.then((c) => (exitCode = c));

  const parse = (l: string): Record<string, unknown> | undefined => {
    try {
      return JSON.parse(l) as Record<string, unknown>;
    } catch {
      return undefined;
    }
  };
  const proc: WorkerProcess = {
    child,
    pid: child.pid!,
    lines,
    get stderr() {
      return stderr;
    },
    exited,
    records: () => lines.map(parse).filter((r): r is Record<string, unknown> => r !== undefined),
    waitFor(match, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        let seen = 0;
        const check = () => {
          for (; seen < lines.length; seen++) {
            const rec = parse(lines[seen]);
            if (rec && match(rec)) {
              done();
              resolve(rec);
              return;
            }
          }
          if (exitCode !== undefined) {
            done();
            reject(new Error(`${name} exited (${exitCode}) before the expected line; stderr: ${stderr.slice(-2000)}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${name}: no expected line within ${timeoutMs} ms; stderr: ${stderr.slice(-2000)}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    kill(signal = 'SIGTERM') {
      if (exitCode === undefined) child.kill(signal);
    },
  };
  return proc;
}

/** Starts `count` workers and waits until each has logged "sync-worker started". */
export async function startWorkers(count: number, env: Record<string, string>): Promise<WorkerProcess[]> {
  const procs = Array.from({ length: count }, (_, i) => spawnWorker({ LOG_LEVEL: 'info', ...env }, `worker ${i + 1}`));
  try {
    await Promise.all(procs.map((p) => p.waitFor((r) => r.msg === 'sync-worker started', 90_000)));
  } catch (err) {
    await stopWorkers(procs);
    throw err;
  }
  return procs;
}

/** SIGTERM to each, then the exit codes (SIGKILL after graceMs for any that hang). */
export async function stopWorkers(procs: WorkerProcess[], graceMs = 15_000): Promise<(number | string)[]> {
  return Promise.all(
    procs.map(async (p) => {
      p.kill('SIGTERM');
      const timer = setTimeout(() => p.kill('SIGKILL'), graceMs);
      const code = await p.exited;
      clearTimeout(timer);
      return code;
    }),
  );
}
