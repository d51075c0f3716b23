/**
 * Bearer JWT authentication with scopes. Tokens are verified with jose against a JWKS URL or one configured
 * public key; `iss` and `aud` are checked when configured, `exp`/`nbf` always (with a small clock tolerance).
 * Scopes come from the `scope` claim (space-separated, OAuth 2) or `scp` (string or array).
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import {
  createRemoteJWKSet,
  errors as joseErrors,
  importJWK,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import type { GatewayConfig } from './config';
import { HttpError } from './outcome';

export const SCOPES = {
  /** POST /orders, /results, /hl7 (and the MLLP listener, which is not behind HTTP auth). */
  intake: 'marrowbridge/intake',
  /** Tracking, $validate, $translate, metadata, profiles, OpenAPI, metrics. */
  read: 'marrowbridge/read',
  /** Dead letters (list, replay) and the queue dashboard. */
  admin: 'marrowbridge/admin',
} as const;

export type Scope = (typeof SCOPES)[keyof typeof SCOPES];

export interface Principal {
  /** `sub` of the token (a client or user id; never logged with patient data). */
  subject?: string;
  /** `azp` or `client_id` when present. */
  clientId?: string;
  scopes: Set<string>;
}

export interface Authenticator {
  /** Verifies a compact JWS; throws HttpError 401 with the reason. */
  verify(token: string): Promise<Principal>;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The verified bearer token's subject and scopes (set by requireScope). */
      principal?: Principal;
    }
  }
}

type KeySource = KeyObject | JWTVerifyGetKey | Uint8Array;

/** Builds the verifier from the configuration; undefined when GATEWAY_AUTH=off. */
export async function createAuthenticator(
  config: Pick<
    GatewayConfig,
    'auth' | 'jwksUrl' | 'jwtPublicKey' | 'jwtIssuer' | 'jwtAudience' | 'jwtAlgorithms' | 'jwtClockToleranceS'
  >,
): Promise<Authenticator | undefined> {
  if (config.auth === 'off') return undefined;
  let key: KeySource;
  if (config.jwksUrl) {
    key = createRemoteJWKSet(new URL(config.jwksUrl), { timeoutDuration: 5000, cooldownDuration: 30_000 });
  } else if (config.jwtPublicKey) {
    key = await importPublicKey(config.jwtPublicKey);
  } else {
    throw new Error('GATEWAY_AUTH=jwt needs GATEWAY_JWKS_URL or GATEWAY_JWT_PUBLIC_KEY');
  }
  return {
    async verify(token: string): Promise<Principal> {
      let payload: JWTPayload;
      try {
        const options = {
          issuer: config.jwtIssuer,
          audience: config.jwtAudience,
          algorithms: config.jwtAlgorithms,
          clockTolerance: config.jwtClockToleranceS,
        };
        // Two calls because jose's overloads take a key or a key getter, not their union.
        payload =
          typeof key === 'function'
            ? (await jwtVerify(token, key, options)).payload
            : (await jwtVerify(token, key, options)).payload;
      } catch (err) {
        throw unauthorized(reasonOf(err));
      }
      return {
        subject: typeof payload.sub === 'string' ? payload.sub : undefined,
        clientId: stringClaim(payload.azp) ?? stringClaim(payload.client_id),
        scopes: scopesOf(payload),
      };
    },
  };
}

async function importPublicKey(text: string): Promise<KeyObject | Uint8Array> {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    const jwk = JSON.parse(trimmed) as Record<string, unknown>;
    if (jwk.d) throw new Error('GATEWAY_JWT_PUBLIC_KEY holds a private JWK; give the public key');
    const imported = await importJWK(
      jwk as unknown as Parameters<typeof importJWK>[0],
      typeof jwk.alg === 'string' ? jwk.alg : undefined,
    );
    return imported as KeyObject | Uint8Array;
  }
  return createPublicKey(trimmed);
}

function stringClaim(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function scopesOf(payload: JWTPayload): Set<string> {
  const out = new Set<string>();
  const add = (v: unknown) => {
    if (typeof v === 'string') for (const s of v.split(/\s+/)) if (s) out.add(s);
    if (Array.isArray(v)) for (const s of v) if (typeof s === 'string') add(s);
  };
  add(payload.scope);
  add(payload.scp);
  return out;
}

/** What went wrong with a token, in words that reveal nothing about the key. */
function reasonOf(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'the token has expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `the token's ${err.claim} claim is not accepted`;
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'the token signature does not verify';
  if (err instanceof joseErrors.JWKSNoMatchingKey) return 'no key of the JWKS matches the token';
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'the token is signed with an algorithm that is not accepted';
  if (err instanceof joseErrors.JWKSTimeout || err instanceof joseErrors.JWKSInvalid)
    return 'the signing keys could not be fetched';
  if (err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JWTInvalid) return 'the token is malformed';
  return 'the token is not valid';
}

function unauthorized(reason: string): HttpError {
  return new HttpError(401, `Unauthorized: ${reason}`, 'login', {
    'WWW-Authenticate': `Bearer realm="marrowbridge", error="invalid_token", error_description="${reason}"`,
  });
}

/**
 * Middleware: authenticates the request (once) and checks that the token carries `scope`.
 * With auth off (authenticator undefined) every request passes with every scope.
 */
export function requireScope(authenticator: Authenticator | undefined, scope: Scope): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction) => {
    if (!authenticator) {
      req.principal ??= { subject: undefined, scopes: new Set(Object.values(SCOPES)) };
      next();
      return;
    }
    void (async () => {
      if (!req.principal) {
        const header = req.headers.authorization ?? '';
        const m = /^Bearer\s+([A-Za-z0-9\-_.~+/]+=*)\s*$/i.exec(header);
        if (!m) {
          throw new HttpError(401, 'Unauthorized: a bearer token is required (Authorization: Bearer <JWT>)', 'login', {
            'WWW-Authenticate': 'Bearer realm="marrowbridge"',
          });
        }
        req.principal = await authenticator.verify(m[1]);
      }
      if (!req.principal.scopes.has(scope)) {
        throw new HttpError(403, `Forbidden: this operation needs the scope ${scope}`, 'forbidden', {
          'WWW-Authenticate': `Bearer realm="marrowbridge", error="insufficient_scope", scope="${scope}"`,
        });
      }
    })().then(() => next(), next);
  };
}
