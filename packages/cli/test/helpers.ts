import type { Io } from '../src/io';

/** An Io that keeps what a command prints, for the assertions. */
export function capture(): Io & { stdout: string; stderr: string } {
  const io = {
    stdout: '',
    stderr: '',
    out: (s: string) => void (io.stdout += s + '\n'),
    err: (s: string) => void (io.stderr += s + '\n'),
  };
  return io;
}
