import fs from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Where a command writes; tests pass their own to capture output. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

/** Wrong command line: exit code 2 with the usage text. */
export class UsageError extends Error {}

/** node:util parseArgs, with its errors turned into usage errors. */
export function parseCommandArgs<T extends ParseArgsConfig['options']>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

/** Reads an input file, or fails with a usage error that names it. */
export function readInputFile(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(
      code === 'ENOENT'
        ? `no such file: ${file}`
        : code === 'EISDIR'
          ? `${file} is a directory`
          : `cannot read ${file}`,
    );
  }
}

export function json(value: unknown): string {
  return JSON.stringify(value, null, 2);
}
