import type { OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { EhrSandbox } from '../src';
import { startEhrSandbox } from '../src';
import { fhir, isOutcome } from './helpers';
import type { Json } from './helpers';

// Synthetic data only.
const MRN_SYSTEM = 'urn:oid:2.16.840.1.113883.3.999.1';

function patient(mrn: string, family = 'Testperson'): Resource {
  return {
    resourceType: 'Patient',
    identifier: [{ system: MRN_SYSTEM, value: mrn }],
    name: [{ family, given: ['Alex'] }],
  } as Resource;
}

describe('ehr-sandbox REST (auth off)', () => {
  let sb: EhrSandbox;
  const validated: string[] = [];

  beforeAll(async () => {
    sb = await startEhrSandbox({
      auth: 'off',
      // A toy validator: an Observation must have a status.
      validate: (r) => {
        validated.push(r.resourceType);
        if (r.resourceType === 'Observation' && !(r as { status?: string }).status) {
          return {
            resourceType: 'OperationOutcome',
            issue: [
              {
                severity: 'error',
                code: 'required',
                diagnostics: 'Observation.status is required',
                expression: ['Observation.status'],
              },
            ],
          } as OperationOutcome;
        }
        return undefined;
      },
    });
  });
  afterAll(async () => {
    await sb.stop();
  });
  beforeEach(async () => {
    await sb.resetData();
  });

  test('create answers 201 with Location, ETag, Last-Modified and the stored resource', async () => {
    const r = await fhir(sb, 'Patient', { method: 'POST', body: patient('MRN-100') });
    expect(r.status).toBe(201);
    expect(r.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
    const { id, meta } = r.body;
    expect(id).toBeTruthy();
    expect(r.headers.get('etag')).toBe(`W/"${meta.versionId}"`);
    expect(r.headers.get('location')).toBe(`${sb.baseUrl}/Patient/${id}/_history/${meta.versionId}`);
    expect(new Date(r.headers.get('last-modified') as string).getTime()).toBeGreaterThan(0);

    const read = await fhir(sb, `Patient/${id}`);
    expect(read.status).toBe(200);
    expect(read.body.identifier[0].value).toBe('MRN-100');
    expect(read.headers.get('etag')).toBe(`W/"${meta.versionId}"`);

    const notModified = await fetch(`${sb.baseUrl}/Patient/${id}`, {
      headers: { 'if-none-match': `W/"${meta.versionId}"` },
    });
    expect(notModified.status).toBe(304);
  });

  test('update with If-Match: current version → 200 and a new version; stale → 412 OperationOutcome', async () => {
    const created = (await fhir(sb, 'Patient', { method: 'POST', body: patient('MRN-101') })).body;
    const v1 = created.meta.versionId;
    const changed = { ...created, name: [{ family: 'Renamed' }] };
    const ok = await fhir(sb, `Patient/${created.id}`, {
      method: 'PUT',
      body: changed,
      headers: { 'if-match': `W/"${v1}"` },
    });
    expect(ok.status).toBe(200);
    const v2 = ok.body.meta.versionId;
    expect(v2).not.toBe(v1);
    expect(ok.headers.get('etag')).toBe(`W/"${v2}"`);

    const stale = await fhir(sb, `Patient/${created.id}`, {
      method: 'PUT',
      body: { ...changed, name: [{ family: 'Stale' }] },
      headers: { 'if-match': `W/"${v1}"` },
    });
    expect(stale.status).toBe(412);
    expect(isOutcome(stale.body)).toBe(true);
    expect((await fhir(sb, `Patient/${created.id}`)).body.name[0].family).toBe('Renamed');
  });

  test('an update with unchanged content creates no new version', async () => {
    const created = (await fhir(sb, 'Patient', { method: 'POST', body: patient('MRN-102') })).body;
    const again = await fhir(sb, `Patient/${created.id}`, {
      method: 'PUT',
      body: { ...patient('MRN-102'), id: created.id },
    });
    expect(again.status).toBe(200);
    expect(again.body.meta.versionId).toBe(created.meta.versionId);
  });

  test('update-as-create with a client id answers 201', async () => {
    const r = await fhir(sb, 'Patient/pat-fixed-1', {
      method: 'PUT',
      body: { ...patient('MRN-103'), id: 'pat-fixed-1' },
    });
    expect(r.status).toBe(201);
    expect(r.body.id).toBe('pat-fixed-1');
  });

  test('vread and instance history (newest first, stable across calls)', async () => {
    const created = (await fhir(sb, 'Patient', { method: 'POST', body: patient('MRN-104') })).body;
    const v2 = (await fhir(sb, `Patient/${created.id}`, { method: 'PUT', body: { ...created, gender: 'female' } }))
      .body;
    const old = await fhir(sb, `Patient/${created.id}/_history/${created.meta.versionId}`);
    expect(old.status).toBe(200);
    expect(old.body.gender).toBeUndefined();
    for (let i = 0; i < 2; i++) {
      const h = await fhir(sb, `Patient/${created.id}/_history`);
      expect(h.status).toBe(200);
      expect(h.body.type).toBe('history');
      expect(h.body.total).toBe(2);
      expect(h.body.entry.map((e: { resource: Resource }) => e.resource.meta?.versionId)).toEqual([
        v2.meta.versionId,
        created.meta.versionId,
      ]);
    }
    expect((await fhir(sb, `Patient/${created.id}/_history/no-such-version`)).status).toBe(404);
  });

  test('conditional create (If-None-Exist) is idempotent', async () => {
    const headers = { 'if-none-exist': `identifier=${encodeURIComponent(MRN_SYSTEM)}|MRN-105` };
    const first = await fhir(sb, 'Patient', { method: 'POST', body: patient('MRN-105'), headers });
    const second = await fhir(sb, 'Patient', { method: 'POST', body: patient('MRN-105'), headers });
    expect(first.status).toBe(201);
    expect(second.status).toBe(200);
    expect(second.body.id).toBe(first.body.id);
    expect(await sb.countResources()).toEqual({ Patient: 1 });
  });

  test('conditional update (PUT Type?identifier=) creates, then updates the same resource; several matches → 412', async () => {
    const url = `Patient?identifier=${encodeURIComponent(MRN_SYSTEM)}|MRN-106`;
    const first = await fhir(sb, url, { method: 'PUT', body: patient('MRN-106') });
    expect(first.status).toBe(201);
    const second = await fhir(sb, url, { method: 'PUT', body: patient('MRN-106', 'Changed') });
    expect(second.status).toBe(200);
    expect(second.body.id).toBe(first.body.id);
    const third = await fhir(sb, url, { method: 'PUT', body: patient('MRN-106', 'Changed') });
    expect(third.body.meta.versionId).toBe(second.body.meta.versionId);
    expect(await sb.countResources()).toEqual({ Patient: 1 });

    await fhir(sb, 'Patient', { method: 'POST', body: patient('MRN-106') });
    const ambiguous = await fhir(sb, url, { method: 'PUT', body: patient('MRN-106') });
    expect(ambiguous.status).toBe(412);
    expect(isOutcome(ambiguous.body)).toBe(true);
  });

  test('a conditional create/update whose resource does not match its own condition is refused (400)', async () => {
    // System encoded twice in the URL: the stored resource would never be found again.
    const url = `Patient?identifier=${encodeURIComponent(encodeURIComponent(MRN_SYSTEM))}|MRN-110`;
    const r = await fhir(sb, url, { method: 'PUT', body: patient('MRN-110') });
    expect(r.status).toBe(400);
    expect(r.body.issue[0].diagnostics).toMatch(/does not match/);
    const c = await fhir(sb, 'Patient', {
      method: 'POST',
      body: patient('MRN-110'),
      headers: { 'if-none-exist': 'identifier=other|MRN-110' },
    });
    expect(c.status).toBe(400);
    expect(await sb.countResources()).toEqual({});
  });

  test('search by GET and POST _search, with total, fullUrl and paging links', async () => {
    for (let i = 0; i < 5; i++) {
      await fhir(sb, 'Patient', { method: 'POST', body: patient(`MRN-2${i}`, i % 2 ? 'Odd' : 'Even') });
    }
    const byId = await fhir(sb, `Patient?identifier=${encodeURIComponent(MRN_SYSTEM)}|MRN-23`);
    expect(byId.status).toBe(200);
    expect(byId.body.type).toBe('searchset');
    expect(byId.body.total).toBe(1);
    expect(byId.body.entry[0].fullUrl).toBe(`${sb.baseUrl}/Patient/${byId.body.entry[0].resource.id}`);

    const post = await fetch(`${sb.baseUrl}/Patient/_search`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ family: 'Even' }).toString(),
    });
    expect(post.status).toBe(200);
    expect(((await post.json()) as Json).total).toBe(3);

    const page = await fhir(sb, 'Patient?_count=2');
    expect(page.body.entry).toHaveLength(2);
    expect(page.body.total).toBe(5);
    expect(page.body.link.find((l: { relation: string }) => l.relation === 'next').url).toContain('_offset=2');

    expect((await fhir(sb, 'NoSuchType?x=1')).status).toBe(404);
  });

  test('reads, searches, history and batch GETs hand out stored resources without changing them', async () => {
    // The GET handlers read the store without copies; nothing they add to an answer may reach it.
    const created = await fhir(sb, 'Patient', { method: 'POST', body: patient('MRN-700') });
    const id = created.body.id as string;
    await fhir(sb, `Patient/${id}`, { method: 'PUT', body: { ...patient('MRN-700'), id, active: true } });
    const stored = (): unknown => JSON.parse(JSON.stringify(sb.repo.peek('Patient', id)));
    const before = stored();
    const answers = [
      await fhir(sb, `Patient/${id}`),
      await fhir(sb, `Patient/${id}/_history/${created.body.meta.versionId}`),
      await fhir(sb, `Patient/${id}/_history`),
      await fhir(sb, `Patient?identifier=${MRN_SYSTEM}|MRN-700`),
      await fhir(sb, '', {
        method: 'POST',
        body: {
          resourceType: 'Bundle',
          type: 'batch',
          entry: [
            { request: { method: 'GET', url: `Patient/${id}` } },
            { request: { method: 'GET', url: `Patient?identifier=${MRN_SYSTEM}|MRN-700` } },
          ],
        },
      }),
    ];
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    expect(answers[3].body.entry[0].fullUrl).toBe(`${sb.baseUrl}/Patient/${id}`);
    expect(answers[4].body.entry[1].resource.entry[0].resource).toEqual(before);
    expect(stored()).toEqual(before);
    expect(stored()).not.toHaveProperty('fullUrl');
  });

  test('JSON answers to writes carry the content type and the byte length of their body', async () => {
    // Non-ASCII text: a length in characters would cut the body short.
    const res = await fetch(`${sb.baseUrl}/Patient`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json' },
      body: JSON.stringify(patient('MRN-710', 'Zoë-Ünal')),
    });
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toBe('application/fhir+json; charset=utf-8');
    expect(Number(res.headers.get('content-length'))).toBe(bytes.length);
    expect(JSON.parse(bytes.toString('utf8')).name[0].family).toBe('Zoë-Ünal');
  });

  test('JSON Patch (application/json-patch+json), with If-Match and a failing test op', async () => {
    const created = (await fhir(sb, 'Patient', { method: 'POST', body: patient('MRN-107') })).body;
    const patched = await fhir(sb, `Patient/${created.id}`, {
      method: 'PATCH',
      contentType: 'application/json-patch+json',
      body: [
        { op: 'replace', path: '/name/0/family', value: 'Patched' },
        { op: 'add', path: '/active', value: true },
      ],
      headers: { 'if-match': `W/"${created.meta.versionId}"` },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.name[0].family).toBe('Patched');
    expect(patched.body.active).toBe(true);

    const stale = await fhir(sb, `Patient/${created.id}`, {
      method: 'PATCH',
      contentType: 'application/json-patch+json',
      body: [{ op: 'replace', path: '/active', value: false }],
      headers: { 'if-match': `W/"${created.meta.versionId}"` },
    });
    expect(stale.status).toBe(412);

    const failingTest = await fhir(sb, `Patient/${created.id}`, {
      method: 'PATCH',
      contentType: 'application/json-patch+json',
      body: [
        { op: 'test', path: '/active', value: false },
        { op: 'replace', path: '/active', value: false },
      ],
    });
    expect(failingTest.status).toBe(400);
    expect(isOutcome(failingTest.body)).toBe(true);
    expect((await fhir(sb, `Patient/${created.id}`)).body.active).toBe(true);
  });

  test('delete answers 204; the resource is then gone (404 OperationOutcome)', async () => {
    const created = (await fhir(sb, 'Patient', { method: 'POST', body: patient('MRN-108') })).body;
    expect((await fhir(sb, `Patient/${created.id}`, { method: 'DELETE' })).status).toBe(204);
    const gone = await fhir(sb, `Patient/${created.id}`);
    expect(gone.status).toBe(404);
    expect(isOutcome(gone.body)).toBe(true);
    expect(await sb.countResources()).toEqual({});
  });

  test('every error is an OperationOutcome: bad JSON, wrong content type, type mismatch, unknown route', async () => {
    const badJson = await fhir(sb, 'Patient', { method: 'POST', body: '{"resourceType": ' });
    expect(badJson.status).toBe(400);
    expect(isOutcome(badJson.body)).toBe(true);

    const xml = await fhir(sb, 'Patient', { method: 'POST', body: '<Patient/>', contentType: 'application/fhir+xml' });
    expect(xml.status).toBe(415);
    expect(isOutcome(xml.body)).toBe(true);

    const mismatch = await fhir(sb, 'Observation', { method: 'POST', body: patient('MRN-109') });
    expect(mismatch.status).toBe(400);
    expect(isOutcome(mismatch.body)).toBe(true);

    const sys = await fhir(sb, '');
    expect(sys.status).toBe(400);
    expect(isOutcome(sys.body)).toBe(true);

    const res = await fetch(sb.baseUrl.replace('/fhir/R4', '/nowhere'));
    expect(res.status).toBe(404);
    expect(isOutcome((await res.json()) as Json)).toBe(true);
  });

  test('references: a Type/id that does not exist, urn:uuid and conditional references outside a Bundle → 400', async () => {
    const obs = { resourceType: 'Observation', status: 'final', code: { text: 'x' } };
    const dangling = await fhir(sb, 'Observation', {
      method: 'POST',
      body: { ...obs, subject: { reference: 'Patient/nope' } },
    });
    expect(dangling.status).toBe(400);
    expect(dangling.body.issue[0].diagnostics).toContain('Patient/nope');
    const urn = await fhir(sb, 'Observation', {
      method: 'POST',
      body: { ...obs, subject: { reference: 'urn:uuid:0b1e7a52-0000-4000-8000-000000000001' } },
    });
    expect(urn.status).toBe(400);
    const conditional = await fhir(sb, 'Observation', {
      method: 'POST',
      body: { ...obs, subject: { reference: 'Patient?identifier=x|y' } },
    });
    expect(conditional.status).toBe(400);
    expect(await sb.countResources()).toEqual({});
  });

  test('validation hook: a failing write answers 422 with the validator outcome; nothing is stored', async () => {
    validated.length = 0;
    const bad = await fhir(sb, 'Observation', {
      method: 'POST',
      body: { resourceType: 'Observation', code: { text: 'x' } },
    });
    expect(bad.status).toBe(422);
    expect(bad.body.issue[0].expression).toEqual(['Observation.status']);
    expect(validated).toContain('Observation');
    expect(await sb.countResources()).toEqual({});

    const good = await fhir(sb, 'Observation', {
      method: 'POST',
      body: { resourceType: 'Observation', status: 'final', code: { text: 'x' } },
    });
    expect(good.status).toBe(201);
    const patchedAway = await fhir(sb, `Observation/${good.body.id}`, {
      method: 'PATCH',
      contentType: 'application/json-patch+json',
      body: [{ op: 'remove', path: '/status' }],
    });
    expect(patchedAway.status).toBe(422);
    expect((await fhir(sb, `Observation/${good.body.id}`)).body.status).toBe('final');
  });

  test('CapabilityStatement is truthful', async () => {
    const r = await fhir(sb, 'metadata');
    expect(r.status).toBe(200);
    const cs = r.body;
    expect(cs.resourceType).toBe('CapabilityStatement');
    expect(cs.fhirVersion).toBe('4.0.1');
    const rest = cs.rest[0];
    expect(rest.interaction.map((i: { code: string }) => i.code)).toEqual(['transaction', 'batch']);
    const dr = rest.resource.find((x: { type: string }) => x.type === 'DiagnosticReport');
    expect(dr.interaction.map((i: { code: string }) => i.code)).toEqual(
      expect.arrayContaining([
        'read',
        'vread',
        'update',
        'patch',
        'delete',
        'history-instance',
        'create',
        'search-type',
      ]),
    );
    expect(dr.interaction.map((i: { code: string }) => i.code)).not.toContain('history-type');
    expect(dr.conditionalUpdate).toBe(true);
    expect(dr.searchParam.map((p: { name: string }) => p.name)).toContain('identifier');
    // auth is off here: no security section is claimed.
    expect(rest.security).toBeUndefined();
  });
});
