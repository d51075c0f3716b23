/**
 * Profile validation speed against @medplum/core's base R4 validation of the same resources,
 * measured in the same run (interleaved rounds; the median round counts).
 *
 *   pnpm exec tsx bench/validate-profiles.ts            (from the repository root)
 *   pnpm --filter @marrowbridge/bench validate-profiles
 *
 * "profile" = @marrowbridge/validation's validate(): base R4 (@medplum/core + FHIR JSON Schema +
 * local terminology) plus the BMA profile named in meta.profile. "medplum base" =
 * @medplum/core validateResource(resource) with base R4 only. Rates are per second of this
 * process's CPU time (process.cpuUsage), so that other jobs on a shared machine do not skew
 * them; the ratio is the median of the per-round ratios. Required: ratio >= 0.6.
 * Options: --rounds N (default 9), --ms N of CPU time per measurement (default 300).
 */
import { loadValidExamples, PROFILE_URLS } from '@marrowbridge/fhir-profiles';
import { createValidator, hasErrors } from '@marrowbridge/validation';
import { OperationOutcomeError, validateResource } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { numberOption } from './lib/stats';

const REQUIRED_RATIO = 0.6;

/** CPU time of this process in milliseconds (other processes on a shared machine do not count). */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Validations per CPU second of `fn`, run for about `ms` milliseconds of CPU time. */
function rate(fn: () => void, ms: number): number {
  let n = 0;
  const started = cpuMs();
  let elapsed = 0;
  while (elapsed < ms) {
    for (let i = 0; i < 25; i++) fn();
    n += 25;
    elapsed = cpuMs() - started;
  }
  return (n * 1000) / elapsed;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function medplumBase(resource: Resource): void {
  try {
    validateResource(resource);
  } catch (err) {
    if (!(err instanceof OperationOutcomeError)) throw err;
  }
}

function main(): number {
  const rounds = numberOption('--rounds', 9);
  const ms = numberOption('--ms', 300);
  const started = performance.now();
  const validator = createValidator(); // indexes base R4 into @medplum/core as well
  const startupMs = performance.now() - started;
  const examples = loadValidExamples();
  const pick = (file: string): Resource => {
    const found = examples.find((e) => e.file === file);
    if (!found) throw new Error(`missing example ${file}`);
    return found.resource;
  };
  const cases = [
    { name: 'BMA aspirate Specimen', resource: pick('specimen-aspirate.json'), profile: PROFILE_URLS.aspirateSpecimen },
    {
      name: 'BMA DiagnosticReport',
      resource: pick('diagnostic-report-final.json'),
      profile: PROFILE_URLS.diagnosticReport,
    },
  ];
  console.log(
    `createValidator(): ${startupMs.toFixed(0)} ms; ${rounds} interleaved rounds of ${ms} ms CPU per measurement\n`,
  );
  let worst = Infinity;
  for (const c of cases) {
    if (c.resource.meta?.profile?.[0] !== c.profile) throw new Error(`${c.name} does not declare ${c.profile}`);
    const outcome = validator.validate(c.resource);
    if (hasErrors(outcome)) throw new Error(`${c.name} does not conform to ${c.profile}`);
    // Warm-up (JSON Schema compilation, profile compilation, the JIT's optimising tiers).
    for (let w = 0; w < 4; w++) {
      rate(() => validator.validate(c.resource), ms);
      rate(() => medplumBase(c.resource), ms);
    }
    const ours: number[] = [];
    const base: number[] = [];
    const ratios: number[] = [];
    for (let r = 0; r < rounds; r++) {
      // Alternate the order so that neither side always runs first in a round.
      const first = r % 2 === 0;
      const b1 = first ? 0 : rate(() => medplumBase(c.resource), ms);
      const o1 = rate(() => validator.validate(c.resource), ms);
      const b2 = first ? rate(() => medplumBase(c.resource), ms) : b1;
      ours.push(o1);
      base.push(b2);
      ratios.push(o1 / b2);
    }
    const o = median(ours);
    const b = median(base);
    const ratio = median(ratios);
    worst = Math.min(worst, ratio);
    console.log(`${c.name} (${c.profile.split('/').pop()})`);
    console.log(`  profile validation (base R4 + profile):  ${Math.round(o).toLocaleString('en-US').padStart(8)} /s`);
    console.log(`  @medplum/core base R4 validateResource:  ${Math.round(b).toLocaleString('en-US').padStart(8)} /s`);
    console.log(
      `  ratio ${ratio.toFixed(2)} (median of per-round ratios ${ratios.map((x) => x.toFixed(2)).join(' ')}; required >= ${REQUIRED_RATIO})\n`,
    );
  }
  const ok = worst >= REQUIRED_RATIO;
  console.log(`${ok ? 'PASS' : 'FAIL'}: lowest ratio ${worst.toFixed(2)}, required ${REQUIRED_RATIO}`);
  return ok ? 0 : 1;
}

process.exitCode = main();
