/**
 * Quick speed check of base R4 validation.
 * Usage (from the repository root): pnpm exec tsx packages/validation/test/speed-bench.ts
 */
import { createValidator } from '../src';
import { aspirateSpecimen, blastObservation, bmaReport, orderBundle } from './fixtures';

function perSecond(fn: () => void, n = 3000): number {
  for (let i = 0; i < 300; i++) fn();
  const started = performance.now();
  for (let i = 0; i < n; i++) fn();
  return Math.round(n / ((performance.now() - started) / 1000));
}

const started = performance.now();
const validator = createValidator();
const createdMs = performance.now() - started;
const firstStarted = performance.now();
validator.validate(aspirateSpecimen());
const firstMs = performance.now() - firstStarted;

console.log(`createValidator: ${createdMs.toFixed(0)} ms`, validator.startup);
console.log(`first Specimen validation (compiles its JSON Schema definition): ${firstMs.toFixed(0)} ms`);
const cases: [string, Parameters<typeof validator.validate>[0]][] = [
  ['Specimen (BMA aspirate)', aspirateSpecimen()],
  ['DiagnosticReport (BMA report)', bmaReport()],
  ['Observation (blast %)', blastObservation()],
  ['transaction Bundle (3 entries)', orderBundle()],
];
for (const [name, resource] of cases) {
  console.log(`${name.padEnd(32)} ${perSecond(() => validator.validate(resource))} validations/s`);
}
