/**
 * One delivery, holding the order's lock: map with the current code, validate (never push what fails), read
 * the EHR's copies, apply precedence (pushBundle's guard), push, and record the outcome. Transient failures
 * are thrown for BullMQ to retry with backoff; permanent ones (and the last transient one) go to the
 * dead-letter queue.
 */
import { guardFor, isEhrError, pushBundle, type EhrClient, type EhrError } from '@marrowbridge/ehr-client';
import { mapOrder, mapResultUpdate, type MappingOptions } from '@marrowbridge/fhir-mapping';
import {
  jobEvent,
  type AttemptRecord,
  type DeliveryJobData,
  type DeliveryQueues,
  type DeliveryResult,
  type HeldLock,
  type OrderLock,
  type TrackingEvent,
  type TrackingExtras,
} from '@marrowbridge/queue';
import { hasErrors, type Validator } from '@marrowbridge/validation';
import type { Bundle, OperationOutcome } from '@medplum/fhirtypes';
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { Logger } from 'pino';

export interface ProcessorDeps {
  queues: DeliveryQueues;
  client: EhrClient;
  validator: Validator;
  lock: OrderLock;
  log: Logger;
  mapping?: MappingOptions;
  /** Called after each finished delivery (metrics). */
  onFinished?: (data: DeliveryJobData, result: DeliveryResult) => void;
  /** Delay before a job whose order is locked is tried again (ms, jittered). */
  lockRetryDelayMs?: number;
}

export type DeliveryJob = Job<DeliveryJobData, DeliveryResult>;

export async function processDelivery(
  job: DeliveryJob,
  token: string | undefined,
  deps: ProcessorDeps,
): Promise<DeliveryResult> {
  const data = job.data;
  const log = deps.log.child({
    jobId: job.id,
    trackingId: data.trackingId,
    kind: data.kind,
    attempt: job.attemptsMade + 1,
  });

  // Map and validate only once the order's lock is held: a job that finds its order locked is put back without
  // having spent CPU on work it would redo on its next try (under load, a job can meet the lock many times).
  const locked = await deps.lock
    .withLock(data.orderKey, async (held): Promise<{ ok: true; result: DeliveryResult } | Invalid> => {
      const prepared = prepare(job, deps);
      if (!prepared.ok) return prepared;
      return { ok: true, result: await deliver(job, prepared.bundle, deps, log, held) };
    })
    .catch((err: unknown) => handleFailure(job, deps, log, err));
  if (locked.acquired) {
    const value = locked.value;
    if (value.ok) return value.result;
    return deadLetter(job, deps, log, 'invalid', value.reason, value.outcome);
  }

  // Another update of this order is in flight: come back shortly, without using an attempt.
  const base = deps.lockRetryDelayMs ?? 100;
  await job.moveToDelayed(Date.now() + base + Math.floor(Math.random() * base), token);
  throw new DelayedError();
}

/** Why a message is not delivered at all (dead-lettered, not retried). */
type Invalid = { ok: false; reason: string; outcome?: OperationOutcome };

/** Maps the message with the current code and validates the Bundle; never push what fails. */
function prepare(job: DeliveryJob, deps: ProcessorDeps): { ok: true; bundle: Bundle } | Invalid {
  const message = job.data.message;
  let bundle: Bundle;
  try {
    bundle = message.kind === 'order' ? mapOrder(message, deps.mapping) : mapResultUpdate(message, deps.mapping);
  } catch (err) {
    return { ok: false, reason: `mapping failed: ${err instanceof Error ? err.message : String(err)}` };
  }
  const validation = deps.validator.validate(bundle);
  if (hasErrors(validation)) {
    const count = validation.issue.filter((i) => i.severity === 'error' || i.severity === 'fatal').length;
    return { ok: false, reason: `validation failed with ${count} error(s); nothing was sent`, outcome: validation };
  }
  return { ok: true, bundle };
}

/** Pushes the Bundle; the tracking write that records the outcome also releases the order's lock (`held`). */
async function deliver(
  job: DeliveryJob,
  bundle: Bundle,
  deps: ProcessorDeps,
  log: Logger,
  held: HeldLock,
): Promise<DeliveryResult> {
  const data = job.data;
  const message = data.message;
  const pushed = await pushBundle(deps.client, bundle, { guard: guardFor(message, bundle) });
  if (pushed.stopped) {
    const { action, reason } = pushed.stopped;
    const outcome = action === 'duplicate' ? 'unchanged' : action === 'review' ? 'review' : 'superseded';
    log.info({ decision: action, reason }, 'report update not pushed');
    return finish(job, deps, held, { outcome, reason, resources: [] }, outcome);
  }
  const resources = pushed.entries.map((e) => ({
    resourceType: e.resourceType,
    reference: e.reference,
    action: e.action,
  }));
  const note = pushed.entries.flatMap((e) => (e.kept ? [e.kept] : [])).join('; ') || undefined;
  const changed = pushed.entries.some((e) => e.action !== 'unchanged');
  log.info({ mode: pushed.mode, created: count(pushed, 'created'), updated: count(pushed, 'updated') }, 'delivered');
  const outcome = changed ? 'delivered' : 'unchanged';
  const report = message.kind === 'result' ? { code: message.reportCode.code, status: message.status } : undefined;
  return finish(job, deps, held, { outcome, reason: note, resources }, outcome, { resources, report });
}

function count(pushed: { entries: { action: string }[] }, action: string): number {
  return pushed.entries.filter((e) => e.action === action).length;
}

async function finish(
  job: DeliveryJob,
  deps: ProcessorDeps,
  held: HeldLock,
  partial: Omit<DeliveryResult, 'deliveredAt' | 'latencyMs'>,
  event: TrackingEvent['event'],
  also?: TrackingExtras,
): Promise<DeliveryResult> {
  const result: DeliveryResult = {
    ...partial,
    deliveredAt: new Date().toISOString(),
    latencyMs: Date.now() - job.data.receivedAt,
  };
  await track(job, deps, event, partial.reason, also, held);
  deps.onFinished?.(job.data, result);
  return result;
}

/** A failure inside the locked section: retry (transient) or dead-letter (permanent, or out of attempts). */
async function handleFailure(job: DeliveryJob, deps: ProcessorDeps, log: Logger, err: unknown): Promise<never> {
  const ehr = isEhrError(err) ? err : undefined;
  if (!ehr) {
    // Not the EHR's answer: a bug or Redis trouble. Retry; if it persists the job ends in the dead-letter queue.
    return retryOrDeadLetter(job, deps, log, { kind: 'transient', reason: `internal error: ${errorText(err)}` });
  }
  if (ehr.kind === 'permanent') {
    return deadLetter(job, deps, log, 'permanent', ehr.reason, ehr.outcome, ehr.status);
  }
  return retryOrDeadLetter(job, deps, log, { kind: 'transient', reason: ehr.reason, status: ehr.status, ehr });
}

async function retryOrDeadLetter(
  job: DeliveryJob,
  deps: ProcessorDeps,
  log: Logger,
  failure: { kind: 'transient'; reason: string; status?: number; ehr?: EhrError },
): Promise<never> {
  const attempts = job.opts.attempts ?? 1;
  if (job.attemptsMade + 1 >= attempts) {
    return deadLetter(
      job,
      deps,
      log,
      'transient',
      `gave up after ${attempts} attempts: ${failure.reason}`,
      failure.ehr?.outcome,
      failure.status,
    );
  }
  await recordAttempt(job, {
    at: new Date().toISOString(),
    kind: 'transient',
    reason: failure.reason,
    status: failure.status,
  });
  await track(job, deps, 'retrying', failure.reason);
  log.warn({ reason: failure.reason, status: failure.status }, 'delivery failed; will retry');
  const retry = new Error(failure.reason) as Error & { retryAfterMs?: number };
  retry.retryAfterMs = failure.ehr?.retryAfterMs;
  throw retry;
}

async function deadLetter(
  job: DeliveryJob,
  deps: ProcessorDeps,
  log: Logger,
  kind: AttemptRecord['kind'],
  reason: string,
  outcome?: OperationOutcome,
  httpStatus?: number,
): Promise<never> {
  await recordAttempt(job, { at: new Date().toISOString(), kind, reason, status: httpStatus });
  await deps.queues.addDeadLetter(job, reason, { outcome, httpStatus });
  await track(job, deps, 'dead-lettered', reason);
  log.error({ reason, status: httpStatus }, 'delivery dead-lettered');
  throw new UnrecoverableError(reason);
}

async function recordAttempt(job: DeliveryJob, attempt: AttemptRecord): Promise<void> {
  await job.updateData({ ...job.data, attempts: [...(job.data.attempts ?? []), attempt] });
}

async function track(
  job: DeliveryJob,
  deps: ProcessorDeps,
  event: TrackingEvent['event'],
  detail?: string,
  also?: TrackingExtras,
  release?: HeldLock,
): Promise<void> {
  await deps.queues.tracking.record(job.data.orderKey, jobEvent(job.data, job.id!, event, detail), also, release);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
