import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify, type JWK } from 'jose';
import { SmartBackendAuth, discoverTokenUrl, tokenUrlFromCapabilityStatement } from '../src/auth';
import { EhrClient } from '../src/client';
import { EhrError } from '../src/errors';
import { sendJson, startStub, type HttpStub, type StubRequest } from './http-stub';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsaPem = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const ec = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const ecJwk = { ...(ec.privateKey.export({ format: 'jwk' }) as JWK), kid: 'ec-key-1' };

/** Token endpoint stub: hands out tok-1, tok-2, … (expires_in configurable per test). */
async function tokenServer(
  options: { expiresIn?: number; fail?: (n: number) => [number, unknown, Record<string, string>?] | undefined } = {},
): Promise<HttpStub & { issued: () => number }> {
  let n = 0;
  const stub = await startStub((req, res) => {
    if (req.url !== '/token') {
      sendJson(res, 404, {});
      return;
    }
    n++;
    const failure = options.fail?.(n);
    if (failure) {
      sendJson(res, failure[0], failure[1], failure[2]);
      return;
    }
    sendJson(res, 200, {
      access_token: `tok-${n}`,
      token_type: 'bearer',
      expires_in: options.expiresIn ?? 300,
      scope: 'system/*.rs',
    });
  });
  return Object.assign(stub, { issued: () => n });
}

function form(req: StubRequest): URLSearchParams {
  return new URLSearchParams(req.body);
}

async function verifyAssertion(req: StubRequest, key: KeyObject, tokenUrl: string) {
  const assertion = form(req).get('client_assertion') as string;
  const { payload, protectedHeader } = await jwtVerify(assertion, key, { audience: tokenUrl });
  return { payload, protectedHeader };
}

describe('SmartBackendAuth', () => {
  it('sends a signed RS384 client assertion with the SMART claims', async () => {
    const server = await tokenServer();
    const tokenUrl = `${server.url}/token`;
    try {
      const auth = new SmartBackendAuth({ tokenUrl, clientId: 'mb-worker', privateKey: rsaPem, scopes: ['a', 'b'] });
      await expect(auth.getToken()).resolves.toBe('tok-1');
      const req = server.requests[0];
      expect(req.headers['content-type']).toBe('application/x-www-form-urlencoded');
      expect(form(req).get('grant_type')).toBe('client_credentials');
      expect(form(req).get('scope')).toBe('a b');
      expect(form(req).get('client_assertion_type')).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
      const { payload, protectedHeader } = await verifyAssertion(req, createPublicKey(rsa.privateKey), tokenUrl);
      expect(protectedHeader).toMatchObject({ alg: 'RS384', typ: 'JWT' });
      expect(payload).toMatchObject({ iss: 'mb-worker', sub: 'mb-worker', aud: tokenUrl });
      expect(typeof payload.jti).toBe('string');
      expect((payload.exp as number) - Math.floor(Date.now() / 1000)).toBeGreaterThan(290);
      expect((payload.exp as number) - Math.floor(Date.now() / 1000)).toBeLessThanOrEqual(300);

      auth.invalidate();
      await auth.getToken();
      const second = await verifyAssertion(server.requests[1], createPublicKey(rsa.privateKey), tokenUrl);
      expect(second.payload.jti).not.toBe(payload.jti);
    } finally {
      await server.close();
    }
  });

  it('signs ES384 with a JWK and its kid', async () => {
    const server = await tokenServer();
    try {
      const auth = new SmartBackendAuth({
        tokenUrl: `${server.url}/token`,
        clientId: 'mb-worker',
        privateKey: ecJwk,
        scopes: 'system/*.rs',
      });
      await auth.getToken();
      const assertion = form(server.requests[0]).get('client_assertion') as string;
      expect(decodeProtectedHeader(assertion)).toMatchObject({ alg: 'ES384', kid: 'ec-key-1' });
      await expect(jwtVerify(assertion, createPublicKey(ec.privateKey))).resolves.toBeDefined();
    } finally {
      await server.close();
    }
  });

  it('refuses keys SMART does not allow', () => {
    const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = p256.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(
      () => new SmartBackendAuth({ tokenUrl: 'http://x/token', clientId: 'c', privateKey: pem, scopes: 's' }),
    ).toThrow(/P-384/);
    expect(
      () => new SmartBackendAuth({ tokenUrl: 'http://x/token', clientId: 'c', privateKey: 'not a key', scopes: 's' }),
    ).toThrow(/cannot be loaded/);
  });

  it('caches the token until 60 s before expiry (configurable), then fetches a new one', async () => {
    const server = await tokenServer({ expiresIn: 300 });
    let now = Date.parse('2024-05-01T08:00:00Z');
    try {
      const auth = new SmartBackendAuth({
        tokenUrl: `${server.url}/token`,
        clientId: 'c',
        privateKey: rsaPem,
        scopes: 's',
        now: () => now,
      });
      expect(await auth.getToken()).toBe('tok-1');
      now += 239_000;
      expect(await auth.getToken()).toBe('tok-1');
      now += 2_000; // 241 s: inside the last 60 s
      expect(await auth.getToken()).toBe('tok-2');
      expect(server.issued()).toBe(2);
      expect(auth.tokenRequestCount).toBe(2);

      const lenient = new SmartBackendAuth({
        tokenUrl: `${server.url}/token`,
        clientId: 'c',
        privateKey: rsaPem,
        scopes: 's',
        refreshBeforeExpirySeconds: 10,
        now: () => now,
      });
      const first = await lenient.getToken();
      now += 289_000;
      expect(await lenient.getToken()).toBe(first);
      now += 2_000;
      expect(await lenient.getToken()).not.toBe(first);
    } finally {
      await server.close();
    }
  });

  it('shares one token request between concurrent callers', async () => {
    const server = await tokenServer();
    try {
      const auth = new SmartBackendAuth({
        tokenUrl: `${server.url}/token`,
        clientId: 'c',
        privateKey: rsaPem,
        scopes: 's',
      });
      const tokens = await Promise.all(Array.from({ length: 8 }, () => auth.getToken()));
      expect(new Set(tokens)).toEqual(new Set(['tok-1']));
      expect(server.issued()).toBe(1);
    } finally {
      await server.close();
    }
  });

  it('invalidate(token) drops only that token', async () => {
    const server = await tokenServer();
    try {
      const auth = new SmartBackendAuth({
        tokenUrl: `${server.url}/token`,
        clientId: 'c',
        privateKey: rsaPem,
        scopes: 's',
      });
      const t1 = await auth.getToken();
      auth.invalidate(t1);
      const t2 = await auth.getToken();
      expect(t2).toBe('tok-2');
      auth.invalidate(t1); // a late 401 for the old token keeps the new one
      expect(await auth.getToken()).toBe('tok-2');
      expect(server.issued()).toBe(2);
    } finally {
      await server.close();
    }
  });

  it('classifies token endpoint failures', async () => {
    const server = await tokenServer({
      fail: (n) =>
        n === 1 ? [400, { error: 'invalid_client' }] : n === 2 ? [503, {}, { 'retry-after': '5' }] : undefined,
    });
    try {
      const auth = new SmartBackendAuth({
        tokenUrl: `${server.url}/token`,
        clientId: 'c',
        privateKey: rsaPem,
        scopes: 's',
      });
      const refused = await auth.getToken().catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(EhrError);
      expect(refused).toMatchObject({ kind: 'permanent', category: 'auth', status: 400 });
      expect((refused as EhrError).reason).toMatch(/invalid_client/);
      const unavailable = await auth.getToken().catch((e: unknown) => e);
      expect(unavailable).toMatchObject({ kind: 'transient', status: 503, retryAfterMs: 5000 });
      await expect(auth.getToken()).resolves.toBe('tok-3');
    } finally {
      await server.close();
    }
  });
});

describe('token URL discovery', () => {
  const capability = (tokenUrl: string) => ({
    resourceType: 'CapabilityStatement',
    status: 'active',
    kind: 'instance',
    fhirVersion: '4.0.1',
    format: ['json'],
    date: '2024-05-01',
    rest: [
      {
        mode: 'server',
        security: {
          extension: [
            {
              url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
              extension: [{ url: 'token', valueUri: tokenUrl }],
            },
          ],
        },
      },
    ],
  });

  it('reads .well-known/smart-configuration first', async () => {
    const stub = await startStub((req, res) => {
      if (req.url === '/fhir/.well-known/smart-configuration') {
        sendJson(res, 200, { token_endpoint: 'http://auth.example/token' });
      } else {
        sendJson(res, 200, capability('http://other.example/token'));
      }
    });
    try {
      await expect(discoverTokenUrl(`${stub.url}/fhir/`)).resolves.toBe('http://auth.example/token');
    } finally {
      await stub.close();
    }
  });

  it('falls back to the CapabilityStatement oauth-uris extension, and EhrClient supplies the base URL', async () => {
    let tokenRequests = 0;
    const stub = await startStub((req, res) => {
      if (req.url === '/fhir/metadata') {
        sendJson(res, 200, capability(`http://127.0.0.1:${new URL(stubUrl).port}/oauth/token`));
      } else if (req.url === '/oauth/token') {
        tokenRequests++;
        sendJson(res, 200, { access_token: 'discovered', expires_in: 300 });
      } else if (req.url === '/fhir/Patient/p1') {
        sendJson(res, 200, { resourceType: 'Patient', id: 'p1' });
      } else {
        sendJson(res, 404, { resourceType: 'OperationOutcome', issue: [] });
      }
    });
    const stubUrl = stub.url;
    try {
      expect(tokenUrlFromCapabilityStatement(capability('http://t/token'))).toBe('http://t/token');
      expect(tokenUrlFromCapabilityStatement({ resourceType: 'CapabilityStatement' })).toBeUndefined();
      const auth = new SmartBackendAuth({ clientId: 'c', privateKey: rsaPem, scopes: 's' });
      const client = new EhrClient({ baseUrl: `${stub.url}/fhir`, auth });
      await client.read('Patient', 'p1');
      expect(await auth.getTokenUrl()).toBe(`${stub.url}/oauth/token`);
      expect(tokenRequests).toBe(1);
      expect(stub.requests.at(-1)?.headers.authorization).toBe('Bearer discovered');
    } finally {
      await stub.close();
    }
  });

  it('without any advertised endpoint it is a permanent auth failure', async () => {
    const stub = await startStub((_req, res) => sendJson(res, 404, {}));
    try {
      await expect(discoverTokenUrl(`${stub.url}/fhir`)).rejects.toMatchObject({ kind: 'permanent', category: 'auth' });
    } finally {
      await stub.close();
    }
  });
});

describe('EhrClient with SmartBackendAuth: 401 handling', () => {
  it('on 401 invalidates the token and retries once with a new one', async () => {
    const tokens = await tokenServer();
    const fhir = await startStub((req, res) => {
      if (req.headers.authorization === 'Bearer tok-2') {
        sendJson(res, 200, { resourceType: 'Patient', id: 'p1' });
      } else {
        sendJson(res, 401, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'login' }] });
      }
    });
    try {
      const auth = new SmartBackendAuth({
        tokenUrl: `${tokens.url}/token`,
        clientId: 'c',
        privateKey: rsaPem,
        scopes: 's',
      });
      const client = new EhrClient({ baseUrl: `${fhir.url}/fhir`, auth });
      await expect(client.read('Patient', 'p1')).resolves.toMatchObject({ id: 'p1' });
      expect(fhir.requests.map((r) => r.headers.authorization)).toEqual(['Bearer tok-1', 'Bearer tok-2']);
      expect(tokens.issued()).toBe(2);
      // the new token is cached
      await client.read('Patient', 'p1');
      expect(tokens.issued()).toBe(2);
    } finally {
      await tokens.close();
      await fhir.close();
    }
  });

  it('a second 401 is a permanent auth failure (exactly one retry)', async () => {
    const tokens = await tokenServer();
    const fhir = await startStub((_req, res) =>
      sendJson(res, 401, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'login' }] }),
    );
    try {
      const auth = new SmartBackendAuth({
        tokenUrl: `${tokens.url}/token`,
        clientId: 'c',
        privateKey: rsaPem,
        scopes: 's',
      });
      const client = new EhrClient({ baseUrl: `${fhir.url}/fhir`, auth });
      const err = await client.read('Patient', 'p1').catch((e: unknown) => e);
      expect(err).toMatchObject({ kind: 'permanent', category: 'auth', status: 401 });
      expect((err as EhrError).outcome?.issue?.[0]?.code).toBe('login');
      expect(fhir.requests).toHaveLength(2);
      expect(tokens.issued()).toBe(2);
    } finally {
      await tokens.close();
      await fhir.close();
    }
  });
});
