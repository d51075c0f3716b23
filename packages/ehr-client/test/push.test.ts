import type { Bundle, Observation, Resource, ServiceRequest, Specimen } from '@medplum/fhirtypes';
import { EhrClient, type GetAnswer } from '../src/client';
import { applyJsonPatch, contentOf } from '../src/diff';
import { EhrError } from '../src/errors';
import { planPush, pushBundle } from '../src/push';
import { collectReferences, orderByReferences } from '../src/references';
import { SYS, conditional, orderBundle, resultBundle } from './bundles';
import { startFakeFhir, type FakeFhir } from './fake-fhir';

const IDS = { mrn: 'MRN-TEST-001', placer: 'PL-1001', specimenId: 'SP-1001-A' };

function allReferences(fake: FakeFhir): string[] {
  return [...fake.store.values()].flatMap((r) => collectReferences(r));
}

function find<T extends Resource>(fake: FakeFhir, type: string): T[] {
  return [...fake.store.values()].filter((r) => r.resourceType === type) as T[];
}

describe('orderByReferences', () => {
  it('puts referenced entries first and breaks the ServiceRequest ↔ Specimen cycle once', () => {
    const bundle = orderBundle(IDS);
    const { order, deferred } = orderByReferences(bundle.entry ?? []);
    const types = order.map((i) => bundle.entry?.[i].resource?.resourceType);
    expect(types).toEqual(['Patient', 'Practitioner', 'ServiceRequest', 'Specimen', 'Procedure', 'DiagnosticReport']);
    expect(deferred).toEqual([[2, 3]]); // ServiceRequest.specimen waits for the Specimen
  });

  it('reorders a reversed Bundle', () => {
    const bundle = orderBundle(IDS);
    const reversed = [...(bundle.entry ?? [])].reverse();
    const { order, deferred } = orderByReferences(reversed);
    const pos = (type: string) => order.findIndex((i) => reversed[i].resource?.resourceType === type);
    expect(pos('Patient')).toBeLessThan(pos('ServiceRequest'));
    expect(pos('Practitioner')).toBeLessThan(pos('ServiceRequest'));
    expect(pos('ServiceRequest')).toBeLessThan(pos('Procedure'));
    expect(pos('Specimen')).toBeLessThan(pos('DiagnosticReport'));
    expect(deferred).toHaveLength(1);
  });

  it('a result Bundle: Observations before the report that lists them', () => {
    const bundle = resultBundle({
      ...IDS,
      status: 'final',
      issued: '2024-05-02T08:00:00Z',
      observations: [
        { code: '11150-0', value: 'a' },
        { code: '33721-2', value: 'b' },
      ],
    });
    const { order, deferred } = orderByReferences(bundle.entry ?? []);
    expect(order).toEqual([1, 2, 0]);
    expect(deferred).toEqual([]);
  });
});

describe('pushBundle against an in-memory FHIR stub (sequential)', () => {
  let fake: FakeFhir;
  let client: EhrClient;

  beforeEach(async () => {
    fake = await startFakeFhir();
    client = new EhrClient({ baseUrl: fake.baseUrl, timeoutMs: 5000 });
  });
  afterEach(() => fake.close());

  it('the stub does not list transactions, so auto mode goes sequential', async () => {
    await expect(client.supportsTransaction()).resolves.toBe(false);
    const result = await pushBundle(client, orderBundle(IDS));
    expect(result.mode).toBe('sequential');
  });

  it('writes in reference order, rewrites urn:uuid references, then fixes up the cycle', async () => {
    const result = await pushBundle(client, orderBundle(IDS), { mode: 'sequential' });
    const sr = find<ServiceRequest>(fake, 'ServiceRequest')[0];
    const specimen = find<Specimen>(fake, 'Specimen')[0];
    expect(fake.writes).toEqual([
      'POST Patient',
      'POST Practitioner',
      'POST ServiceRequest',
      'POST Specimen',
      'POST Procedure',
      'POST DiagnosticReport',
      `PUT ServiceRequest/${sr.id} If-Match 1`,
    ]);
    expect(allReferences(fake).filter((r) => r.startsWith('urn:'))).toEqual([]);
    expect(sr.specimen).toEqual([{ reference: `Specimen/${specimen.id}` }]);
    expect(specimen.request).toEqual([{ reference: `ServiceRequest/${sr.id}` }]);
    expect(result.entries.map((e) => [e.resourceType, e.action])).toEqual([
      ['Patient', 'created'],
      ['Practitioner', 'created'],
      ['ServiceRequest', 'created'],
      ['Specimen', 'created'],
      ['Procedure', 'created'],
      ['DiagnosticReport', 'created'],
    ]);
    expect(result.entries[2]).toMatchObject({ reference: `ServiceRequest/${sr.id}`, versionId: '2' });
    expect(result.entries[0].fullUrl).toBe(orderBundle(IDS).entry?.[0].fullUrl);
  });

  it('pushing the same Bundle again writes nothing', async () => {
    const first = await pushBundle(client, orderBundle(IDS), { mode: 'sequential' });
    const writes = fake.writes.length;
    const second = await pushBundle(client, orderBundle(IDS), { mode: 'sequential' });
    expect(fake.writes.length).toBe(writes);
    expect(second.entries.every((e) => e.action === 'unchanged')).toBe(true);
    expect(second.entries.map((e) => e.reference)).toEqual(first.entries.map((e) => e.reference));
  });

  it.each(['sequential', 'transaction'] as const)("%s: the caller's Bundle is left as it was", async (mode) => {
    await pushBundle(client, orderBundle(IDS), { mode: 'sequential' });
    const bundle = resultBundle({
      ...IDS,
      status: 'final',
      issued: '2024-05-02T08:00:00Z',
      observations: [{ code: '11150-0', value: 'a' }],
    });
    const before = JSON.stringify(bundle);
    // The stub has no transaction interaction: a transaction push fails after planning, which is far enough.
    await pushBundle(client, bundle, { mode }).catch(() => undefined);
    expect(JSON.stringify(bundle)).toBe(before);
  });

  it('resolves conditional references; a missing one is transient', async () => {
    const results = resultBundle({
      ...IDS,
      status: 'preliminary',
      issued: '2024-05-02T08:00:00Z',
      observations: [{ code: '11150-0', value: 'hypercellular' }],
    });
    const missing = await pushBundle(client, results, { mode: 'sequential' }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(EhrError);
    expect(missing).toMatchObject({
      kind: 'transient',
      category: 'reference-not-found',
      reason: 'referenced Patient not found yet (the order may not have arrived)',
    });
    expect((missing as EhrError).reason).not.toContain(IDS.mrn);
    expect(fake.writes).toEqual([]);

    await pushBundle(client, orderBundle(IDS));
    const pushed = await pushBundle(client, results, { mode: 'sequential' });
    // The order created the report (registered); the result updates it and creates the Observation.
    expect(pushed.entries.map((e) => [e.resourceType, e.action])).toEqual([
      ['DiagnosticReport', 'updated'],
      ['Observation', 'created'],
    ]);
    const obs = find<Observation>(fake, 'Observation')[0];
    const patient = find(fake, 'Patient')[0];
    expect(obs.subject).toEqual({ reference: `Patient/${patient.id}` });
    const report = fake.store.get(pushed.entries[0].reference);
    expect(report).toMatchObject({ status: 'preliminary', result: [{ reference: `Observation/${obs.id}` }] });
    expect(fake.writes.at(-1)).toMatch(/^PUT DiagnosticReport\/\d+ If-Match 1$/);
  });

  it('a conditional reference matching several resources is permanent', async () => {
    await pushBundle(client, orderBundle(IDS));
    const dup = { ...find(fake, 'Patient')[0], id: '999' };
    fake.store.set('Patient/999', dup);
    const err = await pushBundle(
      client,
      resultBundle({ ...IDS, status: 'final', issued: '2024-05-02T08:00:00Z', observations: [] }),
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'permanent', category: 'ambiguous' });
  });

  it('re-reads and re-decides on 412', async () => {
    await pushBundle(client, orderBundle(IDS));
    const sr = find<ServiceRequest>(fake, 'ServiceRequest')[0];
    const key = `ServiceRequest/${sr.id}`;
    let raced = false;
    fake.beforePut = (id) => {
      if (!raced && id === sr.id) {
        raced = true; // another writer changes the ServiceRequest between our read and our write
        const cur = fake.store.get(key) as ServiceRequest;
        fake.store.set(key, { ...cur, priority: 'stat', meta: { versionId: String(Number(cur.meta?.versionId) + 1) } });
      }
    };
    const changed = orderBundle(IDS);
    (changed.entry?.[2].resource as ServiceRequest).status = 'on-hold';
    const result = await pushBundle(client, changed, { mode: 'sequential' });
    expect(raced).toBe(true);
    expect(result.entries[2]).toMatchObject({ action: 'updated', versionId: '4' });
    expect(fake.store.get(key)).toMatchObject({ status: 'on-hold' });
    expect(fake.writes.filter((w) => w.startsWith(`PUT ${key}`)).at(-1)).toBe(`PUT ${key} If-Match 3`);
  });

  it('after a 412 the re-read can find our content already there: unchanged', async () => {
    await pushBundle(client, orderBundle(IDS));
    const sr = find<ServiceRequest>(fake, 'ServiceRequest')[0];
    const key = `ServiceRequest/${sr.id}`;
    fake.beforePut = (id) => {
      if (id === sr.id && fake.store.get(key)?.meta?.versionId === '2') {
        const cur = fake.store.get(key) as ServiceRequest;
        fake.store.set(key, { ...cur, status: 'on-hold', meta: { versionId: '3' } });
      }
    };
    const changed = orderBundle(IDS);
    (changed.entry?.[2].resource as ServiceRequest).status = 'on-hold';
    const result = await pushBundle(client, changed, { mode: 'sequential' });
    expect(result.entries[2]).toMatchObject({ action: 'unchanged', versionId: '3' });
  });

  it('gives up after the bounded number of 412s with a transient conflict', async () => {
    await pushBundle(client, orderBundle(IDS));
    const sr = find<ServiceRequest>(fake, 'ServiceRequest')[0];
    const key = `ServiceRequest/${sr.id}`;
    let races = 0;
    fake.beforePut = () => {
      races++;
      const cur = fake.store.get(key) as ServiceRequest;
      fake.store.set(key, { ...cur, note: [{ text: `edit ${races}` }], meta: { versionId: String(100 + races) } });
    };
    const changed = orderBundle(IDS);
    (changed.entry?.[2].resource as ServiceRequest).status = 'on-hold';
    const err = await pushBundle(client, changed, { mode: 'sequential', maxConflictRetries: 2 }).catch((e) => e);
    expect(err).toMatchObject({ kind: 'transient', category: 'conflict', status: 412 });
    expect(races).toBe(3);
  });

  it('planPush reports create / update (with a JSON Patch) / unchanged without writing', async () => {
    await pushBundle(client, orderBundle(IDS));
    await pushBundle(
      client,
      resultBundle({
        ...IDS,
        status: 'preliminary',
        issued: '2024-05-02T08:00:00Z',
        observations: [{ code: '11150-0', value: 'hypercellular' }],
      }),
    );
    const writes = fake.writes.length;
    const next = resultBundle({
      ...IDS,
      status: 'final',
      issued: '2024-05-03T08:00:00Z',
      observations: [
        { code: '11150-0', value: 'hypercellular' },
        { code: '33721-2', value: 'blasts 3%' },
      ],
    });
    // same observation text, but its status moves to final: an update; the new observation: a create
    const plan = await planPush(client, next);
    expect(fake.writes.length).toBe(writes);
    expect(plan.entries.map((e) => [e.resourceType, e.action])).toEqual([
      ['DiagnosticReport', 'update'],
      ['Observation', 'update'],
      ['Observation', 'create'],
    ]);
    const report = plan.entries[0];
    expect(report.versionId).toBe('2');
    const current = fake.store.get(report.reference as string) as Resource;
    expect(report.patch).toEqual(
      expect.arrayContaining([
        { op: 'replace', path: '/status', value: 'final' },
        { op: 'replace', path: '/issued', value: '2024-05-03T08:00:00Z' },
      ]),
    );
    expect(applyJsonPatch(contentOf(current), report.patch ?? [])).toEqual(contentOf(report.resource));
    // the new Observation has no id yet: the report's new result reference stays a urn:uuid
    expect(collectReferences(report.resource).filter((r) => r.startsWith('urn:uuid:'))).toEqual([
      next.entry?.[2].fullUrl,
    ]);

    await pushBundle(client, next);
    const again = await planPush(client, next);
    expect(again.entries.every((e) => e.action === 'unchanged' && e.patch === undefined)).toBe(true);
  });

  it('refuses Bundles it cannot push idempotently', async () => {
    const post: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          fullUrl: 'urn:uuid:00000000-0000-4000-8000-000000000001',
          resource: { resourceType: 'Patient' },
          request: { method: 'POST', url: 'Patient' },
        },
      ],
    };
    await expect(pushBundle(client, post)).rejects.toMatchObject({ kind: 'permanent', category: 'invalid-bundle' });
    const dangling = orderBundle(IDS);
    dangling.entry = dangling.entry?.slice(2, 3);
    await expect(pushBundle(client, dangling)).rejects.toMatchObject({ category: 'invalid-bundle' });
    await expect(pushBundle(client, { resourceType: 'Bundle', type: 'collection' })).rejects.toMatchObject({
      category: 'invalid-bundle',
    });
  });
});

describe('a server that lists batch but refuses a batch of searches', () => {
  it('getMany falls back to one GET each, and does not try the batch again', async () => {
    const fake = await startFakeFhir({ refusesBatch: true });
    try {
      const client = new EhrClient({ baseUrl: fake.baseUrl, timeoutMs: 5000 });
      await expect(client.supportsBatch()).resolves.toBe(true);
      const first = await pushBundle(client, orderBundle(IDS));
      expect(first.entries.every((e) => e.action === 'created')).toBe(true);
      const posts = (from: number) =>
        fake.requests.slice(from).filter((r) => r.method === 'POST' && /\/fhir\/?$/.test(r.url));
      expect(posts(0)).toHaveLength(1); // the refused batch
      const before = fake.requests.length;
      const again = await pushBundle(client, orderBundle(IDS));
      expect(again.entries.every((e) => e.action === 'unchanged')).toBe(true);
      expect(posts(before)).toEqual([]); // refused once: not asked again
      expect(fake.requests.slice(before).filter((r) => r.method === 'GET')).toHaveLength(6);
    } finally {
      await fake.close();
    }
  });
});

describe('conditional references (planPush)', () => {
  it('points a conditional reference at the Bundle entry with that conditional key', async () => {
    const bundle = orderBundle(IDS);
    const sr = bundle.entry?.[2].resource as ServiceRequest;
    const patientKey = conditional('Patient', SYS.mrn, IDS.mrn);
    sr.subject = { reference: patientKey };
    const reads: string[] = [];
    const fakeClient = {
      getMany: async (paths: string[]): Promise<GetAnswer[]> => {
        reads.push(...paths);
        return paths.map(() => ({ status: 200, resource: { resourceType: 'Bundle', type: 'searchset' } }));
      },
    } as unknown as EhrClient;
    const plan = await planPush(fakeClient, bundle);
    // Read once, as the Patient entry's own key: not searched again as a reference the Bundle itself holds.
    expect(reads.filter((p) => p === patientKey)).toHaveLength(1);
    expect((plan.entries[2].resource as ServiceRequest).subject?.reference).toBe(bundle.entry?.[0].fullUrl);
    // the input is not modified
    expect(sr.subject.reference).toMatch(/^Patient\?identifier=/);
  });

  it('searches each distinct conditional reference once', async () => {
    const searches: string[] = [];
    const fakeClient = {
      getMany: async (paths: string[]): Promise<GetAnswer[]> => {
        searches.push(...paths);
        return paths.map((path) => {
          const type = path.split('?')[0];
          const match = { resourceType: type, id: `${type.toLowerCase()}-1` } as Resource;
          return { status: 200, resource: { resourceType: 'Bundle', type: 'searchset', entry: [{ resource: match }] } };
        });
      },
    } as unknown as EhrClient;
    const bundle = resultBundle({
      ...IDS,
      status: 'final',
      issued: '2024-05-02T08:00:00Z',
      observations: [
        { code: '11150-0', value: 'a' },
        { code: '33721-2', value: 'b' },
      ],
    });
    const plan = await planPush(fakeClient, bundle);
    const references = [
      conditional('Patient', SYS.mrn, IDS.mrn),
      conditional('ServiceRequest', SYS.placer, IDS.placer),
      conditional('Specimen', SYS.specimen, IDS.specimenId),
    ];
    // The other reads are the entries' own keys (the report and its observations).
    expect(searches.filter((p) => references.includes(p)).sort()).toEqual(references.sort());
    expect(searches).toHaveLength(references.length + (bundle.entry?.length ?? 0));
    const refs = plan.entries.flatMap((e) => collectReferences(e.resource));
    expect(refs.filter((r) => r.includes('?'))).toEqual([]);
    expect(refs).toContain('Patient/patient-1');
  });
});
