import { getStatus, isOk, isResourceType } from '@medplum/core';
import type { FhirRouter, HttpMethod } from '@medplum/fhir-router';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import express from 'express';
import type { NextFunction, Request, Response } from 'express';
import type { Permission } from '../auth/scopes';
import { permits } from '../auth/scopes';
import type { Grant, SmartAuth } from '../auth/smart';
import { TokenError } from '../auth/smart';
import type { LogEvent } from '../config';
import type { Faults } from '../faults';
import type { Mutex } from '../mutex';
import type { SandboxRepository } from '../repo';
import type { Stats } from '../stats';
import { capabilityStatement, smartConfiguration } from './capability';
import type { Authorizer, EntryInput, EntryResult, FhirEngine } from './engine';
import { parseETag } from './engine';
import { HttpError, httpError, makeOutcome, stripOutcomeId, toHttpError } from './outcome';

export const FHIR_JSON = 'application/fhir+json; charset=utf-8';
const JSON_TYPES = ['application/fhir+json', 'application/json', 'application/json-patch+json', 'application/*+json'];

export interface FhirHttpDeps {
  basePath: string;
  baseUrl: () => string;
  tokenUrl: () => string;
  auth: 'smart' | 'off';
  smart: SmartAuth;
  engine: FhirEngine;
  router: FhirRouter;
  repo: SandboxRepository;
  faults: Faults;
  stats: Stats;
  mutex: Mutex;
  bodyLimitBytes: number;
  startedAt: string;
  log: (e: LogEvent) => void;
}

interface Locals {
  interaction?: string;
  grant?: Grant;
  clientId?: string;
}

/** The FHIR REST API, to be mounted at the base path. */
export function fhirRouter(deps: FhirHttpDeps): express.Router {
  const r = express.Router();

  // Counting and logging (pathname only: the query string can hold identifiers).
  r.use((req, res, next) => {
    const started = Date.now();
    res.on('finish', () => {
      const locals = res.locals as Locals;
      const interaction = locals.interaction ?? 'unknown';
      deps.stats.fhirAnswered(res.statusCode, interaction);
      deps.log({
        level: res.statusCode >= 500 ? 'error' : 'info',
        msg: 'fhir request',
        method: req.method,
        path: deps.basePath + req.path,
        status: res.statusCode,
        ms: Date.now() - started,
        interaction,
        ...(locals.clientId ? { clientId: locals.clientId } : {}),
      });
    });
    next();
  });

  // Faults.
  r.use(async (req, res, next) => {
    const d = deps.faults.decide();
    if (d.delayMs > 0) {
      await sleep(d.delayMs);
    }
    if (d.kind === 'drop') {
      deps.stats.fhirDropped();
      deps.log({
        level: 'warn',
        msg: 'connection dropped (fault)',
        method: req.method,
        path: deps.basePath + req.path,
        fault: 'drop',
      });
      req.socket.destroy();
      return;
    }
    if (d.kind === 'error') {
      deps.stats.fault(d.reason);
      (res.locals as Locals).interaction = 'fault';
      const headers: Record<string, string> = {};
      if (d.retryAfter !== undefined && (d.status === 429 || d.status === 503)) {
        headers['Retry-After'] = String(Math.ceil(d.retryAfter));
      }
      const code = d.status === 429 ? 'throttled' : d.status >= 500 ? 'transient' : 'processing';
      const text =
        d.reason === 'outage' ? 'Service unavailable (simulated outage)' : `Simulated failure (HTTP ${d.status})`;
      sendError(res, new HttpError(d.status, makeOutcome(code, text), headers));
      return;
    }
    next();
  });

  r.use(express.json({ type: JSON_TYPES, limit: deps.bodyLimitBytes, strict: true }));
  r.use(express.urlencoded({ type: 'application/x-www-form-urlencoded', extended: false, limit: deps.bodyLimitBytes }));

  // Open endpoints: capabilities and SMART discovery.
  // The statement is ~250 kB; serialize it once per transactions setting.
  const capabilityJson = new Map<boolean, string>();
  r.get('/metadata', (_req, res) => {
    (res.locals as Locals).interaction = 'capabilities';
    const transactions = deps.faults.transactionsEnabled;
    let json = capabilityJson.get(transactions);
    if (!json) {
      json = JSON.stringify(
        capabilityStatement({
          baseUrl: deps.baseUrl(),
          tokenUrl: deps.tokenUrl(),
          auth: deps.auth,
          transactions,
          date: deps.startedAt,
        }),
      );
      capabilityJson.set(transactions, json);
    }
    res.status(200).set('Content-Type', FHIR_JSON).send(json);
  });
  r.get('/.well-known/smart-configuration', (_req, res) => {
    (res.locals as Locals).interaction = 'smart-configuration';
    res
      .status(200)
      .type('application/json')
      .send(JSON.stringify(smartConfiguration(deps.tokenUrl())));
  });

  // Authentication.
  r.use(async (req, res, next) => {
    if (deps.auth === 'off') {
      next();
      return;
    }
    try {
      const grant = await deps.smart.verify(req.get('authorization'));
      (res.locals as Locals).grant = grant;
      (res.locals as Locals).clientId = grant.clientId;
      next();
    } catch (err) {
      if (err instanceof TokenError) {
        (res.locals as Locals).interaction = 'unauthenticated';
        const challenge = err.code
          ? `Bearer realm="ehr-sandbox", error="${err.code}", error_description="${err.message}"`
          : 'Bearer realm="ehr-sandbox"';
        sendError(res, new HttpError(401, makeOutcome('login', err.message), { 'WWW-Authenticate': challenge }));
        return;
      }
      next(err);
    }
  });

  r.use(async (req, res) => {
    await deps.mutex.run(() => dispatch(deps, req, res));
  });

  r.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    sendError(res, bodyError(err) ?? toHttpError(err));
  });

  return r;
}

function authorizer(deps: FhirHttpDeps, res: Response): Authorizer {
  const grant = (res.locals as Locals).grant;
  return (resourceType: string, permission: Permission) => {
    if (deps.auth === 'off') {
      return;
    }
    if (!grant || !permits(grant.scopes, resourceType, permission)) {
      const needed = `system/${resourceType}.${permission}`;
      throw new HttpError(
        403,
        makeOutcome('forbidden', `The access token's scope does not allow this (needs ${needed})`),
        {
          'WWW-Authenticate': `Bearer realm="ehr-sandbox", error="insufficient_scope", scope="${needed}"`,
        },
      );
    }
  };
}

async function dispatch(deps: FhirHttpDeps, req: Request, res: Response): Promise<void> {
  const locals = res.locals as Locals;
  const authorize = authorizer(deps, res);
  const method = req.method.toUpperCase();
  const q = req.url.indexOf('?');
  const path = q >= 0 ? req.url.slice(0, q) : req.url;
  const query = q >= 0 ? req.url.slice(q) : '';
  let segments: string[];
  try {
    segments = path.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    throw httpError(400, 'invalid', 'Malformed URL');
  }

  if (segments.length === 0) {
    if (method === 'POST') {
      await bundle(deps, req, res, authorize);
      return;
    }
    locals.interaction = 'search-system';
    throw httpError(
      method === 'GET' ? 400 : 405,
      'not-supported',
      'System-level search and history are not supported; search one resource type',
    );
  }
  const [type, id, op, vid] = segments;
  if (type.startsWith('$') || id?.startsWith('$') || (op && op !== '_history') || segments.length > 4) {
    locals.interaction = 'operation';
    throw httpError(400, 'not-supported', 'Operations are not supported by this server');
  }
  if (!isResourceType(type)) {
    locals.interaction = 'unknown';
    throw httpError(404, 'not-supported', `Unknown resource type "${type}"`);
  }

  if (method === 'GET') {
    if (segments.length === 1) {
      locals.interaction = 'search-type';
      authorize(type, 's');
      await search(deps, res, type, query.slice(1));
    } else if (id === '_history') {
      locals.interaction = 'history-type';
      throw httpError(400, 'not-supported', 'Type-level history is not supported');
    } else if (segments.length === 2) {
      locals.interaction = 'read';
      authorize(type, 'r');
      await read(deps, req, res, `${type}/${encodeURIComponent(id)}`);
    } else if (segments.length === 3) {
      locals.interaction = 'history-instance';
      authorize(type, 'r');
      await history(deps, res, `${type}/${encodeURIComponent(id)}/_history${query}`);
    } else {
      locals.interaction = 'vread';
      authorize(type, 'r');
      await read(deps, req, res, `${type}/${encodeURIComponent(id)}/_history/${encodeURIComponent(vid)}`);
    }
    return;
  }

  if (method === 'POST' && segments.length === 2 && id === '_search') {
    locals.interaction = 'search-type';
    authorize(type, 's');
    const params = new URLSearchParams(query.slice(1));
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (req.is('application/x-www-form-urlencoded')) {
      for (const [k, v] of Object.entries(body)) {
        for (const value of Array.isArray(v) ? v : [v]) {
          params.append(k, String(value));
        }
      }
    }
    await search(deps, res, type, params.toString());
    return;
  }

  if (segments.length > 2) {
    throw httpError(405, 'not-supported', `${method} is not allowed on this URL`);
  }
  const interactions: Record<string, string> = { POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };
  const interaction = interactions[method];
  if (!interaction || (method === 'POST' && id)) {
    throw httpError(405, 'not-supported', `${method} is not allowed on this URL`);
  }
  locals.interaction = interaction;
  if ((method === 'POST' || method === 'PUT' || method === 'PATCH') && hasBody(req) && !req.is(JSON_TYPES)) {
    throw httpError(415, 'not-supported', 'Send application/fhir+json (or application/json-patch+json for PATCH)');
  }
  const input: EntryInput = { method, url: path.replace(/^\//, '') + query };
  const ifMatch = req.get('if-match');
  if (ifMatch) {
    input.ifMatch = parseETag(ifMatch);
  }
  const ifNoneExist = req.get('if-none-exist');
  if (ifNoneExist && method === 'POST') {
    input.ifNoneExist = ifNoneExist.replace(/^[A-Za-z]+\?/, '');
  }
  if (method === 'PATCH') {
    input.patch = req.body;
  } else if (method !== 'DELETE') {
    input.resource = req.body as Resource;
  }
  const result = await deps.engine.single(input, authorize);
  sendResult(deps, req, res, result);
}

async function bundle(deps: FhirHttpDeps, req: Request, res: Response, authorize: Authorizer): Promise<void> {
  const locals = res.locals as Locals;
  locals.interaction = 'batch';
  if (hasBody(req) && !req.is(JSON_TYPES)) {
    throw httpError(415, 'not-supported', 'Send the Bundle as application/fhir+json');
  }
  const body = req.body as Bundle | undefined;
  if (!body || body.resourceType !== 'Bundle') {
    throw httpError(400, 'invalid', 'POST to the base needs a Bundle of type transaction or batch');
  }
  let out: Bundle;
  if (body.type === 'transaction') {
    locals.interaction = 'transaction';
    if (!deps.faults.transactionsEnabled) {
      throw httpError(
        400,
        'not-supported',
        'Transactions are not supported by this server (see the CapabilityStatement)',
      );
    }
    out = await deps.engine.transaction(body, authorize);
  } else if (body.type === 'batch') {
    out = await deps.engine.batch(body, authorize);
  } else {
    throw httpError(400, 'invalid', `Bundle.type must be transaction or batch (got "${String(body.type)}")`);
  }
  if (preferMinimal(req)) {
    for (const e of out.entry ?? []) {
      delete e.resource;
      delete e.fullUrl;
    }
  }
  sendJson(res, 200, out);
}

async function routeGet(deps: FhirHttpDeps, url: string): Promise<Resource> {
  const [outcome, resource] = await deps.router.handleRequest(
    { method: 'GET' as HttpMethod, url, pathname: '', body: undefined, params: {}, query: {} },
    // The answer is only serialized (entries get a fullUrl, resources are not changed): no copies.
    deps.repo.shared,
  );
  if (!isOk(outcome) || !resource) {
    throw new HttpError(getStatus(outcome), stripOutcomeId(outcome));
  }
  return resource;
}

async function read(deps: FhirHttpDeps, req: Request, res: Response, url: string): Promise<void> {
  const resource = await routeGet(deps, url);
  const versionId = resource.meta?.versionId;
  setVersionHeaders(res, resource);
  const inm = req.get('if-none-match');
  if (inm && versionId && parseETag(inm) === versionId) {
    res.status(304).end();
    return;
  }
  sendJson(res, 200, resource);
}

async function history(deps: FhirHttpDeps, res: Response, url: string): Promise<void> {
  const b = (await routeGet(deps, url)) as Bundle;
  for (const e of b.entry ?? []) {
    if (e.resource?.id) {
      e.fullUrl = `${deps.baseUrl()}/${e.resource.resourceType}/${e.resource.id}`;
    }
  }
  sendJson(res, 200, b);
}

async function search(deps: FhirHttpDeps, res: Response, type: string, queryString: string): Promise<void> {
  const b = (await routeGet(deps, queryString ? `${type}?${queryString}` : type)) as Bundle;
  const base = deps.baseUrl();
  for (const e of b.entry ?? []) {
    if (e.resource?.id) {
      e.fullUrl = `${base}/${e.resource.resourceType}/${e.resource.id}`;
    }
  }
  const params = new URLSearchParams(queryString);
  const link = [{ relation: 'self', url: `${base}/${type}${queryString ? `?${queryString}` : ''}` }];
  const count = Number(params.get('_count') ?? NaN);
  const offset = Number(params.get('_offset') ?? 0) || 0;
  if (Number.isInteger(count) && count > 0 && b.total !== undefined && offset + count < b.total) {
    params.set('_offset', String(offset + count));
    link.push({ relation: 'next', url: `${base}/${type}?${params.toString()}` });
  }
  sendJson(res, 200, {
    resourceType: 'Bundle',
    type: 'searchset',
    total: b.total,
    link,
    ...(b.entry ? { entry: b.entry } : {}),
  });
}

function sendResult(deps: FhirHttpDeps, req: Request, res: Response, r: EntryResult): void {
  if (r.resource) {
    setVersionHeaders(res, r.resource);
  }
  if (r.location && (r.status === 201 || r.status === 200)) {
    res.set('Location', `${deps.baseUrl()}/${r.location}`);
  }
  if (r.status === 204 || !r.resource) {
    res.status(r.status === 200 ? 200 : 204).end();
    return;
  }
  if (preferMinimal(req)) {
    res.status(r.status).end();
    return;
  }
  sendJson(res, r.status, r.resource);
}

function setVersionHeaders(res: Response, resource: Resource): void {
  if (resource.meta?.versionId) {
    res.set('ETag', `W/"${resource.meta.versionId}"`);
  }
  if (resource.meta?.lastUpdated) {
    res.set('Last-Modified', new Date(resource.meta.lastUpdated).toUTCString());
  }
}

function preferMinimal(req: Request): boolean {
  return /return\s*=\s*minimal/i.test(req.get('prefer') ?? '');
}

function hasBody(req: Request): boolean {
  const len = req.get('content-length');
  return (len !== undefined && len !== '0') || req.get('transfer-encoding') !== undefined;
}

export function sendJson(res: Response, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  const method = res.req.method;
  if (method === 'GET' || method === 'HEAD') {
    // express's send: HEAD without a body, and 304 when the request's conditional headers match.
    res.status(status).set('Content-Type', FHIR_JSON).send(json);
    return;
  }
  // What send does for other methods, without its content-type parsing and copy of the body to a Buffer.
  res.statusCode = status;
  res.setHeader('Content-Type', FHIR_JSON);
  res.setHeader('Content-Length', Buffer.byteLength(json));
  res.end(json);
}

export function sendError(res: Response, e: HttpError): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.set(e.headers);
  sendJson(res, e.status, e.outcome);
}

/** body-parser failures → OperationOutcome-ready errors. */
export function bodyError(err: unknown): HttpError | undefined {
  const type = (err as { type?: string })?.type;
  if (type === 'entity.parse.failed') {
    return httpError(400, 'structure', 'The request body is not valid JSON');
  }
  if (type === 'entity.too.large') {
    return httpError(413, 'too-costly', 'The request body is too large');
  }
  if (type === 'charset.unsupported' || type === 'encoding.unsupported') {
    return httpError(415, 'not-supported', 'Unsupported request body encoding');
  }
  if (type === 'request.aborted') {
    return httpError(400, 'incomplete', 'The request body was aborted');
  }
  return undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
