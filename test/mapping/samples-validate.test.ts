/**
 * Every bundled sample (the golden inputs) translates to a Bundle whose every resource passes base FHIR R4
 * validation — @medplum/core's validator and the FHIR JSON Schema — with zero errors.
 */
import fs from 'node:fs';
import path from 'node:path';
import { translateInput } from '@marrowbridge/intake';
import { createValidator } from '@marrowbridge/validation';
import { repoRoot } from '../support/paths';

const validator = createValidator();
const files = ['orders', 'results'].flatMap((sub) => {
  const dir = path.join(repoRoot, 'samples', sub);
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => path.join(sub, f));
});

describe('bundled samples', () => {
  it('include at least 6 orders and 6 result updates', () => {
    expect(files.filter((f) => f.startsWith('orders')).length).toBeGreaterThanOrEqual(6);
    expect(files.filter((f) => f.startsWith('results')).length).toBeGreaterThanOrEqual(6);
  });

  it.each(files)('%s translates to a Bundle with zero base-R4 errors', (file) => {
    const [result] = translateInput(fs.readFileSync(path.join(repoRoot, 'samples', file)));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    for (const { bundle } of result.items) {
      const outcome = validator.validate(bundle);
      const errors = outcome.issue.filter((i) => i.severity === 'error' || i.severity === 'fatal');
      expect(errors).toEqual([]);
      for (const entry of bundle.entry ?? []) {
        const own = validator.validate(entry.resource!);
        expect(own.issue.filter((i) => i.severity === 'error' || i.severity === 'fatal')).toEqual([]);
      }
    }
  });
});
