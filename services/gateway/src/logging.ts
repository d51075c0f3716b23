/**
 * Structured logs (pino) with a request id on every line a request writes. What is logged is chosen field by
 * field: method, route template, status, timing, ids and counts. Never bodies, query strings, headers or
 * messages built from input (they can carry patient names, identifiers and birth dates).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, RequestHandler } from 'express';
import pino, { type DestinationStream, type Logger } from 'pino';
import { pinoHttp } from 'pino-http';

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

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,80}$/;

/** The route template a request matched (e.g. /orders/:id), never the concrete path. */
export function routeOf(req: IncomingMessage): string {
  const r = req as Request;
  if (r.route?.path && typeof r.route.path === 'string') return `${r.baseUrl ?? ''}${r.route.path}`;
  if (r.baseUrl) return `${r.baseUrl}/*`;
  return '(unmatched)';
}

export function httpLogger(log: Logger): RequestHandler {
  return pinoHttp({
    logger: log,
    quietReqLogger: true,
    customAttributeKeys: { reqId: 'reqId' },
    genReqId(req: IncomingMessage, res: ServerResponse) {
      const incoming = req.headers['x-request-id'];
      const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
      res.setHeader('X-Request-Id', id);
      return id;
    },
    serializers: {
      // Serialized when the request starts: the route is added when it ends (below).
      req: (req: { method?: string }) => ({ method: req.method }),
      res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
      err: (err: Error) => ({ type: err.name }),
    },
    customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'info'),
    customSuccessObject: (req, _res, value: Record<string, unknown>) => ({ ...value, route: routeOf(req) }),
    customErrorObject: (req, _res, _err, value: Record<string, unknown>) => ({ ...value, route: routeOf(req) }),
    customSuccessMessage: () => 'request completed',
    customErrorMessage: () => 'request failed',
    autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/readyz' || req.url === '/metrics' },
  }) as unknown as RequestHandler;
}
