/**
 * Issue 7, security: every operation of the gateway's OpenAPI document (all but /healthz and /readyz) refuses a
 * request without a token, with an expired one, one signed by another key, one with alg "none", a wrong issuer or
 * audience, a signed token whose payload was altered, a Basic credential, and 300 tokens with random characters
 * changed — 401 with an OperationOutcome and WWW-Authenticate — and a valid token that lacks the operation's scope
 * (403). The intake bodies are valid messages, so a refusal that let one through would queue it: nothing may be
 * queued. The EHR side too: the ehr-sandbox (SMART on) refuses FHIR requests without a token or with a forged one,
 * a client assertion signed by an unregistered key, and a write with a read-only scope.
 * (services/gateway/test/auth.test.ts checks the messages of each case on a few routes; this is the sweep.)
 */
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { startEhrSandbox, type EhrSandbox } from '@marrowbridge/ehr-sandbox';
import { EhrClient, SmartBackendAuth } from '@marrowbridge/ehr-client';
import { SCOPES } from '@marrowbridge/gateway';
import { withTestRedis } from '../harness/redis';
import { printFigures } from '../support/delivery-figures';
import { repoRoot } from '../support/paths';
import { sample } from '../support/stack';
import { seededRandom } from '../support/random';
import { startGatewayStack, type GatewayStack } from '../../services/gateway/test/helpers';
import { chaosSeed, inLanes, pick } from './support';

const redis = withTestRedis();
const SEED = chaosSeed(7006);
const RANDOM_TOKENS = 300;

interface Operation {
  method: string;
  path: string;
  scope: string;
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

describe('security: refused without a valid token and the right scope', () => {
  let g: GatewayStack | undefined;
  let sandbox: EhrSandbox | undefined;
  beforeAll(async () => {
    g = await startGatewayStack({ redisUrl: redis().url });
  });
  afterAll(async () => {
    await g?.stop();
    await sandbox?.stop();
  });

  it('gateway: every operation refuses missing, expired, forged and altered tokens (401) and a missing scope (403)', async () => {
    const gw = g!;
    const spec = (await (await gw.call('/openapi.json', { scopes: [SCOPES.read] })).json()) as {
      paths: Record<string, Record<string, { security?: { bearerJwt?: string[] }[] }>>;
    };
    const operations: Operation[] = [];
    for (const [p, methods] of Object.entries(spec.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        const scope = op.security?.[0]?.bearerJwt?.[0];
        if (!scope) continue; // /healthz, /readyz
        operations.push({
          method: method.toUpperCase(),
          path: p.replace('{type}', 'Specimen').replace(/\{[^}]+\}/g, 'x'),
          scope,
        });
      }
    }
    const bodies: Record<string, { type: string; body: string }> = {
      '/orders': { type: 'application/json', body: fs.readFileSync(sample('order-sternum'), 'utf8') },
      '/results': { type: 'application/json', body: fs.readFileSync(sample('result-aspirate-2-final'), 'utf8') },
      '/hl7': {
        type: 'application/hl7-v2',
        body: fs.readFileSync(path.join(repoRoot, 'samples', 'hl7', 'oml-o21-bma-v251.hl7'), 'utf8'),
      },
    };

    const valid = await gw.signer.token();
    const [head, payload] = valid.split('.');
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const fixed: [string, string | undefined][] = [
      ['no token', undefined],
      ['expired', `Bearer ${await gw.signer.token({ expiresIn: -3600 })}`],
      ['signed by another key', `Bearer ${await gw.signer.token({ key: other.privateKey })}`],
      ['alg none', `Bearer ${b64({ alg: 'none' })}.${payload}.`],
      ['wrong issuer', `Bearer ${await gw.signer.token({ issuer: 'https://elsewhere.invalid' })}`],
      ['wrong audience', `Bearer ${await gw.signer.token({ audience: 'someone-else' })}`],
      [
        'payload altered after signing',
        `Bearer ${head}.${b64({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), sub: 'admin', exp: 4e9 })}.${valid.split('.')[2]}`,
      ],
      ['Basic credential', `Basic ${Buffer.from('admin:admin').toString('base64')}`],
      ['bearer without a token', 'Bearer '],
    ];
    // Random characters changed in the header or payload, or in the signature (not its last character, whose
    // low bits base64url does not carry).
    const random = seededRandom(SEED);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.';
    const mutated = Array.from({ length: RANDOM_TOKENS }, () => {
      const chars = [...valid];
      for (let k = 1 + Math.floor(random() * 3); k > 0; k--) {
        let i: number;
        do i = Math.floor(random() * (chars.length - 1));
        while (chars[i] === '.');
        let c: string;
        do c = pick(random, [...alphabet]);
        while (c === chars[i]);
        chars[i] = c;
      }
      return `Bearer ${chars.join('')}`;
    });

    const counts: Record<string, number> = {};
    const wrong: string[] = [];
    const send = async (op: Operation, authorization: string | undefined) => {
      const headers: Record<string, string> = {};
      if (authorization !== undefined) headers.authorization = authorization;
      const body = op.method === 'POST' ? (bodies[op.path] ?? { type: 'application/json', body: '{}' }) : undefined;
      if (body) headers['content-type'] = body.type;
      const res = await fetch(gw.gateway.url + op.path, { method: op.method, headers, body: body?.body });
      const text = await res.text();
      let isOutcome = false;
      try {
        isOutcome = (JSON.parse(text) as { resourceType?: string }).resourceType === 'OperationOutcome';
      } catch {
        isOutcome = false;
      }
      return { status: res.status, isOutcome, challenge: res.headers.get('www-authenticate') ?? '' };
    };

    const cases: { op: Operation; label: string; authorization?: string; expect: number }[] = [];
    for (const op of operations) {
      for (const [label, authorization] of fixed) cases.push({ op, label, authorization, expect: 401 });
      const others = Object.values(SCOPES).filter((s) => s !== op.scope);
      cases.push({
        op,
        label: 'missing scope',
        authorization: `Bearer ${await gw.signer.token({ scopes: others })}`,
        expect: 403,
      });
    }
    mutated.forEach((authorization, i) =>
      cases.push({
        op: operations[i % operations.length],
        label: 'random characters changed',
        authorization,
        expect: 401,
      }),
    );
    await inLanes(cases, 8, async (c) => {
      const r = await send(c.op, c.authorization);
      counts[r.status] = (counts[r.status] ?? 0) + 1;
      if (r.status !== c.expect || !r.isOutcome || !/^Bearer /.test(r.challenge)) {
        wrong.push(
          `${c.op.method} ${c.op.path} (${c.label}): ${r.status}${r.isOutcome ? '' : ' without OperationOutcome'}`,
        );
      }
    });
    const queuedByRefused = (
      await Promise.all(
        [gw.stack.queues.orders, gw.stack.queues.results].map((q) =>
          q.getJobCountByTypes('waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized'),
        ),
      )
    ).reduce((a, b) => a + b, 0);

    // Control: the right scope gets through (not 401/403) on every operation.
    const allowed = await Promise.all(
      operations.map(async (op) => (await send(op, `Bearer ${await gw.signer.token({ scopes: [op.scope] })}`)).status),
    );
    printFigures('security (gateway)', {
      operations: operations.length,
      requests: cases.length,
      byStatus: counts,
      wronglyAnswered: wrong.length,
      queuedByRefusedRequests: queuedByRefused,
      controlAllowed: allowed.filter((s) => s !== 401 && s !== 403).length,
    });

    expect(operations.length).toBeGreaterThanOrEqual(10);
    expect(wrong).toEqual([]);
    expect(queuedByRefused).toBe(0);
    expect(allowed.filter((s) => s === 401 || s === 403)).toEqual([]);
  }, 120_000);

  it('EHR (ehr-sandbox with SMART): no token, a forged token, an unregistered key and a missing scope are refused', async () => {
    const registered = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const stranger = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const jwk = { ...registered.publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES384', use: 'sig' };
    sandbox = await startEhrSandbox({
      auth: 'smart',
      clients: [{ clientId: 'reader', jwks: { keys: [jwk] }, scope: 'system/*.read' } as never],
    });
    const base = sandbox.baseUrl;
    const forged = `${b64({ alg: 'ES384', typ: 'JWT' })}.${b64({ sub: 'reader', scope: 'system/*.cruds', exp: 4e9 })}.AAAA`;
    const plain = await Promise.all(
      [undefined, `Bearer ${forged}`, 'Bearer not-a-token'].map(async (authorization) => {
        const res = await fetch(`${base}/Patient`, { headers: authorization ? { authorization } : {} });
        return { status: res.status, outcome: ((await res.json()) as { resourceType?: string }).resourceType };
      }),
    );
    const client = (key: typeof registered, scopes: string[]) =>
      new EhrClient({
        baseUrl: base,
        auth: new SmartBackendAuth({
          clientId: 'reader',
          privateKey: key.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
          kid: 'k1',
          scopes,
          tokenUrl: sandbox!.tokenUrl,
        }),
      });
    const status = async (p: Promise<unknown>) =>
      p.then(
        () => 'ok',
        (err: { status?: number }) => String(err.status ?? 'error'),
      );
    const strangerRead = await status(client(stranger, ['system/Patient.read']).searchResources('Patient'));
    const readerRead = await status(client(registered, ['system/Patient.read']).searchResources('Patient'));
    const readerWrite = await status(
      client(registered, ['system/Patient.read']).create({ resourceType: 'Patient', active: true }),
    );
    printFigures('security (EHR)', {
      noToken: plain[0].status,
      forgedToken: plain[1].status,
      notAToken: plain[2].status,
      unregisteredKey: strangerRead,
      readOnlyScopeReads: readerRead,
      readOnlyScopeWrites: readerWrite,
    });

    expect(plain.map((p) => p.status)).toEqual([401, 401, 401]);
    expect(plain.every((p) => p.outcome === 'OperationOutcome')).toBe(true);
    expect(strangerRead).toBe('401');
    expect(readerRead).toBe('ok');
    expect(readerWrite).toBe('403');
    expect(await sandbox.countResources()).toEqual({});
  }, 60_000);
});
