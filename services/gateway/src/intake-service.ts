/**
 * Intake shared by the HTTP routes and the MLLP listener: translate (the one checking boundary), then put the
 * delivery jobs on the queue, and only then say "accepted". A re-sent message finds its existing job
 * (created=false) and gets the same tracking id again.
 */
import { buildAck, type Hl7Error } from '@marrowbridge/hl7v2';
import { detectFormat, translateInput, type IntakeOptions, type MessageResult } from '@marrowbridge/intake';
import type { CanonicalMessage } from '@marrowbridge/model';
import type { DeliveryQueues, EnqueueResult, IntakeChannel } from '@marrowbridge/queue';
import type { OperationOutcome } from '@medplum/fhirtypes';
import type { Logger } from 'pino';
import type { GatewayMetrics } from './metrics';
import { HttpError, outcome } from './outcome';

export interface IntakeServiceOptions {
  queues: DeliveryQueues;
  metrics: GatewayMetrics;
  intake: IntakeOptions;
  enqueueTimeoutMs: number;
}

/** The answer to one accepted JSON message. */
export interface JsonAccepted {
  trackingId: string;
  duplicate: boolean;
  jobs: { jobId: string; kind: CanonicalMessage['kind']; created: boolean }[];
}

/** The answer to one HL7 message of a request (one per message; a batch has several). */
export interface Hl7MessageAnswer {
  code: 'AA' | 'AE' | 'AR';
  ack: string;
  messageId?: string;
  trackingId?: string;
  duplicate?: boolean;
  /** True when the message was fine but could not be queued (AR with ERR 207: send it again later). */
  unavailable?: boolean;
}

export interface Hl7Answer {
  messages: Hl7MessageAnswer[];
  /** The ACKs, one per message, separated by CR (a single ACK for a single message). */
  ack: string;
  /** 202 when every message was queued; 503 when Redis did not take one; 400 (AR) / 422 (AE) when rejected. */
  httpStatus: number;
  trackingIds: string[];
}

export class IntakeService {
  constructor(private readonly o: IntakeServiceOptions) {}

  /** Canonical JSON for POST /orders (kind order) or POST /results (kind result). */
  async acceptJson(
    body: Buffer,
    expected: CanonicalMessage['kind'],
    sender: string | undefined,
    log: Logger,
  ): Promise<JsonAccepted> {
    const format = detectFormat(body);
    if (format !== 'json') {
      this.o.metrics.countIntake('http', 'rejected');
      throw new HttpError(
        400,
        format === 'hl7v2'
          ? 'this endpoint takes canonical JSON; send HL7 v2 to POST /hl7'
          : 'the body is not a JSON object',
        'structure',
      );
    }
    const [result] = translateInput(body, this.o.intake);
    if (!result || !result.ok) {
      this.o.metrics.countIntake('http', 'rejected');
      const o = result && !result.ok ? result.outcome : outcome('the input could not be read', 'structure');
      log.info({ issues: o.issue.length }, 'input rejected');
      throw new HttpError(statusForRejection(o), o);
    }
    const wrongKind = result.items.find((i) => i.message.kind !== expected);
    if (wrongKind) {
      this.o.metrics.countIntake('http', 'rejected');
      throw new HttpError(
        422,
        expected === 'order'
          ? 'this is a result update ("kind": "result"); send it to POST /results'
          : 'this is an order ("kind": "order"); send it to POST /orders',
        'invalid',
      );
    }
    const source = result.items[0]?.message.source;
    const queued = await this.enqueue(result, body.toString('utf8'), 'http', source?.system ?? sender ?? 'http', log);
    return {
      trackingId: queued.trackingId,
      duplicate: queued.jobs.every((j) => !j.created),
      jobs: queued.jobs.map((j) => ({ jobId: j.jobId, kind: j.kind, created: j.created })),
    };
  }

  /** HL7 v2 (one message or a batch) from POST /hl7 or the MLLP listener: one ACK per message. */
  async acceptHl7(
    body: Buffer | string,
    channel: Extract<IntakeChannel, 'hl7-http' | 'mllp'>,
    log: Logger,
  ): Promise<Hl7Answer> {
    const messages: Hl7MessageAnswer[] = [];
    if (detectFormat(body) !== 'hl7v2') {
      this.o.metrics.countIntake(channel, 'rejected');
      const err: Hl7Error = {
        segment: 'MSH',
        sequence: 1,
        field: 0,
        code: 100,
        severity: 'F',
        message: 'the body is not an HL7 v2 message (it must start with MSH, or FHS/BHS for a batch)',
      };
      messages.push({ code: 'AR', ack: buildAck(body, { code: 'AR', errors: [err], text: 'message rejected' }) });
      return answer(messages);
    }
    const results = translateInput(body, this.o.intake);
    for (const r of results) {
      messages.push(await this.answerHl7(r, body, channel, log));
    }
    return answer(messages);
  }

  private async answerHl7(
    r: MessageResult,
    body: Buffer | string,
    channel: Extract<IntakeChannel, 'hl7-http' | 'mllp'>,
    log: Logger,
  ): Promise<Hl7MessageAnswer> {
    const raw = r.raw ?? (typeof body === 'string' ? body : body.toString('latin1'));
    if (!r.ok) {
      this.o.metrics.countIntake(channel, 'rejected');
      const errors = r.hl7Errors ?? [];
      const reject = errors.some((e) => e.severity === 'F' || e.code === 200 || e.code === 201 || e.code === 203);
      const code = reject ? 'AR' : 'AE';
      log.info({ messageId: r.hl7?.control?.messageId, errors: errors.map((e) => e.code) }, 'HL7 message rejected');
      return {
        code,
        messageId: r.hl7?.control?.messageId,
        ack: buildAck(raw, { code, errors, text: 'message rejected' }),
      };
    }
    const control = r.hl7?.control;
    const system = control ? `${control.sendingApplication}|${control.sendingFacility}` : channel;
    try {
      const queued = await this.enqueue(r, raw, channel, system, log);
      const duplicate = queued.jobs.every((j) => !j.created);
      return {
        code: 'AA',
        messageId: control?.messageId,
        trackingId: queued.trackingId,
        duplicate,
        ack: buildAck(raw, {
          code: 'AA',
          text: `${duplicate ? 'already queued' : 'queued'} as ${queued.trackingId}`,
        }),
      };
    } catch (err) {
      const error: Hl7Error = {
        segment: 'MSH',
        sequence: 1,
        field: 0,
        code: 207,
        severity: 'E',
        message: 'the message could not be queued; send it again later',
      };
      if (!(err instanceof HttpError)) throw err;
      return {
        code: 'AR',
        messageId: control?.messageId,
        unavailable: true,
        ack: buildAck(raw, { code: 'AR', errors: [error] }),
      };
    }
  }

  /**
   * Queues one message another component already translated (an MLLP listener's sink): the same timeout,
   * metrics and logs as the HTTP intake. Resolves once Redis has the jobs; HttpError 503 when it does not.
   */
  async enqueueTranslated(
    result: MessageResult & { ok: true },
    raw: string,
    channel: IntakeChannel,
    system: string,
    log: Logger,
  ): Promise<{ trackingId: string; duplicate: boolean; jobIds: string[] }> {
    const queued = await this.enqueue(result, raw, channel, system, log);
    return {
      trackingId: queued.trackingId,
      duplicate: queued.jobs.every((j) => !j.created),
      jobIds: queued.jobs.map((j) => j.jobId),
    };
  }

  /** Queues the items of one message; HttpError 503 when Redis does not take them in time. */
  private async enqueue(
    result: MessageResult & { ok: true },
    raw: string,
    channel: IntakeChannel,
    system: string,
    log: Logger,
  ): Promise<EnqueueResult> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`Redis did not take the job within ${this.o.enqueueTimeoutMs} ms`)),
        this.o.enqueueTimeoutMs,
      );
    });
    try {
      const queued = await Promise.race([this.o.queues.enqueueMessage(result, raw, { channel, system }), timeout]);
      const duplicate = queued.jobs.every((j) => !j.created);
      this.o.metrics.countIntake(channel, duplicate ? 'duplicate' : 'accepted');
      log.info(
        { trackingId: queued.trackingId, jobs: queued.jobs.map((j) => j.jobId), duplicate, channel },
        duplicate ? 'message already queued' : 'message queued',
      );
      return queued;
    } catch (err) {
      this.o.metrics.countIntake(channel, 'unavailable');
      log.error({ err: err instanceof Error ? err.message : 'unknown', channel }, 'could not queue the message');
      throw new HttpError(
        503,
        'the message could not be queued (the queue store is unavailable); send it again later',
        'transient',
        {
          'Retry-After': '5',
        },
      );
    } finally {
      clearTimeout(timer);
    }
  }
}

/** 400 when the input could not be read at all (not JSON, not HL7, unreadable bytes), 413 when too large, else 422. */
export function statusForRejection(o: OperationOutcome): number {
  const codes = new Set((o.issue ?? []).map((i) => i.code));
  if (codes.has('too-costly')) return 413;
  if (codes.has('structure')) return 400;
  return 422;
}

function answer(messages: Hl7MessageAnswer[]): Hl7Answer {
  const trackingIds = [...new Set(messages.flatMap((m) => (m.trackingId ? [m.trackingId] : [])))];
  const allAccepted = messages.length > 0 && messages.every((m) => m.code === 'AA');
  const unavailable = messages.some((m) => m.unavailable);
  let httpStatus = 202;
  if (!allAccepted) {
    if (unavailable) httpStatus = 503;
    else if (messages.some((m) => m.code === 'AR')) httpStatus = 400;
    else httpStatus = 422;
  }
  return { messages, ack: messages.map((m) => m.ack).join('\r'), httpStatus, trackingIds };
}
