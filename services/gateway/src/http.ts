/** Small express helpers shared by the routes: content types, raw bodies, errors as OperationOutcomes. */
import express, { type ErrorRequestHandler, type Request, type RequestHandler } from 'express';
import { HttpError, sendOutcome, outcome } from './outcome';

export const JSON_TYPES = ['application/json', 'application/fhir+json'];
export const CANONICAL_JSON_TYPES = ['application/json'];
export const HL7_TYPES = ['application/hl7-v2', 'x-application/hl7-v2+er7', 'text/plain'];

/** 415 (OperationOutcome) unless the request's Content-Type is one of `types`. */
export function requireContentType(types: string[]): RequestHandler {
  return (req, _res, next) => {
    const given = req.headers['content-type'];
    if (!given || !req.is(types)) {
      next(
        new HttpError(
          415,
          `Unsupported Media Type: ${given ? `"${given.split(';')[0].slice(0, 60)}"` : 'no Content-Type'} ; send one of ${types.join(', ')}`,
          'not-supported',
        ),
      );
      return;
    }
    next();
  };
}

/** The body as a Buffer (every content type already checked), at most `limit` bytes (413 beyond). */
export function rawBody(limit: number): RequestHandler {
  return express.raw({ type: () => true, limit });
}

export function bodyOf(req: Request): Buffer {
  return Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
}

/** Answers every error as an OperationOutcome. Messages of unexpected errors are not sent (nor logged). */
export function errorHandler(): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    if (err instanceof HttpError) {
      for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
      sendOutcome(res, err.status, err.outcome);
      return;
    }
    const e = err as { type?: string; status?: number; statusCode?: number; limit?: number; name?: string };
    const status = e.status ?? e.statusCode;
    if (e.type === 'entity.too.large') {
      sendOutcome(res, 413, outcome(`Payload Too Large: the body exceeds the limit of ${e.limit} bytes`, 'too-costly'));
      return;
    }
    if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') {
      sendOutcome(
        res,
        415,
        outcome('Unsupported Media Type: unsupported content encoding or charset', 'not-supported'),
      );
      return;
    }
    if (typeof status === 'number' && status >= 400 && status < 500) {
      sendOutcome(res, status, outcome(`the request could not be read (${e.type ?? 'HTTP ' + status})`, 'invalid'));
      return;
    }
    // Only the error's type goes to the log: messages of parse errors can quote the body.
    req.log?.error({ errType: e.name ?? typeof err }, 'unexpected error');
    sendOutcome(
      res,
      500,
      outcome(
        `internal error; quote request id ${String(res.getHeader('X-Request-Id') ?? '')} when reporting it`,
        'exception',
      ),
    );
  };
}

export function notFound(): RequestHandler {
  return (req, _res, next) => {
    next(new HttpError(404, `Not Found: no route for ${req.method} ${req.path.slice(0, 100)}`, 'not-found'));
  };
}
