import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Bundle, OperationOutcome } from '@medplum/fhirtypes';
import { repoRoot } from '../../../test/support/paths';
import { run } from '../src/main';
import { capture } from './helpers';

const samples = (sub: string) =>
  fs
    .readdirSync(path.join(repoRoot, 'samples', sub))
    .filter((f) => f.endsWith('.json'))
    .map((f) => path.join(repoRoot, 'samples', sub, f));

function tmpFile(name: string, content: string | Buffer): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-cli-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return file;
}

describe('marrowbridge translate', () => {
  it('prints a transaction Bundle for a JSON order and exits 0', async () => {
    const io = capture();
    const code = await run(['translate', samples('orders')[0], '--json'], io);
    expect(code).toBe(0);
    const bundle = JSON.parse(io.stdout) as Bundle;
    expect(bundle.resourceType).toBe('Bundle');
    expect(bundle.type).toBe('transaction');
    expect(bundle.entry?.map((e) => e.resource?.resourceType)).toEqual(
      expect.arrayContaining(['Patient', 'ServiceRequest', 'Procedure', 'Specimen', 'DiagnosticReport']),
    );
  });

  it('prints a result Bundle with Observations for a JSON result update', async () => {
    const io = capture();
    const code = await run(['translate', samples('results')[0], '--json'], io);
    expect(code).toBe(0);
    const bundle = JSON.parse(io.stdout) as Bundle;
    expect(bundle.entry?.some((e) => e.resource?.resourceType === 'Observation')).toBe(true);
  });

  it('prints a readable summary without --json', async () => {
    const io = capture();
    expect(await run(['translate', samples('orders')[0]], io)).toBe(0);
    expect(io.stdout).toMatch(/order .+ → transaction Bundle with \d+ entries/);
    expect(io.stdout).toMatch(/PUT ServiceRequest identifier=/);
  });

  it('rejects an order without an MRN with an OperationOutcome naming the field, exit 1', async () => {
    const order = JSON.parse(fs.readFileSync(samples('orders')[0], 'utf8'));
    delete order.patient.mrn;
    const io = capture();
    const code = await run(['translate', tmpFile('no-mrn.json', JSON.stringify(order)), '--json'], io);
    expect(code).toBe(1);
    const outcome = JSON.parse(io.stdout) as OperationOutcome;
    expect(outcome.resourceType).toBe('OperationOutcome');
    expect(outcome.issue.some((i) => i.expression?.[0]?.startsWith('/patient'))).toBe(true);
    expect(io.stdout).not.toMatch(/at .+\.ts:\d+/); // no stack trace
  });

  it('rejects a file that is neither JSON nor HL7 v2', async () => {
    const io = capture();
    const code = await run(['translate', tmpFile('junk.bin', Buffer.alloc(1024, 7)), '--json'], io);
    expect(code).toBe(1);
    expect(JSON.parse(io.stdout).issue[0].details.text).toMatch(/neither canonical JSON .* nor HL7 v2/);
  });

  it.each([
    [['translate'], /exactly one FILE/],
    [['translate', 'a.json', 'b.json'], /exactly one FILE/],
    [['translate', '/nonexistent/order.json'], /no such file/],
    [['translate', 'x.json', '--bogus'], /Unknown option/],
    [['translate', 'x.json', '--time-zone', 'Mars/Olympus'], /unknown time zone/],
    [['frobnicate'], /unknown command/],
    [[], /Usage: marrowbridge/],
  ])('usage error %j exits 2', async (argv, message) => {
    const io = capture();
    expect(await run(argv as string[], io)).toBe(2);
    expect(io.stderr).toMatch(message);
  });
});

describe('the installed bin', () => {
  it('runs as `pnpm exec marrowbridge` under Node 22', () => {
    const out = execFileSync('pnpm', ['exec', 'marrowbridge', 'translate', samples('orders')[0], '--json'], {
      cwd: repoRoot,
      encoding: 'utf8',
    });
    expect((JSON.parse(out) as Bundle).type).toBe('transaction');
  }, 60000);
});
