/**
 * Issue 5, "must show": token expiry mid-run, and a revoked client (401 every time: dead-lettered, not retried
 * forever). The sandbox requires SMART Backend Services tokens that live 2 seconds; the worker authenticates as
 * a registered client with an ES384 key (EHR_CLIENT_ID / EHR_PRIVATE_KEY / EHR_KEY_ID / EHR_SCOPES, as an
 * operator would configure it).
 */
import { generateKeyPairSync } from 'node:crypto';
import { withTestRedis } from '../harness/redis';
import { ehrOutcome, expectExactlyOnce, jobFigures, printFigures, waitIdle } from '../support/delivery-figures';
import { startStack, type TestStack } from '../support/stack';
import { syntheticLoad } from '../support/synthetic';
import { shuffled } from '../support/random';

const redis = withTestRedis();
const CLIENT_ID = 'marrowbridge-sync-worker';
const KID = 'sync-worker-es384-1';
const TOKEN_TTL_SECONDS = 2;

function es384Client() {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: KID, alg: 'ES384', use: 'sig' };
  return {
    pem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    registration: { clientId: CLIENT_ID, jwks: { keys: [jwk] }, scope: 'system/*.cruds' },
  };
}

describe('SMART backend auth during delivery', () => {
  let stack: TestStack;
  const client = es384Client();
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  beforeAll(async () => {
    stack = await startStack({
      redisUrl: redis().url,
      workers: 2,
      sandbox: { auth: 'smart', tokenTtlSeconds: TOKEN_TTL_SECONDS, clients: [client.registration as never] },
      env: {
        EHR_CLIENT_ID: CLIENT_ID,
        EHR_PRIVATE_KEY: client.pem,
        EHR_KEY_ID: KID,
        EHR_SCOPES: 'system/*.read system/*.write',
      },
    });
  });
  afterAll(async () => stack?.stop());

  it(`tokens expiring every ${TOKEN_TTL_SECONDS} s mid-run: every update delivered, no 401 failure`, async () => {
    const load = syntheticLoad(6, 'TK');
    const t0 = Date.now();
    for (const o of load.orders) await stack.enqueue(o.raw);
    // Four waves 1.5 s apart: the run spans three token lifetimes.
    const updates = shuffled(load.updates, 3);
    const wave = Math.ceil(updates.length / 4);
    for (let w = 0; w < 4; w++) {
      for (const u of updates.slice(w * wave, (w + 1) * wave)) await stack.enqueue(u.raw);
      if (w < 3) await sleep(1500);
    }
    await waitIdle(stack.queues, 60_000);
    const ms = Date.now() - t0;

    const jobs = await jobFigures(stack.queues);
    const { ehr, state, history } = await ehrOutcome(stack.sandbox, load);
    const stats = stack.sandbox.stats();
    printFigures('token expiry', {
      sent: load.orders.length + load.updates.length,
      ...jobs.completed,
      retries: jobs.retries,
      deadLettered: jobs.deadLetters,
      lost: jobs.pending + jobs.failed,
      tokensIssued: stats.token.byStatus['200'] ?? 0,
      fhir401: stats.fhir.byStatus['401'] ?? 0,
      ehrDuplicates: ehr.duplicates,
      ms,
    });

    expect(ms).toBeGreaterThan(TOKEN_TTL_SECONDS * 1000 * 2);
    // A token per worker and lifetime, give or take: renewed, never given up on.
    expect(stats.token.byStatus['200'] ?? 0).toBeGreaterThanOrEqual(3);
    expect(stats.token.total).toBe(stats.token.byStatus['200']);
    expect(jobs.failed).toBe(0);
    expect(jobs.deadLetters).toBe(0);
    expectExactlyOnce({ ehr, state, history });
  }, 90_000);

  it('a revoked client: each delivery is dead-lettered after one attempt with the reason, not retried', async () => {
    const load = syntheticLoad(1, 'RV');
    const dlqBefore = (await stack.queues.listDeadLetters()).length;
    stack.sandbox.revokeClient(CLIENT_ID);
    stack.sandbox.resetStats();
    const sent = [load.orders[0], ...load.updates.slice(0, 3)];
    for (const m of sent) await stack.enqueue(m.raw);
    await waitIdle(stack.queues, 30_000);
    const afterIdle = stack.sandbox.stats();
    // Nothing comes back for another moment: no retry is scheduled.
    await sleep(1500);
    const later = stack.sandbox.stats();

    const entries = (await stack.queues.listDeadLetters()).slice(dlqBefore);
    printFigures('revoked client', {
      sent: sent.length,
      deadLettered: entries.length,
      attemptsPerJob: entries.map((e) => e.attempts.length).join('/'),
      tokenRequests: later.token.total,
      token401: later.token.byStatus['401'] ?? 0,
      fhir401: later.fhir.byStatus['401'] ?? 0,
      retriesAfterDeadLetter: later.token.total - afterIdle.token.total,
    });

    expect(entries).toHaveLength(sent.length);
    for (const e of entries) {
      expect(e.reason).toMatch(/401.*invalid_client/);
      expect(e.attempts).toHaveLength(1);
      expect(e.attempts[0].kind).toBe('permanent');
      const queue = e.data.kind === 'order' ? stack.queues.orders : stack.queues.results;
      const job = await queue.getJob(e.jobId);
      expect(await job?.getState()).toBe('failed');
      expect(job?.attemptsMade).toBe(1);
    }
    // At most one token request (and one refused FHIR request) per delivery, and none after they were given up.
    expect(afterIdle.token.total).toBeLessThanOrEqual(sent.length);
    expect(afterIdle.token.byStatus['200'] ?? 0).toBe(0);
    expect(later.token.total).toBe(afterIdle.token.total);
    expect(later.fhir.total).toBe(afterIdle.fhir.total);
    // And the EHR got nothing of that order.
    const patients = await stack.sandbox.repo.searchResources({ resourceType: 'Patient' });
    expect(patients.some((p) => JSON.stringify(p).includes('MRN-RV'))).toBe(false);
  }, 60_000);
});
