import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { OperationOutcome, StructureDefinition } from '@medplum/fhirtypes';
import { describeExternal, repoRoot } from '../../../test/support/paths';
import { run } from '../src/main';
import { capture } from './helpers';

const examples = path.join(repoRoot, 'fhir-profiles', 'examples');

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'mb-validate-'));
}

function errorsOf(outcome: OperationOutcome): string[] {
  return outcome.issue
    .filter((i) => i.severity === 'error' || i.severity === 'fatal')
    .map((i) => i.expression?.[0] ?? '');
}

describe('marrowbridge validate', () => {
  it('exits 0 for a resource that conforms to the profile it declares, with a readable summary', async () => {
    const io = capture();
    const code = await run(['validate', path.join(examples, 'valid', 'specimen-aspirate.json')], io);
    expect(code).toBe(0);
    expect(io.stdout).toMatch(/specimen-aspirate\.json: VALID: 0 error\(s\), 0 warning\(s\)/);
  });

  it('exits 1 and prints the OperationOutcome with --json when the profile is not met', async () => {
    const io = capture();
    const code = await run(
      ['validate', path.join(examples, 'invalid', 'procedure-wrong-body-site.json'), '--json'],
      io,
    );
    expect(code).toBe(1);
    const outcome = JSON.parse(io.stdout) as OperationOutcome;
    expect(outcome.resourceType).toBe('OperationOutcome');
    expect(errorsOf(outcome)).toEqual(['Procedure.bodySite[0]']);
    expect(outcome.issue[0].diagnostics).toMatch(
      /^profile http:\/\/marrowbridge\.org\/fhir\/StructureDefinition\/bma-procedure, element Procedure\.bodySite, required binding/,
    );
  });

  it('readable output names the location, the rule and a hint', async () => {
    const io = capture();
    const code = await run(['validate', path.join(examples, 'invalid', 'observation-effective-period.json')], io);
    expect(code).toBe(1);
    expect(io.stdout).toMatch(/INVALID: 1 error\(s\)/);
    expect(io.stdout).toMatch(/error\s+Observation\.effective\.ofType\(Period\)/);
    expect(io.stdout).toMatch(/allows only dateTime/);
    expect(io.stdout).toMatch(
      /rule: profile http:\/\/marrowbridge\.org\/fhir\/StructureDefinition\/bma-result-observation, element Observation\.effective\[x\], type restriction/,
    );
  });

  it('applies --profile to a resource that does not declare it', async () => {
    const resource = JSON.parse(
      fs.readFileSync(path.join(examples, 'invalid', 'specimen-missing-subject.json'), 'utf8'),
    ) as {
      meta?: unknown;
    };
    delete resource.meta;
    const file = path.join(tmpDir(), 'specimen.json');
    fs.writeFileSync(file, JSON.stringify(resource));
    expect(await run(['validate', file], capture())).toBe(0);
    const io = capture();
    const url = 'http://marrowbridge.org/fhir/StructureDefinition/bma-trephine-specimen';
    expect(await run(['validate', file, '--profile', url, '--json'], io)).toBe(1);
    expect(errorsOf(JSON.parse(io.stdout) as OperationOutcome)).toEqual(['Specimen.subject']);
  });

  it('loads an engineer profile without a snapshot with --ig (file or folder) and enforces it', async () => {
    const dir = tmpDir();
    const sd: StructureDefinition = {
      resourceType: 'StructureDefinition',
      url: 'http://example.org/fhir/StructureDefinition/specimen-with-collector',
      name: 'SpecimenWithCollector',
      status: 'draft',
      kind: 'resource',
      abstract: false,
      type: 'Specimen',
      baseDefinition: 'http://hl7.org/fhir/StructureDefinition/Specimen',
      derivation: 'constraint',
      differential: {
        element: [
          { id: 'Specimen.collection', path: 'Specimen.collection', min: 1 },
          { id: 'Specimen.collection.collector', path: 'Specimen.collection.collector', min: 1 },
        ],
      },
    };
    fs.mkdirSync(path.join(dir, 'ig'));
    fs.writeFileSync(path.join(dir, 'ig', 'sd.json'), JSON.stringify(sd));
    const specimen = { resourceType: 'Specimen', collection: { collectedDateTime: '2026-01-02T10:00:00Z' } };
    const file = path.join(dir, 'specimen.json');
    fs.writeFileSync(file, JSON.stringify(specimen));
    for (const ig of [path.join(dir, 'ig'), path.join(dir, 'ig', 'sd.json')]) {
      const io = capture();
      expect(await run(['validate', file, '--ig', ig, '--profile', sd.url as string, '--json'], io)).toBe(1);
      expect(errorsOf(JSON.parse(io.stdout) as OperationOutcome)).toEqual(['Specimen.collection.collector']);
    }
    fs.writeFileSync(
      file,
      JSON.stringify({ ...specimen, collection: { ...specimen.collection, collector: { display: 'Dr A' } } }),
    );
    expect(await run(['validate', file, '--ig', path.join(dir, 'ig'), '--profile', sd.url as string], capture())).toBe(
      0,
    );
  });

  it.each([
    [['validate'], /validate takes exactly one FILE/],
    [['validate', 'a.json', 'b.json'], /exactly one FILE/],
    [['validate', path.join(os.tmpdir(), 'no-such-file-mb.json')], /no such file/],
    [['validate', path.join(examples, 'valid', 'specimen-aspirate.json'), '--nope'], /Unknown option/],
    [
      ['validate', path.join(examples, 'valid', 'specimen-aspirate.json'), '--ig', '/no/such/ig'],
      /no such file or folder for --ig/,
    ],
    [
      ['validate', path.join(examples, 'valid', 'specimen-aspirate.json'), '--profile', 'http://example.org/unknown'],
      /unknown profile/,
    ],
    [['profiles'], /profiles needs a subcommand: build/],
    [['profiles', 'compile'], /unknown profiles subcommand/],
  ])('usage error %j exits 2', async (args, message) => {
    const io = capture();
    expect(await run(args, io)).toBe(2);
    expect(io.stderr).toMatch(message);
  });

  it('strict JSON: a syntax error is a fatal issue (exit 1), not a crash', async () => {
    const file = path.join(tmpDir(), 'broken.json');
    fs.writeFileSync(file, '{ "resourceType": "Specimen", }');
    const io = capture();
    expect(await run(['validate', file, '--json'], io)).toBe(1);
    expect((JSON.parse(io.stdout) as OperationOutcome).issue[0].severity).toBe('fatal');
  });

  it('the installed command gives the same exit codes (1 on errors, 2 on usage errors)', () => {
    const invoke = (...args: string[]) =>
      spawnSync('pnpm', ['exec', 'marrowbridge', 'validate', ...args], { cwd: repoRoot, encoding: 'utf8' });
    const bad = invoke(path.join(examples, 'invalid', 'service-request-intent-plan.json'), '--json');
    expect(bad.status).toBe(1);
    expect(errorsOf(JSON.parse(bad.stdout) as OperationOutcome)).toEqual(['ServiceRequest.intent']);
    expect(invoke().status).toBe(2);
  }, 60000);
});

describeExternal('fhir-examples', 'marrowbridge validate --ig with US Core differential-only profiles', (dir) => {
  const profiles = path.join(dir, 'us-core', 'profiles');
  const serum = path.join(dir, 'us-core', 'examples', 'specimen-example-serum.json');

  it('validates a US Core example against its profile (structural checks; missing value sets are warnings)', async () => {
    const io = capture();
    const url = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-specimen';
    expect(await run(['validate', serum, '--ig', profiles, '--profile', url], io)).toBe(0);
    expect(io.stdout).toMatch(/VALID: 0 error\(s\)/);
  });

  it('reports a structural violation of the generated snapshot', async () => {
    const specimen = JSON.parse(fs.readFileSync(serum, 'utf8')) as { type?: unknown };
    delete specimen.type; // us-core-specimen: type 1..1
    const file = path.join(tmpDir(), 'serum.json');
    fs.writeFileSync(file, JSON.stringify(specimen));
    const io = capture();
    expect(await run(['validate', file, '--ig', profiles, '--json'], io)).toBe(1);
    const outcome = JSON.parse(io.stdout) as OperationOutcome;
    expect(errorsOf(outcome)).toEqual(['Specimen.type']);
    expect(outcome.issue[0].diagnostics).toMatch(/us-core-specimen, element Specimen\.type, cardinality 1\.\.1/);
  });
});

describe('marrowbridge profiles build', () => {
  it('--check rebuilds fhir-profiles into a temporary folder and finds build/ up to date', async () => {
    const io = capture();
    const code = await run(['profiles', 'build', '--check'], io);
    expect([code, io.stderr]).toEqual([0, '']);
    expect(io.stdout).toMatch(/SUSHI \d+\.\d+\.\d+: 0 errors/);
    expect(io.stdout).toMatch(/fhir-profiles\/build is up to date\./);
  }, 120000);
});
