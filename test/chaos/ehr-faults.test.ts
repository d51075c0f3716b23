/**
 * Issue 7, fault injection on the EHR side: for a few seconds in the middle of a run, the EHR (ehr-sandbox) is
 * down (outage: every request 503), answers everything with 503 and Retry-After (a 503 storm), drops every
 * connection without an answer, or answers slower than the worker's client timeout (0.6–1.6 s against 1 s, so
 * most requests time out while the EHR still carries out the writes it was sent: a retry then finds its write
 * done, "unchanged"). Updates keep arriving while it lasts. Must show, for each: all delivered once the EHR recovers, within the retry policy (no job used all its
 * attempts, none dead-lettered), nothing lost and nothing written twice.
 * (test/delivery covers a 60 s outage and a steady 30 % 503 + 5 % drop rate; these are the storms.)
 */
import diagnostics from 'node:diagnostics_channel';
import type { FaultConfig, SandboxStats } from '@marrowbridge/ehr-sandbox';
import { captureLogs } from '../../services/gateway/test/helpers';
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
import { chaosSeed, sleep } from './support';

const redis = withTestRedis();
const ORDERS = 6;
const WINDOW_MS = 5_000;
const TIMEOUT_MS = 1_000;
const ATTEMPTS = 40;
const MAX_DELAY_MS = 1_000;
const SEED = chaosSeed(7003);

interface FaultCase {
  name: string;
  tag: string;
  faults: FaultConfig;
  /** How many requests the fault hit (timeouts: EHR requests the workers' client gave up on). */
  hits(stats: SandboxStats, timeouts: number): number;
}

const CASES: FaultCase[] = [
  {
    name: 'outage',
    tag: 'FO',
    faults: { outageSeconds: WINDOW_MS / 1000 },
    hits: (s) => s.fhir.outageRejections,
  },
  {
    name: '503 storm with Retry-After',
    tag: 'FS',
    faults: { errorRate: 1, errorStatuses: [503], retryAfterSeconds: 1 },
    hits: (s) => s.fhir.injectedErrors,
  },
  {
    name: 'every connection dropped',
    tag: 'FD',
    faults: { dropRate: 1 },
    hits: (s) => s.fhir.dropped,
  },
  {
    name: 'slow responses beyond the client timeout',
    tag: 'FT',
    faults: { latencyMs: 600, jitterMs: 1000, seed: 3 },
    hits: (_s, timeouts) => timeouts,
  },
];

describe('EHR faults mid-run', () => {
  it.each(CASES.map((c) => [c.name, c] as const))(
    '%s: all delivered once the EHR recovers, within the retry policy',
    async (_name, fault) => {
      // The workers' warnings (each failed delivery attempt, with its reason), and the EHR requests their client
      // gave up on (the workers run in this process; their client's timeouts show on node's HTTP client channel).
      const logs = captureLogs('warn', 'sync-worker');
      let requestTimeouts = 0;
      const onRequestError = (message: unknown): void => {
        if ((message as { error?: Error }).error?.name === 'TimeoutError') requestTimeouts++;
      };
      diagnostics.subscribe('http.client.request.error', onRequestError);
      let stack: TestStack | undefined;
      try {
        stack = await startStack({
          redisUrl: redis().url,
          workers: 0,
          env: {
            EHR_TIMEOUT_MS: String(TIMEOUT_MS),
            RETRY_BASE_DELAY_MS: '100',
            RETRY_MAX_DELAY_MS: String(MAX_DELAY_MS),
            RETRY_ATTEMPTS: String(ATTEMPTS),
          },
        });
        const finishedAt: number[] = [];
        for (let i = 0; i < 2; i++) {
          await stack.startWorker({ log: logs.log, onFinished: () => finishedAt.push(Date.now()) });
        }
        const load = syntheticLoad(ORDERS, fault.tag);
        const updates = shuffled(load.updates, SEED);
        const first = Math.floor(updates.length / 3);
        const t0 = Date.now();
        for (const o of load.orders) await stack.enqueue(o.raw);
        for (const u of updates.slice(0, first)) await stack.enqueue(u.raw);

        stack.sandbox.setFaults(fault.faults);
        const faultStart = Date.now();
        for (const u of updates.slice(first)) await stack.enqueue(u.raw);
        await sleep(faultStart + WINDOW_MS - Date.now());
        const atEnd = await jobFigures(stack.queues);
        stack.sandbox.setFaults({});
        const faultEnd = Date.now();
        await waitIdle(stack.queues, 60_000, 50);
        const drainMs = Date.now() - faultEnd;
        // Time to recover: from the EHR's recovery to the first delivery after it (bounded by the retry policy:
        // the longest backoff, a quick retry, a request in flight); then the backlog drains, one order at a time.
        const recoverMs = Math.min(...finishedAt.filter((t) => t >= faultEnd)) - faultEnd;

        let maxAttempts = 0;
        for (const q of [stack.queues.orders, stack.queues.results]) {
          for (const job of await q.getJobs(['completed'], 0, -1))
            maxAttempts = Math.max(maxAttempts, job.attemptsMade);
        }
        const stats = stack.sandbox.stats();
        const jobs = await jobFigures(stack.queues);
        const { ehr, state, history } = await ehrOutcome(stack.sandbox, load);
        const sent = load.orders.length + load.updates.length;
        const failedAttempts = logs.lines.filter((l) => l.includes('delivery failed; will retry')).length;
        const hits = fault.hits(stats, requestTimeouts);
        printFigures(`EHR ${fault.name}`, {
          sent,
          windowMs: WINDOW_MS,
          requestsHitByFault: hits,
          requestsTimedOut: requestTimeouts,
          failedAttempts,
          pendingWhenFaultEnded: atEnd.pending,
          ...jobs.completed,
          finished: finished(jobs),
          lost: sent - finished(jobs),
          retries: jobs.retries,
          maxAttemptsOfOneJob: maxAttempts,
          attemptsAllowed: ATTEMPTS,
          deadLettered: jobs.deadLetters,
          duplicatedInEhr: ehr.duplicates,
          reportVersionsWrittenTwice: history.doubleWrites,
          reportsWrong: state.wrong.length + state.missing,
          timeToRecoverMs: recoverMs,
          timeToDrainMs: drainMs,
          totalMs: Date.now() - t0,
        });

        // The fault really held deliveries back.
        expect(hits).toBeGreaterThan(0);
        expect(atEnd.pending).toBeGreaterThan(0);
        // All delivered after it, within the retry policy.
        expect(jobs.failed).toBe(0);
        expect(jobs.deadLetters).toBe(0);
        expect(finished(jobs)).toBe(ORDERS * (1 + UPDATES_PER_ORDER));
        expect(maxAttempts).toBeLessThan(ATTEMPTS);
        expect(recoverMs).toBeLessThan(MAX_DELAY_MS + 2 * TIMEOUT_MS + 5_000);
        // Once each, newest state.
        expectExactlyOnce({ ehr, state, history });
      } finally {
        diagnostics.unsubscribe('http.client.request.error', onRequestError);
        await stack?.stop();
      }
    },
    90_000,
  );
});
