/** Seeded randomness for tests and benchmarks: a failing run can be repeated with its printed seed. */
import { makeRandom } from '../../services/ehr-sandbox/src/faults';

/**
 * A seeded PRNG (mulberry32) giving numbers in [0, 1): the same seed gives the same sequence. The ehr-sandbox's
 * fault dice, so tests, benchmarks and the sandbox share one generator.
 */
export function seededRandom(seed: number): () => number {
  return makeRandom(seed);
}

/** A seeded shuffle (mulberry32), so a failing run can be repeated with the printed seed. */
export function shuffled<T>(items: readonly T[], seed: number | (() => number)): T[] {
  const out = [...items];
  const random = typeof seed === 'number' ? seededRandom(seed) : seed;
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
