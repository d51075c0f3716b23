import fs from 'node:fs';
import path from 'node:path';
import { createValidator, summarize } from '../src';
import { describeExternal } from '../../../test/support/paths';

/**
 * The official FHIR R4 examples (hl7.fhir.r4.examples 4.0.1: Specimen, ServiceRequest,
 * Procedure, DiagnosticReport, Observation, Bundles, ...) must validate with zero errors
 * against base R4. A failure here is a validator gap to fix, never a file to exclude.
 */
describeExternal('fhir-examples', 'official R4 examples validate against base R4', (dir) => {
  const coreDir = path.join(dir, 'r4-core');
  const files = fs
    .readdirSync(coreDir)
    .filter((f) => f.endsWith('.json') && f !== 'package.json' && f !== 'index.json')
    .sort();
  const validator = createValidator();

  it('finds the example files', () => {
    expect(files.length).toBeGreaterThanOrEqual(110);
    for (const type of ['Specimen', 'ServiceRequest', 'Procedure', 'DiagnosticReport', 'Observation', 'Bundle']) {
      expect(files.some((f) => f.startsWith(`${type}-`))).toBe(true);
    }
  });

  it.each(files)('%s has zero errors', (file) => {
    const outcome = validator.validateJson(fs.readFileSync(path.join(coreDir, file), 'utf8'));
    const errors = outcome.issue
      .filter((i) => i.severity === 'error' || i.severity === 'fatal')
      .map((i) => `${i.expression?.[0] ?? '-'}: ${i.details?.text ?? ''}`);
    expect(errors).toEqual([]);
    expect(summarize(outcome).fatal + summarize(outcome).error).toBe(0);
  });
});
