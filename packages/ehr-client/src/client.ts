import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import type { Bundle, BundleEntry, CapabilityStatement, Identifier, Resource, ResourceType } from '@medplum/fhirtypes';
import type { AuthProvider } from './auth';
import { EhrError, errorFromException, errorFromResponse } from './errors';

export interface EhrClientOptions {
  /** FHIR base URL, e.g. http://ehr.example/fhir/R4 (a trailing slash is ignored). */
  baseUrl: string;
  /** Adds `Authorization: Bearer …` to every request; without it requests are sent unauthenticated. */
  auth?: AuthProvider;
  /** Per request (including reading the body); default 30 000 ms. */
  timeoutMs?: number;
  /** Default "marrowbridge-ehr-client/0.1". */
  userAgent?: string;
  /** How long capabilities() keeps the CapabilityStatement; default 10 minutes. */
  capabilitiesTtlMs?: number;
  /**
   * Transient failures (network error, timeout, 408, 429, 5xx) of an idempotent request are retried this many
   * times at once, with a short jittered backoff, before the EhrError is thrown; default 0. A delivery makes a
   * dozen or more requests, so without this a few percent of failed requests fail nearly every delivery. Never
   * retried: requests whose repetition could act twice (a POST without If-None-Exist, a transaction Bundle with
   * such an entry), and answers whose Retry-After is longer than `requestRetryMaxDelayMs` (the caller's own
   * backoff is the right place to wait that long).
   */
  requestRetries?: number;
  /** First delay of those retries (doubled each time, jittered to [d/2, d]); default 100 ms. */
  requestRetryDelayMs?: number;
  /** Longest wait before one in-request retry; default 2 000 ms. */
  requestRetryMaxDelayMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

/** Query parameters: an object (arrays repeat the parameter), URLSearchParams, or an already-encoded string. */
export type SearchParams =
  Record<string, string | number | boolean | (string | number)[] | undefined> | URLSearchParams | string;

export interface RequestOptions {
  /** JSON body (serialized as application/fhir+json unless contentType says otherwise). */
  body?: unknown;
  contentType?: string;
  headers?: Record<string, string>;
  /**
   * Whether sending the request twice is harmless (used for in-request retries). Default: true for GET, HEAD,
   * PUT, DELETE and for a POST with If-None-Exist; false otherwise.
   */
  idempotent?: boolean;
}

export interface EhrResponse<T = unknown> {
  status: number;
  headers: Headers;
  /** Parsed JSON body, or undefined when empty or not JSON. */
  body: T | undefined;
}

export interface WriteResult<T extends Resource = Resource> {
  /** The resource as the server returned it (or as sent, with the server's id, when it returned none). */
  resource: T;
  status: number;
  /** 201 Created (a create, or an update-as-create). */
  created: boolean;
  id?: string;
  versionId?: string;
}

const DEFAULT_TIMEOUT_MS = 30_000;
/** Answers to a batch of GETs that mean "not this way" (getMany then sends them one by one). */
const BATCH_REFUSED: ReadonlySet<number> = new Set([400, 404, 405, 422, 501]);
const DEFAULT_CAPABILITIES_TTL_MS = 10 * 60_000;
const DEFAULT_USER_AGENT = 'marrowbridge-ehr-client/0.1';
const FHIR_JSON = 'application/fhir+json';

/**
 * A small FHIR R4 REST client for the EHR. Every non-2xx answer and every transport failure is thrown as an
 * EhrError (transient or permanent, with the server's OperationOutcome when it sent one). On 401 the token
 * is invalidated and the request retried once with a new one.
 */
export class EhrClient {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  private readonly auth?: AuthProvider;
  private readonly userAgent: string;
  private readonly capabilitiesTtlMs: number;
  private readonly requestRetries: number;
  private readonly requestRetryDelayMs: number;
  private readonly requestRetryMaxDelayMs: number;
  private readonly now: () => number;
  private capabilitiesCache?: { at: number; value: Promise<CapabilityStatement> };
  private readonly httpAgent = new http.Agent({ keepAlive: true });
  private batchRefused = false;
  private httpsAgent?: https.Agent;

  constructor(options: EhrClientOptions) {
    if (!options.baseUrl) {
      throw new Error('EhrClient: baseUrl is required');
    }
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.auth = options.auth;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.userAgent = options.userAgent ?? DEFAULT_USER_AGENT;
    this.capabilitiesTtlMs = options.capabilitiesTtlMs ?? DEFAULT_CAPABILITIES_TTL_MS;
    this.now = options.now ?? Date.now;
    this.requestRetries = Math.max(0, Math.floor(options.requestRetries ?? 0));
    this.requestRetryDelayMs = options.requestRetryDelayMs ?? 100;
    this.requestRetryMaxDelayMs = options.requestRetryMaxDelayMs ?? 2000;
    this.auth?.useFhirBaseUrl?.(this.baseUrl);
  }

  /**
   * Sends one request to `<baseUrl>/<path>`; `path` may carry an encoded query string. Returns 2xx answers,
   * throws EhrError for everything else (after `requestRetries` quick retries of a transient failure when the
   * request is idempotent).
   */
  async request<T = unknown>(method: string, path: string, options: RequestOptions = {}): Promise<EhrResponse<T>> {
    const retries = (options.idempotent ?? isIdempotent(method, options.headers)) ? this.requestRetries : 0;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.requestOnce<T>(method, path, options);
      } catch (err) {
        if (!(err instanceof EhrError) || err.kind !== 'transient' || attempt >= retries) {
          throw err;
        }
        const exp = Math.min(this.requestRetryMaxDelayMs, this.requestRetryDelayMs * 2 ** attempt);
        const delay = Math.max(exp / 2 + Math.random() * (exp / 2), err.retryAfterMs ?? 0);
        if (delay > this.requestRetryMaxDelayMs) {
          throw err;
        }
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  private async requestOnce<T>(method: string, path: string, options: RequestOptions): Promise<EhrResponse<T>> {
    // describeRequest is for error messages only: not worked out for the answers that are not errors.
    const url = path === '' ? this.baseUrl : `${this.baseUrl}/${path.replace(/^\/+/, '')}`;
    const headers: Record<string, string> = {
      accept: FHIR_JSON,
      'user-agent': this.userAgent,
      ...options.headers,
    };
    let body: string | undefined;
    if (options.body !== undefined) {
      body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
      headers['content-type'] = options.contentType ?? FHIR_JSON;
    }

    const send = async (token: string | undefined): Promise<EhrResponse<T>> => {
      const h = token ? { ...headers, authorization: `Bearer ${token}` } : headers;
      try {
        const res = await this.exchange(url, method, h, body);
        return responseOf(res.status, res.headers, parseJson(res.text) as T | undefined);
      } catch (err) {
        throw errorFromException(describeRequest(method, path), err, this.timeoutMs);
      }
    };

    let token = this.auth ? await this.auth.getToken() : undefined;
    let res = await send(token);
    if (res.status === 401 && this.auth) {
      this.auth.invalidate(token);
      token = await this.auth.getToken();
      res = await send(token);
      if (res.status === 401) {
        const what = describeRequest(method, path);
        throw new EhrError({
          kind: 'permanent',
          category: 'auth',
          status: 401,
          outcome: errorFromResponse(what, 401, res.headers, res.body).outcome,
          reason: `${what} refused with HTTP 401 again after a token refresh`,
        });
      }
    }
    if (res.status < 200 || res.status > 299) {
      throw errorFromResponse(describeRequest(method, path), res.status, res.headers, res.body, this.now());
    }
    return res;
  }

  /**
   * One HTTP exchange over node:http(s) with keep-alive connections (fetch costs about four times the CPU per
   * request, measured: 0.31 against 0.07 ms for a 7 kB JSON answer). `timeoutMs` bounds the whole exchange,
   * body included; it fails with a TimeoutError.
   */
  private exchange(
    url: string,
    method: string,
    headers: Record<string, string>,
    body: string | undefined,
  ): Promise<{ status: number; headers: IncomingHttpHeaders; text: string }> {
    const target = new URL(url);
    const secure = target.protocol === 'https:';
    const agent = secure ? (this.httpsAgent ??= new https.Agent({ keepAlive: true })) : this.httpAgent;
    return new Promise((resolve, reject) => {
      const req = (secure ? https : http).request(target, { method, headers, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          clearTimeout(timer);
          const text = Buffer.concat(chunks).toString();
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text });
        });
        res.on('aborted', () => req.destroy(Object.assign(new Error('answer cut off'), { code: 'ECONNRESET' })));
      });
      // Every failure goes through the request's 'error' (and node's http.client.request.error channel).
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      const timer = setTimeout(() => {
        const err = new Error(`no complete answer within ${this.timeoutMs} ms`);
        err.name = 'TimeoutError';
        req.destroy(err);
      }, this.timeoutMs);
      req.end(body);
    });
  }

  /** The server's CapabilityStatement (GET metadata), cached. */
  async capabilities(options: { refresh?: boolean } = {}): Promise<CapabilityStatement> {
    const cache = this.capabilitiesCache;
    if (!options.refresh && cache && this.now() - cache.at < this.capabilitiesTtlMs) {
      return cache.value;
    }
    const value = this.request<CapabilityStatement>('GET', 'metadata').then((res) => {
      if (res.body?.resourceType !== 'CapabilityStatement') {
        throw new EhrError({
          kind: 'transient',
          category: 'invalid-response',
          status: res.status,
          reason: 'GET metadata did not return a CapabilityStatement',
        });
      }
      return res.body;
    });
    this.capabilitiesCache = { at: this.now(), value };
    value.catch(() => {
      if (this.capabilitiesCache?.value === value) {
        this.capabilitiesCache = undefined;
      }
    });
    return value;
  }

  /** True when the server's CapabilityStatement lists the system interaction `transaction`. */
  async supportsTransaction(): Promise<boolean> {
    return capabilityStatementSupportsTransaction(await this.capabilities());
  }

  /** True when the server's CapabilityStatement lists the system interaction `batch`. */
  async supportsBatch(): Promise<boolean> {
    return capabilityStatementSupports(await this.capabilities(), 'batch');
  }

  /**
   * Several GETs (`Type/id`, `Type?query`), answered in order. One `batch` Bundle when the server supports it
   * and there is more than one (each entry succeeds or fails on its own), else one request each (also after
   * the server refused such a batch with 400, 404, 405, 422 or 501). A failed GET
   * is an answer with its status, not a throw; only the request as a whole (transport, auth, a non-batch
   * answer) throws.
   */
  async getMany(paths: readonly string[]): Promise<GetAnswer[]> {
    if (paths.length > 1 && !this.batchRefused && (await this.supportsBatch())) {
      try {
        const response = await this.postBundle({
          resourceType: 'Bundle',
          type: 'batch',
          entry: paths.map((url) => ({ request: { method: 'GET', url } })),
        });
        return paths.map((path, i) => batchAnswer(path, response.entry?.[i]));
      } catch (err) {
        if (!(err instanceof EhrError) || !BATCH_REFUSED.has(err.status ?? 0)) {
          throw err;
        }
        // The server lists batch but does not take a batch of searches: one GET each, from now on.
        this.batchRefused = true;
      }
    }
    const answers: GetAnswer[] = [];
    for (const path of paths) {
      try {
        const res = await this.request<Resource>('GET', path);
        answers.push({ status: res.status, resource: res.body });
      } catch (err) {
        if (!(err instanceof EhrError) || err.status === undefined) {
          throw err;
        }
        answers.push({ status: err.status, error: err });
      }
    }
    return answers;
  }

  async read<T extends Resource = Resource>(resourceType: ResourceType, id: string): Promise<T> {
    const res = await this.request<T>('GET', `${resourceType}/${encodeURIComponent(id)}`);
    return expectResource(res, resourceType, `GET ${resourceType}/{id}`);
  }

  /** Type-level search; returns the searchset Bundle as the server sent it (first page only). */
  async search<T extends Resource = Resource>(resourceType: ResourceType, params?: SearchParams): Promise<Bundle<T>> {
    const query = toQueryString(params);
    const res = await this.request<Bundle<T>>('GET', query ? `${resourceType}?${query}` : resourceType);
    if (res.body?.resourceType !== 'Bundle') {
      throw new EhrError({
        kind: 'transient',
        category: 'invalid-response',
        status: res.status,
        reason: `GET ${resourceType} (search) did not return a Bundle`,
      });
    }
    return res.body;
  }

  /** The matches of a search (entries with search.mode "match" or no mode, of the searched type). */
  async searchResources<T extends Resource = Resource>(
    resourceType: ResourceType,
    params?: SearchParams,
  ): Promise<T[]> {
    const bundle = await this.search<T>(resourceType, params);
    return searchMatches(bundle, resourceType);
  }

  /**
   * At most one match expected: returns it, or undefined when none; several matches are a permanent EhrError
   * (category "ambiguous"), since choosing one would be a guess.
   */
  async searchOne<T extends Resource = Resource>(
    resourceType: ResourceType,
    params?: SearchParams,
  ): Promise<T | undefined> {
    const matches = await this.searchResources<T>(resourceType, params);
    if (matches.length > 1) {
      throw new EhrError({
        kind: 'permanent',
        category: 'ambiguous',
        reason: `GET ${resourceType} (search) matched ${matches.length} resources where one was expected`,
      });
    }
    return matches[0];
  }

  /**
   * The resource holding this business identifier (`Identifier`, or a `system|value` token), or undefined.
   * Several matches: permanent EhrError "ambiguous".
   */
  async conditionalRead<T extends Resource = Resource>(
    resourceType: ResourceType,
    identifier: Identifier | string,
  ): Promise<T | undefined> {
    return this.searchOne<T>(resourceType, { identifier: identifierToken(identifier) });
  }

  /** POST a resource; with `ifNoneExist` (an encoded query such as "identifier=sys%7Cval") a conditional create. */
  async create<T extends Resource>(resource: T, options: { ifNoneExist?: string } = {}): Promise<WriteResult<T>> {
    const headers: Record<string, string> = {};
    if (options.ifNoneExist) {
      headers['if-none-exist'] = options.ifNoneExist;
    }
    const res = await this.request<T>('POST', resource.resourceType, { body: resource, headers });
    return writeResult(res, resource);
  }

  /**
   * PUT `<type>/<id>`; `ifMatch` is the versionId the update is based on (sent as `If-Match: W/"<versionId>"`);
   * a stale version answers 412, thrown as a permanent EhrError with status 412 (pushBundle handles it).
   */
  async update<T extends Resource>(resource: T, options: { ifMatch?: string } = {}): Promise<WriteResult<T>> {
    if (!resource.id) {
      throw new Error('EhrClient.update: the resource has no id');
    }
    const headers: Record<string, string> = {};
    if (options.ifMatch !== undefined) {
      headers['if-match'] = `W/"${options.ifMatch}"`;
    }
    const res = await this.request<T>('PUT', `${resource.resourceType}/${encodeURIComponent(resource.id)}`, {
      body: resource,
      headers,
    });
    return writeResult(res, resource);
  }

  /**
   * POST a transaction (or batch) Bundle to the base URL; returns the response Bundle. Retried after a transient
   * failure (see `requestRetries`) only when every entry is idempotent on its own (see isIdempotentBundle).
   * `minimal` asks for the answer without the resources (`Prefer: return=minimal`): ids and versions are in each
   * entry's location and etag.
   */
  async transaction(bundle: Bundle, options: { minimal?: boolean } = {}): Promise<Bundle> {
    return this.postBundle(bundle, options.minimal ? { prefer: 'return=minimal' } : {});
  }

  private async postBundle(bundle: Bundle, headers: Record<string, string> = {}): Promise<Bundle> {
    const idempotent = isIdempotentBundle(bundle);
    const res = await this.request<Bundle>('POST', '', { body: bundle, headers, idempotent });
    if (res.body?.resourceType !== 'Bundle') {
      throw new EhrError({
        kind: 'transient',
        category: 'invalid-response',
        status: res.status,
        reason: `POST ${bundle.type ?? 'transaction'} did not return a Bundle`,
      });
    }
    return res.body;
  }
}

/** GET, HEAD, PUT, DELETE, and a POST with If-None-Exist (a conditional create finds its first copy). */
function isIdempotent(method: string, headers: Record<string, string> | undefined): boolean {
  const m = method.toUpperCase();
  if (m === 'GET' || m === 'HEAD' || m === 'PUT' || m === 'DELETE') {
    return true;
  }
  return m === 'POST' && Object.keys(headers ?? {}).some((h) => h.toLowerCase() === 'if-none-exist');
}

/**
 * True when sending the Bundle twice cannot act twice: every entry is a GET, HEAD, PUT or DELETE, a POST with
 * ifNoneExist, or a PATCH with ifMatch (a second identical PATCH then fails with 412 instead of applying again).
 */
export function isIdempotentBundle(bundle: Bundle): boolean {
  return (bundle.entry ?? []).every((e) => {
    const method = e.request?.method;
    if (method === 'GET' || method === 'HEAD' || method === 'PUT' || method === 'DELETE') {
      return true;
    }
    if (method === 'POST') {
      return Boolean(e.request?.ifNoneExist);
    }
    return method === 'PATCH' && Boolean(e.request?.ifMatch);
  });
}

/** `system|value` for an Identifier (value alone when it has no system). */
export function identifierToken(identifier: Identifier | string): string {
  if (typeof identifier === 'string') {
    return identifier;
  }
  return identifier.system ? `${identifier.system}|${identifier.value ?? ''}` : (identifier.value ?? '');
}

export function capabilityStatementSupportsTransaction(cs: CapabilityStatement): boolean {
  return capabilityStatementSupports(cs, 'transaction');
}

/** True when the CapabilityStatement lists this system-level interaction (`transaction`, `batch`, …). */
function capabilityStatementSupports(cs: CapabilityStatement, code: string): boolean {
  return (cs.rest ?? []).some(
    (rest) => rest.mode === 'server' && (rest.interaction ?? []).some((i) => i.code === code),
  );
}

/** The answer to one GET of `EhrClient.getMany`: a 2xx with its resource, or the failure as an EhrError. */
export interface GetAnswer {
  status: number;
  resource?: Resource;
  error?: EhrError;
}

function batchAnswer(path: string, entry: BundleEntry | undefined): GetAnswer {
  const status = parseInt(entry?.response?.status ?? '', 10);
  if (!Number.isFinite(status)) {
    return {
      status: 0,
      error: new EhrError({
        kind: 'transient',
        category: 'invalid-response',
        reason: `${describeRequest('GET', path)}: the batch response has no status for this entry`,
      }),
    };
  }
  if (status >= 200 && status <= 299) {
    return { status, resource: entry?.resource };
  }
  const outcome = entry?.response?.outcome ?? entry?.resource;
  return { status, error: errorFromResponse(describeRequest('GET', path), status, NO_HEADERS, outcome) };
}

/** The matches of a searchset Bundle (entries with search.mode "match" or no mode, of the searched type). */
export function searchMatches<T extends Resource>(bundle: Bundle<T>, resourceType: ResourceType): T[] {
  const out: T[] = [];
  for (const entry of bundle.entry ?? []) {
    const resource = entry.resource;
    if (!resource || resource.resourceType !== resourceType) {
      continue;
    }
    if (entry.search?.mode && entry.search.mode !== 'match') {
      continue;
    }
    out.push(resource);
  }
  return out;
}

/** The versionId of a resource as returned by the server: meta.versionId, else the ETag header. */
export function versionIdOf(resource: Resource | undefined, headers?: Headers): string | undefined {
  const fromMeta = resource?.meta?.versionId;
  if (fromMeta) {
    return fromMeta;
  }
  return parseEtag(headers?.get('etag') ?? undefined);
}

/** W/"3" → 3 (also "3" and 3). */
export function parseEtag(etag: string | undefined): string | undefined {
  if (!etag) {
    return undefined;
  }
  const m = /^(?:W\/)?"?([^"]*)"?$/.exec(etag.trim());
  return m && m[1] ? m[1] : undefined;
}

function toQueryString(params: SearchParams | undefined): string {
  if (params === undefined) {
    return '';
  }
  if (typeof params === 'string') {
    return params.replace(/^\?/, '');
  }
  if (params instanceof URLSearchParams) {
    return encodeQuery(params);
  }
  const usp = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined) {
      continue;
    }
    for (const v of Array.isArray(value) ? value : [value]) {
      usp.append(name, String(v));
    }
  }
  return encodeQuery(usp);
}

/** Like URLSearchParams.toString() but with %20 for spaces (FHIR servers treat + inconsistently). */
function encodeQuery(usp: URLSearchParams): string {
  const parts: string[] = [];
  usp.forEach((value, name) => parts.push(`${encodeURIComponent(name)}=${encodeURIComponent(value)}`));
  return parts.join('&');
}

const NO_HEADERS = { get: (): null => null };

/**
 * An answer whose fetch Headers are built from node:http's header object only when asked for: the batch reads
 * and the transaction of a push never look at them (only writes, for Location and ETag, and errors do).
 */
function responseOf<T>(status: number, incoming: IncomingHttpHeaders, body: T | undefined): EhrResponse<T> {
  let headers: Headers | undefined;
  return {
    status,
    get headers() {
      return (headers ??= toHeaders(incoming));
    },
    body,
  };
}

/** node:http's header object as a fetch Headers (what EhrResponse exposes). */
function toHeaders(incoming: IncomingHttpHeaders): Headers {
  const out = new Headers();
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) out.append(name, v);
  }
  return out;
}

function describeRequest(method: string, path: string): string {
  const [p, query] = path.split('?', 2);
  const segments = p.split('/').filter(Boolean);
  // Keep the resource type and the interaction; ids are replaced so that reasons group well in metrics.
  const shown = segments.map((s, i) => (i === 0 || s.startsWith('_') || s.startsWith('$') ? s : '{id}')).join('/');
  return `${method} ${shown || '[base]'}${query !== undefined ? ' (search)' : ''}`;
}

function parseJson(text: string): unknown {
  if (!text) {
    return undefined;
  }
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function expectResource<T extends Resource>(res: EhrResponse<T>, resourceType: string, what: string): T {
  if (res.body?.resourceType !== resourceType) {
    throw new EhrError({
      kind: 'transient',
      category: 'invalid-response',
      status: res.status,
      reason: `${what} did not return a ${resourceType}`,
    });
  }
  return res.body;
}

function writeResult<T extends Resource>(res: EhrResponse<T>, sent: T): WriteResult<T> {
  const returned = res.body?.resourceType === sent.resourceType ? res.body : undefined;
  const location = res.headers.get('location') ?? res.headers.get('content-location') ?? undefined;
  const fromLocation = location ? parseLocation(location) : undefined;
  const id = returned?.id ?? fromLocation?.id ?? sent.id;
  const versionId = versionIdOf(returned, res.headers) ?? fromLocation?.versionId;
  return {
    resource: returned ?? ({ ...sent, id } as T),
    status: res.status,
    created: res.status === 201,
    id,
    versionId,
  };
}

/** "…/Type/id/_history/v" or "Type/id" → { resourceType, id, versionId }. */
export function parseLocation(location: string): { resourceType: string; id: string; versionId?: string } | undefined {
  const m = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/([A-Za-z0-9\-.]{1,64}))?\/?$/.exec(
    location.split('?')[0],
  );
  if (!m) {
    return undefined;
  }
  return { resourceType: m[1], id: m[2], versionId: m[3] };
}
