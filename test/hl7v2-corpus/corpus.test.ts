/**
 * The outside HL7 v2 corpus (../shared/external/hl7v2: 79 messages from FHIR-Converter, ReportStream, HAPI, NAACCR
 * and the v2-to-FHIR IG) through the product path: @marrowbridge/intake (HL7 v2 → canonical → FHIR Bundles), then
 * @marrowbridge/validation on every Bundle (base R4, plus the meta.profile profiles once the validator has them).
 *
 * 1. Every message translates to Bundles with zero validation errors, or is rejected with clear, located HL7
 *    errors (table 0357); none crashes. The counts are printed.
 * 2. For the 55 messages with an expected FHIR output (FHIR-Converter, ReportStream), a field-level comparison
 *    on the README's key fields, printed as agreement per field over the fields both outputs carry; at least 90 %
 *    overall, and every field under 90 % has its explanation printed (EXPLANATIONS below).
 *
 * Times: HL7 times without a UTC offset are read as UTC here (ReportStream does the same; FHIR-Converter keeps
 * them without an offset and is compared on the wall clock).
 */
import fs from 'node:fs';
import path from 'node:path';
import { translateInput, type IntakeOptions, type MessageResult } from '@marrowbridge/intake';
import { createValidator } from '@marrowbridge/validation';
import type { Bundle, OperationOutcomeIssue } from '@medplum/fhirtypes';
import { describeExternal } from '../support/paths';
import { compareFacts, completeFragment, extractFacts, FIELDS, newTally, type Field, type Tally } from './compare';

interface IndexEntry {
  file: string;
  group: string;
  messageTypes: string[];
  expected?: { file: string };
}

/** The product path as configured by default (times without an offset read as UTC). */
const PRODUCT = { hl7: { timeZone: 'UTC' } };
/**
 * The comparison path: the same, but a result whose report code is not a BMA report code is kept instead of
 * rejected (acceptAnyReport), so that the lab reports of the corpus can be compared with the references. Those
 * Bundles cannot meet the BMA DiagnosticReport profile's code binding; every other rule still applies.
 */
const COMPARISON = { hl7: { timeZone: 'UTC', acceptAnyReport: true } };
const CODES_0357 = new Set([100, 101, 102, 103, 104, 200, 201, 202, 203, 204, 205, 206, 207]);
const THRESHOLD = 0.9;

/**
 * Why a field agrees less than 90 %: each line names the difference and whether it is a convention of the
 * reference converter or a decision of ours (a bug is not an explanation; a bug gets fixed).
 */
const EXPLANATIONS: Partial<Record<Field, string>> = {};

const NO_ORDER =
  'no order message with an expected output translates: the FHIR-Converter ORM/OML samples name ordering providers ' +
  'without an NPI (ORC-12 102), are pharmacy orders without OBR (100) or have non-marrow specimens (SPM-4/OBR-15 103); ' +
  "ReportStream's orders have non-marrow specimens or are fragments without a patient; a canonical BMA order needs an " +
  'NPI-identified orderer and marrow specimens from a marrow site (ilium, sternum, tibia), which these lab orders do not have';
/** Why a field has no pairs at all. */
const NOT_COMPARED: Partial<Record<Field, string>> = {
  'order.placer': NO_ORDER,
  'order.filler': '(see order.placer)',
  'order.status': '(see order.placer)',
  'order.authoredOn': '(see order.placer)',
  'specimen.type':
    'our result Bundles refer to the Specimens the order created (conditional references) and carry no Specimen of ' +
    'their own; the specimen type is in order Bundles only (see order.placer)',
  'specimen.collected': '(see specimen.type)',
};

const isError = (i: OperationOutcomeIssue): boolean => i.severity === 'error' || i.severity === 'fatal';
const PROFILE_UNAVAILABLE = /^Profile .* is not available to this validator/;
const REPORT_CODE_BINDING = /marrowbridge\.org\/fhir\/ValueSet\/bma-report-codes/;

interface Pass {
  name: string;
  messages: number;
  translated: number;
  rejected: number;
  crashed: number;
  bundles: number;
  resources: number;
  /** DiagnosticReport.code outside bma-report-codes: expected in the comparison pass only. */
  reportCodeBinding: number;
  profilesUnavailable: number;
  problems: string[];
  rejectionCodes: Map<string, number>;
  perFile: Map<string, MessageResult[]>;
  ms: number;
}

describeExternal('hl7v2', 'HL7 v2 corpus through intake and validation, compared with the reference outputs', (dir) => {
  const index: IndexEntry[] = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8'));
  const validator = createValidator();

  function run(name: string, options: IntakeOptions, allowReportCodes: boolean): Pass {
    const p: Pass = {
      name,
      messages: 0,
      translated: 0,
      rejected: 0,
      crashed: 0,
      bundles: 0,
      resources: 0,
      reportCodeBinding: 0,
      profilesUnavailable: 0,
      problems: [],
      rejectionCodes: new Map(),
      perFile: new Map(),
      ms: 0,
    };
    const started = Date.now();
    for (const entry of index) {
      let results: MessageResult[];
      try {
        results = translateInput(fs.readFileSync(path.join(dir, entry.file)), options);
      } catch (e) {
        p.crashed++;
        p.problems.push(`${entry.file}: threw ${(e as Error).name}`);
        continue;
      }
      p.perFile.set(entry.file, results);
      results.forEach((r, i) => {
        const where = `${entry.file}#${i}`;
        p.messages++;
        if (!r.ok) {
          const errors = r.hl7Errors ?? [];
          if (errors.some((e) => e.code === 207)) {
            p.crashed++;
            p.problems.push(`${where}: internal error`);
            return;
          }
          p.rejected++;
          const clear =
            errors.length > 0 &&
            errors.every(
              (e) =>
                /^[A-Z][A-Z0-9]{2}$/.test(e.segment) &&
                e.sequence >= 1 &&
                CODES_0357.has(e.code) &&
                e.message.length > 10,
            );
          if (!clear) p.problems.push(`${where}: rejected without a clear HL7 error`);
          const key = `${errors[0]?.segment}-${errors[0]?.field} ${errors[0]?.code}`;
          p.rejectionCodes.set(key, (p.rejectionCodes.get(key) ?? 0) + 1);
          return;
        }
        p.translated++;
        for (const { bundle } of r.items) {
          p.bundles++;
          for (const e of bundle.entry ?? []) {
            if (!e.resource) continue;
            p.resources++;
            const issues = validator
              .validate(e.resource, { profiles: e.resource.meta?.profile ?? [] })
              .issue.filter(isError);
            const real = issues.filter((x) => {
              const text = x.details?.text ?? '';
              if (PROFILE_UNAVAILABLE.test(text)) {
                p.profilesUnavailable++;
                return false;
              }
              if (
                allowReportCodes &&
                e.resource?.resourceType === 'DiagnosticReport' &&
                REPORT_CODE_BINDING.test(text)
              ) {
                p.reportCodeBinding++;
                return false;
              }
              return true;
            });
            if (real.length) {
              p.problems.push(
                `${where}: ${e.resource.resourceType}: ${real.map((x) => `${x.expression?.[0]} ${x.details?.text}`).join('; ')}`,
              );
            }
          }
          // the Bundle as a whole (entries' references, fullUrls, Bundle rules)
          const whole = validator.validate(bundle).issue.filter(isError);
          const wholeReal = whole.filter(
            (x) =>
              !PROFILE_UNAVAILABLE.test(x.details?.text ?? '') &&
              !(allowReportCodes && REPORT_CODE_BINDING.test(x.details?.text ?? '')),
          );
          if (wholeReal.length)
            p.problems.push(
              `${where}: Bundle: ${wholeReal.map((x) => `${x.expression?.[0]} ${x.details?.text}`).join('; ')}`,
            );
        }
      });
    }
    p.ms = Date.now() - started;
    const top = [...p.rejectionCodes]
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ×${v}`)
      .join(', ');
    console.log(
      `HL7 v2 corpus, ${name}: ${index.length} files, ${p.messages} messages: ${p.translated} translated ` +
        `(${p.bundles} Bundles, ${p.resources} resources, validated with 0 errors required), ` +
        `${p.rejected} rejected with a clear HL7 error, ${p.crashed} crashed; ${p.ms} ms\n` +
        `  first error of each rejection: ${top}\n` +
        (p.profilesUnavailable
          ? `  project profiles not loadable by the validator: ${p.profilesUnavailable} meta.profile checks skipped (base R4 enforced)\n`
          : '  every resource validated against base R4 and its meta.profile\n') +
        (allowReportCodes
          ? `  ${p.reportCodeBinding} DiagnosticReport.code outside bma-report-codes (the non-marrow lab reports acceptAnyReport keeps; expected)\n`
          : '') +
        (p.problems.length ? `  PROBLEMS:\n    ${p.problems.join('\n    ')}` : ''),
    );
    return p;
  }

  let product: Pass;
  let comparison: Pass;
  beforeAll(() => {
    product = run('product defaults', PRODUCT, false);
    comparison = run('comparison (acceptAnyReport)', COMPARISON, true);
  });

  it('translates or cleanly rejects every message; none crashes (product defaults and comparison options)', () => {
    for (const p of [product, comparison]) {
      expect(p.messages).toBe(79);
      expect(p.crashed).toBe(0);
      expect(p.translated + p.rejected).toBe(p.messages);
    }
    expect(comparison.translated).toBeGreaterThan(0);
  });

  it('gives Bundles without validation errors, and rejections with located table-0357 errors', () => {
    expect(product.problems).toEqual([]);
    expect(comparison.problems).toEqual([]);
  });

  describe('field-level comparison with the expected outputs (FHIR-Converter, ReportStream)', () => {
    const tally: Tally = newTally();
    const lines: string[] = [];
    const coverage = { withExpected: 0, asSent: 0, completed: 0, notCompared: 0 };
    const matched = { reports: [0, 0, 0], observations: [0, 0, 0] };
    const notCompared: string[] = [];
    const completedFiles: string[] = [];
    let overall = { pairs: 0, agree: 0 };

    beforeAll(() => {
      for (const entry of index) {
        if (!entry.expected) continue;
        coverage.withExpected++;
        const expected = JSON.parse(fs.readFileSync(path.join(dir, entry.expected.file), 'utf8')) as Bundle;
        const results = comparison.perFile.get(entry.file) ?? [];
        let r = results[0];
        let exclude = new Set<Field>();
        if (r && !r.ok) {
          const completed = r.raw ? completeFragment(r.raw) : undefined;
          const again = completed ? translateInput(completed.text, COMPARISON)[0] : undefined;
          if (completed && again) {
            r = again;
            exclude = completed.injected;
            if (again.ok) {
              coverage.completed++;
              completedFiles.push(`${path.basename(entry.file)} (${[...completed.injected].join(', ')})`);
            }
          }
        } else if (r?.ok) coverage.asSent++;
        if (!r || !r.ok) {
          coverage.notCompared++;
          const e = r && !r.ok ? r.hl7Errors?.[0] : undefined;
          notCompared.push(`${path.basename(entry.file)} (${e ? `${e.segment}-${e.field} ${e.code}` : 'no result'})`);
          continue;
        }
        const m = compareFacts(
          extractFacts(r.items.map((i) => i.bundle)),
          extractFacts([expected]),
          tally,
          exclude,
          path.basename(entry.file, '.hl7'),
        );
        matched.reports = [
          matched.reports[0] + m.reports.matched,
          matched.reports[1] + m.reports.oursOnly,
          matched.reports[2] + m.reports.expectedOnly,
        ];
        matched.observations = [
          matched.observations[0] + m.observations.matched,
          matched.observations[1] + m.observations.oursOnly,
          matched.observations[2] + m.observations.expectedOnly,
        ];
      }
      for (const f of FIELDS) {
        const t = tally.get(f)!;
        overall = { pairs: overall.pairs + t.pairs, agree: overall.agree + t.agree };
        if (t.pairs === 0) {
          lines.push(`  ${f.padEnd(28)}      —   (0 pairs)  ${NOT_COMPARED[f] ?? EXPLANATIONS[f] ?? 'NO EXPLANATION'}`);
          continue;
        }
        const pct = (100 * t.agree) / t.pairs;
        const low = t.agree / t.pairs < THRESHOLD;
        lines.push(
          `  ${f.padEnd(28)} ${pct.toFixed(1).padStart(5)} % (${t.agree}/${t.pairs})` +
            (low ? `  BELOW 90 %: ${EXPLANATIONS[f] ?? 'NO EXPLANATION'}` : '') +
            (t.samples.length ? `  disagreements: ${t.samples.join('; ')}` : ''),
        );
      }
      console.log(
        `HL7 v2 field comparison: ${coverage.withExpected} messages with an expected output: ${coverage.asSent} compared as sent, ` +
          `${coverage.completed} compared after filling in required fields they lack (those fields not compared), ` +
          `${coverage.notCompared} not compared (rejected; after filling in, where that was tried):\n` +
          `    filled in: ${completedFiles.join(', ')}\n` +
          `    not compared: ${notCompared.join(', ')}\n` +
          `  rules: ids, displays, extensions, narrative not compared; local code systems compared by code only; times as ` +
          `instants (to the coarser precision), wall clock when one side has no offset; 'unknown' statuses (the converters' ` +
          `filler for an empty field) count as not carried\n` +
          `  reports matched ${matched.reports[0]} (ours only ${matched.reports[1]}, expected only ${matched.reports[2]}); ` +
          `observations matched ${matched.observations[0]} (ours only ${matched.observations[1]}, expected only ${matched.observations[2]})\n` +
          `${lines.join('\n')}\n` +
          `  OVERALL ${((100 * overall.agree) / Math.max(1, overall.pairs)).toFixed(1)} % (${overall.agree}/${overall.pairs} field pairs)`,
      );
    });

    it('agrees on at least 90 % of the key fields both outputs carry', () => {
      expect(overall.pairs).toBeGreaterThan(100);
      expect(overall.agree / overall.pairs).toBeGreaterThanOrEqual(THRESHOLD);
    });

    it('explains every field under 90 %, and every field with nothing to compare', () => {
      const unexplained = FIELDS.filter((f) => {
        const t = tally.get(f)!;
        if (t.pairs === 0) return !NOT_COMPARED[f];
        return t.agree / t.pairs < THRESHOLD && !EXPLANATIONS[f];
      });
      expect(unexplained).toEqual([]);
    });

    it('compares at least the observations, reports and patient of the messages we translate', () => {
      expect(coverage.asSent + coverage.completed).toBeGreaterThanOrEqual(4);
      for (const f of ['patient.identifier', 'report.code', 'observation.value', 'observation.unit'] as Field[]) {
        expect(tally.get(f)!.pairs).toBeGreaterThan(0);
      }
    });
  });
});
