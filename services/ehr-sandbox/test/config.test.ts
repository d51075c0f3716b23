import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { LogEvent } from '../src';
import { ConfigError, loadConfigFromEnv, startEhrSandbox } from '../src';
import { fhir } from './helpers';

const pkgDir = path.resolve(__dirname, '..');

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration from the environment', () => {
  test('defaults', () => {
    const c = loadConfigFromEnv({ EHR_SANDBOX_LOG: 'silent' });
    expect(c).toMatchObject({
      port: 8103,
      host: '127.0.0.1',
      auth: 'smart',
      basePath: '/fhir/R4',
      tokenTtlSeconds: 300,
    });
    expect(c.clients).toEqual([]);
    expect(c.validate).toBeUndefined();
  });

  test.each([
    [{ EHR_SANDBOX_PORT: 'eighty' }, 'EHR_SANDBOX_PORT'],
    [{ EHR_SANDBOX_PORT: '70000' }, 'EHR_SANDBOX_PORT'],
    [{ EHR_SANDBOX_AUTH: 'maybe' }, 'EHR_SANDBOX_AUTH'],
    [{ EHR_SANDBOX_TOKEN_TTL: '0' }, 'EHR_SANDBOX_TOKEN_TTL'],
    [{ EHR_SANDBOX_CLIENTS: '/nonexistent/clients.json' }, 'EHR_SANDBOX_CLIENTS'],
    [{ EHR_SANDBOX_FAULTS: '{"errorRat": 0.1}' }, 'EHR_SANDBOX_FAULTS.errorRat'],
    [{ EHR_SANDBOX_FAULTS: 'not json' }, 'EHR_SANDBOX_FAULTS'],
    [{ EHR_SANDBOX_HOST: '0.0.0.0' }, 'EHR_SANDBOX_ADMIN_TOKEN'],
    [{ EHR_SANDBOX_VALIDATE: 'sometimes' }, 'EHR_SANDBOX_VALIDATE'],
    [{ EHR_SANDBOX_PUBLIC_URL: 'ehr:8103' }, 'EHR_SANDBOX_PUBLIC_URL'],
  ])('%j → a ConfigError naming %s', (env, name) => {
    expect(configError(() => loadConfigFromEnv({ EHR_SANDBOX_LOG: 'silent', ...env }))).toContain(name);
  });

  test('EHR_SANDBOX_CLIENTS loads registrations from a JSON file and checks them', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ehr-sandbox-'));
    const good = path.join(dir, 'good.json');
    const jwk = { kty: 'EC', crv: 'P-384', x: 'x', y: 'y' };
    fs.writeFileSync(good, JSON.stringify({ clients: [{ clientId: 'marrowbridge', jwk, scope: 'system/*.cruds' }] }));
    expect(loadConfigFromEnv({ EHR_SANDBOX_LOG: 'silent', EHR_SANDBOX_CLIENTS: good }).clients[0].clientId).toBe(
      'marrowbridge',
    );
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify([{ clientId: 'x', jwk, scope: 'patient/*.read' }]));
    expect(configError(() => loadConfigFromEnv({ EHR_SANDBOX_LOG: 'silent', EHR_SANDBOX_CLIENTS: bad }))).toMatch(
      /EHR_SANDBOX_CLIENTS.*patient\/\*\.read/,
    );
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('startEhrSandbox checks its options too', async () => {
    await expect(startEhrSandbox({ port: -1 })).rejects.toThrow(/options\.port/);
    await expect(startEhrSandbox({ faults: { dropRate: 3 } })).rejects.toThrow(/options\.faults\.dropRate/);
  });
});

describe('logs', () => {
  test('carry no resource content, identifiers or query strings', async () => {
    const lines: LogEvent[] = [];
    const sb = await startEhrSandbox({ auth: 'off', log: (e) => lines.push(e) });
    const secretMrn = 'MRN-SECRET-4711';
    try {
      const url = `Patient?identifier=${encodeURIComponent('urn:oid:1.2.3')}|${secretMrn}`;
      await fhir(sb, url, {
        method: 'PUT',
        body: {
          resourceType: 'Patient',
          identifier: [{ system: 'urn:oid:1.2.3', value: secretMrn }],
          name: [{ family: 'Zyxwvut' }],
        },
      });
      await fhir(sb, url);
      await fhir(sb, 'Observation', {
        method: 'POST',
        body: { resourceType: 'Observation', code: { text: 'Zyxwvut' } },
      });
    } finally {
      await sb.stop();
    }
    const text = JSON.stringify(lines);
    expect(lines.filter((l) => l.msg === 'fhir request')).toHaveLength(3);
    expect(text).not.toContain(secretMrn);
    expect(text).not.toContain('Zyxwvut');
    expect(text).not.toContain('identifier');
  });
});

describe('standalone entry (src/main.ts)', () => {
  function run(env: Record<string, string>): {
    child: ReturnType<typeof spawn>;
    output: () => string;
    exited: Promise<number | null>;
  } {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: pkgDir,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout?.on('data', (d) => (out += String(d)));
    child.stderr?.on('data', (d) => (out += String(d)));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    return { child, output: () => out, exited };
  }

  test('a wrong setting stops the start with a message naming it', async () => {
    const p = run({ EHR_SANDBOX_AUTH: 'sometimes' });
    expect(await p.exited).toBe(2);
    expect(p.output()).toContain('EHR_SANDBOX_AUTH');
  });

  test('starts, serves, and stops gracefully on SIGTERM', async () => {
    const p = run({ EHR_SANDBOX_PORT: '0', EHR_SANDBOX_AUTH: 'off' });
    const deadline = Date.now() + 30_000;
    let baseUrl: string | undefined;
    while (!baseUrl && Date.now() < deadline) {
      const m = /"baseUrl":"([^"]+)"/.exec(p.output());
      baseUrl = m?.[1];
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(baseUrl).toBeDefined();
    const res = await fetch(`${baseUrl}/metadata`);
    expect(res.status).toBe(200);
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    expect(p.output()).toContain('SIGTERM: stopping');
  });
});
