import fs from 'node:fs';
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

/** A wrong setting; the message names it. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Fills defaults and checks every option; throws ConfigError naming the first wrong one. */
export function resolveOptions(
  o: EhrSandboxOptions = {},
  names: Partial<Record<keyof EhrSandboxOptions, string>> = {},
): ResolvedOptions {
  const name = (k: keyof EhrSandboxOptions): string => names[k] ?? `options.${k}`;
  const port = o.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`${name('port')} must be an integer from 0 to 65535`);
  }
  const host = o.host ?? '127.0.0.1';
  if (typeof host !== 'string' || !host) {
    throw new ConfigError(`${name('host')} must be a host name or address`);
  }
  const basePath = o.basePath ?? '/fhir/R4';
  if (!/^(\/[A-Za-z0-9._~-]+)+$/.test(basePath)) {
    throw new ConfigError(`${name('basePath')} must look like /fhir/R4 (no trailing slash)`);
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
      throw new ConfigError(`${name('publicUrl')} must be an http(s) origin such as http://ehr:8103`);
    }
  }
  const auth = o.auth ?? 'smart';
  if (auth !== 'smart' && auth !== 'off') {
    throw new ConfigError(`${name('auth')} must be "smart" or "off"`);
  }
  const tokenTtlSeconds = o.tokenTtlSeconds ?? 300;
  if (typeof tokenTtlSeconds !== 'number' || !Number.isInteger(tokenTtlSeconds) || tokenTtlSeconds < 1) {
    throw new ConfigError(`${name('tokenTtlSeconds')} must be a whole number of seconds, at least 1`);
  }
  if (o.adminToken !== undefined && (typeof o.adminToken !== 'string' || o.adminToken.length < 8)) {
    throw new ConfigError(`${name('adminToken')} must be a string of at least 8 characters`);
  }
  if (o.adminToken === undefined && !isLoopback(host)) {
    throw new ConfigError(
      `${name('adminToken')} is required when binding to ${host} (a non-loopback address); /admin would be open to the network`,
    );
  }
  const clients = o.clients ?? [];
  if (!Array.isArray(clients)) {
    throw new ConfigError(`${name('clients')} must be an array of client registrations`);
  }
  const seen = new Set<string>();
  for (const c of clients) {
    try {
      checkRegistration(c);
    } catch (err) {
      throw new ConfigError(`${name('clients')}: ${(err as Error).message}`);
    }
    if (seen.has(c.clientId)) {
      throw new ConfigError(`${name('clients')}: client ${c.clientId} is registered twice`);
    }
    seen.add(c.clientId);
  }
  let faults: FaultConfig;
  try {
    faults = checkFaultConfig(o.faults ?? {}, name('faults'));
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  if (o.validate !== undefined && typeof o.validate !== 'function') {
    throw new ConfigError(`${name('validate')} must be a function (resource) => OperationOutcome`);
  }
  const referentialIntegrity = o.referentialIntegrity ?? true;
  if (typeof referentialIntegrity !== 'boolean') {
    throw new ConfigError(`${name('referentialIntegrity')} must be true or false`);
  }
  const bodyLimitBytes = o.bodyLimitBytes ?? 10 * 1024 * 1024;
  if (!Number.isInteger(bodyLimitBytes) || bodyLimitBytes < 1024) {
    throw new ConfigError(`${name('bodyLimitBytes')} must be an integer of at least 1024`);
  }
  if (o.log !== undefined && typeof o.log !== 'function') {
    throw new ConfigError(`${name('log')} must be a function`);
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

/** Environment variables read by {@link loadConfigFromEnv}, by option. */
export const ENV_NAMES: Partial<Record<keyof EhrSandboxOptions, string>> = {
  port: 'EHR_SANDBOX_PORT',
  host: 'EHR_SANDBOX_HOST',
  basePath: 'EHR_SANDBOX_BASE_PATH',
  publicUrl: 'EHR_SANDBOX_PUBLIC_URL',
  auth: 'EHR_SANDBOX_AUTH',
  clients: 'EHR_SANDBOX_CLIENTS',
  tokenTtlSeconds: 'EHR_SANDBOX_TOKEN_TTL',
  adminToken: 'EHR_SANDBOX_ADMIN_TOKEN',
  faults: 'EHR_SANDBOX_FAULTS',
  validate: 'EHR_SANDBOX_VALIDATE',
  referentialIntegrity: 'EHR_SANDBOX_REFERENTIAL_INTEGRITY',
};

/**
 * The standalone server's configuration, from the environment:
 * EHR_SANDBOX_PORT (default 8103), EHR_SANDBOX_HOST (127.0.0.1), EHR_SANDBOX_AUTH (smart|off),
 * EHR_SANDBOX_CLIENTS (path of a JSON file: an array of client registrations, or {"clients": [...]}),
 * EHR_SANDBOX_TOKEN_TTL (seconds), EHR_SANDBOX_ADMIN_TOKEN, EHR_SANDBOX_BASE_PATH,
 * EHR_SANDBOX_PUBLIC_URL, EHR_SANDBOX_FAULTS (JSON, as POST /admin/faults),
 * EHR_SANDBOX_VALIDATE (off|profiles: profiles plugs in @marrowbridge/validation),
 * EHR_SANDBOX_REFERENTIAL_INTEGRITY (on|off), EHR_SANDBOX_LOG (info|silent).
 * Throws ConfigError naming the wrong variable.
 */
export function loadConfigFromEnv(env: NodeJS.ProcessEnv = process.env): ResolvedOptions {
  const o: EhrSandboxOptions = {};
  const get = (k: string): string | undefined => {
    const v = env[k];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  const port = get('EHR_SANDBOX_PORT');
  o.port = port === undefined ? 8103 : intOf('EHR_SANDBOX_PORT', port);
  o.host = get('EHR_SANDBOX_HOST');
  o.basePath = get('EHR_SANDBOX_BASE_PATH');
  o.publicUrl = get('EHR_SANDBOX_PUBLIC_URL');
  o.auth = get('EHR_SANDBOX_AUTH') as EhrSandboxOptions['auth'];
  const ttl = get('EHR_SANDBOX_TOKEN_TTL');
  if (ttl !== undefined) {
    o.tokenTtlSeconds = intOf('EHR_SANDBOX_TOKEN_TTL', ttl);
  }
  o.adminToken = get('EHR_SANDBOX_ADMIN_TOKEN');
  const clientsPath = get('EHR_SANDBOX_CLIENTS');
  if (clientsPath) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(fs.readFileSync(clientsPath, 'utf8'));
    } catch (err) {
      const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : 'not readable JSON';
      throw new ConfigError(`EHR_SANDBOX_CLIENTS (${clientsPath}): ${why}`);
    }
    const list = Array.isArray(parsed) ? parsed : (parsed as { clients?: unknown })?.clients;
    if (!Array.isArray(list)) {
      throw new ConfigError(
        `EHR_SANDBOX_CLIENTS (${clientsPath}): expected an array of client registrations or {"clients": [...]}`,
      );
    }
    o.clients = list as ClientRegistration[];
  }
  const faults = get('EHR_SANDBOX_FAULTS');
  if (faults) {
    try {
      o.faults = JSON.parse(faults) as FaultConfig;
    } catch {
      throw new ConfigError('EHR_SANDBOX_FAULTS must be a JSON object such as {"errorRate":0.1}');
    }
  }
  const integrity = get('EHR_SANDBOX_REFERENTIAL_INTEGRITY');
  if (integrity !== undefined) {
    if (integrity !== 'on' && integrity !== 'off') {
      throw new ConfigError('EHR_SANDBOX_REFERENTIAL_INTEGRITY must be "on" or "off"');
    }
    o.referentialIntegrity = integrity === 'on';
  }
  const validate = get('EHR_SANDBOX_VALIDATE') ?? 'off';
  if (validate === 'profiles') {
    o.validate = loadProjectValidator();
  } else if (validate !== 'off') {
    throw new ConfigError('EHR_SANDBOX_VALIDATE must be "off" or "profiles"');
  }
  const logLevel = get('EHR_SANDBOX_LOG') ?? 'info';
  if (logLevel !== 'info' && logLevel !== 'silent') {
    throw new ConfigError('EHR_SANDBOX_LOG must be "info" or "silent"');
  }
  if (logLevel === 'info') {
    o.log = (event) =>
      console.log(JSON.stringify({ time: new Date().toISOString(), service: 'ehr-sandbox', ...event }));
  }
  return resolveOptions(o, ENV_NAMES);
}

function intOf(name: string, value: string): number {
  if (!/^\d+$/.test(value)) {
    throw new ConfigError(`${name} must be a whole number (got "${value}")`);
  }
  return Number(value);
}

/** @marrowbridge/validation's validate(resource) → OperationOutcome, loaded only when asked for. */
function loadProjectValidator(): ValidateHook {
  let mod: { validate?: unknown };
  try {
    mod = require('@marrowbridge/validation') as { validate?: unknown };
  } catch {
    throw new ConfigError('EHR_SANDBOX_VALIDATE=profiles: @marrowbridge/validation could not be loaded');
  }
  if (typeof mod.validate !== 'function') {
    throw new ConfigError('EHR_SANDBOX_VALIDATE=profiles: @marrowbridge/validation does not export validate()');
  }
  return mod.validate as ValidateHook;
}
