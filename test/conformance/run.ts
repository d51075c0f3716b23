/**
 * Conformance run against the HL7 Java validator's verdicts: confusion matrices for the base
 * step (218 cases) and the profile step (35 cases), overall and for the hard core subset, and
 * every disagreement with a one-line reason.
 * Usage: pnpm exec tsx test/conformance/run.ts
 */
import { createValidator } from '@marrowbridge/validation';
import { externalDir } from '../support/paths';
import { report, runAll } from './conformance';

function main(): void {
  const dir = externalDir('fhir-test-cases');
  if (!dir) {
    console.log('SKIPPED: ../shared/external/fhir-test-cases is absent (set MARROWBRIDGE_EXTERNAL_DIR)');
    return;
  }
  const started = performance.now();
  const validator = createValidator();
  const startup = performance.now() - started;
  const runStarted = performance.now();
  const results = runAll(validator, dir);
  const runMs = performance.now() - runStarted;
  console.log(report(results));
  console.log(
    `\nvalidator startup ${startup.toFixed(0)} ms (base R4 ${validator.startup.totalMs} ms); ${results.length} steps in ${runMs.toFixed(0)} ms`,
  );
}

main();
