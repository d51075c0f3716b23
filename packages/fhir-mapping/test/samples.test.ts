import { parseCanonical } from '@marrowbridge/model';
import { loadSamples } from './support/samples';

/** NPI check digit: Luhn over "80840" + the 10 digits. */
function validNpi(npi: string): boolean {
  if (!/^\d{10}$/.test(npi)) return false;
  let sum = 0;
  [...`80840${npi}`].reverse().forEach((ch, i) => {
    let d = Number(ch);
    if (i % 2 === 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  });
  return sum % 10 === 0;
}

function npis(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(npis);
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => (k === 'npi' && typeof v === 'string' ? [v] : npis(v)));
  }
  return [];
}

describe('samples', () => {
  const samples = loadSamples();

  it.each(samples.map((s) => [s.name, s] as const))('%s is valid canonical input', (_name, sample) => {
    const result = parseCanonical(sample.input);
    expect(result.ok ? [] : result.errors).toEqual([]);
  });

  it('every NPI has a valid check digit', () => {
    expect(validNpi('1234567893')).toBe(true);
    expect(validNpi('1234567890')).toBe(false);
    const all = samples.flatMap((s) => npis(s.input));
    expect(all.length).toBeGreaterThan(6);
    expect(all.filter((n) => !validNpi(n))).toEqual([]);
  });
});
