/**
 * Structured logs (pino) with a request id on every line a request writes. What is logged is chosen field by
 * field: method, route template, status, timing, ids and counts. Never bodies, query strings, headers or
 * messages built from input (they can carry patient names, identifiers and birth dates).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Request, RequestHandler } from 'express';
import pino, { type DestinationStream, type Logger } from 'pino';

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'gateway' },
      // Belt and braces: these never get logged by this code, but a stray object must not leak them either.
      redact: {
        paths: [
          'req.headers.authorization',
          'headers.authorization',
          'authorization',
          'body',
          'raw',
          'message.patient',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The request's logger: every line it writes carries the request id (set by httpLogger). */
      log: Logger;
    }
  }
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,80}$/;

/** The route template a request matched (e.g. /orders/:id), never the concrete path. */
export function routeOf(req: IncomingMessage): string {
  const r = req as Request;
  if (r.route?.path && typeof r.route.path === 'string') return `${r.baseUrl ?? ''}${r.route.path}`;
  if (r.baseUrl) return `${r.baseUrl}/*`;
  return '(unmatched)';
}

/** Requests that write no access line (probes and scrapes), by their exact URL as pino-http matched them. */
const QUIET_URLS = new Set(['/healthz', '/readyz', '/metrics']);

/** Called once per answered request with its duration, for the HTTP metrics. */
export type HttpObserver = (method: string, route: string, status: number, seconds: number) => void;

/**
 * Gives each request its id (X-Request-Id, echoed when it is plain, else a new UUID) and `req.log`, a child
 * logger carrying it, and writes one access line when the answer is sent: method, route template, status,
 * duration in ms. Nothing else of the request or the answer is copied: pino-http's serializers copied every
 * header of both for each request, to keep two fields. The same clock feeds `observe` (the HTTP metrics).
 */
export function httpLogger(log: Logger, observe?: HttpObserver): RequestHandler {
  return (req, res, next) => {
    const start = process.hrtime.bigint();
    const incoming = req.headers['x-request-id'];
    const reqId = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.setHeader('X-Request-Id', reqId);
    const reqLog = log.child({ reqId });
    req.log = reqLog;
    const quiet = QUIET_URLS.has(req.url);
    let logged = false;
    const accessLine = (failed = false) => {
      if (logged || quiet) return;
      logged = true;
      const responseTime = Math.round(Number(process.hrtime.bigint() - start) / 1e6);
      const line = {
        req: { method: req.method },
        res: { statusCode: res.statusCode },
        responseTime,
        route: routeOf(req),
      };
      if (failed || res.statusCode >= 500) reqLog.error(line, 'request failed');
      else reqLog.info(line, 'request completed');
    };
    res.once('finish', () => {
      if (observe) observe(req.method, routeOf(req), res.statusCode, Number(process.hrtime.bigint() - start) / 1e9);
      accessLine();
    });
    // An answer cut short (the client went away) is logged too, with the status it had then.
    res.once('close', () => accessLine());
    res.once('error', () => accessLine(true));
    next();
  };
}
