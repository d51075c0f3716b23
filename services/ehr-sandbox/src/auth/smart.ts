import { randomUUID } from 'node:crypto';
import type { JWK, JWTPayload, JWTVerifyGetKey, KeyLike } from 'jose';
import {
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  exportJWK,
  generateKeyPair,
  jwtVerify,
  SignJWT,
} from 'jose';
import type { SystemScope } from './scopes';
import { covers, parseScopes } from './scopes';

/** A client allowed to use SMART Backend Services against the sandbox. */
export interface ClientRegistration {
  clientId: string;
  /** One public key (RSA for RS384 or EC P-384 for ES384). Give `jwk` or `jwks`. */
  jwk?: JWK;
  /** A public JWK Set; the assertion's `kid` picks the key. */
  jwks?: { keys: JWK[] };
  /**
   * Scopes this client may be granted (space-separated, SMART v1 or v2 system scopes).
   * Default: `system/*.cruds` (everything).
   */
  scope?: string;
  /** A label for people (not used for anything else). */
  name?: string;
}

/** The token endpoint's answer (RFC 6749 §5.1). */
export interface TokenResponse {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
  scope: string;
}

/** What a verified access token grants. */
export interface Grant {
  clientId: string;
  scopes: SystemScope[];
}

/** An OAuth 2 error (RFC 6749 §5.2) for the token endpoint. */
export class OAuthError extends Error {
  readonly status: number;
  readonly error: 'invalid_request' | 'invalid_client' | 'unsupported_grant_type' | 'invalid_scope';

  constructor(status: number, error: OAuthError['error'], description: string) {
    super(description);
    this.status = status;
    this.error = error;
  }
}

/** A bearer-token failure on a FHIR request (→ 401 with WWW-Authenticate). */
export class TokenError extends Error {
  /** Undefined when no credentials were sent at all (RFC 6750 §3.1). */
  readonly code: 'invalid_token' | undefined;

  constructor(code: 'invalid_token' | undefined, description: string) {
    super(description);
    this.code = code;
  }
}

export const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
export const ASSERTION_ALGORITHMS = ['RS384', 'ES384'];

/** Access tokens remembered as verified (a few per client and token lifetime). */
const MAX_VERIFIED_TOKENS = 1000;

/** Longest assertion lifetime accepted (SMART: exp no more than 5 minutes in the future), plus clock skew. */
const MAX_ASSERTION_SECONDS = 300;
const CLOCK_SKEW_SECONDS = 5;

interface ClientState {
  registration: ClientRegistration;
  allowed: SystemScope[];
  keys: JWTVerifyGetKey;
  revoked: boolean;
  /** Changes on revocation so that tokens issued before it stay refused after re-registration. */
  epoch: string;
  /** jti → exp (seconds) of assertions already used. */
  usedJti: Map<string, number>;
}

/** Checks a registration's shape; throws an Error naming what is wrong. */
export function checkRegistration(c: ClientRegistration): void {
  if (!c || typeof c !== 'object') {
    throw new Error('client registration must be an object');
  }
  if (typeof c.clientId !== 'string' || !c.clientId.trim()) {
    throw new Error('client registration needs a non-empty clientId');
  }
  if (!!c.jwk === !!c.jwks) {
    throw new Error(`client ${c.clientId}: give exactly one of jwk or jwks`);
  }
  const keys = c.jwk ? [c.jwk] : c.jwks?.keys;
  if (!Array.isArray(keys) || keys.length === 0) {
    throw new Error(`client ${c.clientId}: jwks.keys must be a non-empty array`);
  }
  for (const k of keys) {
    if (!k || typeof k !== 'object' || (k.kty !== 'RSA' && k.kty !== 'EC')) {
      throw new Error(`client ${c.clientId}: each key must be an RSA or EC JWK`);
    }
    if ('d' in k) {
      throw new Error(`client ${c.clientId}: register the public key only (the JWK has a private part "d")`);
    }
  }
  if (c.scope !== undefined) {
    if (typeof c.scope !== 'string') {
      throw new Error(`client ${c.clientId}: scope must be a string`);
    }
    parseScopes(c.scope);
  }
}

export interface SmartAuthOptions {
  tokenTtlSeconds: number;
  /** The token URL clients must put in `aud` (also accepted: the URL the request actually reached). */
  tokenUrl: () => string;
  /** `iss` of the access tokens. */
  issuer: () => string;
  /** `aud` of the access tokens (the FHIR base URL). */
  audience: () => string;
}

/** Client registry, token issuing and token checking. */
export class SmartAuth {
  private readonly clients = new Map<string, ClientState>();
  private readonly opts: SmartAuthOptions;
  private keyPair?: { privateKey: KeyLike; publicKey: KeyLike; kid: string };
  private readonly verifiedTokens = new Map<
    string,
    { payload: JWTPayload; publicKey: KeyLike; issuer: string; audience: string }
  >();
  private tokenTtlSeconds: number;

  constructor(opts: SmartAuthOptions) {
    this.opts = opts;
    this.tokenTtlSeconds = opts.tokenTtlSeconds;
  }

  /** Creates the sandbox's own signing key (ES256). */
  async init(): Promise<void> {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    this.keyPair = { privateKey, publicKey, kid: randomUUID() };
  }

  /** The public key of the access tokens, as a JWKS. */
  async jwks(): Promise<{ keys: JWK[] }> {
    const kp = this.requireKeys();
    const jwk = await exportJWK(kp.publicKey);
    return { keys: [{ ...jwk, kid: kp.kid, alg: 'ES256', use: 'sig' }] };
  }

  setTokenTtl(seconds: number): void {
    this.tokenTtlSeconds = seconds;
  }

  registerClient(c: ClientRegistration): void {
    checkRegistration(c);
    const previous = this.clients.get(c.clientId);
    const keys = createLocalJWKSet(c.jwks ?? { keys: [c.jwk as JWK] });
    this.clients.set(c.clientId, {
      registration: c,
      allowed: parseScopes(c.scope ?? 'system/*.cruds'),
      keys,
      revoked: false,
      epoch: previous && !previous.revoked ? previous.epoch : randomUUID(),
      usedJti: previous?.usedJti ?? new Map(),
    });
  }

  /** Revokes a client: no new tokens, and its tokens are refused. False when unknown. */
  revokeClient(clientId: string): boolean {
    const c = this.clients.get(clientId);
    if (!c) {
      return false;
    }
    c.revoked = true;
    c.epoch = randomUUID();
    return true;
  }

  listClients(): { clientId: string; name?: string; scope: string; revoked: boolean }[] {
    return [...this.clients.values()].map((c) => ({
      clientId: c.registration.clientId,
      ...(c.registration.name ? { name: c.registration.name } : {}),
      scope: c.allowed.map((s) => s.text).join(' '),
      revoked: c.revoked,
    }));
  }

  /**
   * The token endpoint: client_credentials with a private_key_jwt assertion.
   * @param form - the urlencoded form fields.
   * @param requestTokenUrl - the token URL as reached by this request (accepted as `aud` too).
   */
  async token(
    form: Record<string, unknown>,
    requestTokenUrl: string,
  ): Promise<{ clientId: string; response: TokenResponse }> {
    const field = (name: string): string | undefined => {
      const v = form[name];
      return typeof v === 'string' && v ? v : undefined;
    };
    const grantType = field('grant_type');
    if (!grantType) {
      throw new OAuthError(400, 'invalid_request', 'grant_type is required');
    }
    if (grantType !== 'client_credentials') {
      throw new OAuthError(400, 'unsupported_grant_type', 'only client_credentials is supported');
    }
    if (field('client_assertion_type') !== ASSERTION_TYPE) {
      throw new OAuthError(400, 'invalid_request', `client_assertion_type must be ${ASSERTION_TYPE}`);
    }
    const assertion = field('client_assertion');
    if (!assertion) {
      throw new OAuthError(400, 'invalid_request', 'client_assertion is required');
    }
    const requested = field('scope');
    if (!requested) {
      throw new OAuthError(400, 'invalid_request', 'scope is required');
    }

    // Who claims to be calling (unverified until the signature checks out).
    let claimed: string | undefined;
    try {
      const header = decodeProtectedHeader(assertion);
      if (!header.alg || !ASSERTION_ALGORITHMS.includes(header.alg)) {
        throw new OAuthError(401, 'invalid_client', `client_assertion must be signed with RS384 or ES384`);
      }
      claimed = decodeJwt(assertion).iss;
    } catch (err) {
      if (err instanceof OAuthError) {
        throw err;
      }
      throw new OAuthError(401, 'invalid_client', 'client_assertion is not a well-formed JWT');
    }
    const client = claimed ? this.clients.get(claimed) : undefined;
    if (!client || !claimed) {
      throw new OAuthError(401, 'invalid_client', 'unknown client');
    }
    if (client.revoked) {
      throw new OAuthError(401, 'invalid_client', 'client has been revoked');
    }

    let payload;
    try {
      ({ payload } = await jwtVerify(assertion, client.keys, {
        algorithms: ASSERTION_ALGORITHMS,
        issuer: claimed,
        subject: claimed,
        audience: [...new Set([this.opts.tokenUrl(), requestTokenUrl])],
        requiredClaims: ['exp', 'jti'],
        clockTolerance: CLOCK_SKEW_SECONDS,
      }));
    } catch (err) {
      throw new OAuthError(401, 'invalid_client', describeJoseError(err));
    }
    const now = Math.floor(Date.now() / 1000);
    const exp = payload.exp as number;
    if (exp - now > MAX_ASSERTION_SECONDS + CLOCK_SKEW_SECONDS) {
      throw new OAuthError(401, 'invalid_client', 'client_assertion exp is more than 5 minutes in the future');
    }
    for (const [jti, until] of client.usedJti) {
      if (until + CLOCK_SKEW_SECONDS < now) {
        client.usedJti.delete(jti);
      }
    }
    const jti = String(payload.jti);
    if (client.usedJti.has(jti)) {
      throw new OAuthError(401, 'invalid_client', 'client_assertion jti has already been used');
    }
    client.usedJti.set(jti, exp);

    let wanted: SystemScope[];
    try {
      wanted = parseScopes(requested);
    } catch (err) {
      throw new OAuthError(400, 'invalid_scope', (err as Error).message);
    }
    const granted = wanted.filter((w) => client.allowed.some((a) => covers(a, w)));
    if (granted.length === 0) {
      throw new OAuthError(400, 'invalid_scope', 'none of the requested scopes is allowed for this client');
    }
    const scope = granted.map((s) => s.text).join(' ');
    const kp = this.requireKeys();
    const ttl = this.tokenTtlSeconds;
    const nowMs = Date.now();
    const accessToken = await new SignJWT({ scope, client_id: claimed, epoch: client.epoch })
      .setProtectedHeader({ alg: 'ES256', kid: kp.kid, typ: 'at+jwt' })
      .setIssuer(this.opts.issuer())
      .setAudience(this.opts.audience())
      .setSubject(claimed)
      .setJti(randomUUID())
      .setIssuedAt(Math.floor(nowMs / 1000))
      // Rounded up: the token lives at least `ttl` seconds (and less than ttl + 1).
      .setExpirationTime(Math.ceil(nowMs / 1000 + ttl))
      .sign(kp.privateKey);
    return { clientId: claimed, response: { access_token: accessToken, token_type: 'bearer', expires_in: ttl, scope } };
  }

  /** Verifies an `Authorization` header value; throws TokenError. */
  async verify(authorization: string | undefined): Promise<Grant> {
    if (!authorization) {
      throw new TokenError(undefined, 'Authentication required: send a Bearer access token');
    }
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!m) {
      throw new TokenError('invalid_token', 'Authorization must be "Bearer <access token>"');
    }
    const payload = await this.verifyToken(m[1]);
    const clientId = String(payload.client_id ?? payload.sub);
    const client = this.clients.get(clientId);
    if (!client || client.revoked || payload.epoch !== client.epoch) {
      throw new TokenError('invalid_token', 'The access token has been revoked');
    }
    let scopes: SystemScope[];
    try {
      scopes = parseScopes(String(payload.scope ?? ''));
    } catch {
      throw new TokenError('invalid_token', 'The access token has an unusable scope');
    }
    return { clientId, scopes };
  }

  /**
   * Signature, issuer, audience and times of an access token. The signature check (ECDSA) costs more
   * than the rest of a small FHIR request, and a client sends the same token for minutes: a token
   * verified once is only checked for its times again.
   */
  private async verifyToken(token: string): Promise<JWTPayload> {
    const kp = this.requireKeys();
    const issuer = this.opts.issuer();
    const audience = this.opts.audience();
    const known = this.verifiedTokens.get(token);
    if (known && known.publicKey === kp.publicKey && known.issuer === issuer && known.audience === audience) {
      // The checks jose makes with the clock (clockTolerance 0); the claims' types were checked then.
      const now = Math.floor(Date.now() / 1000);
      const { nbf, exp } = known.payload;
      if (nbf !== undefined && nbf > now) {
        throw new TokenError('invalid_token', 'The access token is invalid');
      }
      if (exp !== undefined && exp <= now) {
        throw new TokenError('invalid_token', 'The access token has expired');
      }
      return known.payload;
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, kp.publicKey, {
        algorithms: ['ES256'],
        issuer,
        audience,
        clockTolerance: 0,
      }));
    } catch (err) {
      if (err instanceof errors.JWTExpired) {
        throw new TokenError('invalid_token', 'The access token has expired');
      }
      throw new TokenError('invalid_token', 'The access token is invalid');
    }
    if (this.verifiedTokens.size >= MAX_VERIFIED_TOKENS) {
      const now = Math.floor(Date.now() / 1000);
      for (const [t, v] of this.verifiedTokens) {
        if (v.payload.exp === undefined || v.payload.exp <= now) {
          this.verifiedTokens.delete(t);
        }
      }
      if (this.verifiedTokens.size >= MAX_VERIFIED_TOKENS) {
        this.verifiedTokens.clear();
      }
    }
    this.verifiedTokens.set(token, { payload, publicKey: kp.publicKey, issuer, audience });
    return payload;
  }

  private requireKeys(): { privateKey: KeyLike; publicKey: KeyLike; kid: string } {
    if (!this.keyPair) {
      throw new Error('SmartAuth.init() has not run');
    }
    return this.keyPair;
  }
}

function describeJoseError(err: unknown): string {
  if (err instanceof errors.JWTExpired) {
    return 'client_assertion has expired';
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'aud') {
      return 'client_assertion aud must be the token endpoint URL';
    }
    if (err.claim === 'iss' || err.claim === 'sub') {
      return 'client_assertion iss and sub must both be the client_id';
    }
    return `client_assertion claim "${err.claim}" is missing or invalid`;
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return 'client_assertion signature does not verify with the registered key';
  }
  if (err instanceof errors.JWKSNoMatchingKey) {
    return 'no registered key matches the client_assertion (kid/alg)';
  }
  if (err instanceof errors.JOSEAlgNotAllowed) {
    return 'client_assertion must be signed with RS384 or ES384';
  }
  return 'client_assertion is invalid';
}
