/**
 * The mapping emits meta.profile with the project's profile URLs; its golden Bundles and the
 * Bundles translated from samples/ validate against base R4 + those profiles with zero errors,
 * and the profiles really run on the entries (a broken entry is caught).
 */
import fs from 'node:fs';
import path from 'node:path';
import { translateInput } from '@marrowbridge/intake';
import { createValidator } from '@marrowbridge/validation';
import type { Bundle, OperationOutcome, Resource } from '@medplum/fhirtypes';
import { repoRoot } from '../support/paths';

const PROFILE_BASE = 'http://marrowbridge.org/fhir/StructureDefinition/';
const validator = createValidator();

function errors(outcome: OperationOutcome): string[] {
  return outcome.issue
    .filter((i) => i.severity === 'error' || i.severity === 'fatal')
    .map((i) => `${i.expression?.[0] ?? '-'}: ${i.details?.text ?? ''}`);
}

const goldenDir = path.join(repoRoot, 'packages', 'fhir-mapping', 'test', 'golden');
const goldens = fs
  .readdirSync(goldenDir)
  .filter((f) => f.endsWith('.bundle.json'))
  .sort()
  .map((f) => [f, JSON.parse(fs.readFileSync(path.join(goldenDir, f), 'utf8')) as Bundle] as const);

const sampleFiles = ['orders', 'results'].flatMap((sub) =>
  fs
    .readdirSync(path.join(repoRoot, 'samples', sub))
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => path.join(repoRoot, 'samples', sub, f)),
);

function profilesIn(bundle: Bundle): string[] {
  return (bundle.entry ?? []).flatMap((e) => e.resource?.meta?.profile ?? []);
}

describe('mapping output against the BMA profiles', () => {
  it('finds the goldens and the samples', () => {
    expect(goldens.length).toBeGreaterThanOrEqual(12);
    expect(sampleFiles.length).toBeGreaterThanOrEqual(12);
  });

  it.each(goldens)('golden %s declares BMA profiles and validates with zero errors', (_file, bundle) => {
    const declared = profilesIn(bundle);
    expect(declared.length).toBeGreaterThan(0);
    for (const url of declared) {
      expect(url.startsWith(PROFILE_BASE)).toBe(true);
      expect(validator.hasProfile(url)).toBe(true);
    }
    expect(errors(validator.validate(bundle))).toEqual([]);
  });

  it.each(sampleFiles.map((f) => [path.basename(f), f] as const))(
    'sample %s, translated, validates with zero errors',
    (_name, file) => {
      const results = translateInput(fs.readFileSync(file));
      expect(results.length).toBeGreaterThan(0);
      expect(results.every((r) => r.ok)).toBe(true);
      expect(results.flatMap((r) => (r.ok ? r.items : [])).length).toBeGreaterThan(0);
      for (const r of results) {
        if (!r.ok) continue;
        for (const { bundle } of r.items) {
          expect(profilesIn(bundle).length).toBeGreaterThan(0);
          expect(errors(validator.validate(bundle))).toEqual([]);
        }
      }
    },
  );

  it('runs the profiles on the entries: a broken entry of a golden is caught at its location', () => {
    const [, golden] = goldens.find(([f]) => f.startsWith('order-aspiration-left-ilium')) ?? goldens[0];
    const bundle = JSON.parse(JSON.stringify(golden)) as Bundle;
    const index = (bundle.entry ?? []).findIndex((e) => e.resource?.resourceType === 'Procedure');
    const procedure = bundle.entry?.[index]?.resource as Resource & { basedOn?: unknown };
    delete procedure.basedOn; // bma-procedure: basedOn 1..*
    expect(errors(validator.validate(bundle))).toEqual([
      expect.stringMatching(new RegExp(`^Bundle\\.entry\\[${index}\\]\\.resource\\.basedOn: Missing element`)),
    ]);
  });
});
