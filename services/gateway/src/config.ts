import {
  ConfigError,
  httpUrl,
  int,
  keyText,
  list,
  loadConfig,
  oneOf,
  optional,
  port,
  spec,
  text,
  type Env,
} from '@marrowbridge/config';
import { ehrClientConfigProblems, ehrClientSettings } from '@marrowbridge/ehr-client';
import { QUEUE_SETTINGS } from '@marrowbridge/queue';

/** Every setting of the gateway. A wrong or missing one stops it at start, naming the variable. */
export const GATEWAY_SETTINGS = {
  port: spec('GATEWAY_PORT', 'HTTP port of the gateway (0 = any free port)', 8100, port),
  host: spec('GATEWAY_HOST', 'interface the gateway listens on', '127.0.0.1', text),
  publicUrl: optional(
    'GATEWAY_PUBLIC_URL',
    'URL clients use to reach the gateway (OpenAPI servers, CapabilityStatement); default http://host:port',
    httpUrl,
  ),
  ...QUEUE_SETTINGS,
  // The gateway only reads the EHR (dry-run diffs, readiness); it never writes.
  ...ehrClientSettings(['system/*.read']),
  auth: spec(
    'GATEWAY_AUTH',
    'jwt: bearer JWT with scopes on every route but health; off: no authentication',
    'jwt',
    oneOf('jwt', 'off'),
  ),
  jwksUrl: optional('GATEWAY_JWKS_URL', 'JWKS URL whose keys sign the bearer tokens', httpUrl),
  jwtPublicKey: optional(
    'GATEWAY_JWT_PUBLIC_KEY',
    'public key that signs the bearer tokens: PEM (SPKI) text, a JWK (JSON), or a path to a file holding either',
    keyText,
  ),
  jwtIssuer: optional('GATEWAY_JWT_ISSUER', 'required `iss` of bearer tokens (unset: not checked)', text),
  jwtAudience: optional('GATEWAY_JWT_AUDIENCE', 'required `aud` of bearer tokens (unset: not checked)', text),
  jwtAlgorithms: spec(
    'GATEWAY_JWT_ALGORITHMS',
    'accepted signature algorithms (asymmetric only)',
    ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'],
    algorithms,
  ),
  jwtClockToleranceS: spec(
    'GATEWAY_JWT_CLOCK_TOLERANCE_S',
    'seconds of clock skew tolerated on exp/nbf',
    30,
    int(0, 600),
  ),
  jsonLimitBytes: spec(
    'GATEWAY_JSON_LIMIT',
    'largest JSON body (canonical JSON, FHIR resources), e.g. 10mb, 512kb or bytes',
    10 * 1024 * 1024,
    byteSize,
  ),
  hl7LimitBytes: spec(
    'GATEWAY_HL7_LIMIT',
    'largest HL7 v2 body, e.g. 10mb, 512kb or bytes',
    10 * 1024 * 1024,
    byteSize,
  ),
  hl7TimeZone: spec(
    'HL7_TIME_ZONE',
    'IANA time zone of HL7 senders; HL7 times without a UTC offset are read in it',
    'UTC',
    timeZone,
  ),
  enqueueTimeoutMs: spec(
    'GATEWAY_ENQUEUE_TIMEOUT_MS',
    'how long intake waits for Redis to take a job before answering 503 / ACK AR',
    10_000,
    int(100, 600_000),
  ),
  readyTimeoutMs: spec('GATEWAY_READY_TIMEOUT_MS', 'timeout of each /readyz check, in ms', 2_000, int(50, 60_000)),
  logLevel: spec(
    'LOG_LEVEL',
    'pino log level',
    'info',
    oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'),
  ),
};

export type GatewayConfig = ReturnType<typeof loadGatewayConfig>;

/** Reads and checks the gateway's settings; throws ConfigError listing every problem. */
export function loadGatewayConfig(env: Env = process.env) {
  const config = loadConfig(GATEWAY_SETTINGS, env);
  const problems: string[] = [];
  problems.push(...ehrClientConfigProblems(config));
  if (config.auth === 'jwt' && !config.jwksUrl && !config.jwtPublicKey) {
    problems.push(
      'GATEWAY_JWKS_URL or GATEWAY_JWT_PUBLIC_KEY is required when GATEWAY_AUTH=jwt (set GATEWAY_AUTH=off to run without authentication)',
    );
  }
  if (config.jwksUrl && config.jwtPublicKey) {
    problems.push('set only one of GATEWAY_JWKS_URL and GATEWAY_JWT_PUBLIC_KEY');
  }
  if (problems.length) throw new ConfigError(problems);
  return config;
}

const ASYMMETRIC = /^(RS|PS|ES)(256|384|512)$|^EdDSA$/;

function algorithms(raw: string): string[] {
  const algs = list(raw);
  const bad = algs.filter((a) => !ASYMMETRIC.test(a));
  if (algs.length === 0 || bad.length) throw new Error('must list asymmetric JWS algorithms such as RS256, ES256');
  return algs;
}

const UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

export function byteSize(raw: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?$/i.exec(raw.trim());
  if (!m) throw new Error('must be a size such as 10mb, 512kb or a number of bytes');
  const n = Math.floor(Number(m[1]) * UNITS[(m[2] ?? 'b').toLowerCase()]);
  if (n < 1024 || n > 512 * 1024 ** 2) throw new Error('must be between 1kb and 512mb');
  return n;
}

function timeZone(raw: string): string {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: raw });
  } catch {
    throw new Error('must be an IANA time zone such as UTC or America/Chicago');
  }
  return raw;
}
