/**
 * Test support: a gateway over real HTTP on a harness Redis, next to the ehr-sandbox and in-process
 * sync-workers of test/support/stack.ts (same queue prefix), with tokens signed by a key made per suite.
 */
import { Writable } from 'node:stream';
import { exportSPKI, generateKeyPair, SignJWT, type KeyLike } from 'jose';
import pino, { type Logger } from 'pino';
import { startStack, type TestStack } from '../../../test/support/stack';
import { loadGatewayConfig, SCOPES, startGateway, type GatewayOverrides, type RunningGateway } from '../src';

export const ISSUER = 'https://auth.test.invalid';
export const AUDIENCE = 'marrowbridge-gateway';
export const ALL_SCOPES = Object.values(SCOPES);

export interface TokenOptions {
  scopes?: string[];
  /** Seconds from now; negative for an expired token. Default 300. */
  expiresIn?: number;
  key?: KeyLike;
  issuer?: string;
  audience?: string;
}

export interface Signer {
  publicKeyPem: string;
  token(options?: TokenOptions): Promise<string>;
}

export async function makeSigner(): Promise<Signer> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  return {
    publicKeyPem: await exportSPKI(publicKey),
    async token(o: TokenOptions = {}) {
      const now = Math.floor(Date.now() / 1000);
      const exp = now + (o.expiresIn ?? 300);
      return new SignJWT({ scope: (o.scopes ?? ALL_SCOPES).join(' ') })
        .setProtectedHeader({ alg: 'ES256' })
        .setSubject('test-client')
        .setIssuer(o.issuer ?? ISSUER)
        .setAudience(o.audience ?? AUDIENCE)
        .setIssuedAt(Math.min(now, exp - 60))
        .setExpirationTime(exp)
        .sign(o.key ?? privateKey);
    },
  };
}

/** A pino logger writing JSON lines into memory (and the lines, to grep). */
export function captureLogs(level = 'info', service = 'gateway'): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(line);
      cb();
    },
  });
  return { log: pino({ level, base: { service } }, stream), lines };
}

export interface GatewayStack {
  stack: TestStack;
  gateway: RunningGateway;
  signer: Signer;
  /** fetch against the gateway with a bearer token carrying `scopes` (all by default; null = no token). */
  call(path: string, init?: RequestInit & { scopes?: string[] | null }): Promise<Response>;
  stop(): Promise<void>;
}

export async function startGatewayStack(opts: {
  redisUrl: string;
  workers?: number;
  env?: Record<string, string>;
  overrides?: GatewayOverrides;
}): Promise<GatewayStack> {
  const stack = await startStack({ redisUrl: opts.redisUrl, workers: opts.workers ?? 0 });
  const signer = await makeSigner();
  try {
    const config = loadGatewayConfig({
      REDIS_URL: stack.env.REDIS_URL,
      QUEUE_PREFIX: stack.prefix,
      EHR_BASE_URL: stack.env.EHR_BASE_URL,
      GATEWAY_PORT: '0',
      GATEWAY_AUTH: 'jwt',
      GATEWAY_JWT_PUBLIC_KEY: signer.publicKeyPem,
      GATEWAY_JWT_ISSUER: ISSUER,
      GATEWAY_JWT_AUDIENCE: AUDIENCE,
      LOG_LEVEL: 'silent',
      ...opts.env,
    });
    const gateway = await startGateway(config, { log: pino({ level: 'silent' }), ...opts.overrides });
    return {
      stack,
      gateway,
      signer,
      async call(path, init = {}) {
        const { scopes, ...rest } = init;
        const headers = new Headers(rest.headers);
        if (scopes !== null) headers.set('authorization', `Bearer ${await signer.token({ scopes })}`);
        return fetch(gateway.url + path, { ...rest, headers });
      },
      async stop() {
        await gateway.stop();
        await stack.stop();
      },
    };
  } catch (err) {
    await stack.stop();
    throw err;
  }
}

/** Resolves when `check` returns true (polling), or rejects after timeoutMs. */
export async function eventually(
  check: () => Promise<boolean> | boolean,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const JSON_HEADERS = { 'content-type': 'application/json' };
export const FHIR_HEADERS = { 'content-type': 'application/fhir+json' };
export const HL7_HEADERS = { 'content-type': 'application/hl7-v2' };
