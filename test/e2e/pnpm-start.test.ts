/**
 * `pnpm start` as a new user runs it: the whole stack starts on its own Redis, every sample order and result is
 * delivered, the summary is printed, and (with DEMO_EXIT) it stops cleanly. The services' log file of that
 * full run holds none of the synthetic patients' names, MRNs or birth dates.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../support/paths';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Every patient name, MRN and birth date in the samples (JSON and HL7), in the forms they could be logged. */
function syntheticPatientData(): string[] {
  const values = new Set<string>();
  for (const sub of ['orders', 'results']) {
    for (const f of fs.readdirSync(path.join(repoRoot, 'samples', sub))) {
      const doc = JSON.parse(fs.readFileSync(path.join(repoRoot, 'samples', sub, f), 'utf8'));
      const p = doc.patient ?? {};
      if (p.mrn?.value) values.add(p.mrn.value);
      if (p.name?.family) values.add(p.name.family);
      for (const g of p.name?.given ?? []) if (g.length > 2) values.add(g);
      if (p.birthDate) {
        values.add(p.birthDate);
        values.add(p.birthDate.replace(/-/g, ''));
      }
    }
  }
  values.add('MRN-900001').add('TESTPATIENT').add('19610704').add('1961-07-04'); // the HL7 samples' patient
  return [...values];
}

describe('pnpm start', () => {
  it('starts everything, delivers every sample, prints the summary and stops cleanly', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-start-'));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DEMO_EXIT: 'true',
      MARROWBRIDGE_DATA_DIR: dataDir,
      GATEWAY_PORT: String(await freePort()),
      MLLP_PORT: String(await freePort()),
      EHR_SANDBOX_PORT: String(await freePort()),
      LOCAL_REDIS_PORT: String(await freePort()),
      LOG_LEVEL: 'debug',
    };
    delete env.REDIS_URL;
    delete env.EHR_BASE_URL;
    const child = spawn('pnpm', ['start'], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    if (code !== 0) console.log(out);
    expect(code).toBe(0);

    expect(out).toMatch(/✓ Redis: redis-server started on 127\.0\.0\.1:\d+/);
    expect(out).toMatch(/✓ ehr-sandbox: http:\/\/127\.0\.0\.1:\d+\/fhir\/R4 \(SMART backend auth\)/);
    expect(out).toMatch(/✓ gateway: http:\/\/127\.0\.0\.1:\d+ and mllp:\/\/127\.0\.0\.1:\d+/);
    expect(out).not.toContain('✗');
    expect(out).toMatch(/report 48807-2 preliminary: superseded/);
    const summary = out.slice(out.indexOf('Summary per order'));
    for (const placer of [
      'ORD-26-000214',
      'ORD-26-000142',
      'ORD-26-000101',
      'ORD-26-000177',
      'ORD-26-000231',
      'ORD-26-000265',
      'PLC-5001',
    ]) {
      expect(summary).toContain(`order ${placer}:`);
    }
    expect(summary).toMatch(/order ORD-26-000214: .*reports: 48807-2 amended, 101119-6 final/);
    expect(out).toMatch(/dashboard\s+http:\/\/127\.0\.0\.1:\d+\/admin\/queues/);

    const logs = fs.readFileSync(path.join(dataDir, 'logs', 'marrowbridge.log'), 'utf8');
    expect(logs.length).toBeGreaterThan(1000);
    for (const value of syntheticPatientData())
      expect({ value, found: logs.includes(value) }).toEqual({ value, found: false });
    fs.rmSync(dataDir, { recursive: true, force: true });
  }, 180_000);
});
