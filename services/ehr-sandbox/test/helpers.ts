import { randomUUID } from 'node:crypto';
import type { JWK, KeyLike } from 'jose';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { Bundle, BundleEntry, OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { ClientRegistration, EhrSandbox } from '../src';

export const FHIR_JSON = 'application/fhir+json';

/** Parsed JSON bodies in tests are read field by field; expect() checks them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

/** fetch under the FHIR base; `path` is relative to it ('' for the base itself). */
export async function fhir(
  sandbox: EhrSandbox,
  path: string,
  init: {
    method?: string;
    body?: unknown;
    headers?: Record<string, string>;
    token?: string;
    contentType?: string;
  } = {},
): Promise<{ status: number; headers: Headers; body: Json }> {
  const headers: Record<string, string> = { accept: FHIR_JSON, ...(init.headers ?? {}) };
  if (init.body !== undefined) {
    headers['content-type'] = init.contentType ?? FHIR_JSON;
  }
  if (init.token) {
    headers.authorization = `Bearer ${init.token}`;
  }
  const res = await fetch(sandbox.baseUrl + (path ? `/${path}` : ''), {
    method: init.method ?? 'GET',
    headers,
    body: init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

export function isOutcome(body: unknown): body is OperationOutcome {
  return (
    (body as OperationOutcome)?.resourceType === 'OperationOutcome' && Array.isArray((body as OperationOutcome).issue)
  );
}

export function txBundle(entries: NonNullable<Bundle['entry']>, type: 'transaction' | 'batch' = 'transaction'): Bundle {
  return { resourceType: 'Bundle', type, entry: entries };
}

/** A conditional PUT entry keyed by identifier, as the mapping contract writes them. */
export function putEntry(fullUrl: string, resource: Resource): BundleEntry {
  const id = (resource as { identifier?: { system?: string; value?: string }[] }).identifier?.[0];
  return {
    fullUrl,
    resource,
    request: {
      method: 'PUT',
      url: `${resource.resourceType}?identifier=${encodeURIComponent(id?.system ?? '')}|${encodeURIComponent(id?.value ?? '')}`,
    },
  };
}

export interface TestClient {
  clientId: string;
  alg: 'RS384' | 'ES384';
  privateKey: KeyLike;
  publicJwk: JWK;
  registration: ClientRegistration;
  /** A signed client assertion; override claims to make it wrong. */
  assertion(over?: {
    aud?: string;
    iss?: string;
    sub?: string;
    expIn?: number;
    jti?: string;
    key?: KeyLike;
    kid?: string;
  }): Promise<string>;
}

export async function makeClient(
  sandbox: EhrSandbox,
  opts: { clientId?: string; alg?: 'RS384' | 'ES384'; scope?: string; asJwks?: boolean; register?: boolean } = {},
): Promise<TestClient> {
  const alg = opts.alg ?? 'ES384';
  const clientId = opts.clientId ?? `client-${randomUUID().slice(0, 8)}`;
  const { publicKey, privateKey } = await generateKeyPair(alg);
  const kid = randomUUID();
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg };
  const registration: ClientRegistration = opts.asJwks
    ? { clientId, jwks: { keys: [publicJwk] }, scope: opts.scope }
    : { clientId, jwk: publicJwk, scope: opts.scope };
  if (opts.register !== false) {
    sandbox.registerClient(registration);
  }
  return {
    clientId,
    alg,
    privateKey,
    publicJwk,
    registration,
    assertion: (over = {}) =>
      new SignJWT({})
        .setProtectedHeader({ alg, kid: over.kid ?? kid, typ: 'JWT' })
        .setIssuer(over.iss ?? clientId)
        .setSubject(over.sub ?? clientId)
        .setAudience(over.aud ?? sandbox.tokenUrl)
        .setJti(over.jti ?? randomUUID())
        .setIssuedAt()
        .setExpirationTime(Math.floor(Date.now() / 1000) + (over.expIn ?? 240))
        .sign(over.key ?? privateKey),
  };
}

/** POST /auth/token with the usual form. */
export async function requestToken(
  sandbox: EhrSandbox,
  assertion: string,
  scope: string,
  extra: Record<string, string> = {},
): Promise<{ status: number; body: Json }> {
  const form = new URLSearchParams({
    grant_type: 'client_credentials',
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: assertion,
    scope,
    ...extra,
  });
  const res = await fetch(sandbox.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form.toString(),
  });
  return { status: res.status, body: (await res.json()) as Json };
}

export async function accessToken(sandbox: EhrSandbox, client: TestClient, scope: string): Promise<string> {
  const r = await requestToken(sandbox, await client.assertion(), scope);
  if (r.status !== 200) {
    throw new Error(`token request failed: ${r.status} ${JSON.stringify(r.body)}`);
  }
  return r.body.access_token as string;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
