import { createPrivateKey, randomUUID, type JsonWebKey, type KeyObject } from 'node:crypto';
import { SignJWT, type JWK } from 'jose';
import { EhrError, classifyStatus, errorFromException, parseRetryAfter } from './errors';

/** What EhrClient needs from an authenticator. */
export interface AuthProvider {
  /** A bearer token valid for at least a little while (cached). */
  getToken(): Promise<string>;
  /**
   * Forget the cached token (the FHIR server answered 401). Pass the token that was refused: when another
   * request already replaced it, the newer token is kept.
   */
  invalidate(token?: string): void;
  /** Called by EhrClient with its base URL, so that the token URL can be discovered when not configured. */
  useFhirBaseUrl?(baseUrl: string): void;
}

export type SmartSigningAlg = 'RS384' | 'ES384';

export interface SmartBackendAuthOptions {
  clientId: string;
  /** PKCS#8 or PKCS#1/SEC1 PEM, or a private JWK. RSA keys sign RS384, P-384 EC keys ES384 (unless `alg`). */
  privateKey: string | JWK;
  /** e.g. "system/*.read system/*.write" or an array of scopes. */
  scopes: string | string[];
  /** Token endpoint. When absent, discovered from fhirBaseUrl (smart-configuration, then the CapabilityStatement). */
  tokenUrl?: string;
  fhirBaseUrl?: string;
  /** JWS `kid` header (defaults to the JWK's kid). */
  kid?: string;
  alg?: SmartSigningAlg;
  /** Refresh this long before the token expires (default 60 s; at most half the token's lifetime). */
  refreshBeforeExpirySeconds?: number;
  /** Lifetime of the client assertion (default 300 s, the SMART maximum). */
  assertionLifetimeSeconds?: number;
  /** Lifetime assumed when the token response has no expires_in (default 300 s). */
  defaultTokenLifetimeSeconds?: number;
  timeoutMs?: number;
  userAgent?: string;
  /** Clock, for tests. */
  now?: () => number;
}

interface CachedToken {
  accessToken: string;
  /** epoch ms after which the token is no longer handed out */
  refreshAt: number;
  expiresAt: number;
}

const OAUTH_URIS_EXTENSION = 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris';
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/**
 * SMART Backend Services (client_credentials grant with a private_key_jwt client assertion). The access
 * token is cached until shortly before it expires; concurrent callers share one token request.
 */
export class SmartBackendAuth implements AuthProvider {
  private readonly options: SmartBackendAuthOptions;
  private readonly key: KeyObject;
  private readonly alg: SmartSigningAlg;
  private readonly kid?: string;
  private readonly now: () => number;
  private tokenUrl?: string;
  private fhirBaseUrl?: string;
  private cached?: CachedToken;
  private pending?: Promise<CachedToken>;
  private requests = 0;

  constructor(options: SmartBackendAuthOptions) {
    if (!options.clientId) {
      throw new Error('SmartBackendAuth: clientId is required');
    }
    this.options = options;
    this.now = options.now ?? Date.now;
    this.tokenUrl = options.tokenUrl;
    this.fhirBaseUrl = options.fhirBaseUrl;
    this.key = loadPrivateKey(options.privateKey);
    this.alg = options.alg ?? inferAlg(this.key);
    this.kid = options.kid ?? (typeof options.privateKey === 'object' ? options.privateKey.kid : undefined);
  }

  /** Number of token requests sent so far (for metrics and tests). */
  get tokenRequestCount(): number {
    return this.requests;
  }

  useFhirBaseUrl(baseUrl: string): void {
    this.fhirBaseUrl ??= baseUrl;
  }

  async getToken(): Promise<string> {
    const cached = this.cached;
    if (cached && this.now() < cached.refreshAt) {
      return cached.accessToken;
    }
    if (!this.pending) {
      this.pending = this.requestToken().finally(() => {
        this.pending = undefined;
      });
    }
    const token = await this.pending;
    return token.accessToken;
  }

  invalidate(token?: string): void {
    if (token === undefined || this.cached?.accessToken === token) {
      this.cached = undefined;
    }
  }

  /** The token endpoint in use (discovering it on first use when not configured). */
  async getTokenUrl(): Promise<string> {
    if (!this.tokenUrl) {
      if (!this.fhirBaseUrl) {
        throw new EhrError({
          kind: 'permanent',
          category: 'auth',
          reason: 'SMART backend auth: neither tokenUrl nor the FHIR base URL is configured',
        });
      }
      this.tokenUrl = await discoverTokenUrl(this.fhirBaseUrl, {
        timeoutMs: this.options.timeoutMs,
        userAgent: this.options.userAgent,
      });
    }
    return this.tokenUrl;
  }

  /** Builds a signed client assertion (exposed for tests and diagnostics). */
  async createClientAssertion(tokenUrl: string): Promise<string> {
    const nowSeconds = Math.floor(this.now() / 1000);
    const lifetime = this.options.assertionLifetimeSeconds ?? 300;
    return new SignJWT({})
      .setProtectedHeader({ alg: this.alg, typ: 'JWT', ...(this.kid ? { kid: this.kid } : {}) })
      .setIssuer(this.options.clientId)
      .setSubject(this.options.clientId)
      .setAudience(tokenUrl)
      .setJti(randomUUID())
      .setIssuedAt(nowSeconds)
      .setExpirationTime(nowSeconds + lifetime)
      .sign(this.key);
  }

  private async requestToken(): Promise<CachedToken> {
    const tokenUrl = await this.getTokenUrl();
    const assertion = await this.createClientAssertion(tokenUrl);
    const scopes = Array.isArray(this.options.scopes) ? this.options.scopes.join(' ') : this.options.scopes;
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      scope: scopes,
      client_assertion_type: JWT_BEARER,
      client_assertion: assertion,
    });
    const timeoutMs = this.options.timeoutMs ?? 10_000;
    const what = 'POST token endpoint';
    this.requests++;
    let response: Response;
    let text: string;
    try {
      response = await fetch(tokenUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
          ...(this.options.userAgent ? { 'user-agent': this.options.userAgent } : {}),
        },
        body: form.toString(),
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await response.text();
    } catch (err) {
      throw errorFromException(what, err, timeoutMs);
    }
    const body = parseJson(text);
    if (!response.ok) {
      const kind = classifyStatus(response.status);
      const oauthError =
        typeof body === 'object' && body !== null && typeof (body as { error?: unknown }).error === 'string'
          ? `: ${(body as { error: string }).error}`
          : '';
      throw new EhrError({
        kind,
        category: kind === 'permanent' ? 'auth' : 'http',
        status: response.status,
        retryAfterMs: kind === 'transient' ? parseRetryAfter(response.headers.get('retry-after')) : undefined,
        reason: `token request refused with HTTP ${response.status}${oauthError}`,
      });
    }
    const accessToken = (body as { access_token?: unknown } | undefined)?.access_token;
    if (typeof accessToken !== 'string' || accessToken === '') {
      throw new EhrError({
        kind: 'transient',
        category: 'invalid-response',
        status: response.status,
        reason: 'token endpoint answered without an access_token',
      });
    }
    const expiresIn = Number((body as { expires_in?: unknown }).expires_in);
    const lifetimeMs =
      (Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : (this.options.defaultTokenLifetimeSeconds ?? 300)) *
      1000;
    const skewMs = Math.min((this.options.refreshBeforeExpirySeconds ?? 60) * 1000, lifetimeMs / 2);
    const issuedAt = this.now();
    const token: CachedToken = {
      accessToken,
      expiresAt: issuedAt + lifetimeMs,
      refreshAt: issuedAt + lifetimeMs - skewMs,
    };
    this.cached = token;
    return token;
  }
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

function loadPrivateKey(privateKey: string | JWK): KeyObject {
  try {
    if (typeof privateKey === 'string') {
      return createPrivateKey({ key: privateKey, format: 'pem' });
    }
    return createPrivateKey({ key: privateKey as JsonWebKey, format: 'jwk' });
  } catch (err) {
    throw new Error(`SmartBackendAuth: the private key cannot be loaded (${(err as Error).message})`);
  }
}

function inferAlg(key: KeyObject): SmartSigningAlg {
  if (key.asymmetricKeyType === 'rsa') {
    return 'RS384';
  }
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve !== 'secp384r1') {
      throw new Error(`SmartBackendAuth: EC keys must use P-384 for ES384 (got ${curve ?? 'unknown curve'})`);
    }
    return 'ES384';
  }
  throw new Error(`SmartBackendAuth: unsupported key type ${key.asymmetricKeyType ?? 'unknown'} (use RSA or EC P-384)`);
}

/**
 * Finds the token endpoint of a FHIR server: `<base>/.well-known/smart-configuration` (token_endpoint), else
 * the CapabilityStatement's oauth-uris extension (rest.security). Throws a permanent auth EhrError when
 * neither names one; network failures are transient.
 */
export async function discoverTokenUrl(
  fhirBaseUrl: string,
  options: { timeoutMs?: number; userAgent?: string } = {},
): Promise<string> {
  const base = fhirBaseUrl.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? 10_000;
  const headers: Record<string, string> = { accept: 'application/json, application/fhir+json' };
  if (options.userAgent) {
    headers['user-agent'] = options.userAgent;
  }

  const get = async (path: string): Promise<{ status: number; body: unknown }> => {
    try {
      const res = await fetch(`${base}/${path}`, { headers, signal: AbortSignal.timeout(timeoutMs) });
      const text = await res.text();
      return { status: res.status, body: res.ok ? parseJson(text) : undefined };
    } catch (err) {
      throw errorFromException(`GET ${path}`, err, timeoutMs);
    }
  };

  const smart = await get('.well-known/smart-configuration');
  if (smart.status >= 500) {
    throw new EhrError({
      kind: 'transient',
      category: 'http',
      status: smart.status,
      reason: `GET .well-known/smart-configuration failed with HTTP ${smart.status}`,
    });
  }
  const fromSmart = (smart.body as { token_endpoint?: unknown } | undefined)?.token_endpoint;
  if (typeof fromSmart === 'string' && fromSmart) {
    return fromSmart;
  }

  const metadata = await get('metadata');
  if (metadata.status >= 500) {
    throw new EhrError({
      kind: 'transient',
      category: 'http',
      status: metadata.status,
      reason: `GET metadata failed with HTTP ${metadata.status}`,
    });
  }
  const fromCapabilities = tokenUrlFromCapabilityStatement(metadata.body);
  if (fromCapabilities) {
    return fromCapabilities;
  }
  throw new EhrError({
    kind: 'permanent',
    category: 'auth',
    reason: 'the FHIR server advertises no token endpoint (no smart-configuration, no oauth-uris extension)',
  });
}

/** The `token` URI of the oauth-uris extension in a CapabilityStatement's rest.security, if any. */
export function tokenUrlFromCapabilityStatement(capabilityStatement: unknown): string | undefined {
  const rest = (capabilityStatement as { rest?: unknown } | undefined)?.rest;
  if (!Array.isArray(rest)) {
    return undefined;
  }
  for (const r of rest) {
    const extensions = (r as { security?: { extension?: unknown } }).security?.extension;
    if (!Array.isArray(extensions)) {
      continue;
    }
    for (const ext of extensions) {
      if ((ext as { url?: unknown }).url !== OAUTH_URIS_EXTENSION) {
        continue;
      }
      const inner = (ext as { extension?: unknown }).extension;
      if (!Array.isArray(inner)) {
        continue;
      }
      const token = inner.find((e) => (e as { url?: unknown }).url === 'token') as { valueUri?: unknown } | undefined;
      if (typeof token?.valueUri === 'string' && token.valueUri) {
        return token.valueUri;
      }
    }
  }
  return undefined;
}
