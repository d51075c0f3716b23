import fs from 'node:fs';
import path from 'node:path';

/** The repository root (this file is test/support/paths.ts). */
export const repoRoot = path.resolve(__dirname, '..', '..');

/**
 * ../shared/external beside the clone: corpora written by people outside the project.
 * Tests read them in place; `externalDir()` returns undefined where the folder is absent,
 * and `describeExternal` then skips with a printed reason.
 */
export function externalDir(...parts: string[]): string | undefined {
  const dir = process.env.MARROWBRIDGE_EXTERNAL_DIR ?? path.resolve(repoRoot, '..', 'shared', 'external');
  const full = path.join(dir, ...parts);
  return fs.existsSync(full) ? full : undefined;
}

/** describe() when the external folder exists, else a skipped describe with the reason printed once. */
export function describeExternal(folder: string, name: string, fn: (dir: string) => void): void {
  const dir = externalDir(folder);
  if (!dir) {
    console.warn(
      `SKIPPED "${name}": ../shared/external/${folder} is absent (set MARROWBRIDGE_EXTERNAL_DIR to its location)`,
    );
    describe.skip(name, () => {
      it('needs the external corpus', () => undefined);
    });
    return;
  }
  describe(name, () => fn(dir));
}
