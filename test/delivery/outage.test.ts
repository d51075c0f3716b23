/**
 * Issue 5, "must show": with a 60-second EHR outage in the middle of a run, everything is delivered after it
 * ends. Updates keep arriving during the outage; the workers retry with backoff (capped at 4 s here, so recovery
 * is quick once the EHR answers again) and nothing is dead-lettered.
 */
import { withTestRedis } from '../harness/redis';
import {
  ehrOutcome,
  expectExactlyOnce,
  finished,
  jobFigures,
  printFigures,
  waitIdle,
} from '../support/delivery-figures';
import { startStack, type TestStack } from '../support/stack';
import { syntheticLoad, UPDATES_PER_ORDER } from '../support/synthetic';
import { shuffled } from '../support/random';

const redis = withTestRedis();
const ORDERS = 8;
const OUTAGE_SECONDS = 60;

describe('delivery across an EHR outage', () => {
  let stack: TestStack;
  afterAll(async () => stack?.stop());

  it(`a ${OUTAGE_SECONDS}-second outage mid-run: everything delivered after it ends`, async () => {
    stack = await startStack({
      redisUrl: redis().url,
      workers: 2,
      env: { RETRY_BASE_DELAY_MS: '250', RETRY_MAX_DELAY_MS: '4000', RETRY_ATTEMPTS: '40' },
    });
    const load = syntheticLoad(ORDERS, 'OU');
    const updates = shuffled(load.updates, 5);
    // A quarter before the outage, the rest during it (the outage starts a few seconds into the run).
    const first = updates.length / 4;
    const t0 = Date.now();
    for (const o of load.orders) await stack.enqueue(o.raw);
    for (const u of updates.slice(0, first)) await stack.enqueue(u.raw);

    // The outage starts while the first updates are being delivered; the others arrive during it.
    stack.sandbox.setFaults({ outageSeconds: OUTAGE_SECONDS });
    const outageStart = Date.now();
    const pendingAtStart = (await jobFigures(stack.queues)).pending;
    for (const u of updates.slice(first)) await stack.enqueue(u.raw);

    // Just before the EHR comes back: what is still waiting for it.
    const outageEnd = outageStart + OUTAGE_SECONDS * 1000;
    await new Promise((r) => setTimeout(r, outageEnd - 1000 - Date.now()));
    const during = await jobFigures(stack.queues);
    await new Promise((r) => setTimeout(r, outageEnd - Date.now()));
    await waitIdle(stack.queues, 30_000, 50);
    const recoverMs = Date.now() - outageEnd;

    const jobs = await jobFigures(stack.queues);
    const { ehr, state, history } = await ehrOutcome(stack.sandbox, load);
    const stats = stack.sandbox.stats();
    printFigures(`outage ${OUTAGE_SECONDS}s`, {
      sent: load.orders.length + load.updates.length,
      pendingWhenOutageBegan: pendingAtStart,
      arrivedDuringOutage: updates.length - first,
      pendingWhenOutageEnded: during.pending,
      ...jobs.completed,
      retries: jobs.retries,
      deadLettered: jobs.deadLetters,
      lost: jobs.pending + jobs.failed,
      ehrDuplicates: ehr.duplicates,
      reportVersionsWrittenTwice: history.doubleWrites,
      reportsWrong: state.wrong.length + state.missing,
      outageRejections: stats.fhir.outageRejections,
      timeToRecoverMs: recoverMs,
      totalMs: Date.now() - t0,
    });

    // The outage really stopped deliveries: work was left when it ended, and requests were refused.
    expect(during.pending).toBeGreaterThan(0);
    expect(stats.fhir.outageRejections).toBeGreaterThan(0);
    // Then everything went through, once, within a few backoff periods.
    expect(recoverMs).toBeLessThan(15_000);
    expect(jobs.failed).toBe(0);
    expect(jobs.deadLetters).toBe(0);
    expect(finished(jobs)).toBe(ORDERS * (1 + UPDATES_PER_ORDER));
    expectExactlyOnce({ ehr, state, history });
  }, 100_000);
});
