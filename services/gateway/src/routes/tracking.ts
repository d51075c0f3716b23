/** GET /orders/{placer-or-tracking-id}: where an order stands in the EHR and what happened to each update. */
import type { OrderTracking, TrackingEvent } from '@marrowbridge/queue';
import { Router } from 'express';
import { requireScope, SCOPES } from '../auth';
import { HttpError } from '../outcome';
import type { AppDeps } from '../app';

/** One update (one job) and where it ended. */
export interface UpdateSummary {
  trackingId: string;
  jobId: string;
  kind: 'order' | 'result';
  reportCode?: string;
  status?: string;
  /** The latest event of the job: queued, retrying, delivered, unchanged, superseded, review, dead-lettered, replayed. */
  outcome: TrackingEvent['event'];
  detail?: string;
  queuedAt: string;
  updatedAt: string;
}

export interface OrderStatus {
  orderKey: string;
  placerOrderNumber: { system: string; value: string };
  /** FHIR references (Type/id) of the order's resources in the EHR, by resource type. */
  resources: Record<string, string[]>;
  /** Current status per report code, as delivered to the EHR. */
  reports: Record<string, string>;
  /** One entry per update, in arrival order. */
  updates: UpdateSummary[];
  /** Every recorded event, oldest first. */
  history: TrackingEvent[];
}

export function summarize(t: OrderTracking): OrderStatus {
  const bar = t.orderKey.lastIndexOf('|');
  const updates = new Map<string, UpdateSummary>();
  for (const e of t.events) {
    const u = updates.get(e.jobId);
    if (!u) {
      updates.set(e.jobId, {
        trackingId: e.trackingId,
        jobId: e.jobId,
        kind: e.kind,
        reportCode: e.reportCode,
        status: e.status,
        outcome: e.event,
        detail: e.detail,
        queuedAt: e.at,
        updatedAt: e.at,
      });
      continue;
    }
    u.outcome = e.event;
    u.detail = e.detail;
    u.updatedAt = e.at;
    u.reportCode ??= e.reportCode;
    u.status ??= e.status;
  }
  return {
    orderKey: t.orderKey,
    placerOrderNumber: { system: t.orderKey.slice(0, bar), value: t.orderKey.slice(bar + 1) },
    resources: t.resources,
    reports: t.reports,
    updates: [...updates.values()],
    history: t.events,
  };
}

export function trackingRoutes(deps: AppDeps): Router {
  const router = Router();
  router.get('/orders/:id', requireScope(deps.authenticator, SCOPES.read), async (req, res) => {
    const id = String(req.params.id);
    const keys = await deps.queues.tracking.resolve(id);
    if (keys.length === 0) {
      throw new HttpError(404, 'no order is known under this tracking id or placer order number', 'not-found');
    }
    if (keys.length > 1) {
      throw new HttpError(
        300,
        {
          resourceType: 'OperationOutcome',
          issue: keys.map((k) => ({
            severity: 'information' as const,
            code: 'multiple-matches' as const,
            details: { text: `several orders have this placer number; ask for one as system|value: ${k}` },
          })),
        },
        'multiple-matches',
      );
    }
    const tracking = await deps.queues.tracking.get(keys[0]);
    if (!tracking) throw new HttpError(404, 'the order has no recorded history any more', 'not-found');
    res.json(summarize(tracking));
  });
  return router;
}
