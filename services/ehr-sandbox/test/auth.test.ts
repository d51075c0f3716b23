import { randomUUID } from 'node:crypto';
import { generateKeyPair } from 'jose';
import type { Resource } from '@medplum/fhirtypes';
import type { EhrSandbox } from '../src';
import { startEhrSandbox } from '../src';
import type { TestClient } from './helpers';
import type { Json } from './helpers';
import { accessToken, fhir, isOutcome, makeClient, requestToken, sleep, txBundle } from './helpers';

const patient = { resourceType: 'Patient', name: [{ family: 'Auth' }] } as Resource;
const observation = { resourceType: 'Observation', status: 'final', code: { text: 'x' } } as Resource;

describe('SMART Backend Services token endpoint', () => {
  let sb: EhrSandbox;
  let rsa: TestClient;
  let ec: TestClient;

  beforeAll(async () => {
    sb = await startEhrSandbox({ auth: 'smart' });
    rsa = await makeClient(sb, { alg: 'RS384', scope: 'system/*.read system/Observation.cu' });
    ec = await makeClient(sb, { alg: 'ES384', asJwks: true });
  });
  afterAll(async () => {
    await sb.stop();
  });

  test('a good RS384 assertion gets a bearer token with the granted scope', async () => {
    const r = await requestToken(sb, await rsa.assertion(), 'system/Observation.cu system/*.read');
    expect(r.status).toBe(200);
    expect(r.body.token_type).toBe('bearer');
    expect(r.body.expires_in).toBe(300);
    expect(r.body.scope).toBe('system/Observation.cu system/*.read');
    expect(typeof r.body.access_token).toBe('string');
  });

  test('a good ES384 assertion (key from a JWKS) works; scopes outside the registration are left out', async () => {
    const ok = await requestToken(sb, await ec.assertion(), 'system/DiagnosticReport.write');
    expect(ok.status).toBe(200);
    const narrowed = await requestToken(sb, await rsa.assertion(), 'system/Observation.cu system/Patient.write');
    expect(narrowed.status).toBe(200);
    expect(narrowed.body.scope).toBe('system/Observation.cu');
    const none = await requestToken(sb, await rsa.assertion(), 'system/Patient.write');
    expect(none.status).toBe(400);
    expect(none.body.error).toBe('invalid_scope');
  });

  test.each([
    ['bad signature', async (c: TestClient) => c.assertion({ key: (await generateKeyPair('RS384')).privateKey })],
    ['wrong aud', (c: TestClient) => c.assertion({ aud: 'http://elsewhere.example/token' })],
    ['expired assertion', (c: TestClient) => c.assertion({ expIn: -60 })],
    ['exp more than 5 minutes ahead', (c: TestClient) => c.assertion({ expIn: 900 })],
    ['sub differs from iss', (c: TestClient) => c.assertion({ sub: 'someone-else' })],
    ['unknown client', (c: TestClient) => c.assertion({ iss: 'nobody', sub: 'nobody' })],
  ])('%s → 401 invalid_client', async (_name, make) => {
    const r = await requestToken(sb, await make(rsa), 'system/*.read');
    expect(r.status).toBe(401);
    expect(r.body.error).toBe('invalid_client');
    expect(typeof r.body.error_description).toBe('string');
  });

  test('a reused jti → 401 invalid_client', async () => {
    const jti = randomUUID();
    expect((await requestToken(sb, await rsa.assertion({ jti }), 'system/*.read')).status).toBe(200);
    const again = await requestToken(sb, await rsa.assertion({ jti }), 'system/*.read');
    expect(again.status).toBe(401);
    expect(again.body.error).toBe('invalid_client');
  });

  test('malformed requests → 400 with an RFC 6749 error code', async () => {
    const a = await rsa.assertion();
    expect((await requestToken(sb, a, 'system/*.read', { grant_type: 'password' })).body.error).toBe(
      'unsupported_grant_type',
    );
    const noType = await requestToken(sb, a, 'system/*.read', { client_assertion_type: 'basic' });
    expect(noType.status).toBe(400);
    expect(noType.body.error).toBe('invalid_request');
    const badScope = await requestToken(sb, await rsa.assertion(), 'patient/*.read');
    expect(badScope.status).toBe(400);
    expect(badScope.body.error).toBe('invalid_scope');
  });

  test('discovery: CapabilityStatement and smart-configuration name the token endpoint without a token', async () => {
    const cs = await fhir(sb, 'metadata');
    expect(cs.status).toBe(200);
    const ext = cs.body.rest[0].security.extension.find(
      (e: { url: string }) => e.url === 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
    );
    expect(ext.extension.find((e: { url: string }) => e.url === 'token').valueUri).toBe(sb.tokenUrl);
    const wk = await fetch(`${sb.baseUrl}/.well-known/smart-configuration`);
    expect(((await wk.json()) as Json).token_endpoint).toBe(sb.tokenUrl);
  });
});

describe('bearer tokens on FHIR requests', () => {
  let sb: EhrSandbox;
  let client: TestClient;

  beforeAll(async () => {
    sb = await startEhrSandbox({ auth: 'smart', tokenTtlSeconds: 1 });
    client = await makeClient(sb, { alg: 'ES384' });
  });
  afterAll(async () => {
    await sb.stop();
  });

  test('no token → 401 OperationOutcome with WWW-Authenticate; a garbage token → 401 invalid_token', async () => {
    const none = await fhir(sb, 'Patient');
    expect(none.status).toBe(401);
    expect(isOutcome(none.body)).toBe(true);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const garbage = await fhir(sb, 'Patient', { token: 'not-a-jwt' });
    expect(garbage.status).toBe(401);
    expect(garbage.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  test('scopes: v2 system/Observation.cu creates and updates Observations but may not read them or touch Patients (403)', async () => {
    const token = await accessToken(sb, client, 'system/Observation.cu');
    const created = await fhir(sb, 'Observation', { method: 'POST', body: observation, token });
    expect(created.status).toBe(201);
    const updated = await fhir(sb, `Observation/${created.body.id}`, {
      method: 'PUT',
      body: { ...created.body, status: 'amended' },
      token,
    });
    expect(updated.status).toBe(200);
    const read = await fhir(sb, `Observation/${created.body.id}`, { token });
    expect(read.status).toBe(403);
    expect(isOutcome(read.body)).toBe(true);
    expect(read.headers.get('www-authenticate')).toContain('insufficient_scope');
    expect((await fhir(sb, 'Patient', { method: 'POST', body: patient, token })).status).toBe(403);
    expect((await fhir(sb, `Observation/${created.body.id}`, { method: 'DELETE', token })).status).toBe(403);
  });

  test('scopes: v1 system/*.read reads and searches but may not write', async () => {
    const writer = await accessToken(sb, client, 'system/Patient.write');
    const created = await fhir(sb, 'Patient', { method: 'POST', body: patient, token: writer });
    expect(created.status).toBe(201);
    const reader = await accessToken(sb, client, 'system/*.read');
    expect((await fhir(sb, `Patient/${created.body.id}`, { token: reader })).status).toBe(200);
    expect((await fhir(sb, 'Patient?family=Auth', { token: reader })).status).toBe(200);
    expect((await fhir(sb, 'Patient', { method: 'POST', body: patient, token: reader })).status).toBe(403);
  });

  test('scopes: a transaction with one entry outside the scope is refused whole (403), nothing stored', async () => {
    const token = await accessToken(sb, client, 'system/Observation.cu');
    await sb.resetData();
    const r = await fhir(sb, '', {
      method: 'POST',
      token,
      body: txBundle([
        { resource: observation, request: { method: 'POST', url: 'Observation' } },
        { resource: patient, request: { method: 'POST', url: 'Patient' } },
      ]),
    });
    expect(r.status).toBe(403);
    expect(await sb.countResources()).toEqual({});
  });

  test('a token is refused (401) once it has expired', async () => {
    const token = await accessToken(sb, client, 'system/*.read');
    expect((await fhir(sb, 'Patient', { token })).status).toBe(200);
    await sleep(2100); // ttl 1 s; exp is rounded up to the next whole second
    const late = await fhir(sb, 'Patient', { token });
    expect(late.status).toBe(401);
    expect(late.body.issue[0].diagnostics).toMatch(/expired/);
  });

  test('revocation over /admin: the client’s tokens are refused and it gets no new one', async () => {
    const other = await makeClient(sb, { alg: 'RS384' });
    const token = await accessToken(sb, other, 'system/*.read');
    expect((await fhir(sb, 'Patient', { token })).status).toBe(200);
    const revoke = await fetch(`${sb.adminUrl}/clients/${other.clientId}/revoke`, { method: 'POST' });
    expect(revoke.status).toBe(200);
    expect((await fhir(sb, 'Patient', { token })).status).toBe(401);
    const again = await requestToken(sb, await other.assertion(), 'system/*.read');
    expect(again.status).toBe(401);
    expect(again.body.error).toBe('invalid_client');
    // Re-registering does not bring old tokens back.
    sb.registerClient(other.registration);
    expect((await fhir(sb, 'Patient', { token })).status).toBe(401);
    expect((await requestToken(sb, await other.assertion(), 'system/*.read')).status).toBe(200);
  });

  test('clients can be registered over /admin with a public JWK', async () => {
    const c = await makeClient(sb, { alg: 'ES384', register: false });
    const reg = await fetch(`${sb.adminUrl}/clients`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(c.registration),
    });
    expect(reg.status).toBe(201);
    expect((await requestToken(sb, await c.assertion(), 'system/*.read')).status).toBe(200);
    const privateJwk = await fetch(`${sb.adminUrl}/clients`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ clientId: 'leaky', jwk: { ...c.publicJwk, d: 'secret' } }),
    });
    expect(privateJwk.status).toBe(400);
    expect(isOutcome((await privateJwk.json()) as Json)).toBe(true);
  });
});

describe('auth off and admin token', () => {
  let sb: EhrSandbox;
  beforeAll(async () => {
    sb = await startEhrSandbox({ auth: 'off', adminToken: 'test-admin-token-1' });
  });
  afterAll(async () => {
    await sb.stop();
  });

  test('auth off: requests without a token are served', async () => {
    expect((await fhir(sb, 'Patient', { method: 'POST', body: patient })).status).toBe(201);
    expect((await fhir(sb, 'Patient')).body.total).toBe(1);
  });

  test('/admin needs the admin token when one is set', async () => {
    expect((await fetch(`${sb.adminUrl}/stats`)).status).toBe(401);
    expect((await fetch(`${sb.adminUrl}/stats`, { headers: { authorization: 'Bearer wrong-token-xx' } })).status).toBe(
      401,
    );
    const ok = await fetch(`${sb.adminUrl}/stats`, { headers: { authorization: 'Bearer test-admin-token-1' } });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as Json).fhir.byStatus['201']).toBe(1);
  });
});
