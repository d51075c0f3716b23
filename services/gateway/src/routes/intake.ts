/** POST /orders, POST /results (canonical JSON) and POST /hl7 (HL7 v2 over HTTP, answered with the ACK). */
import { Router, type Request, type Response } from 'express';
import { requireScope, SCOPES } from '../auth';
import { bodyOf, CANONICAL_JSON_TYPES, HL7_TYPES, rawBody, requireContentType } from '../http';
import type { AppDeps } from '../app';

export function intakeRoutes(deps: AppDeps): Router {
  const router = Router();
  const intake = requireScope(deps.authenticator, SCOPES.intake);
  const json = [intake, requireContentType(CANONICAL_JSON_TYPES), rawBody(deps.config.jsonLimitBytes)];

  const acceptJson = (kind: 'order' | 'result') => async (req: Request, res: Response) => {
    const accepted = await deps.intake.acceptJson(
      bodyOf(req),
      kind,
      req.principal?.clientId ?? req.principal?.subject,
      req.log,
    );
    res
      .status(202)
      .location(`/orders/${encodeURIComponent(accepted.trackingId)}`)
      .setHeader('X-Tracking-Id', accepted.trackingId);
    res.json({
      trackingId: accepted.trackingId,
      status: accepted.duplicate ? 'already-queued' : 'queued',
      jobs: accepted.jobs,
      links: { status: `/orders/${encodeURIComponent(accepted.trackingId)}` },
    });
  };

  router.post('/orders', ...json, acceptJson('order'));
  router.post('/results', ...json, acceptJson('result'));

  router.post(
    '/hl7',
    intake,
    requireContentType(HL7_TYPES),
    rawBody(deps.config.hl7LimitBytes),
    async (req: Request, res: Response) => {
      const answer = await deps.intake.acceptHl7(bodyOf(req), 'hl7-http', req.log);
      // Answer in the family the sender used: text/plain for text/plain, application/hl7-v2 otherwise.
      const type = req.is('text/plain') ? 'text/plain' : 'application/hl7-v2';
      if (answer.trackingIds.length) res.setHeader('X-Tracking-Id', answer.trackingIds.join(', '));
      if (answer.httpStatus === 503) res.setHeader('Retry-After', '5');
      res.status(answer.httpStatus).type(`${type}; charset=utf-8`).send(answer.ack);
    },
  );
  return router;
}
