/**
 * Issue 5, "must show": a resource that fails validation is never sent; it sits in the dead-letter queue with a
 * readable OperationOutcome; after the cause is fixed, replay delivers it. The same for an EHR that refuses a
 * write for good (422 from its own validation): dead-lettered after one attempt with the EHR's outcome, delivered
 * by a replay once the EHR accepts it.
 *
 * The input passes the canonical schema. What fails is a profile rule, simulated by a validator wrapping the real
 * one in the worker (a rule that is later relaxed: the "fix"), and the sandbox's validation hook for the EHR side.
 */
import type { Validator } from '@marrowbridge/validation';
import { createValidator } from '@marrowbridge/validation';
import type { Bundle, DiagnosticReport, Observation, OperationOutcome } from '@medplum/fhirtypes';
import { withTestRedis } from '../harness/redis';
import { printFigures, waitIdle } from '../support/delivery-figures';
import { startStack, type TestStack } from '../support/stack';
import { syntheticLoad } from '../support/synthetic';

const redis = withTestRedis();
const MAX_STRING = 60;

/** The project validator plus one profile rule that can be switched off (the "fixed" profile). */
function validatorWithRule(state: { strict: boolean }): Validator {
  const real = createValidator();
  return {
    startup: real.startup,
    validateJson: (text, options) => real.validateJson(text, options),
    validate(resource, options) {
      const outcome = real.validate(resource, options);
      if (!state.strict || resource.resourceType !== 'Bundle') return outcome;
      const issues = ((resource as Bundle).entry ?? []).flatMap((e, i) => {
        const obs = e.resource as Observation | undefined;
        if (obs?.resourceType !== 'Observation' || (obs.valueString ?? '').length <= MAX_STRING) return [];
        return [
          {
            severity: 'error' as const,
            code: 'invariant' as const,
            details: {
              text: `Observation.valueString is longer than ${MAX_STRING} characters; shorten the text or send it as a note`,
            },
            diagnostics: 'bma-result-observation: bma-obs-1 (valueString.length() <= 60)',
            expression: [`Bundle.entry[${i}].resource.ofType(Observation).value.ofType(string)`],
          },
        ];
      });
      return { ...outcome, issue: [...(outcome.issue ?? []), ...issues] };
    },
  };
}

/** An EHR-side refusal of the flow cytometry report (its own profile), switchable. */
function ehrRefusal(state: { refuse: boolean }) {
  return (resource: { resourceType: string }): OperationOutcome | undefined => {
    const report = resource as DiagnosticReport;
    if (!state.refuse || report.resourceType !== 'DiagnosticReport') return undefined;
    if (!report.code?.coding?.some((c) => c.code === '101119-6')) return undefined;
    return {
      resourceType: 'OperationOutcome',
      issue: [
        {
          severity: 'error',
          code: 'business-rule',
          details: { text: 'Immunophenotyping reports are not accepted from this sender yet' },
          expression: ['DiagnosticReport.code'],
        },
      ],
    };
  };
}

describe('dead-letter queue and replay', () => {
  const rule = { strict: true };
  const ehrRule = { refuse: false };
  let stack: TestStack;
  const load = syntheticLoad(2, 'DL');
  const flowFinal = (order: number) =>
    load.updates.find((u) => u.orderIndex === order && u.reportCode === '101119-6' && u.status === 'final')!;
  const flowReports = async () =>
    (await stack.sandbox.repo.searchResources<DiagnosticReport>({ resourceType: 'DiagnosticReport' })).filter(
      (r) => r.code.coding?.[0]?.code === '101119-6',
    );

  beforeAll(async () => {
    stack = await startStack({
      redisUrl: redis().url,
      workers: 0,
      sandbox: { validate: ehrRefusal(ehrRule) },
    });
    await stack.startWorker({ validator: validatorWithRule(rule) });
    for (const o of load.orders) await stack.enqueue(o.raw);
    await waitIdle(stack.queues, 30_000);
  }, 60_000);
  afterAll(async () => stack?.stop());

  it('a Bundle that fails a profile rule is never sent, is dead-lettered readably, and replays once fixed', async () => {
    const input = flowFinal(0);
    stack.sandbox.resetStats();
    const { jobs } = await stack.enqueue(input.raw);
    await waitIdle(stack.queues, 30_000);

    // Nothing reached the EHR: not a write, not even a read.
    expect(stack.sandbox.stats().fhir.total).toBe(0);
    expect(await flowReports()).toHaveLength(0);

    const [entry, ...others] = await stack.queues.listDeadLetters();
    expect(others).toHaveLength(0);
    expect(entry.jobId).toBe(jobs[0].jobId);
    // The exact payload, so a replay re-translates the same input.
    expect(entry.data.raw).toBe(input.raw);
    expect(entry.data.message.kind).toBe('result');
    // Why, readably: a reason, and the OperationOutcome with the rule, the message and the FHIRPath location.
    expect(entry.reason).toMatch(/validation failed with 1 error\(s\); nothing was sent/);
    const errors = entry.lastOutcome?.issue.filter((i) => i.severity === 'error') ?? [];
    expect(errors).toHaveLength(1);
    expect(errors[0].details?.text).toMatch(/longer than 60 characters/);
    expect(errors[0].diagnostics).toMatch(/bma-obs-1/);
    expect(errors[0].expression?.[0]).toMatch(/^Bundle\.entry\[\d+\]\.resource/);
    // One attempt, not retried: a validation error does not heal by waiting.
    expect(entry.attempts).toHaveLength(1);
    expect(entry.attempts[0]).toMatchObject({ kind: 'invalid' });
    const job = await stack.queues.results.getJob(entry.jobId);
    expect(await job?.getState()).toBe('failed');
    expect(job?.attemptsMade).toBe(1);
    // The tracking record says so too.
    const tracking = await stack.queues.tracking.get(entry.data.orderKey);
    expect(tracking?.events.map((e) => e.event)).toContain('dead-lettered');

    // The profile is fixed; the operator replays.
    rule.strict = false;
    const t0 = Date.now();
    const replay = await stack.queues.replayDeadLetter(entry.id);
    expect(replay.ok).toBe(true);
    await waitIdle(stack.queues, 30_000);
    const [report] = await flowReports();
    expect(report?.status).toBe('final');
    expect(await stack.queues.listDeadLetters()).toHaveLength(0);
    const replayed = replay.ok ? await stack.queues.results.getJob(replay.job.jobId) : undefined;
    expect(replayed?.returnvalue?.outcome).toBe('delivered');
    printFigures('dead-letter (validation)', {
      sent: 1,
      ehrRequestsBeforeFix: 0,
      deadLettered: 1,
      attempts: entry.attempts.length,
      replayed: 1,
      delivered: 1,
      replayToDeliveredMs: Date.now() - t0,
    });
  });

  it('a permanent EHR refusal (422) is dead-lettered after one attempt with the EHR outcome, then replayed', async () => {
    ehrRule.refuse = true;
    rule.strict = false;
    const input = flowFinal(1);
    const observationsBefore = (await stack.sandbox.countResources()).Observation ?? 0;
    stack.sandbox.resetStats();
    await stack.enqueue(input.raw);
    await waitIdle(stack.queues, 30_000);
    const writes = stack.sandbox.stats().fhir.byStatus['422'] ?? 0;

    // Refused once, not retried; the transaction stored nothing (no report, no Observation).
    expect(writes).toBe(1);
    expect((await flowReports()).filter((r) => r.identifier?.some((i) => i.value?.includes('DL-100001')))).toEqual([]);
    expect((await stack.sandbox.countResources()).Observation ?? 0).toBe(observationsBefore);
    const [entry] = await stack.queues.listDeadLetters();
    expect(entry).toBeDefined();
    expect(entry.lastHttpStatus).toBe(422);
    expect(entry.reason).toMatch(/HTTP 422/);
    expect(entry.lastOutcome?.issue[0].details?.text).toMatch(/not accepted from this sender/);
    expect(entry.attempts).toHaveLength(1);
    expect(entry.attempts[0]).toMatchObject({ kind: 'permanent', status: 422 });

    ehrRule.refuse = false;
    const replay = await stack.queues.replayDeadLetter(entry.id);
    expect(replay.ok).toBe(true);
    await waitIdle(stack.queues, 30_000);
    expect(await stack.queues.listDeadLetters()).toHaveLength(0);
    const reports = await flowReports();
    expect(reports).toHaveLength(2);
    expect(reports.every((r) => r.status === 'final')).toBe(true);
    printFigures('dead-letter (EHR 422)', {
      sent: 1,
      refusedWrites: writes,
      deadLettered: 1,
      attempts: entry.attempts.length,
      replayed: 1,
      delivered: 1,
    });
  });
});
