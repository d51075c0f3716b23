import { timingSafeEqual } from 'node:crypto';
import express from 'express';
import type { NextFunction, Request, Response } from 'express';
import type { ClientRegistration, SmartAuth } from './auth/smart';
import type { Faults } from './faults';
import { bodyError, sendError } from './fhir/http';
import { httpError, HttpError, makeOutcome, toHttpError } from './fhir/outcome';
import type { Mutex } from './mutex';
import type { SandboxRepository } from './repo';
import type { Stats } from './stats';

export interface AdminDeps {
  adminToken?: string;
  faults: Faults;
  smart: SmartAuth;
  repo: SandboxRepository;
  stats: Stats;
  mutex: Mutex;
}

/**
 * /admin (JSON; errors are OperationOutcomes):
 *   GET  /faults                  → the active FaultConfig (+ outageUntil)
 *   POST /faults                  → replace it (an empty object clears every fault)
 *   GET  /clients                 → registered clients (id, scope, revoked)
 *   POST /clients                 → register (or re-register) a ClientRegistration → 201
 *   POST /clients/:clientId/revoke → revoke (404 when unknown)
 *   POST /reset                   → delete every resource and its history
 *   GET  /resources               → { counts: { Patient: 1, ... } }
 *   GET  /stats, POST /stats/reset
 */
function sendJson(res: Response, status: number, body: unknown): void {
  res.status(status).json(body);
}

export function adminRouter(deps: AdminDeps): express.Router {
  const r = express.Router();
  r.use((req, res, next) => {
    if (deps.adminToken === undefined) {
      next();
      return;
    }
    const m = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '');
    const given = Buffer.from(m?.[1] ?? '');
    const wanted = Buffer.from(deps.adminToken);
    if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) {
      res.set('WWW-Authenticate', 'Bearer realm="ehr-sandbox-admin"');
      sendError(res, new HttpError(401, makeOutcome('login', 'Admin token required')));
      return;
    }
    next();
  });
  r.use(express.json({ limit: 1024 * 1024 }));

  r.get('/faults', (_req, res) => sendJson(res, 200, deps.faults.describe()));
  r.post('/faults', (req, res) => {
    try {
      deps.faults.set(req.body ?? {});
    } catch (err) {
      throw httpError(400, 'invalid', (err as Error).message);
    }
    sendJson(res, 200, deps.faults.describe());
  });

  r.get('/clients', (_req, res) => sendJson(res, 200, { clients: deps.smart.listClients() }));
  r.post('/clients', (req, res) => {
    try {
      deps.smart.registerClient(req.body as ClientRegistration);
    } catch (err) {
      throw httpError(400, 'invalid', (err as Error).message);
    }
    sendJson(res, 201, { clientId: (req.body as ClientRegistration).clientId, registered: true });
  });
  r.post('/clients/:clientId/revoke', (req, res) => {
    const clientId = String(req.params.clientId);
    if (!deps.smart.revokeClient(clientId)) {
      throw httpError(404, 'not-found', 'Unknown client');
    }
    sendJson(res, 200, { clientId, revoked: true });
  });

  r.post('/reset', async (_req, res) => {
    await deps.mutex.run(async () => deps.repo.clear());
    sendJson(res, 200, { reset: true });
  });
  r.get('/resources', async (_req, res) => {
    const counts = await deps.mutex.run(async () => deps.repo.countByType());
    sendJson(res, 200, { counts });
  });

  r.get('/stats', (_req, res) => sendJson(res, 200, deps.stats.snapshot()));
  r.post('/stats/reset', (_req, res) => {
    deps.stats.reset();
    sendJson(res, 200, deps.stats.snapshot());
  });

  r.use((_req: Request, _res: Response) => {
    throw httpError(404, 'not-found', 'Unknown admin endpoint');
  });
  r.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    sendError(res, bodyError(err) ?? toHttpError(err));
  });
  return r;
}
