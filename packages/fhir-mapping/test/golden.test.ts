import fs from 'node:fs';
import path from 'node:path';
import type { Bundle } from '@medplum/fhirtypes';
import { mapOrder, mapResultUpdate } from '../src';
import { goldenDir, loadSamples, type Sample } from './support/samples';

/** The committed form of a Bundle: 2-space JSON plus a trailing newline. */
function serialize(bundle: Bundle): string {
  return JSON.stringify(bundle, null, 2) + '\n';
}

function mapSample(sample: Sample): Bundle {
  return sample.kind === 'order' ? mapOrder(sample.input) : mapResultUpdate(sample.input);
}

// UPDATE_GOLDEN=1 pnpm exec jest packages/fhir-mapping rewrites the goldens after a deliberate change.
const update = process.env.UPDATE_GOLDEN === '1';
const samples = loadSamples();

describe('golden Bundles', () => {
  it('has the 6 orders and 6 result updates', () => {
    expect(samples.filter((s) => s.kind === 'order')).toHaveLength(6);
    expect(samples.filter((s) => s.kind === 'result')).toHaveLength(6);
  });

  it.each(samples.map((s) => [s.name, s] as const))('%s matches its golden file byte for byte', (_name, sample) => {
    const actual = serialize(mapSample(sample));
    const file = path.join(goldenDir, `${sample.name}.bundle.json`);
    if (update) {
      fs.mkdirSync(goldenDir, { recursive: true });
      fs.writeFileSync(file, actual);
    }
    expect(fs.existsSync(file)).toBe(true);
    expect(actual).toBe(fs.readFileSync(file, 'utf8'));
  });

  it('has no golden file without a sample', () => {
    const names = new Set(samples.map((s) => `${s.name}.bundle.json`));
    const stray = fs.readdirSync(goldenDir).filter((f) => f.endsWith('.bundle.json') && !names.has(f));
    expect(stray).toEqual([]);
  });
});
