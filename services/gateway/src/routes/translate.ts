/**
 * POST /$translate: a dry run of the intake. Canonical JSON or HL7 v2 in; per message its transaction Bundles
 * and their validation outcome out; nothing is queued. With ?diff=true the EHR is read (never written) and each
 * Bundle entry says whether a push would create it, update it (with the JSON Patch), leave it unchanged, or keep
 * the EHR's copy by the worker's precedence rules.
 */
import {
  checkReportPrecedence,
  guardFor,
  isEhrError,
  planPush,
  REPORT_KEY_SYSTEM,
  type EhrClient,
  type JsonPatchOperation,
  type PlanAction,
  type ReportDecisionAction,
} from '@marrowbridge/ehr-client';
import { translateInput, type MessageResult, type TranslatedItem } from '@marrowbridge/intake';
import type { Bundle, DiagnosticReport, OperationOutcome } from '@medplum/fhirtypes';
import { Router } from 'express';
import { requireScope, SCOPES } from '../auth';
import { bodyOf, CANONICAL_JSON_TYPES, HL7_TYPES, rawBody, requireContentType } from '../http';
import { statusForRejection } from '../intake-service';
import { hasErrors } from '@marrowbridge/validation';
import { HttpError, outcome } from '../outcome';
import type { AppDeps } from '../app';

export interface DiffEntry {
  fullUrl: string;
  resourceType: string;
  action: PlanAction;
  /** Type/id of the EHR's current resource (update, unchanged, kept). */
  reference?: string;
  versionId?: string;
  /** update: RFC 6902 JSON Patch from the EHR's content to the new one (id, meta, text ignored). */
  patch?: JsonPatchOperation[];
  /** kept: why the EHR's copy stays as it is (the worker's precedence guard). */
  note?: string;
}

export interface TranslatedItemView {
  kind: 'order' | 'result';
  bundle: Bundle;
  valid: boolean;
  outcome: OperationOutcome;
  diff?: {
    entries?: DiffEntry[];
    /** Results: what the worker's report precedence check would decide against the EHR's copy. */
    precedence?: { action: ReportDecisionAction; reason: string };
    /** Set when the EHR could not be read for this item. */
    outcome?: OperationOutcome;
  };
}

export interface TranslatedMessageView {
  index: number;
  ok: boolean;
  format?: 'json' | 'hl7v2';
  messageId?: string;
  messageType?: string;
  items?: TranslatedItemView[];
  outcome?: OperationOutcome;
}

export function translateRoutes(deps: AppDeps): Router {
  const router = Router();
  const limit = Math.max(deps.config.jsonLimitBytes, deps.config.hl7LimitBytes);
  router.post(
    '/$translate',
    requireScope(deps.authenticator, SCOPES.read),
    requireContentType([...CANONICAL_JSON_TYPES, ...HL7_TYPES]),
    rawBody(limit),
    async (req, res) => {
      const diff = /^(1|true|yes)$/i.test(String(req.query.diff ?? ''));
      const results = translateInput(bodyOf(req), deps.intakeOptions);
      if (results.length > 0 && results.every((r) => !r.ok)) {
        const issues = results.flatMap((r) => (r.ok ? [] : r.outcome.issue));
        const merged: OperationOutcome = { resourceType: 'OperationOutcome', issue: issues };
        req.log.info({ operation: '$translate', issues: issues.length }, 'input rejected');
        throw new HttpError(statusForRejection(merged), merged);
      }
      const messages: TranslatedMessageView[] = [];
      for (const [index, r] of results.entries()) messages.push(await view(deps, r, index, diff));
      req.log.info(
        {
          operation: '$translate',
          messages: messages.length,
          items: messages.reduce((n, m) => n + (m.items?.length ?? 0), 0),
          diff,
        },
        'translated (dry run)',
      );
      res.json({ dryRun: true, messages });
    },
  );
  return router;
}

async function view(deps: AppDeps, r: MessageResult, index: number, diff: boolean): Promise<TranslatedMessageView> {
  if (!r.ok) {
    return { index, ok: false, format: r.format, messageId: r.hl7?.control?.messageId, outcome: r.outcome };
  }
  const items: TranslatedItemView[] = [];
  for (const item of r.items) {
    const result = deps.metrics.timeValidation('$translate', () => deps.validator.validate(item.bundle));
    const v: TranslatedItemView = {
      kind: item.message.kind,
      bundle: item.bundle,
      valid: !hasErrors(result),
      outcome: result,
    };
    if (diff) v.diff = await diffOf(deps.ehr, item);
    items.push(v);
  }
  return {
    index,
    ok: true,
    format: r.format,
    messageId: r.hl7?.control.messageId,
    messageType: r.hl7?.messageType,
    items,
  };
}

async function diffOf(ehr: EhrClient, item: TranslatedItem): Promise<TranslatedItemView['diff']> {
  const out: NonNullable<TranslatedItemView['diff']> = {};
  try {
    if (item.message.kind === 'result') {
      const report = item.bundle.entry
        ?.map((e) => e.resource)
        .find(
          (res): res is DiagnosticReport =>
            res?.resourceType === 'DiagnosticReport' && !!res.identifier?.some((i) => i.system === REPORT_KEY_SYSTEM),
        );
      if (report) {
        const decision = await checkReportPrecedence(ehr, report);
        out.precedence = { action: decision.action, reason: decision.reason };
      }
    }
    // The worker's own guards: an order never resets the EHR's report or moves its procedure back.
    const plan = await planPush(ehr, item.bundle, { guard: guardFor(item.message, item.bundle) });
    out.entries = plan.entries.map((e) => ({
      fullUrl: e.fullUrl,
      resourceType: e.resourceType,
      action: e.action,
      ...(e.note ? { note: e.note } : {}),
      ...(e.reference ? { reference: e.reference } : {}),
      ...(e.versionId ? { versionId: e.versionId } : {}),
      ...(e.patch ? { patch: e.patch } : {}),
    }));
    return out;
  } catch (err) {
    if (!isEhrError(err)) throw err;
    const o = err.outcome?.issue?.length
      ? {
          ...err.outcome,
          issue: [outcome(`the EHR could not be read: ${err.reason}`, 'transient').issue[0], ...err.outcome.issue],
        }
      : outcome(`the EHR could not be read: ${err.reason}`, err.kind === 'transient' ? 'transient' : 'processing');
    return { ...out, outcome: o };
  }
}
