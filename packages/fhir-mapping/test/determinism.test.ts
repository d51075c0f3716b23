import { mapOrder, mapResultUpdate } from '../src';
import { loadSamples, type Sample } from './support/samples';

/** A deep copy whose object keys are in reverse order (arrays keep their order: it has meaning). */
function reorderKeys<T>(value: T): T {
  if (Array.isArray(value)) return value.map(reorderKeys) as T;
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).reverse()) out[key] = reorderKeys((value as Record<string, unknown>)[key]);
    return out as T;
  }
  return value;
}

function mapToString(sample: Sample): string {
  const bundle = sample.kind === 'order' ? mapOrder(sample.input) : mapResultUpdate(sample.input);
  return JSON.stringify(bundle, null, 2);
}

describe('determinism', () => {
  const samples = loadSamples();

  it.each(samples.map((s) => [s.name, s] as const))('%s: mapping twice gives the same string', (_name, sample) => {
    expect(mapToString(sample)).toBe(mapToString(sample));
  });

  it.each(samples.map((s) => [s.name, s] as const))(
    '%s: a deep copy with keys in another order gives the same string',
    (_name, sample) => {
      const copy = { ...sample, input: reorderKeys(sample.input) } as Sample;
      expect(Object.keys(copy.input)[0]).not.toBe(Object.keys(sample.input)[0]);
      expect(mapToString(copy)).toBe(mapToString(sample));
    },
  );

  it('does not modify its input', () => {
    for (const sample of samples) {
      const before = JSON.stringify(sample.input);
      mapToString(sample);
      expect(JSON.stringify(sample.input)).toBe(before);
    }
  });

  it('never writes resource ids or timestamps of its own', () => {
    for (const sample of samples) {
      const text = mapToString(sample);
      expect(text).not.toMatch(/"id":/);
      expect(text).not.toMatch(/"lastUpdated":/);
    }
  });
});
