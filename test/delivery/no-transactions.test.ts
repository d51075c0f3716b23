/**
 * Issue 5, "must show": an EHR without transaction support. The same updates, in the same shuffled order, go to
 * an EHR whose CapabilityStatement lists `transaction` and to one that refuses transactions (sandbox fault
 * `transactions: false`); the worker pushes one conditional request at a time to the second, and both end with
 * the same content (compared by business keys, references resolved to keys, server ids and meta left out).
 */
import { withTestRedis } from '../harness/redis';
import { checkNewestState, ehrSnapshot, jobFigures, printFigures, waitIdle } from '../support/delivery-figures';
import { startStack } from '../support/stack';
import { syntheticLoad } from '../support/synthetic';
import { shuffled } from '../support/random';

const redis = withTestRedis();

describe('an EHR without transaction support', () => {
  it('sequential conditional writes give the same end state as transactions', async () => {
    const load = syntheticLoad(5, 'NT');
    const updates = shuffled(load.updates, 17);
    const run = async (transactions: boolean) => {
      const stack = await startStack({ redisUrl: redis().url, workers: 2, sandbox: { faults: { transactions } } });
      try {
        const t0 = Date.now();
        for (const o of load.orders) await stack.enqueue(o.raw);
        for (const u of updates) await stack.enqueue(u.raw);
        await waitIdle(stack.queues, 60_000);
        const ms = Date.now() - t0;
        const stats = stack.sandbox.stats();
        const jobs = await jobFigures(stack.queues);
        const state = await checkNewestState(stack.sandbox, load);
        printFigures(transactions ? 'with transactions' : 'without transactions', {
          sent: load.orders.length + load.updates.length,
          ...jobs.completed,
          deadLettered: jobs.deadLetters,
          lost: jobs.pending + jobs.failed,
          reportsWrong: state.wrong.length + state.missing,
          requests: JSON.stringify(stats.fhir.byInteraction),
          ms,
        });
        return { snapshot: await ehrSnapshot(stack.sandbox), stats, jobs, state };
      } finally {
        await stack.stop();
      }
    };

    const withTx = await run(true);
    const withoutTx = await run(false);

    expect(withTx.stats.fhir.byInteraction.transaction ?? 0).toBeGreaterThan(0);
    expect(withoutTx.stats.fhir.byInteraction.transaction ?? 0).toBe(0);
    expect(withoutTx.stats.fhir.byInteraction.create ?? 0).toBeGreaterThan(0);
    expect(withoutTx.stats.fhir.byInteraction.update ?? 0).toBeGreaterThan(0);
    for (const r of [withTx, withoutTx]) {
      expect(r.jobs.failed).toBe(0);
      expect(r.jobs.deadLetters).toBe(0);
      expect(r.state.wrong).toEqual([]);
      expect(r.state.missing).toBe(0);
    }
    // Patients, ServiceRequests, Procedures (5 each), 3 Practitioners, 10 Specimens, 10 reports, 50 Observations.
    expect(Object.keys(withTx.snapshot)).toHaveLength(88);
    expect(Object.keys(withoutTx.snapshot)).toHaveLength(88);
    expect(JSON.stringify(withoutTx.snapshot)).not.toMatch(/unresolved /);
    expect(withoutTx.snapshot).toEqual(withTx.snapshot);
  }, 90_000);
});
