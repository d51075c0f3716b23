/**
 * `marrowbridge translate FILE --json` with HL7 v2 input: one message → its Bundle; a message with two reports →
 * a list of two Bundles; a batch file → one entry per message (a Bundle, or the OperationOutcome that rejected it).
 * Synthetic messages only (invented patients and ids).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Bundle, OperationOutcome } from '@medplum/fhirtypes';
import { repoRoot } from '../../../test/support/paths';
import { run } from '../src/main';
import { capture } from './helpers';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-cli-hl7-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string | Buffer): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, content);
  return f;
}

const MSH_ORU = (id: string) =>
  `MSH|^~\\&|LIS|MBLAB|EPICORD|MBHOSP|20240315170000-0400||ORU^R01^ORU_R01|${id}|P|2.5.1|||AL|NE`;
const PID = 'PID|1||MRN-C1^^^MBHOSP&2.16.840.1.113883.3.9999.1&ISO^MR||TESTPATIENT^CLI||19700101|F';
const ORC = 'ORC|RE|PLC-C1^EPICORD|FIL-C1^LIS||CM';
const obr = (code: string, n = 1) =>
  `OBR|${n}|PLC-C1^EPICORD|FIL-C1^LIS|${code}|||20240312101000-0400|||||||||||||||20240315165500-0400||HM|F`;
const OBX = [
  'OBX|1|NM|11108-8^Lymphocytes/cells in Bone marrow by Manual count^LN||12.0|%^percent^UCUM|5-20|N|||F',
  'OBX|2|SN|11138-5^Myeloid cells/Erythroid cells [# Ratio] in Bone marrow^LN||^3^:^1||||||F',
];
const oru = (id: string): string =>
  [MSH_ORU(id), PID, ORC, obr('48807-2^Bone marrow aspiration report^LN'), ...OBX].join('\r');
const orm = (id: string): string =>
  [
    `MSH|^~\\&|HISORD|MBHOSP|LIS|MBLAB|20230115081500||ORM^O01|${id}|P|2.3`,
    'PID|1||MRN-C2^^^MBHOSP^MR||TESTPATIENT^CLI||19550212|M',
    'ORC|NW|PLC-C2^HISORD|||||||20230115080000|||1987654328^PRESCRIBER^PAT^^^DR',
    'OBR|1|PLC-C2^HISORD||BMA^Bone marrow aspiration^L|S||||||||||MAR&Marrow&HL70070^EDTA^^PIC&Posterior iliac crest&L^R&Right&HL70495|1987654328^PRESCRIBER^PAT^^^DR',
  ].join('\r');

describe('marrowbridge translate FILE.hl7 --json', () => {
  it('prints the transaction Bundle of one BMA ORU^R01 (BOM and LF line ends accepted), exit 0', async () => {
    const io = capture();
    const f = file(
      'oru.hl7',
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(oru('CLI-1').replaceAll('\r', '\n'))]),
    );
    expect(await run(['translate', f, '--json'], io)).toBe(0);
    const bundle = JSON.parse(io.stdout) as Bundle;
    expect(bundle.type).toBe('transaction');
    const types = bundle.entry?.map((e) => e.resource?.resourceType);
    expect(types).toEqual(['DiagnosticReport', 'Observation', 'Observation']);
    const report = bundle.entry?.[0].resource;
    expect(report?.resourceType === 'DiagnosticReport' && report.status).toBe('final');
    expect(report?.resourceType === 'DiagnosticReport' && report.issued).toBe('2024-03-15T16:55:00-04:00');
  });

  it('prints a list of Bundles for one ORU^R01 with two reports', async () => {
    const io = capture();
    const text = [
      MSH_ORU('CLI-2'),
      PID,
      ORC,
      obr('48807-2^Bone marrow aspiration report^LN'),
      ...OBX,
      ORC,
      obr('101119-6^Leukemia and lymphoma immunophenotyping panel^LN', 2),
      'OBX|1|NM|20587-2^Blasts CD34 positive/cells^LN||3.5|%^percent^UCUM|||||F',
    ].join('\r');
    expect(await run(['translate', file('two.hl7', text), '--json'], io)).toBe(0);
    const bundles = JSON.parse(io.stdout) as Bundle[];
    expect(bundles).toHaveLength(2);
    expect(bundles.map((b) => b.entry?.[0].resource?.resourceType === 'DiagnosticReport')).toEqual([true, true]);
  });

  it('gives one entry per message of a batch file (FHS/BHS envelope), in order', async () => {
    const io = capture();
    const batch = ['FHS|^~\\&|LIS', 'BHS|^~\\&|LIS', orm('CLI-3'), oru('CLI-4'), 'BTS|2', 'FTS|1'].join('\r');
    expect(await run(['translate', file('batch.hl7', batch), '--json'], io)).toBe(0);
    const out = JSON.parse(io.stdout) as Bundle[];
    expect(out).toHaveLength(2);
    expect(out[0].entry?.map((e) => e.resource?.resourceType)).toEqual(
      expect.arrayContaining(['Patient', 'ServiceRequest', 'Specimen', 'Procedure', 'DiagnosticReport']),
    );
    expect(out[1].entry?.[0].resource?.resourceType).toBe('DiagnosticReport');
  });

  it('puts the OperationOutcome of a rejected message in its place in the batch, exit 1', async () => {
    const io = capture();
    const bad = oru('CLI-6').replace(/^PID\|1\|\|[^|]*\|/m, 'PID|1|||');
    expect(await run(['translate', file('mixed.hl7', [oru('CLI-5'), bad].join('\n\n')), '--json'], io)).toBe(1);
    const [first, second] = JSON.parse(io.stdout) as [Bundle, OperationOutcome];
    expect(first.resourceType).toBe('Bundle');
    expect(second.resourceType).toBe('OperationOutcome');
    expect(second.issue[0]).toMatchObject({ expression: ['PID-3'] });
    expect(second.issue[0].details?.coding?.[0]).toEqual({
      system: 'http://terminology.hl7.org/CodeSystem/v2-0357',
      code: '101',
    });
    expect(JSON.stringify(second)).not.toMatch(/TESTPATIENT|MRN-C1/); // no patient data in the rejection
  });

  it('reads HL7 times without an offset in --time-zone', async () => {
    const io = capture();
    const text = oru('CLI-7').replace('20240315165500-0400', '20240315165500');
    expect(await run(['translate', file('tz.hl7', text), '--json', '--time-zone', 'America/Chicago'], io)).toBe(0);
    const report = (JSON.parse(io.stdout) as Bundle).entry?.[0].resource;
    expect(report?.resourceType === 'DiagnosticReport' && report.issued).toBe('2024-03-15T16:55:00-05:00');
  });

  it('summarises a batch per message without --json', async () => {
    const io = capture();
    expect(await run(['translate', file('batch2.hl7', [orm('CLI-8'), oru('CLI-9')].join('\r'))], io)).toBe(0);
    expect(io.stdout).toMatch(/message 1 \(HL7 2\.3, control id CLI-8\): 1 item\(s\)/);
    expect(io.stdout).toMatch(/message 2 \(HL7 2\.5\.1, control id CLI-9\): 1 item\(s\)/);
    expect(io.stdout).toMatch(/result 48807-2 \(final\) for order PLC-C1/);
  });

  it('runs as `pnpm exec marrowbridge translate FILE.hl7 --json`', () => {
    const out = execFileSync('pnpm', ['exec', 'marrowbridge', 'translate', file('bin.hl7', oru('CLI-10')), '--json'], {
      cwd: repoRoot,
      encoding: 'utf8',
    });
    expect((JSON.parse(out) as Bundle).entry?.[0].resource?.resourceType).toBe('DiagnosticReport');
  }, 60000);
});
