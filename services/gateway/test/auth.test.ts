/**
 * Bearer JWT on everything but health: 401 (no token, expired, wrong signature, wrong issuer/audience,
 * malformed) and 403 (missing scope), both as OperationOutcomes with WWW-Authenticate; JWKS URLs work too.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { withTestRedis } from '../../../test/harness/redis';
import { createAuthenticator, SCOPES } from '../src';
import { AUDIENCE, ISSUER, startGatewayStack, type GatewayStack } from './helpers';

const redis = withTestRedis();

interface Outcome {
  resourceType: string;
  issue: { severity: string; code: string; details: { text: string } }[];
}

describe('authentication and scopes', () => {
  let g: GatewayStack;
  beforeAll(async () => {
    g = await startGatewayStack({ redisUrl: redis().url });
  });
  afterAll(async () => g?.stop());

  async function expectOutcome(res: Response, status: number, code: string, text: RegExp): Promise<void> {
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/application\/fhir\+json/);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="marrowbridge"/);
    const o = (await res.json()) as Outcome;
    expect(o.resourceType).toBe('OperationOutcome');
    expect(o.issue[0].code).toBe(code);
    expect(o.issue[0].details.text).toMatch(text);
  }

  it('health and readiness need no token', async () => {
    expect((await g.call('/healthz', { scopes: null })).status).toBe(200);
    const ready = await g.call('/readyz', { scopes: null });
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', checks: { redis: { ok: true }, ehr: { ok: true } } });
  });

  it.each([
    ['GET', '/orders/trk-000'],
    ['POST', '/orders'],
    ['POST', '/hl7'],
    ['GET', '/fhir/metadata'],
    ['GET', '/metrics'],
    ['GET', '/openapi.json'],
    ['GET', '/admin/dead-letters'],
    ['GET', '/admin/queues'],
  ])('%s %s without a token is 401', async (method, path) => {
    const res = await g.call(path, { method, scopes: null });
    await expectOutcome(res, 401, 'login', /bearer token is required/);
  });

  it('an expired token is 401', async () => {
    const token = await g.signer.token({ expiresIn: -3600 });
    const res = await fetch(`${g.gateway.url}/fhir/metadata`, { headers: { authorization: `Bearer ${token}` } });
    await expectOutcome(res, 401, 'login', /expired/);
    expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
  });

  it('a token signed by another key is 401', async () => {
    const other = await generateKeyPair('ES256');
    const token = await g.signer.token({ key: other.privateKey });
    const res = await fetch(`${g.gateway.url}/fhir/metadata`, { headers: { authorization: `Bearer ${token}` } });
    await expectOutcome(res, 401, 'login', /signature/);
  });

  it('a wrong issuer or audience, a malformed token or an unsigned one is 401', async () => {
    for (const token of [
      await g.signer.token({ issuer: 'https://elsewhere.invalid' }),
      await g.signer.token({ audience: 'someone-else' }),
      'not.a.jwt',
      // alg "none"
      `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"scope":"marrowbridge/read"}').toString('base64url')}.`,
    ]) {
      const res = await fetch(`${g.gateway.url}/fhir/metadata`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(401);
      expect(((await res.json()) as Outcome).resourceType).toBe('OperationOutcome');
    }
  });

  it.each([
    ['POST', '/orders', SCOPES.intake],
    ['POST', '/hl7', SCOPES.intake],
    ['GET', '/orders/trk-000', SCOPES.read],
    ['POST', '/$translate', SCOPES.read],
    ['GET', '/admin/dead-letters', SCOPES.admin],
    ['POST', '/admin/dead-letters/x/replay', SCOPES.admin],
    ['GET', '/admin/queues', SCOPES.admin],
  ])('%s %s without the scope it needs is 403', async (method, path, scope) => {
    const others = Object.values(SCOPES).filter((s) => s !== scope);
    const res = await g.call(path, { method, scopes: others });
    await expectOutcome(res, 403, 'forbidden', new RegExp(scope));
    expect(res.headers.get('www-authenticate')).toMatch(/error="insufficient_scope"/);
  });

  it('the right scope is enough', async () => {
    expect((await g.call('/fhir/metadata', { scopes: [SCOPES.read] })).status).toBe(200);
    const dashboard = await g.call('/admin/queues', { scopes: [SCOPES.admin] });
    expect(dashboard.status).toBe(200);
    expect(await dashboard.text()).toMatch(/<html/i);
  });
});

describe('JWKS URL', () => {
  it('verifies tokens with a key from the JWKS and refuses others', async () => {
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    const server = http.createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      const auth = await createAuthenticator({
        auth: 'jwt',
        jwksUrl: `http://127.0.0.1:${port}/jwks.json`,
        jwtPublicKey: undefined,
        jwtIssuer: ISSUER,
        jwtAudience: AUDIENCE,
        jwtAlgorithms: ['RS256'],
        jwtClockToleranceS: 5,
      });
      const sign = (kid: string) =>
        new SignJWT({ scp: [SCOPES.read, SCOPES.admin] })
          .setProtectedHeader({ alg: 'RS256', kid })
          .setIssuer(ISSUER)
          .setAudience(AUDIENCE)
          .setSubject('svc-1')
          .setExpirationTime('5m')
          .sign(privateKey);
      const principal = await auth!.verify(await sign('k1'));
      expect(principal.subject).toBe('svc-1');
      expect([...principal.scopes].sort()).toEqual([SCOPES.admin, SCOPES.read]);
      await expect(auth!.verify(await sign('unknown-kid'))).rejects.toMatchObject({ status: 401 });
    } finally {
      server.close();
    }
  });
});
