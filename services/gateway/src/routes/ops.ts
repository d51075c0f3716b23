/** /healthz, /readyz (no auth), /metrics and /openapi.json. */
import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';
import { Router } from 'express';
import { requireScope, SCOPES } from '../auth';
import { buildOpenApi } from '../openapi';
import { sendOutcome } from '../outcome';
import type { AppDeps } from '../app';

export interface ReadinessCheck {
  ok: boolean;
  ms: number;
  /** EHR: the HTTP status of GET [base]/metadata. */
  status?: number;
  reason?: string;
}

export function opsRoutes(deps: AppDeps): Router {
  const router = Router();

  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  router.get('/readyz', async (_req, res) => {
    const [redis, ehr] = await Promise.all([checkRedis(deps), checkEhr(deps)]);
    if (redis.ok && ehr.ok) {
      res.json({ status: 'ready', checks: { redis, ehr } });
      return;
    }
    const issue = (name: string, c: ReadinessCheck): OperationOutcomeIssue =>
      c.ok
        ? { severity: 'information', code: 'informational', details: { text: `${name} reachable (${c.ms} ms)` } }
        : { severity: 'error', code: 'transient', details: { text: `${name} not reachable: ${c.reason}` } };
    const body: OperationOutcome = {
      resourceType: 'OperationOutcome',
      issue: [issue('Redis', redis), issue('EHR', ehr)],
    };
    res.setHeader('Retry-After', '5');
    sendOutcome(res, 503, body);
  });

  router.get('/metrics', requireScope(deps.authenticator, SCOPES.read), async (_req, res) => {
    const text = await deps.metrics.registry.metrics();
    res.type(deps.metrics.registry.contentType).send(text);
  });

  router.get('/openapi.json', requireScope(deps.authenticator, SCOPES.read), (_req, res) => {
    res.json(buildOpenApi(deps.publicUrl));
  });

  return router;
}

async function timed(
  timeoutMs: number,
  fn: (signal: AbortSignal) => Promise<Omit<ReadinessCheck, 'ms'>>,
): Promise<ReadinessCheck> {
  const start = Date.now();
  const signal = AbortSignal.timeout(timeoutMs);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Omit<ReadinessCheck, 'ms'>>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, reason: `no answer within ${timeoutMs} ms` }), timeoutMs);
  });
  try {
    const r = await Promise.race([
      fn(signal).catch((err: unknown) => ({ ok: false, reason: errorText(err) })),
      timeout,
    ]);
    return { ...r, ms: Date.now() - start };
  } finally {
    clearTimeout(timer);
  }
}

function checkRedis(deps: AppDeps): Promise<ReadinessCheck> {
  return timed(deps.config.readyTimeoutMs, async () => {
    const pong = await deps.queues.connection.ping();
    return pong === 'PONG' ? { ok: true } : { ok: false, reason: 'unexpected answer to PING' };
  });
}

/** Reachable = the EHR answers GET [base]/metadata with anything below 500 (a 401 still proves it is up). */
function checkEhr(deps: AppDeps): Promise<ReadinessCheck> {
  return timed(deps.config.readyTimeoutMs, async (signal) => {
    const res = await fetch(`${deps.config.ehrBaseUrl}/metadata`, {
      headers: { accept: 'application/fhir+json' },
      signal,
    });
    await res.arrayBuffer().catch(() => undefined);
    return res.status < 500
      ? { ok: true, status: res.status }
      : { ok: false, status: res.status, reason: `GET metadata answered HTTP ${res.status}` };
  });
}

function errorText(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    return cause ? `${err.message} (${cause})` : err.message;
  }
  return String(err);
}
