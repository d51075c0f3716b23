import { generateKeyPairSync, randomUUID } from 'node:crypto';
import type { JWK } from 'jose';
import type { Bundle, DiagnosticReport, Resource, ResourceType, ServiceRequest } from '@medplum/fhirtypes';
import { startEhrSandbox, type EhrSandbox } from '@marrowbridge/ehr-sandbox';
import { SmartBackendAuth } from '../src/auth';
import { EhrClient, type WriteResult } from '../src/client';
import { canonicalJson, contentOf } from '../src/diff';
import { EhrError } from '../src/errors';
import { checkReportPrecedence, findCurrentReport } from '../src/precedence';
import { pushBundle, type PushMode } from '../src/push';
import { rewriteReferences } from '../src/references';
import { orderBundle, resultBundle } from './bundles';

const TYPES: ResourceType[] = [
  'Patient',
  'Practitioner',
  'ServiceRequest',
  'Specimen',
  'Procedure',
  'DiagnosticReport',
  'Observation',
];

function newClientKey(): { clientId: string; privateKey: string; publicJwk: JWK } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = randomUUID();
  return {
    clientId: `mb-worker-${kid.slice(0, 8)}`,
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicJwk: { ...(publicKey.export({ format: 'jwk' }) as JWK), kid, alg: 'RS384', use: 'sig' },
  };
}

function smartClient(
  sandbox: EhrSandbox,
  key: ReturnType<typeof newClientKey>,
): { client: EhrClient; auth: SmartBackendAuth } {
  // No tokenUrl: discovered from the sandbox (smart-configuration).
  const auth = new SmartBackendAuth({
    clientId: key.clientId,
    privateKey: key.privateKey,
    kid: key.publicJwk.kid,
    scopes: 'system/*.read system/*.write',
  });
  return { client: new EhrClient({ baseUrl: sandbox.baseUrl, auth, timeoutMs: 10_000 }), auth };
}

/** The EHR's resources with ids replaced by business identifiers, so that two EHRs can be compared. */
async function endState(client: EhrClient): Promise<string[]> {
  const all: Resource[] = [];
  for (const type of TYPES) {
    all.push(...(await client.searchResources(type, { _count: 1000 })));
  }
  const keyOf = new Map<string, string>();
  for (const r of all) {
    const id = (r as { identifier?: { system?: string; value?: string }[] }).identifier?.[0];
    keyOf.set(`${r.resourceType}/${r.id}`, `${r.resourceType}|${id?.system}|${id?.value}`);
  }
  return all
    .map((r) => canonicalJson(rewriteReferences(contentOf(r), (ref) => keyOf.get(ref) ?? `UNRESOLVED:${ref}`)))
    .sort();
}

const IDS = { mrn: 'MRN-SBX-0001', placer: 'PL-SBX-1', specimenId: 'SP-SBX-1-A' };

function results(status: DiagnosticReport['status'], issued: string, blasts: string): Bundle {
  return resultBundle({
    ...IDS,
    status,
    issued,
    observations: [
      { code: '11150-0', value: 'hypercellular marrow' },
      { code: '33721-2', value: blasts },
    ],
  });
}

describe('EhrClient + pushBundle against the ehr-sandbox', () => {
  let sandbox: EhrSandbox;
  let key: ReturnType<typeof newClientKey>;

  beforeAll(async () => {
    key = newClientKey();
    sandbox = await startEhrSandbox({
      clients: [{ clientId: key.clientId, jwk: key.publicJwk, scope: 'system/*.cruds' }],
    });
  });
  afterAll(() => sandbox.stop());
  beforeEach(async () => {
    sandbox.setFaults({});
    await sandbox.resetData();
  });

  it('SMART auth end to end: discovers the token URL, reads the CapabilityStatement', async () => {
    const { client, auth } = smartClient(sandbox, key);
    await expect(client.supportsTransaction()).resolves.toBe(true);
    expect(await auth.getTokenUrl()).toBe(sandbox.tokenUrl);
    // a second call is served from the caches (no new token, same CapabilityStatement object)
    const cs = await client.capabilities();
    expect(await client.capabilities()).toBe(cs);
    expect(auth.tokenRequestCount).toBe(1);
  });

  it('without a token the sandbox refuses: a permanent auth error', async () => {
    const anonymous = new EhrClient({ baseUrl: sandbox.baseUrl });
    const err = await anonymous.read('Patient', 'x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EhrError);
    expect(err).toMatchObject({ kind: 'permanent', category: 'auth', status: 401 });
  });

  it.each<PushMode>(['transaction', 'sequential'])('%s: pushing twice creates nothing new', async (mode) => {
    const { client } = smartClient(sandbox, key);
    const first = await pushBundle(client, orderBundle(IDS), { mode });
    expect(first.mode).toBe(mode);
    expect(first.entries.every((e) => e.action === 'created')).toBe(true);
    const counts = await sandbox.countResources();
    const before = await endState(client);

    const second = await pushBundle(client, orderBundle(IDS), { mode });
    expect(second.entries.map((e) => e.action)).toEqual(Array(6).fill('unchanged'));
    expect(second.entries.map((e) => [e.reference, e.versionId])).toEqual(
      first.entries.map((e) => [e.reference, e.versionId]),
    );
    expect(await sandbox.countResources()).toEqual(counts);
    expect(await endState(client)).toEqual(before);

    // the ServiceRequest ↔ Specimen cycle is closed in the EHR
    const sr = await client.read<ServiceRequest>('ServiceRequest', first.entries[2].reference.split('/')[1]);
    expect(sr.specimen?.[0].reference).toBe(first.entries[3].reference);
  });

  it('transactions off in the sandbox: auto mode goes sequential and reaches the same end state', async () => {
    const { client } = smartClient(sandbox, key);
    const steps = [
      orderBundle(IDS),
      results('preliminary', '2024-05-02T08:00:00Z', 'blasts 2%'),
      results('final', '2024-05-03T08:00:00Z', 'blasts 3%'),
    ];
    for (const b of steps) {
      expect((await pushBundle(client, b)).mode).toBe('transaction');
    }
    const viaTransactions = await endState(client);

    await sandbox.resetData();
    sandbox.setFaults({ transactions: false });
    const fresh = smartClient(sandbox, key).client; // a new client reads the new CapabilityStatement
    await expect(fresh.supportsTransaction()).resolves.toBe(false);
    for (const b of steps) {
      expect((await pushBundle(fresh, b)).mode).toBe('sequential');
    }
    expect(await endState(fresh)).toEqual(viaTransactions);
    expect(viaTransactions.some((r) => r.includes('UNRESOLVED'))).toBe(false);
    expect(viaTransactions.filter((r) => r.includes('"resourceType":"Observation"'))).toHaveLength(2);
  });

  it('precedence against the EHR copy: the report key finds the current report', async () => {
    const { client } = smartClient(sandbox, key);
    await pushBundle(client, orderBundle(IDS));
    await pushBundle(client, results('final', '2024-05-03T08:00:00Z', 'blasts 3%'));
    const stale = results('preliminary', '2024-05-02T08:00:00Z', 'blasts 2%');
    const incoming = stale.entry?.[0].resource as DiagnosticReport;
    const decision = await checkReportPrecedence(client, incoming);
    expect(decision).toMatchObject({ action: 'superseded', current: { status: 'final' } });
    const reportKey = incoming.identifier?.[0].value as string;
    expect((await findCurrentReport(client, reportKey))?.issued).toBe('2024-05-03T08:00:00Z');
    expect(await findCurrentReport(client, 'no-such-report-key')).toBeUndefined();
  });

  it.each<PushMode>(['sequential', 'transaction'])(
    '%s: an If-Match 412 (the resource changed between read and write) is re-read and re-decided',
    async (mode) => {
      const { client: plain } = smartClient(sandbox, key);
      await pushBundle(plain, orderBundle(IDS), { mode });
      const statuses: number[] = [];
      let raced = false;
      let racedVersion: string | undefined;
      const race = async (): Promise<void> => {
        if (raced) return;
        raced = true; // another writer updates the ServiceRequest behind our back
        const [sr] = await plain.searchResources<ServiceRequest>('ServiceRequest');
        racedVersion = (await sandbox.repo.updateResource({ ...sr, priority: 'stat' })).meta?.versionId;
      };
      class RacingClient extends EhrClient {
        override async update<T extends Resource>(r: T, o?: { ifMatch?: string }): Promise<WriteResult<T>> {
          await race();
          try {
            const res = await super.update(r, o);
            statuses.push(res.status);
            return res;
          } catch (err) {
            statuses.push((err as EhrError).status ?? 0);
            throw err;
          }
        }
        override async transaction(b: Bundle): Promise<Bundle> {
          await race();
          try {
            const res = await super.transaction(b);
            statuses.push(200);
            return res;
          } catch (err) {
            statuses.push((err as EhrError).status ?? 0);
            throw err;
          }
        }
      }
      const auth = new SmartBackendAuth({
        clientId: key.clientId,
        privateKey: key.privateKey,
        scopes: 'system/*.*',
        tokenUrl: sandbox.tokenUrl,
      });
      const racing = new RacingClient({ baseUrl: sandbox.baseUrl, auth });
      const changed = orderBundle(IDS);
      (changed.entry?.[2].resource as ServiceRequest).status = 'on-hold';
      const result = await pushBundle(racing, changed, { mode });
      expect(statuses).toEqual([412, 200]);
      expect(result.entries[2]).toMatchObject({ action: 'updated' });
      const sr = await plain.read<ServiceRequest>('ServiceRequest', result.entries[2].reference.split('/')[1]);
      expect(sr.status).toBe('on-hold');
      // re-decided against the other writer's version, and written over it with If-Match on that version
      expect(sr.priority).toBeUndefined();
      expect(racedVersion).toBeDefined();
      expect(sr.meta?.versionId).not.toBe(racedVersion);
      expect(result.entries[2].versionId).toBe(sr.meta?.versionId);
      expect(result.entries.filter((_e, i) => i !== 2).every((e) => e.action === 'unchanged')).toBe(true);
    },
  );

  it.each<PushMode>(['sequential', 'transaction'])(
    '%s: a create that loses the race (If-None-Exist finds it) is re-decided as an update',
    async (mode) => {
      const { client: plain } = smartClient(sandbox, key);
      const bundle = orderBundle(IDS);
      const patient = bundle.entry?.[0].resource as Resource;
      let raced = false;
      const race = async (): Promise<void> => {
        if (raced) return;
        raced = true; // another writer creates the same Patient (other content) after our read
        await sandbox.repo.createResource({ ...patient, gender: 'other' } as Resource);
      };
      class RacingClient extends EhrClient {
        override async create<T extends Resource>(r: T, o?: { ifNoneExist?: string }): Promise<WriteResult<T>> {
          await race();
          return super.create(r, o);
        }
        override async transaction(b: Bundle): Promise<Bundle> {
          await race();
          return super.transaction(b);
        }
      }
      const racing = new RacingClient({ baseUrl: sandbox.baseUrl, auth: smartClient(sandbox, key).auth });
      const result = await pushBundle(racing, bundle, { mode });
      expect(raced).toBe(true);
      expect(result.entries[0]).toMatchObject({ resourceType: 'Patient', action: 'updated' });
      expect(await sandbox.countResources()).toMatchObject({ Patient: 1 });
      const stored = await plain.read('Patient', result.entries[0].reference.split('/')[1]);
      expect(stored).toMatchObject({ gender: 'unknown' });
      expect((await pushBundle(plain, orderBundle(IDS), { mode })).entries.every((e) => e.action === 'unchanged')).toBe(
        true,
      );
    },
  );

  it('a 401 with a cached token: invalidated and retried once with a new token', async () => {
    const { client, auth } = smartClient(sandbox, key);
    await client.capabilities();
    expect(auth.tokenRequestCount).toBe(1);
    sandbox.resetStats();
    // Revoking and registering again invalidates every token issued before (the cached one included).
    sandbox.revokeClient(key.clientId);
    sandbox.registerClient({ clientId: key.clientId, jwk: key.publicJwk, scope: 'system/*.cruds' });
    await expect(client.searchResources('Patient')).resolves.toEqual([]);
    expect(auth.tokenRequestCount).toBe(2);
    // exactly one refused request, one new token, one successful retry
    expect(sandbox.stats().fhir.byStatus).toEqual({ '401': 1, '200': 1 });
    expect(sandbox.stats().token.byStatus).toEqual({ '200': 1 });
  });

  it('a revoked client: a permanent auth failure', async () => {
    const other = newClientKey();
    sandbox.registerClient({ clientId: other.clientId, jwk: other.publicJwk, scope: 'system/*.cruds' });
    const { client, auth } = smartClient(sandbox, other);
    await client.searchResources('Patient');
    sandbox.revokeClient(other.clientId);
    const err = await pushBundle(client, orderBundle(IDS)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EhrError);
    expect(err).toMatchObject({ kind: 'permanent', category: 'auth', status: 401 });
    expect((err as EhrError).reason).toMatch(/invalid_client/);
    expect(auth.tokenRequestCount).toBe(2);
    expect(await sandbox.countResources()).toEqual({});
  });

  it('an outage (503 with Retry-After) is transient with retryAfterMs', async () => {
    const { client } = smartClient(sandbox, key);
    await client.capabilities();
    sandbox.setFaults({ outageSeconds: 60, retryAfterSeconds: 7 });
    const err = await pushBundle(client, orderBundle(IDS)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EhrError);
    expect(err).toMatchObject({ kind: 'transient', status: 503, retryAfterMs: 7000 });
    sandbox.setFaults({});
    await expect(pushBundle(client, orderBundle(IDS))).resolves.toMatchObject({ mode: 'transaction' });
  });

  it('getMany: one batch of GETs, each answered on its own (a search, a read, a missing read)', async () => {
    const { client } = smartClient(sandbox, key);
    const first = await pushBundle(client, orderBundle(IDS));
    const patient = first.entries[0].reference;
    sandbox.resetStats();
    const answers = await client.getMany([
      `Patient?identifier=${encodeURIComponent('|x-none')}`,
      patient,
      'Patient/none',
    ]);
    expect(sandbox.stats().fhir.byStatus).toEqual({ '200': 1 }); // one HTTP request: the batch
    expect(answers.map((a) => a.status)).toEqual([200, 200, 404]);
    expect(answers[0].resource).toMatchObject({ resourceType: 'Bundle', type: 'searchset' });
    expect(answers[1].resource).toMatchObject({ resourceType: 'Patient', id: patient.split('/')[1] });
    expect(answers[2].error).toMatchObject({ kind: 'permanent', status: 404 });
  });

  it.each<PushMode>(['transaction', 'sequential'])(
    '%s: the reads are one batch (a result update in transaction mode: two requests in all)',
    async (mode) => {
      const { client } = smartClient(sandbox, key);
      await pushBundle(client, orderBundle(IDS), { mode });
      sandbox.resetStats();
      const pushed = await pushBundle(client, results('final', '2024-05-03T08:00:00Z', 'blasts 3%'), { mode });
      // the order's report placeholder is updated, the two Observations are new
      expect(pushed.entries.map((e) => e.action)).toEqual(['updated', 'created', 'created']);
      const requests = sandbox.stats().fhir.byStatus;
      // transaction: the batch of reads + the transaction; sequential: the batch + one write per entry
      expect(requests).toEqual(mode === 'transaction' ? { '200': 2 } : { '200': 2, '201': 2 });
    },
  );

  it.each<PushMode>(['transaction', 'sequential'])(
    '%s: a guard that stops writes nothing; one that keeps an entry leaves the EHR copy and points at it',
    async (mode) => {
      const { client } = smartClient(sandbox, key);
      await pushBundle(client, orderBundle(IDS), { mode });
      await pushBundle(client, results('final', '2024-05-03T08:00:00Z', 'blasts 3%'), { mode });
      const before = await endState(client);
      const seen: string[][] = [];
      const stopped = await pushBundle(client, results('preliminary', '2024-05-02T08:00:00Z', 'blasts 9%'), {
        mode,
        guard: (current) => {
          seen.push([...current.values()].map((r) => r.resourceType));
          return { stop: { action: 'superseded', reason: 'older' } };
        },
      });
      expect(stopped).toEqual({ mode, entries: [], stopped: { action: 'superseded', reason: 'older' } });
      expect(seen).toEqual([['DiagnosticReport', 'Observation', 'Observation']]);
      expect(await endState(client)).toEqual(before);

      const changed = orderBundle(IDS);
      (changed.entry?.[2].resource as ServiceRequest).status = 'on-hold';
      const report = changed.entry?.[5];
      const kept = await pushBundle(client, changed, {
        mode,
        guard: () => ({ keep: new Map([[report?.fullUrl as string, 'the EHR report stays']]) }),
      });
      expect(kept.entries[5]).toMatchObject({ action: 'unchanged', kept: 'the EHR report stays' });
      expect(kept.entries[2]).toMatchObject({ action: 'updated' });
      const dr = await client.read<DiagnosticReport>('DiagnosticReport', kept.entries[5].reference.split('/')[1]);
      expect(dr.status).toBe('final'); // the order's placeholder did not overwrite it
    },
  );

  it('a result before its order: the missing Patient is a transient failure', async () => {
    const { client } = smartClient(sandbox, key);
    const err = await pushBundle(client, results('final', '2024-05-03T08:00:00Z', 'x')).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'transient', category: 'reference-not-found' });
  });
});
