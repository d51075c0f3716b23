import { readFileSync } from 'node:fs';

/**
 * Settings from environment variables. Each service declares its settings once (name, type, default, help)
 * and reads them through `loadConfig`; every problem is collected and reported together, naming the
 * variable, so a service with a wrong or missing setting stops at start with a message a person can act on.
 */
export type Env = Record<string, string | undefined>;

export interface SettingSpec<T> {
  /** Environment variable name. */
  env: string;
  help: string;
  /** Used when the variable is unset or empty; omit for a required setting. */
  default?: T;
  parse(raw: string): T;
  /** Whether the value may be printed (false for keys and secrets). */
  secret?: boolean;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Specs = Record<string, SettingSpec<unknown>>;
export type ConfigOf<S extends Specs> = { [K in keyof S]: S[K] extends SettingSpec<infer T> ? T : never };

export function loadConfig<S extends Specs>(specs: S, env: Env = process.env): ConfigOf<S> {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(specs)) {
    const raw = env[spec.env];
    if (raw === undefined || raw.trim() === '') {
      if (!('default' in spec)) problems.push(`${spec.env} is required: ${spec.help}`);
      out[key] = spec.default;
      continue;
    }
    try {
      out[key] = spec.parse(raw.trim());
    } catch (err) {
      const shown = spec.secret ? '' : ` (got "${raw.length > 80 ? raw.slice(0, 80) + '…' : raw}")`;
      problems.push(`${spec.env} ${err instanceof Error ? err.message : String(err)}${shown}: ${spec.help}`);
    }
  }
  if (problems.length) throw new ConfigError(problems);
  return out as ConfigOf<S>;
}

/** Markdown rows (name | default | meaning) for the README's configuration table. */
export function describeSettings(specs: Specs): string[] {
  // A `|` in a meaning (MSH-3|MSH-4) would end its table cell.
  return Object.values(specs).map((s) => `| \`${s.env}\` | ${defaultText(s)} | ${s.help.replace(/\|/g, '\\|')} |`);
}

export function text(raw: string): string {
  return raw;
}

function defaultText(s: SettingSpec<unknown>): string {
  if (!('default' in s)) return '(required)';
  if (s.default === undefined || s.default === '' || (Array.isArray(s.default) && s.default.length === 0))
    return '(unset)';
  return s.secret ? '(set)' : `\`${Array.isArray(s.default) ? s.default.join(' ') : String(s.default)}\``;
}

// Parsers: each throws a short reason ("must be …") that loadConfig puts after the variable's name.

/** A setting that may stay unset (its value is then undefined). */
export function optional<T>(
  env: string,
  help: string,
  parse: (raw: string) => T,
  secret = false,
): SettingSpec<T | undefined> {
  return { env, help, default: undefined, parse, secret };
}

/** Declares one setting; without a default it is required. */
export function spec<T>(
  env: string,
  help: string,
  def: T | undefined,
  parse: (raw: string) => T,
  secret = false,
): SettingSpec<T> {
  return def === undefined ? { env, help, parse, secret } : { env, help, default: def, parse, secret };
}

export function int(min: number, max: number): (raw: string) => number {
  return (raw) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`must be a whole number from ${min} to ${max}`);
    return n;
  };
}

export function port(raw: string): number {
  return int(0, 65535)(raw);
}

export function bool(raw: string): boolean {
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new Error('must be true or false');
}

export function oneOf<T extends string>(...values: T[]): (raw: string) => T {
  return (raw) => {
    if (!(values as string[]).includes(raw)) throw new Error(`must be one of ${values.join(', ')}`);
    return raw as T;
  };
}

export function httpUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new Error('must be a URL like http://host:port/path');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('must be an http:// or https:// URL');
  return raw.replace(/\/+$/, '');
}

/** PEM or JWK text as is (with `\n` escapes undone); anything else is a file path whose content is read. */
export function keyText(raw: string): string {
  if (raw.includes('-----BEGIN') || raw.startsWith('{')) return raw.replace(/\\n/g, '\n');
  try {
    return readFileSync(raw, 'utf8');
  } catch {
    throw new Error('is neither PEM/JWK text nor a readable file');
  }
}

export function list(raw: string): string[] {
  return raw
    .split(/[,\s]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}
