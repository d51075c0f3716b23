import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { EhrClient } from '../src/client';
import { EhrError, classifyStatus, errorFromResponse, parseRetryAfter } from '../src/errors';
import { sendJson, startStub, type HttpStub } from './http-stub';

const OUTCOME = {
  resourceType: 'OperationOutcome',
  issue: [{ severity: 'error', code: 'invalid', diagnostics: 'Patient.birthDate: bad format' }],
};

async function failure(p: Promise<unknown>): Promise<EhrError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(EhrError);
    return err as EhrError;
  }
  throw new Error('expected an EhrError');
}

describe('classifyStatus and parseRetryAfter', () => {
  it('classifies each status class', () => {
    expect([408, 429, 500, 502, 503, 504].map(classifyStatus)).toEqual(Array(6).fill('transient'));
    expect([400, 401, 403, 404, 405, 409, 410, 412, 422].map(classifyStatus)).toEqual(Array(9).fill('permanent'));
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2024-05-01T08:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Wed, 01 May 2024 08:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 01 May 2024 07:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  it('keeps the OperationOutcome and never puts query strings in the reason', () => {
    const err = errorFromResponse('GET Patient (search)', 400, new Headers(), OUTCOME);
    expect(err).toMatchObject({ kind: 'permanent', category: 'http', status: 400, outcome: OUTCOME });
    expect(err.retryAfterMs).toBeUndefined();
  });
});

describe('EhrClient error classification against a stub server', () => {
  let stub: HttpStub;
  let client: EhrClient;
  const retryDate = new Date(Date.now() + 90_000).toUTCString();

  beforeAll(async () => {
    stub = await startStub((req, res) => {
      const m = /^\/fhir\/Patient\/(\w+)/.exec(req.url);
      const what = m?.[1] ?? '';
      if (what.startsWith('s')) {
        const status = Number(what.slice(1));
        const headers: Record<string, string> = {};
        if (status === 503) headers['retry-after'] = '7';
        if (status === 429) headers['retry-after'] = retryDate;
        sendJson(res, status, status === 422 || status === 500 ? OUTCOME : { error: 'x' }, headers);
      } else if (what === 'html') {
        res.writeHead(502, { 'content-type': 'text/html' });
        res.end('<html>bad gateway</html>');
      } else if (what === 'hang') {
        // never answer
      } else if (what === 'drop') {
        req.headers.connection = 'close';
        res.socket?.destroy();
      } else {
        sendJson(res, 200, { resourceType: 'Patient', id: what, meta: { versionId: '1' } });
      }
    });
    client = new EhrClient({ baseUrl: `${stub.url}/fhir/`, timeoutMs: 300, userAgent: 'mb-test/1' });
  });
  afterAll(() => stub.close());

  it('reads a resource, with user agent and FHIR accept header', async () => {
    const p = await client.read('Patient', 'p1');
    expect(p).toMatchObject({ resourceType: 'Patient', id: 'p1' });
    const req = stub.requests.at(-1);
    expect(req?.headers['user-agent']).toBe('mb-test/1');
    expect(req?.headers.accept).toBe('application/fhir+json');
    expect(req?.headers.authorization).toBeUndefined();
  });

  it.each([
    [500, 'transient'],
    [502, 'transient'],
    [504, 'transient'],
    [408, 'transient'],
    [400, 'permanent'],
    [404, 'permanent'],
    [409, 'permanent'],
    [422, 'permanent'],
  ])('HTTP %i is %s', async (status, kind) => {
    const err = await failure(client.read('Patient', `s${status}`));
    expect(err).toMatchObject({ kind, status, category: 'http' });
    expect(err.reason).toBe(`GET Patient/{id} failed with HTTP ${status}`);
  });

  it('keeps the server OperationOutcome', async () => {
    expect((await failure(client.read('Patient', 's422'))).outcome).toEqual(OUTCOME);
    expect((await failure(client.read('Patient', 's500'))).outcome).toEqual(OUTCOME);
    expect((await failure(client.read('Patient', 's400'))).outcome).toBeUndefined();
  });

  it('401 without auth and 403 are permanent auth failures', async () => {
    expect(await failure(client.read('Patient', 's401'))).toMatchObject({ kind: 'permanent', category: 'auth' });
    expect(await failure(client.read('Patient', 's403'))).toMatchObject({ kind: 'permanent', category: 'auth' });
  });

  it('503 with Retry-After seconds', async () => {
    const err = await failure(client.read('Patient', 's503'));
    expect(err).toMatchObject({ kind: 'transient', status: 503, retryAfterMs: 7000 });
  });

  it('429 with Retry-After as an HTTP date', async () => {
    const err = await failure(client.read('Patient', 's429'));
    expect(err.kind).toBe('transient');
    expect(err.retryAfterMs).toBeGreaterThan(80_000);
    expect(err.retryAfterMs).toBeLessThanOrEqual(90_000);
  });

  it('a non-JSON error page is still classified by status', async () => {
    expect(await failure(client.read('Patient', 'html'))).toMatchObject({ kind: 'transient', status: 502 });
  });

  it('a timeout is transient', async () => {
    const started = Date.now();
    const err = await failure(client.read('Patient', 'hang'));
    expect(err).toMatchObject({ kind: 'transient', category: 'timeout' });
    expect(err.reason).toMatch(/timed out after 300 ms/);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('a dropped connection is a transient network error', async () => {
    expect(await failure(client.read('Patient', 'drop'))).toMatchObject({ kind: 'transient', category: 'network' });
  });

  it('a refused connection is a transient network error', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((r) => probe.close(() => r()));
    const closed = new EhrClient({ baseUrl: `http://127.0.0.1:${port}/fhir`, timeoutMs: 2000 });
    const err = await failure(closed.read('Patient', 'p1'));
    expect(err).toMatchObject({ kind: 'transient', category: 'network' });
    expect(err.reason).toMatch(/ECONNREFUSED/);
  });
});
