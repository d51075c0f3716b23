/**
 * `requestRetries`: a transient failure of an idempotent request is retried at once (a few times, short jittered
 * delays); a request whose repetition could act twice is not. Added for issue 5: with 30 % of EHR requests failing,
 * a delivery of ~15 requests almost never succeeded on whole-job retries alone (test/delivery/faults.test.ts).
 */
import type { Bundle, Patient } from '@medplum/fhirtypes';
import { EhrClient, isIdempotentBundle } from '../src';
import { sendJson, startStub, type HttpStub } from './http-stub';

describe('EhrClient requestRetries', () => {
  let stub: HttpStub;
  /** Failures still to answer, per request key (method + path). */
  const failures = new Map<string, { status: number; headers?: Record<string, string> }[]>();

  beforeAll(async () => {
    stub = await startStub((req, res) => {
      const key = `${req.method} ${req.url.split('?')[0]}`;
      const next = failures.get(key)?.shift();
      if (next?.status === 0) {
        res.socket?.destroy();
        return;
      }
      if (next) {
        sendJson(res, next.status, { resourceType: 'OperationOutcome', issue: [] }, next.headers);
        return;
      }
      if (req.method === 'POST' && req.url === '/fhir') {
        sendJson(res, 200, { resourceType: 'Bundle', type: 'transaction-response', entry: [] });
        return;
      }
      sendJson(res, req.method === 'POST' ? 201 : 200, { resourceType: 'Patient', id: 'p1', meta: { versionId: '1' } });
    });
  });
  afterAll(() => stub.close());
  beforeEach(() => failures.clear());

  const client = (retries: number) =>
    new EhrClient({ baseUrl: `${stub.url}/fhir`, timeoutMs: 2000, requestRetries: retries, requestRetryDelayMs: 5 });
  const count = (key: string, from: number) =>
    stub.requests.slice(from).filter((r) => `${r.method} ${r.url.split('?')[0]}` === key).length;

  it('retries a GET after 503s and a dropped connection, then succeeds', async () => {
    failures.set('GET /fhir/Patient/p1', [{ status: 503 }, { status: 0 }, { status: 502 }]);
    const from = stub.requests.length;
    await expect(client(3).read('Patient', 'p1')).resolves.toMatchObject({ id: 'p1' });
    expect(count('GET /fhir/Patient/p1', from)).toBe(4);
  });

  it('gives up after requestRetries and throws the last transient error', async () => {
    failures.set('GET /fhir/Patient/p1', [{ status: 503 }, { status: 503 }, { status: 503 }]);
    const from = stub.requests.length;
    await expect(client(2).read('Patient', 'p1')).rejects.toMatchObject({ kind: 'transient', status: 503 });
    expect(count('GET /fhir/Patient/p1', from)).toBe(3);
  });

  it('default 0: one request only', async () => {
    failures.set('GET /fhir/Patient/p1', [{ status: 503 }]);
    const from = stub.requests.length;
    await expect(client(0).read('Patient', 'p1')).rejects.toMatchObject({ status: 503 });
    expect(count('GET /fhir/Patient/p1', from)).toBe(1);
  });

  it('never retries a permanent failure', async () => {
    failures.set('GET /fhir/Patient/p1', [{ status: 404 }]);
    const from = stub.requests.length;
    await expect(client(3).read('Patient', 'p1')).rejects.toMatchObject({ kind: 'permanent', status: 404 });
    expect(count('GET /fhir/Patient/p1', from)).toBe(1);
  });

  it('retries a conditional create (If-None-Exist) but not a plain POST', async () => {
    const patient: Patient = { resourceType: 'Patient' };
    failures.set('POST /fhir/Patient', [{ status: 503 }]);
    let from = stub.requests.length;
    await expect(client(3).create(patient, { ifNoneExist: 'identifier=a%7Cb' })).resolves.toMatchObject({
      created: true,
    });
    expect(count('POST /fhir/Patient', from)).toBe(2);

    failures.set('POST /fhir/Patient', [{ status: 503 }]);
    from = stub.requests.length;
    await expect(client(3).create(patient)).rejects.toMatchObject({ status: 503 });
    expect(count('POST /fhir/Patient', from)).toBe(1);
  });

  it('retries a transaction only when every entry is idempotent', async () => {
    const conditional: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { request: { method: 'POST', url: 'Patient', ifNoneExist: 'identifier=a%7Cb' } },
        { request: { method: 'PUT', url: 'Patient/p1', ifMatch: 'W/"1"' } },
      ],
    };
    const plain: Bundle = { ...conditional, entry: [{ request: { method: 'POST', url: 'Patient' } }] };
    expect(isIdempotentBundle(conditional)).toBe(true);
    expect(isIdempotentBundle(plain)).toBe(false);
    expect(isIdempotentBundle({ ...conditional, entry: [{ request: { method: 'PATCH', url: 'Patient/p1' } }] })).toBe(
      false,
    );

    failures.set('POST /fhir', [{ status: 503 }]);
    let from = stub.requests.length;
    await expect(client(3).transaction(conditional)).resolves.toMatchObject({ type: 'transaction-response' });
    expect(count('POST /fhir', from)).toBe(2);

    failures.set('POST /fhir', [{ status: 503 }]);
    from = stub.requests.length;
    await expect(client(3).transaction(plain)).rejects.toMatchObject({ status: 503 });
    expect(count('POST /fhir', from)).toBe(1);
  });

  it('leaves a long Retry-After to the caller instead of waiting in the request', async () => {
    failures.set('GET /fhir/Patient/p1', [{ status: 503, headers: { 'retry-after': '30' } }]);
    const from = stub.requests.length;
    const t0 = Date.now();
    await expect(client(3).read('Patient', 'p1')).rejects.toMatchObject({ status: 503, retryAfterMs: 30_000 });
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(count('GET /fhir/Patient/p1', from)).toBe(1);
  });
});
