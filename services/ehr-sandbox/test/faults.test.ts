import type { Resource } from '@medplum/fhirtypes';
import type { EhrSandbox } from '../src';
import { startEhrSandbox } from '../src';
import { fhir, isOutcome, sleep, txBundle } from './helpers';
import type { Json } from './helpers';

const patient = { resourceType: 'Patient', name: [{ family: 'Faulty' }] } as Resource;

describe('fault injection', () => {
  let sb: EhrSandbox;
  let patientId: string;

  beforeAll(async () => {
    sb = await startEhrSandbox({ auth: 'off' });
    patientId = (await fhir(sb, 'Patient', { method: 'POST', body: patient })).body.id;
  });
  afterAll(async () => {
    await sb.stop();
  });
  afterEach(() => {
    sb.setFaults({});
    sb.resetStats();
  });

  test('error rate: about 30 % of 200 requests answer 503 (OperationOutcome), the rest are served', async () => {
    sb.setFaults({ errorRate: 0.3, errorStatuses: [503] });
    const statuses: number[] = [];
    for (let i = 0; i < 200; i++) {
      const r = await fhir(sb, `Patient/${patientId}`);
      statuses.push(r.status);
      if (r.status === 503) {
        expect(isOutcome(r.body)).toBe(true);
      }
    }
    const failed = statuses.filter((s) => s === 503).length;
    expect(statuses.filter((s) => s !== 503 && s !== 200)).toEqual([]);
    // Binomial(200, 0.3): mean 60, sd ≈ 6.5; ±4.5 sd.
    expect(failed).toBeGreaterThanOrEqual(31);
    expect(failed).toBeLessThanOrEqual(89);
    const stats = sb.stats();
    expect(stats.fhir.byStatus['503']).toBe(failed);
    expect(stats.fhir.injectedErrors).toBe(failed);
    expect(stats.fhir.byStatus['200']).toBe(200 - failed);
  });

  test('error statuses are drawn from the list; Retry-After only on 429/503 when configured; a seed makes runs repeatable', async () => {
    const run = async (): Promise<number[]> => {
      sb.setFaults({ errorRate: 0.5, errorStatuses: [429, 500], retryAfterSeconds: 2, seed: 7 });
      const out: number[] = [];
      for (let i = 0; i < 40; i++) {
        const r = await fhir(sb, `Patient/${patientId}`);
        out.push(r.status);
        if (r.status === 429) {
          expect(r.headers.get('retry-after')).toBe('2');
          expect(r.body.issue[0].code).toBe('throttled');
        } else if (r.status === 500) {
          expect(r.headers.get('retry-after')).toBeNull();
        }
      }
      return out;
    };
    const first = await run();
    expect(first).toContain(429);
    expect(first).toContain(500);
    expect(first).toContain(200);
    expect(await run()).toEqual(first);
  });

  test('latency: a fixed delay (plus jitter) is added to each FHIR request', async () => {
    const time = async (): Promise<number> => {
      const t = Date.now();
      await fhir(sb, `Patient/${patientId}`);
      return Date.now() - t;
    };
    const base = await time();
    sb.setFaults({ latencyMs: 250, jitterMs: 50 });
    const slow = await time();
    expect(slow).toBeGreaterThanOrEqual(245);
    expect(slow).toBeGreaterThan(base + 150);
  });

  test('outage window: every FHIR request answers 503 (with Retry-After when set) until the window closes', async () => {
    sb.setFaults({ outageSeconds: 1, retryAfterSeconds: 1 });
    expect(sb.faults().outageUntil).toBeDefined();
    const during = await fhir(sb, `Patient/${patientId}`);
    expect(during.status).toBe(503);
    expect(during.headers.get('retry-after')).toBe('1');
    expect(isOutcome(during.body)).toBe(true);
    expect((await fhir(sb, 'metadata')).status).toBe(503);
    await sleep(1100);
    expect((await fhir(sb, `Patient/${patientId}`)).status).toBe(200);
    expect(sb.stats().fhir.outageRejections).toBe(2);
  });

  test('dropped connections: the client sees a socket error, no HTTP answer', async () => {
    sb.setFaults({ dropRate: 1 });
    await expect(fetch(`${sb.baseUrl}/Patient/${patientId}`)).rejects.toThrow(/fetch failed/);
    expect(sb.stats().fhir.dropped).toBe(1);
    sb.setFaults({});
    expect((await fhir(sb, `Patient/${patientId}`)).status).toBe(200);
  });

  test('transactions off: transaction Bundles are refused (400) and the CapabilityStatement drops transaction; batch still works', async () => {
    sb.setFaults({ transactions: false });
    const tx = await fhir(sb, '', {
      method: 'POST',
      body: txBundle([{ resource: patient, request: { method: 'POST', url: 'Patient' } }]),
    });
    expect(tx.status).toBe(400);
    expect(tx.body.issue[0].code).toBe('not-supported');
    const codes = (await fhir(sb, 'metadata')).body.rest[0].interaction.map((i: { code: string }) => i.code);
    expect(codes).not.toContain('transaction');
    expect(codes).toContain('batch');
    const batch = await fhir(sb, '', {
      method: 'POST',
      body: txBundle([{ resource: patient, request: { method: 'POST', url: 'Patient' } }], 'batch'),
    });
    expect(batch.status).toBe(200);
  });

  test('faults are set at run time over POST /admin/faults; a wrong setting is named in a 400 OperationOutcome', async () => {
    const bad = await fetch(`${sb.adminUrl}/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ errorRate: 2 }),
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as Json).issue[0].diagnostics).toContain('errorRate');
    const ok = await fetch(`${sb.adminUrl}/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ errorRate: 1, errorStatuses: [502] }),
    });
    expect(ok.status).toBe(200);
    expect((await fhir(sb, `Patient/${patientId}`)).status).toBe(502);
    // Admin endpoints are not subject to faults.
    const cleared = await fetch(`${sb.adminUrl}/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(cleared.status).toBe(200);
    expect((await fhir(sb, `Patient/${patientId}`)).status).toBe(200);
  });
});

describe('faults configured at start', () => {
  test('options.faults applies from the first request', async () => {
    const sb = await startEhrSandbox({ auth: 'off', faults: { errorRate: 1, errorStatuses: [500] } });
    try {
      expect((await fhir(sb, 'Patient')).status).toBe(500);
    } finally {
      await sb.stop();
    }
  });
});
