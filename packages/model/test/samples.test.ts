/** Every sample document under samples/{orders,results} must pass the model's checks. */
import fs from 'node:fs';
import path from 'node:path';
import { parseCanonicalJson } from '../src';
import { repoRoot } from '../../../test/support/paths';

const folders = [
  { folder: 'orders', kind: 'order' },
  { folder: 'results', kind: 'result' },
] as const;

describe.each(folders)('samples/$folder', ({ folder, kind }) => {
  const dir = path.join(repoRoot, 'samples', folder);
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.json')) : [];

  it('holds at least one sample', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  it.each(files.length ? files : ['(none)'])('%s parses', (file) => {
    const r = parseCanonicalJson(fs.readFileSync(path.join(dir, file)));
    if (!r.ok) throw new Error(`${folder}/${file}: ${JSON.stringify(r.errors, null, 1)}`);
    expect(r.value.kind).toBe(kind);
  });
});
