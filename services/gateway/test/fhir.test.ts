/**
 * FHIR-style operations: $validate (bare resource or Parameters, Bundle), metadata, the compiled profiles,
 * and the OpenAPI document against the routes the express router really has.
 */
import fs from 'node:fs';
import path from 'node:path';
import { EXAMPLES_DIR, loadStructureDefinitions, PROFILE_URLS } from '@marrowbridge/fhir-profiles';
import type { Express } from 'express';
import { withTestRedis } from '../../../test/harness/redis';
import { sample } from '../../../test/support/stack';
import { DASHBOARD_PATH } from '../src';
import { FHIR_HEADERS, JSON_HEADERS, startGatewayStack, type GatewayStack } from './helpers';

const redis = withTestRedis();

interface Outcome {
  resourceType: 'OperationOutcome';
  issue: { severity: string; code: string; details?: { text?: string }; expression?: string[] }[];
}

const example = (kind: 'valid' | 'invalid', file: string) =>
  JSON.parse(fs.readFileSync(path.join(EXAMPLES_DIR, kind, file), 'utf8')) as Record<string, unknown> & {
    meta?: { profile?: string[] };
  };
const errorsOf = (o: Outcome) => o.issue.filter((i) => i.severity === 'error' || i.severity === 'fatal');

describe('FHIR-style operations', () => {
  let g: GatewayStack;
  beforeAll(async () => {
    g = await startGatewayStack({ redisUrl: redis().url });
  });
  afterAll(async () => g?.stop());

  const post = (p: string, body: unknown, headers: Record<string, string> = FHIR_HEADERS) =>
    g.call(p, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });

  it('$validate answers 200 with an OperationOutcome for a valid and for an invalid resource', async () => {
    const valid = await post('/fhir/Procedure/$validate', example('valid', 'procedure-completed.json'));
    expect(valid.status).toBe(200);
    expect(valid.headers.get('content-type')).toMatch(/application\/fhir\+json/);
    const ok = (await valid.json()) as Outcome;
    expect(ok.resourceType).toBe('OperationOutcome');
    expect(errorsOf(ok)).toEqual([]);
    expect(ok.issue.length).toBeGreaterThan(0);

    const broken = { ...example('valid', 'procedure-completed.json'), status: 'bogus' };
    const invalid = await post('/fhir/Procedure/$validate', broken, JSON_HEADERS);
    expect(invalid.status).toBe(200);
    const bad = (await invalid.json()) as Outcome;
    expect(errorsOf(bad).some((i) => i.expression?.includes('Procedure.status'))).toBe(true);
  });

  it('$validate takes a Parameters with resource and profile, and ?profile=', async () => {
    const broken = example('invalid', 'procedure-wrong-code.json');
    const profile = PROFILE_URLS.procedure;
    const res = await post('/fhir/Procedure/$validate', {
      resourceType: 'Parameters',
      parameter: [
        { name: 'resource', resource: broken },
        { name: 'profile', valueCanonical: profile },
      ],
    });
    expect(res.status).toBe(200);
    const withProfile = (await res.json()) as Outcome;
    // Against base R4 alone the resource is fine; the profile is what finds (or cannot check) the rule.
    expect(errorsOf(withProfile).length).toBeGreaterThan(0);
    // The same resource without meta.profile is checked against base R4 only (meta.profile is applied when present).
    const bare = { ...broken, meta: undefined };
    const base = (await (await post('/fhir/Procedure/$validate', bare)).json()) as Outcome;
    expect(errorsOf(base)).toEqual([]);
    const viaQuery = (await (
      await post(`/fhir/Procedure/$validate?profile=${encodeURIComponent(profile)}`, broken)
    ).json()) as Outcome;
    expect(errorsOf(viaQuery)).toEqual(errorsOf(withProfile));
  });

  it('$validate of a Bundle checks its entries', async () => {
    const res = await post('/$translate', fs.readFileSync(sample('order-sternum'), 'utf8'), JSON_HEADERS);
    const translated = (await res.json()) as {
      messages: { items: { bundle: { entry: { resource: Record<string, unknown> }[] } }[] }[];
    };
    const bundle = translated.messages[0].items[0].bundle;
    const clean = (await (await post('/fhir/Bundle/$validate', bundle)).json()) as Outcome;
    expect(errorsOf(clean)).toEqual([]);
    const spec = bundle.entry.find((e) => e.resource.resourceType === 'Specimen')!;
    spec.resource.status = 'lost';
    const bad = (await (await post('/fhir/Bundle/$validate', bundle)).json()) as Outcome;
    expect(errorsOf(bad).length).toBeGreaterThan(0);
    expect(JSON.stringify(errorsOf(bad))).toMatch(/Specimen\.status/);
  });

  it('$validate refuses what it cannot validate with 400 (not JSON, wrong type, no resource) and other media with 415', async () => {
    const notJson = await post('/fhir/Procedure/$validate', '{"resourceType": ');
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as Outcome).issue[0].code).toBe('structure');
    const wrongType = await post('/fhir/Observation/$validate', example('valid', 'procedure-completed.json'));
    expect(wrongType.status).toBe(400);
    expect(((await wrongType.json()) as Outcome).issue[0].details?.text).toMatch(/Procedure.*Observation/);
    const empty = await post('/fhir/Procedure/$validate', { resourceType: 'Parameters', parameter: [] });
    expect(empty.status).toBe(400);
    const xml = await post('/fhir/Procedure/$validate', '<Procedure/>', { 'content-type': 'application/fhir+xml' });
    expect(xml.status).toBe(415);
  });

  it('GET /fhir/metadata is a CapabilityStatement listing $validate and the profiles', async () => {
    const res = await g.call('/fhir/metadata');
    expect(res.status).toBe(200);
    const cs = (await res.json()) as {
      resourceType: string;
      fhirVersion: string;
      rest: {
        resource: { type: string; supportedProfile?: string[]; operation?: { name: string }[] }[];
        operation: { name: string }[];
      }[];
    };
    expect(cs.resourceType).toBe('CapabilityStatement');
    expect(cs.fhirVersion).toBe('4.0.1');
    const byType = new Map(cs.rest[0].resource.map((r) => [r.type, r]));
    expect(byType.get('Bundle')?.operation?.map((o) => o.name)).toContain('validate');
    expect(byType.get('Procedure')?.supportedProfile).toContain(PROFILE_URLS.procedure);
    expect(byType.get('Specimen')?.supportedProfile).toEqual(
      expect.arrayContaining([PROFILE_URLS.aspirateSpecimen, PROFILE_URLS.trephineSpecimen]),
    );
    expect(cs.rest[0].operation.map((o) => o.name)).toContain('translate');
  });

  it('serves the compiled profiles at /fhir/StructureDefinition/{id}', async () => {
    const compiled = loadStructureDefinitions();
    for (const sd of compiled) {
      const res = await g.call(`/fhir/StructureDefinition/${sd.id}`);
      expect(res.status).toBe(200);
      const served = (await res.json()) as { url: string; snapshot?: { element: unknown[] } };
      expect(served.url).toBe(sd.url);
      expect(served.snapshot?.element.length).toBeGreaterThan(0);
    }
    const search = (await (
      await g.call(`/fhir/StructureDefinition?url=${encodeURIComponent(PROFILE_URLS.diagnosticReport)}`)
    ).json()) as { total: number; entry: { resource: { id: string } }[] };
    expect(search.total).toBe(1);
    expect(search.entry[0].resource.id).toBe('bma-diagnostic-report');
    const missing = await g.call('/fhir/StructureDefinition/no-such-profile');
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as Outcome).issue[0].code).toBe('not-found');
  });

  it('times every validation in the metrics', async () => {
    const text = await (await g.call('/metrics')).text();
    const m = /^marrowbridge_validation_duration_seconds_count\{operation="\$validate"\} (\d+)$/m.exec(text);
    expect(Number(m?.[1])).toBeGreaterThanOrEqual(7);
    expect(text).toMatch(/^marrowbridge_validation_duration_seconds_count\{operation="\$translate"\} [1-9]/m);
  });

  it('answers unknown routes with a 404 OperationOutcome', async () => {
    const res = await g.call('/nowhere');
    expect(res.status).toBe(404);
    expect(((await res.json()) as Outcome).resourceType).toBe('OperationOutcome');
  });

  it('the OpenAPI 3.1 document describes every route of the router, and only those', async () => {
    const res = await g.call('/openapi.json');
    expect(res.status).toBe(200);
    const doc = (await res.json()) as {
      openapi: string;
      servers: { url: string }[];
      paths: Record<string, Record<string, { security?: unknown[]; responses: Record<string, unknown> }>>;
    };
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.servers[0].url).toBe(g.gateway.url);

    const routes = routesOf(g.gateway.app);
    expect(routes.length).toBeGreaterThan(15);
    const documented = new Set(
      Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`)),
    );
    const missing = routes.filter((r) => !documented.has(r));
    expect(missing).toEqual([]);
    const extra = [...documented].filter((d) => !routes.includes(d));
    expect(extra).toEqual([]);
    // Every operation but health says which scope it needs.
    for (const [p, ops] of Object.entries(doc.paths)) {
      for (const op of Object.values(ops)) {
        if (p === '/healthz' || p === '/readyz') expect(op.security).toEqual([]);
        else
          expect(op.security).toEqual([{ bearerJwt: [expect.stringMatching(/^marrowbridge\/(intake|read|admin)$/)] }]);
      }
    }
  });
});

interface Layer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle: { stack?: Layer[] };
  name?: string;
  matchers?: ((path: string) => unknown)[];
}

/**
 * "METHOD /openapi/{style}" for every route of the app, walking routers mounted at the root. The dashboard is a
 * sub-application mounted at DASHBOARD_PATH: it counts as GET DASHBOARD_PATH.
 */
function routesOf(app: Express): string[] {
  const out = new Set<string>();
  const walk = (stack: Layer[]) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const p of Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path]) {
          for (const m of Object.keys(layer.route.methods)) {
            if (m === '_all') continue;
            out.add(`${m.toUpperCase()} ${p.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`);
          }
        }
      } else if (layer.handle.stack) {
        walk(layer.handle.stack);
      } else if (layer.matchers?.some((match) => match(`${DASHBOARD_PATH}/`))) {
        if (!layer.matchers.some((match) => match('/some-other-path'))) out.add(`GET ${DASHBOARD_PATH}`);
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack);
  return [...out].sort();
}
