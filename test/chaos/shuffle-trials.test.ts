/**
 * Issue 7: updates of the same report shuffled across 1,000 random trials; the EHR always ends with the newest
 * state. A trial is one report's random history (2–6 versions up the status ranks, issued times rising, sometimes a
 * re-send under another message id) arriving in a random order. Two ways to run them, named in each test:
 * - end to end: the trials' updates queued together (BullMQ on Redis), two sync-workers racing for them (the order
 *   lock serializes each order, precedence decides), the EHR being the ehr-sandbox over HTTP;
 * - decision path: the remaining trials applied one update at a time in their arrival order through the worker's own
 *   result path — mapResultUpdate → pushBundle with the worker's resultGuard (precedence on the EHR's copy it reads) —
 *   against the same sandbox, in rounds that restore the EHR to its state after the orders. Without queue and lock
 *   this is what the lock guarantees each order, at a fraction of the cost.
 * Every trial's report must end in its newest version (status, issued time, result value), once.
 */
import { EhrClient, pushBundle, resultGuard } from '@marrowbridge/ehr-client';
import { mapResultUpdate } from '@marrowbridge/fhir-mapping';
import { translateInput } from '@marrowbridge/intake';
import type { ResultUpdate } from '@marrowbridge/model';
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
import { syntheticLoad } from '../support/synthetic';
import { seededRandom, shuffled } from '../support/random';
import { chaosSeed, enqueueAll, inLanes, randomTrials, trialsLoad, type ReportTrial } from './support';

const redis = withTestRedis();
const ORDERS = 100; // two reports each: 200 trials per round
const DECISION_ROUNDS = 4; // 800 trials through the decision path
const SEED = chaosSeed(7004);

describe('1,000 shuffled report histories', () => {
  let stack: TestStack | undefined;
  const orders = syntheticLoad(ORDERS, 'SH');
  const random = seededRandom(SEED);
  let snapshot: ReturnType<TestStack['sandbox']['repo']['snapshot']>;

  beforeAll(async () => {
    stack = await startStack({ redisUrl: redis().url, workers: 2, env: { WORKER_CONCURRENCY: '4' } });
    await enqueueAll(stack.queues, orders.orders, { concurrency: 4 });
    await waitIdle(stack.queues, 60_000);
    snapshot = stack.sandbox.repo.snapshot();
  }, 120_000);
  afterAll(async () => stack?.stop());

  it('200 trials end to end (queue, two workers, order lock, EHR over HTTP): each report ends newest, once', async () => {
    const s = stack!;
    const trials = randomTrials(orders, random, 1);
    const load = trialsLoad(orders, trials);
    const t0 = Date.now();
    const intake = await enqueueAll(s.queues, shuffled(load.updates, random), { concurrency: 4 });
    await waitIdle(s.queues, 120_000, 50);
    const ms = Date.now() - t0;

    const jobs = await jobFigures(s.queues);
    const { ehr, state, history } = await ehrOutcome(s.sandbox, load);
    printFigures('shuffled trials, end to end', {
      trials: trials.length,
      updates: load.updates.length,
      resends: load.updates.length - trials.reduce((n, t) => n + t.versions.length, 0),
      ...jobs.completed,
      lost: orders.orders.length + intake.created - finished(jobs),
      deadLettered: jobs.deadLetters,
      newest: state.reports - state.wrong.length - state.missing,
      notNewest: state.wrong.length + state.missing,
      duplicatedInEhr: ehr.duplicates,
      reportVersionsWrittenTwice: history.doubleWrites,
      seed: SEED,
      ms,
    });

    expect(trials).toHaveLength(2 * ORDERS);
    expect(intake.created).toBe(load.updates.length);
    expect(jobs.failed).toBe(0);
    expect(jobs.deadLetters).toBe(0);
    expect(finished(jobs)).toBe(orders.orders.length + load.updates.length);
    expect(jobs.completed.review ?? 0).toBe(0);
    expectExactlyOnce({ ehr, state, history });
  }, 180_000);

  it(`${DECISION_ROUNDS * 2 * ORDERS} trials through the worker's decision path against the EHR: each report ends newest, once`, async () => {
    const s = stack!;
    const client = new EhrClient({ baseUrl: s.sandbox.baseUrl, timeoutMs: 10_000 });
    const decisions: Record<string, number> = {};
    let trialCount = 0;
    let updates = 0;
    const wrong: string[] = [];
    let duplicates = 0;
    let doubleWrites = 0;
    const t0 = Date.now();
    for (let round = 2; round < 2 + DECISION_ROUNDS; round++) {
      s.sandbox.repo.restore(snapshot);
      const trials = randomTrials(orders, random, round);
      await inLanes(trials, 8, async (trial: ReportTrial) => {
        for (const update of trial.arrival) {
          const [result] = translateInput(update.raw);
          if (!result?.ok) throw new Error(`trial update does not translate: ${JSON.stringify(result?.outcome)}`);
          const message = result.items[0].message as ResultUpdate;
          const bundle = mapResultUpdate(message);
          const pushed = await pushBundle(client, bundle, { guard: resultGuard(message, bundle) });
          const action = pushed.stopped?.action ?? 'apply';
          decisions[action] = (decisions[action] ?? 0) + 1;
          updates++;
        }
      });
      trialCount += trials.length;
      const { ehr, state, history } = await ehrOutcome(s.sandbox, trialsLoad(orders, trials));
      wrong.push(...state.wrong, ...(state.missing ? [`round ${round}: ${state.missing} report(s) missing`] : []));
      if (state.observationsFound !== state.observationsExpected) wrong.push(`round ${round}: results not once each`);
      duplicates += ehr.duplicates;
      doubleWrites += history.doubleWrites;
    }
    const ms = Date.now() - t0;
    printFigures('shuffled trials, decision path', {
      trials: trialCount,
      updates,
      ...decisions,
      newest: trialCount - wrong.length,
      notNewest: wrong.length,
      duplicatedInEhr: duplicates,
      reportVersionsWrittenTwice: doubleWrites,
      seed: SEED,
      ms,
    });

    expect(trialCount).toBe(DECISION_ROUNDS * 2 * ORDERS);
    expect(decisions.review ?? 0).toBe(0);
    expect(wrong).toEqual([]);
    expect(duplicates).toBe(0);
    expect(doubleWrites).toBe(0);
  }, 180_000);
});
