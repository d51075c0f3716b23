/**
 * Issue 7, fault injection: Redis goes away in the middle of a run, twice: a graceful restart, then a crash
 * (SIGKILL) with a second of downtime before it comes back. The server is a spawned redis-server with
 * `appendonly yes` and `appendfsync always`, so a write Redis has answered is on disk. Senders post to the gateway
 * over HTTP and send again on 503 or a failed connection (the gateway answers 503 when Redis does not take the job
 * within GATEWAY_ENQUEUE_TIMEOUT_MS); two sync-workers keep delivering. Must show: every update the gateway
 * acknowledged (202) has its job after the restarts and is delivered; nothing is duplicated in the EHR.
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
import { syntheticLoad, UPDATES_PER_ORDER } from '../support/synthetic';
import { shuffled } from '../support/random';
import { eventually, startGatewayStack, type GatewayStack } from '../../services/gateway/test/helpers';
import { chaosSeed, inLanes, postUntilAccepted, sleep, type SendResult } from './support';

const redis = withTestRedis({ preferSpawn: true, appendOnly: true, appendFsync: 'always' });
const ORDERS = 20;
const LANES = 6;
const DOWN_MS = 1000;
const SEED = chaosSeed(7002);

describe('Redis restarted mid-run', () => {
  let g: GatewayStack | undefined;
  afterAll(async () => g?.stop(), 30_000);

  it('a graceful restart and a kill -9 of Redis: every acknowledged update is delivered, none twice', async () => {
    const server = redis().redis;
    if (server.kind !== 'spawned' || !server.restart || !server.kill) {
      throw new Error(
        'this test needs a redis-server it can restart: install redis-server (apt-get install redis-server)',
      );
    }
    const stack = await startGatewayStack({
      redisUrl: redis().url,
      workers: 2,
      env: { GATEWAY_ENQUEUE_TIMEOUT_MS: '1500' },
    });
    g = stack;
    const token = await stack.signer.token({ expiresIn: 600 });
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const load = syntheticLoad(ORDERS, 'RR');
    const inputs = [
      ...load.orders.map((o) => ({ path: '/orders', raw: o.raw })),
      ...shuffled(load.updates, SEED).map((u) => ({ path: '/results', raw: u.raw })),
    ];

    let accepted = 0;
    const t0 = Date.now();
    const sending = inLanes(inputs, LANES, async (input) => {
      const r = await postUntilAccepted(stack.gateway.url + input.path, input.raw, headers, {
        maxAttempts: 200,
        deadlineMs: 90_000,
      });
      if (r.status === 202) accepted++;
      return r;
    });

    // The disruptions, a third and two thirds of the way through the senders' messages.
    const outages: { kind: string; at: number; backAt: number }[] = [];
    await eventually(() => accepted >= inputs.length / 3, 90_000, 'a third of the messages accepted');
    let at = Date.now();
    await server.restart();
    outages.push({ kind: 'graceful restart', at, backAt: Date.now() });
    await eventually(() => accepted >= (2 * inputs.length) / 3, 90_000, 'two thirds of the messages accepted');
    at = Date.now();
    await server.kill('SIGKILL');
    await sleep(DOWN_MS);
    await server.restart();
    outages.push({ kind: 'kill -9', at, backAt: Date.now() });

    const results: SendResult[] = await sending;
    const sendMs = Date.now() - t0;
    await waitIdle(stack.stack.queues, 90_000, 100);
    const totalMs = Date.now() - t0;

    // Every acknowledged message: its jobs are in Redis, completed.
    const ackedJobs = results.flatMap((r) =>
      r.status === 202 ? (JSON.parse(r.body) as { jobs: { jobId: string; kind: string }[] }).jobs : [],
    );
    const states = await Promise.all(
      ackedJobs.map(async (j) => {
        const queue = j.kind === 'order' ? stack.stack.queues.orders : stack.stack.queues.results;
        const job = await queue.getJob(j.jobId);
        return job ? await job.getState() : 'missing';
      }),
    );
    const lostAcked = states.filter((s) => s !== 'completed').length;
    const retriedOn: Record<string, number> = {};
    for (const r of results) for (const [k, v] of Object.entries(r.retriedOn)) retriedOn[k] = (retriedOn[k] ?? 0) + v;
    // Time to recover: from Redis being back to the next message the gateway accepted.
    const recoverMs = outages.map((o) => {
      const next = Math.min(...results.map((r) => r.acceptedAt ?? Infinity).filter((t) => t >= o.backAt));
      return Number.isFinite(next) ? next - o.backAt : -1;
    });

    const jobs = await jobFigures(stack.stack.queues);
    const { ehr, state, history } = await ehrOutcome(stack.stack.sandbox, load);
    printFigures('redis restart', {
      sent: inputs.length,
      acknowledged: results.filter((r) => r.status === 202).length,
      notAcknowledged: results.filter((r) => r.status !== 202).length,
      senderRetries: retriedOn,
      restarts: outages.map((o) => `${o.kind} ${o.backAt - o.at}ms`).join(', '),
      timeToRecoverMs: recoverMs.join('/'),
      ...jobs.completed,
      finished: finished(jobs),
      lostAcknowledged: lostAcked,
      deadLettered: jobs.deadLetters,
      duplicatedInEhr: ehr.duplicates,
      reportVersionsWrittenTwice: history.doubleWrites,
      reportsWrong: state.wrong.length + state.missing,
      sendMs,
      totalMs,
    });

    // Every message was acknowledged in the end (the senders retried through both outages) ...
    expect(results.every((r) => r.status === 202)).toBe(true);
    expect(ackedJobs).toHaveLength(ORDERS * (1 + UPDATES_PER_ORDER));
    // ... and nothing acknowledged was lost: each job is there and completed, each report in its newest version.
    expect(lostAcked).toBe(0);
    expect(jobs.failed).toBe(0);
    expect(jobs.deadLetters).toBe(0);
    expect(finished(jobs)).toBe(ORDERS * (1 + UPDATES_PER_ORDER));
    expectExactlyOnce({ ehr, state, history });
    expect(recoverMs.every((ms) => ms >= 0 && ms < 15_000)).toBe(true);
  }, 240_000);
});
