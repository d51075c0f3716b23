/** The README documents every setting the services read, and the commands it names exist. */
import fs from 'node:fs';
import path from 'node:path';
import { describeSettings } from '@marrowbridge/config';
import { EHR_SANDBOX_SETTINGS } from '@marrowbridge/ehr-sandbox';
import { GATEWAY_SETTINGS, MLLP_SETTINGS } from '@marrowbridge/gateway';
import { LAUNCHER_SETTINGS } from '@marrowbridge/launcher';
import { SYNC_WORKER_SETTINGS } from '@marrowbridge/sync-worker';
import { repoRoot } from '../support/paths';

const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
const rootPackage = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));

describe('README', () => {
  const settings = [LAUNCHER_SETTINGS, SYNC_WORKER_SETTINGS, GATEWAY_SETTINGS, MLLP_SETTINGS, EHR_SANDBOX_SETTINGS];
  const variables = settings.flatMap((specs) => Object.values(specs).map((s) => s.env));

  it.each([...new Set(variables)])('documents %s', (variable) => {
    expect(readme).toContain(`\`${variable}\``);
  });

  it('states each setting with the default and meaning the code has (scripts/config-table.ts)', () => {
    const squash = (text: string) => text.replace(/ *\| */g, '|').replace(/ +/g, ' ');
    const documented = squash(readme);
    for (const specs of settings) {
      for (const row of describeSettings(specs)) {
        expect({ row, documented: documented.includes(squash(row)) }).toEqual({ row, documented: true });
      }
    }
  });

  it('gives the two commands, and .ci/run runs exactly the test one', () => {
    expect(readme).toContain('pnpm install && pnpm start');
    expect(readme).toContain('pnpm install && pnpm test');
    expect(fs.readFileSync(path.join(repoRoot, '.ci', 'run'), 'utf8')).toMatch(/^pnpm install && pnpm test$/m);
    expect(rootPackage.scripts.start).toBeDefined();
    expect(rootPackage.scripts.test).toBeDefined();
    expect(rootPackage.engines.node).toBe('>=22.18');
  });

  it('names only sample files that exist', () => {
    for (const [file] of readme.matchAll(/samples\/[\w/.-]+\.(?:json|hl7)/g)) {
      expect({ file, exists: fs.existsSync(path.join(repoRoot, file)) }).toEqual({ file, exists: true });
    }
  });
});
