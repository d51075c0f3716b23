import fs from 'node:fs';
import {
  ConfigError,
  int,
  loadConfig,
  oneOf,
  optional,
  port as tcpPort,
  spec,
  text,
  type Env,
} from '@marrowbridge/config';
import type { ClientRegistration } from './auth/smart';
import { checkRegistration } from './auth/smart';
import type { FaultConfig } from './faults';
import { checkFaultConfig } from './faults';
import type { ValidateHook } from './fhir/engine';

/** One structured log line. Never carries resource content, query strings or tokens. */
export interface LogEvent {
  level: 'info' | 'warn' | 'error';
  msg: string;
  method?: string;
  /** Path without the query string. */
  path?: string;
  status?: number;
  ms?: number;
  interaction?: string;
  clientId?: string;
  fault?: string;
  port?: number;
}

export interface EhrSandboxOptions {
  /** TCP port; 0 = a free port (default 0 in-process; main.ts uses 8103). */
  port?: number;
  /** Interface to bind. Default 127.0.0.1. */
  host?: string;
  /** FHIR base path. Default `/fhir/R4`. */
  basePath?: string;
  /** Origin the URLs are built on (`http://ehr:8103`), when clients reach the sandbox by another name. Default `http://<host>:<port>`. */
  publicUrl?: string;
  /** `smart` (default): every FHIR request needs a bearer token; `off`: no token needed. */
  auth?: 'smart' | 'off';
  /** Clients registered at start. */
  clients?: ClientRegistration[];
  /** Access-token lifetime in seconds (default 300). */
  tokenTtlSeconds?: number;
  /** When set, /admin needs `Authorization: Bearer <adminToken>`; when unset /admin is open (only allowed on loopback). */
  adminToken?: string;
  /** Faults active from the start. */
  faults?: FaultConfig;
  /** Validation on write (off when absent): an outcome with errors refuses the write with 422. */
  validate?: ValidateHook;
  /** Refuse writes whose `Type/id` references point at nothing (default true). */
  referentialIntegrity?: boolean;
  /** Largest request body (default 10 MB). */
  bodyLimitBytes?: number;
  /** Structured log sink (default: no logging). */
  log?: (event: LogEvent) => void;
}

export interface ResolvedOptions {
  port: number;
  host: string;
  basePath: string;
  publicUrl?: string;
  auth: 'smart' | 'off';
  clients: ClientRegistration[];
  tokenTtlSeconds: number;
  adminToken?: string;
  faults: FaultConfig;
  validate?: ValidateHook;
  referentialIntegrity: boolean;
  bodyLimitBytes: number;
  log: (event: LogEvent) => void;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export { ConfigError };

/** Fills defaults and checks every option; throws ConfigError naming the first wrong one. */
export function resolveOptions(
  o: EhrSandboxOptions = {},
  names: Partial<Record<keyof EhrSandboxOptions, string>> = {},
): ResolvedOptions {
  const name = (k: keyof EhrSandboxOptions): string => names[k] ?? `options.${k}`;
  const port = o.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw configError(`${name('port')} must be an integer from 0 to 65535`);
  }
  const host = o.host ?? '127.0.0.1';
  if (typeof host !== 'string' || !host) {
    throw configError(`${name('host')} must be a host name or address`);
  }
  const basePath = o.basePath ?? '/fhir/R4';
  if (!/^(\/[A-Za-z0-9._~-]+)+$/.test(basePath)) {
    throw configError(`${name('basePath')} must look like /fhir/R4 (no trailing slash)`);
  }
  let publicUrl: string | undefined;
  if (o.publicUrl !== undefined) {
    try {
      const u = new URL(o.publicUrl);
      if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.pathname !== '/' || u.search) {
        throw new Error('not an origin');
      }
      publicUrl = u.origin;
    } catch {
      throw configError(`${name('publicUrl')} must be an http(s) origin such as http://ehr:8103`);
    }
  }
  const auth = o.auth ?? 'smart';
  if (auth !== 'smart' && auth !== 'off') {
    throw configError(`${name('auth')} must be "smart" or "off"`);
  }
  const tokenTtlSeconds = o.tokenTtlSeconds ?? 300;
  if (typeof tokenTtlSeconds !== 'number' || !Number.isInteger(tokenTtlSeconds) || tokenTtlSeconds < 1) {
    throw configError(`${name('tokenTtlSeconds')} must be a whole number of seconds, at least 1`);
  }
  if (o.adminToken !== undefined && (typeof o.adminToken !== 'string' || o.adminToken.length < 8)) {
    throw configError(`${name('adminToken')} must be a string of at least 8 characters`);
  }
  if (o.adminToken === undefined && !isLoopback(host)) {
    throw configError(
      `${name('adminToken')} is required when binding to ${host} (a non-loopback address); /admin would be open to the network`,
    );
  }
  const clients = o.clients ?? [];
  if (!Array.isArray(clients)) {
    throw configError(`${name('clients')} must be an array of client registrations`);
  }
  const seen = new Set<string>();
  for (const c of clients) {
    try {
      checkRegistration(c);
    } catch (err) {
      throw configError(`${name('clients')}: ${(err as Error).message}`);
    }
    if (seen.has(c.clientId)) {
      throw configError(`${name('clients')}: client ${c.clientId} is registered twice`);
    }
    seen.add(c.clientId);
  }
  let faults: FaultConfig;
  try {
    faults = checkFaultConfig(o.faults ?? {}, name('faults'));
  } catch (err) {
    throw configError((err as Error).message);
  }
  if (o.validate !== undefined && typeof o.validate !== 'function') {
    throw configError(`${name('validate')} must be a function (resource) => OperationOutcome`);
  }
  const referentialIntegrity = o.referentialIntegrity ?? true;
  if (typeof referentialIntegrity !== 'boolean') {
    throw configError(`${name('referentialIntegrity')} must be true or false`);
  }
  const bodyLimitBytes = o.bodyLimitBytes ?? 10 * 1024 * 1024;
  if (!Number.isInteger(bodyLimitBytes) || bodyLimitBytes < 1024) {
    throw configError(`${name('bodyLimitBytes')} must be an integer of at least 1024`);
  }
  if (o.log !== undefined && typeof o.log !== 'function') {
    throw configError(`${name('log')} must be a function`);
  }
  return {
    port,
    host,
    basePath,
    publicUrl,
    auth,
    clients,
    tokenTtlSeconds,
    adminToken: o.adminToken,
    faults,
    validate: o.validate,
    referentialIntegrity,
    bodyLimitBytes,
    log: o.log ?? (() => undefined),
  };
}

/** A wrong option or setting; the message names it (one problem: resolveOptions stops at the first). */
function configError(problem: string): ConfigError {
  return new ConfigError([problem]);
}

/** The standalone server's settings (environment variables), declared once: loadConfigFromEnv and the README. */
export const EHR_SANDBOX_SETTINGS = {
  port: spec('EHR_SANDBOX_PORT', 'port', 8103, tcpPort),
  host: spec('EHR_SANDBOX_HOST', 'interface', '127.0.0.1', text),
  auth: spec(
    'EHR_SANDBOX_AUTH',
    '`smart`: SMART backend tokens required; `off`: accept requests without a token (local browsing)',
    'smart',
    oneOf('smart', 'off'),
  ),
  clients: optional(
    'EHR_SANDBOX_CLIENTS',
    'JSON file of client registrations (`clientId`, `jwk` or `jwks`, `scope`)',
    clientsFile,
  ),
  tokenTtlSeconds: spec('EHR_SANDBOX_TOKEN_TTL', 'access-token lifetime, seconds', 300, int(1, 31_536_000)),
  adminToken: optional(
    'EHR_SANDBOX_ADMIN_TOKEN',
    'bearer token for `/admin` (required when not bound to loopback)',
    text,
    true,
  ),
  basePath: spec('EHR_SANDBOX_BASE_PATH', 'FHIR base path', '/fhir/R4', text),
  publicUrl: optional('EHR_SANDBOX_PUBLIC_URL', 'origin used in URLs when clients reach it by another name', text),
  faults: optional(
    'EHR_SANDBOX_FAULTS',
    'JSON fault config: `errorRate`, `errorStatuses`, `latencyMs`, `jitterMs`, `outageSeconds`, `dropRate`, `transactions`, `retryAfterSeconds`, `seed` (also `POST /admin/faults`)',
    faultsJson,
  ),
  validate: spec(
    'EHR_SANDBOX_VALIDATE',
    "`profiles`: validate writes with the project's profiles (422 OperationOutcome)",
    'off',
    oneOf('off', 'profiles'),
  ),
  referentialIntegrity: spec(
    'EHR_SANDBOX_REFERENTIAL_INTEGRITY',
    'refuse writes whose references point at nothing',
    'on',
    oneOf('on', 'off'),
  ),
  log: spec('EHR_SANDBOX_LOG', '`silent` to turn its request log off', 'info', oneOf('info', 'silent')),
};

/** The environment variable behind each option, for messages about options that came from the environment. */
export const ENV_NAMES: Partial<Record<keyof EhrSandboxOptions, string>> = Object.fromEntries(
  Object.entries(EHR_SANDBOX_SETTINGS)
    .filter(([key]) => key !== 'log')
    .map(([key, s]) => [key, s.env]),
);

/**
 * The standalone server's configuration, from the environment (EHR_SANDBOX_SETTINGS). Throws ConfigError
 * naming the wrong variable.
 */
export function loadConfigFromEnv(env: Env = process.env): ResolvedOptions {
  const c = loadConfig(EHR_SANDBOX_SETTINGS, env);
  const o: EhrSandboxOptions = {
    port: c.port,
    host: c.host,
    basePath: c.basePath,
    publicUrl: c.publicUrl,
    auth: c.auth,
    clients: c.clients,
    tokenTtlSeconds: c.tokenTtlSeconds,
    adminToken: c.adminToken,
    faults: c.faults,
    referentialIntegrity: c.referentialIntegrity === 'on',
    validate: c.validate === 'profiles' ? loadProjectValidator() : undefined,
    log:
      c.log === 'info'
        ? (event) => console.log(JSON.stringify({ time: new Date().toISOString(), service: 'ehr-sandbox', ...event }))
        : undefined,
  };
  return resolveOptions(o, ENV_NAMES);
}

/** EHR_SANDBOX_CLIENTS: a JSON file holding an array of client registrations, or {"clients": [...]}. */
function clientsFile(file: string): ClientRegistration[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error((err as NodeJS.ErrnoException).code === 'ENOENT' ? 'names no file' : 'is not readable JSON');
  }
  const list = Array.isArray(parsed) ? parsed : (parsed as { clients?: unknown })?.clients;
  if (!Array.isArray(list)) {
    throw new Error('must hold an array of client registrations or {"clients": [...]}');
  }
  return list as ClientRegistration[];
}

function faultsJson(raw: string): FaultConfig {
  try {
    return JSON.parse(raw) as FaultConfig;
  } catch {
    throw new Error('must be a JSON object such as {"errorRate":0.1}');
  }
}

/** @marrowbridge/validation's validate(resource) → OperationOutcome, loaded only when asked for. */
function loadProjectValidator(): ValidateHook {
  let mod: { validate?: unknown };
  try {
    mod = require('@marrowbridge/validation') as { validate?: unknown };
  } catch {
    throw configError('EHR_SANDBOX_VALIDATE=profiles: @marrowbridge/validation could not be loaded');
  }
  if (typeof mod.validate !== 'function') {
    throw configError('EHR_SANDBOX_VALIDATE=profiles: @marrowbridge/validation does not export validate()');
  }
  return mod.validate as ValidateHook;
}
