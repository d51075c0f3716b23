/** Operators: dead letters (list, read, replay) and the BullMQ dashboard under /admin/queues. */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { DeadLetterEntry } from '@marrowbridge/queue';
import { Router } from 'express';
import helmet from 'helmet';
import { requireScope, SCOPES } from '../auth';
import { HttpError } from '../outcome';
import type { AppDeps } from '../app';

export const DASHBOARD_PATH = '/admin/queues';

/** A dead letter without its payload (which holds patient data): what the list shows. */
export interface DeadLetterSummary {
  id: string;
  queue: string;
  jobId: string;
  trackingId: string;
  orderKey: string;
  kind: 'order' | 'result';
  failedAt: string;
  reason: string;
  lastHttpStatus?: number;
  attempts: number;
}

export function summarizeDeadLetter(e: DeadLetterEntry): DeadLetterSummary {
  return {
    id: e.id,
    queue: e.queue,
    jobId: e.jobId,
    trackingId: e.data.trackingId,
    orderKey: e.data.orderKey,
    kind: e.data.kind,
    failedAt: e.failedAt,
    reason: e.reason,
    ...(e.lastHttpStatus ? { lastHttpStatus: e.lastHttpStatus } : {}),
    attempts: e.attempts.length,
  };
}

export function adminRoutes(deps: AppDeps): Router {
  const router = Router();
  const admin = requireScope(deps.authenticator, SCOPES.admin);

  router.get('/admin/dead-letters', admin, async (_req, res) => {
    const entries = await deps.queues.listDeadLetters();
    entries.sort((a, b) => a.failedAt.localeCompare(b.failedAt));
    res.json({ total: entries.length, entries: entries.map(summarizeDeadLetter) });
  });

  router.get('/admin/dead-letters/:id', admin, async (req, res) => {
    const entry = await deps.queues.getDeadLetter(String(req.params.id));
    if (!entry) throw new HttpError(404, 'no dead-letter entry with this id', 'not-found');
    res.json(entry);
  });

  router.post('/admin/dead-letters/:id/replay', admin, async (req, res) => {
    const id = String(req.params.id);
    const entry = await deps.queues.getDeadLetter(id);
    if (!entry) throw new HttpError(404, 'no dead-letter entry with this id', 'not-found');
    const replay = await deps.queues.replayDeadLetter(id);
    if (!replay.ok) {
      throw new HttpError(
        422,
        replay.outcome
          ? {
              ...replay.outcome,
              issue: [
                { severity: 'error', code: 'processing', details: { text: `not replayed: ${replay.reason}` } },
                ...replay.outcome.issue,
              ],
            }
          : `not replayed: ${replay.reason}`,
        'processing',
      );
    }
    req.log.info(
      { deadLetter: id, jobId: replay.job.jobId, trackingId: entry.data.trackingId },
      'dead letter replayed',
    );
    res
      .status(202)
      .json({ replayed: id, trackingId: entry.data.trackingId, jobId: replay.job.jobId, queue: replay.job.queue });
  });

  // The dashboard renders HTML with its own scripts and styles: a CSP that allows exactly those.
  const board = new ExpressAdapter();
  board.setBasePath(DASHBOARD_PATH);
  createBullBoard({
    queues: [deps.queues.orders, deps.queues.results, deps.queues.deadLetter].map((q) => new BullMQAdapter(q)),
    serverAdapter: board,
    options: { uiConfig: { boardTitle: 'marrowbridge queues' } },
  });
  router.use(
    DASHBOARD_PATH,
    admin,
    helmet({
      contentSecurityPolicy: {
        directives: {
          defaultSrc: ["'self'"],
          styleSrc: ["'self'", "'unsafe-inline'", 'https://fonts.googleapis.com'],
          fontSrc: ["'self'", 'https://fonts.gstatic.com'],
          imgSrc: ["'self'", 'data:'],
          scriptSrc: ["'self'"],
        },
      },
    }),
    board.getRouter() as Router,
  );
  return router;
}
