import { createHash } from 'node:crypto';
import type { CanonicalMessage } from '@marrowbridge/model';
import type { OperationOutcome } from '@medplum/fhirtypes';

/** Where a message came in. */
export type IntakeChannel = 'http' | 'mllp' | 'hl7-http' | 'cli' | 'replay';

/** The payload of one delivery job: one order or one report update. */
export interface DeliveryJobData {
  kind: CanonicalMessage['kind'];
  /** Identity of the message: sending system + its message id (HL7 MSH-3|MSH-4 and MSH-10). */
  source: { channel: IntakeChannel; system: string; messageId: string };
  /** SHA-256 of the raw input: a re-sent message with the same id but other content is a different message. */
  contentHash: string;
  /** Position of this item in its message (an ORU can carry several reports). */
  itemIndex: number;
  /** The raw input (canonical JSON or HL7 v2 text), kept so a replay can translate it again with current code. */
  raw: string;
  format: 'json' | 'hl7v2';
  /** The canonical message as translated at intake; the worker maps it to FHIR with the current mapping. */
  message: CanonicalMessage;
  /** Serialization key: updates of one order are never in flight at once. */
  orderKey: string;
  /** Intake time (ms since epoch), for the end-to-end latency figure. */
  receivedAt: number;
  /** Tracking id returned to the sender (HTTP 202). */
  trackingId: string;
  /** Filled by the worker before each retry: what went wrong on earlier attempts. */
  attempts?: AttemptRecord[];
}

export interface AttemptRecord {
  at: string;
  kind: 'transient' | 'permanent' | 'invalid';
  reason: string;
  status?: number;
}

/** What the worker records on a finished job. */
export interface DeliveryResult {
  outcome: 'delivered' | 'superseded' | 'unchanged' | 'review';
  reason?: string;
  resources?: { resourceType: string; reference: string; action: string }[];
  deliveredAt: string;
  /** Intake to EHR 2xx (or to the decision not to push), in ms. */
  latencyMs: number;
}

/** A dead-lettered delivery: the exact payload, why it failed last, and every attempt. */
export interface DeadLetterEntry {
  id: string;
  queue: string;
  jobId: string;
  data: DeliveryJobData;
  failedAt: string;
  reason: string;
  lastOutcome?: OperationOutcome;
  lastHttpStatus?: number;
  attempts: AttemptRecord[];
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * The job id is derived from the message identity, so a re-sent message (same source, id and content)
 * finds its existing job instead of becoming a second one. BullMQ refuses ':' in custom ids.
 */
export function deliveryJobId(data: Pick<DeliveryJobData, 'kind' | 'source' | 'contentHash' | 'itemIndex'>): string {
  const identity = [data.source.system, data.source.messageId, data.contentHash, String(data.itemIndex)].join('\u0000');
  return `${data.kind}-${sha256(identity).slice(0, 40)}`;
}

/** The order a message belongs to: its placer order number (system and value). */
export function orderKeyOf(message: CanonicalMessage): string {
  return `${message.placerOrderNumber.system}|${message.placerOrderNumber.value}`;
}
