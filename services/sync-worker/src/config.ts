import fs from 'node:fs';
import { bool, httpUrl, int, list, loadConfig, optional, spec, text, type Env } from '@marrowbridge/config';

/** Every setting of the sync-worker. A wrong or missing one stops it at start, naming the variable. */
export const SYNC_WORKER_SETTINGS = {
  redisUrl: spec(
    'REDIS_URL',
    'Redis holding the delivery queues (comma-separated URLs for a cluster)',
    'redis://127.0.0.1:6379',
    text,
  ),
  queuePrefix: spec(
    'QUEUE_PREFIX',
    'key prefix of the queues; must hold a {hash tag} for Redis Cluster',
    '{marrowbridge}',
    hashTagged,
  ),
  ehrBaseUrl: spec('EHR_BASE_URL', 'FHIR R4 base URL of the EHR', 'http://127.0.0.1:8103/fhir/R4', httpUrl),
  ehrClientId: optional('EHR_CLIENT_ID', 'SMART backend client id; unset means no authentication', text),
  ehrPrivateKey: optional(
    'EHR_PRIVATE_KEY',
    'the client private key: PEM text or a path to a PEM/JWK file',
    readKey,
    true,
  ),
  ehrKeyId: optional('EHR_KEY_ID', 'kid of the client key in its registered JWKS', text),
  ehrScopes: spec('EHR_SCOPES', 'scopes requested from the token endpoint', ['system/*.read', 'system/*.write'], list),
  ehrTokenUrl: optional('EHR_TOKEN_URL', 'token endpoint; discovered from the EHR when unset', httpUrl),
  ehrTimeoutMs: spec('EHR_TIMEOUT_MS', 'timeout of one EHR request, in ms', 10_000, int(100, 600_000)),
  ehrRequestRetries: spec(
    'EHR_REQUEST_RETRIES',
    'quick retries of one idempotent EHR request after a transient failure (503, 429, dropped connection), before the delivery attempt fails and waits for its backoff',
    3,
    int(0, 10),
  ),
  concurrency: spec('WORKER_CONCURRENCY', 'jobs processed at once by this process, per queue', 8, int(1, 1000)),
  rateLimitPerSecond: spec(
    'WORKER_RATE_LIMIT',
    'most jobs per second per queue across all workers (0 = no limit)',
    0,
    int(0, 100_000),
  ),
  retryAttempts: spec('RETRY_ATTEMPTS', 'attempts per delivery before it is dead-lettered', 12, int(1, 100)),
  retryBaseDelayMs: spec(
    'RETRY_BASE_DELAY_MS',
    'first retry delay, doubled each attempt (with jitter)',
    1000,
    int(1, 3_600_000),
  ),
  retryMaxDelayMs: spec('RETRY_MAX_DELAY_MS', 'longest retry delay', 300_000, int(1, 86_400_000)),
  stalledIntervalMs: spec(
    'WORKER_STALLED_INTERVAL_MS',
    'how often this worker looks for jobs whose worker died (kill -9, crash) and puts them back on the queue',
    30_000,
    int(100, 3_600_000),
  ),
  jobLockMs: spec(
    'WORKER_LOCK_DURATION_MS',
    "how long a worker's hold on an active job lasts unless renewed (renewed every half of it); a dead worker's jobs are taken over after this plus WORKER_STALLED_INTERVAL_MS",
    60_000,
    int(1000, 3_600_000),
  ),
  orderLockTtlMs: spec(
    'ORDER_LOCK_TTL_MS',
    'lifetime of a per-order lock if its holder dies',
    30_000,
    int(1000, 600_000),
  ),
  validateProfiles: spec('VALIDATE_PROFILES', 'validate against the project profiles as well as base R4', true, bool),
  logLevel: spec('LOG_LEVEL', 'pino log level', 'info', text),
};

export type SyncWorkerConfig = ReturnType<typeof loadSyncWorkerConfig>;

export function loadSyncWorkerConfig(env: Env = process.env) {
  const config = loadConfig(SYNC_WORKER_SETTINGS, env);
  if (config.ehrClientId && !config.ehrPrivateKey) {
    throw new Error('invalid configuration:\n  - EHR_PRIVATE_KEY is required when EHR_CLIENT_ID is set');
  }
  return config;
}

function hashTagged(raw: string): string {
  if (!/\{[^{}]+\}/.test(raw)) throw new Error('must contain a hash tag such as {marrowbridge}');
  return raw;
}

/** PEM text as is; anything else is a file path whose content is read. */
function readKey(raw: string): string {
  if (raw.includes('-----BEGIN')) return raw.replace(/\\n/g, '\n');
  try {
    return fs.readFileSync(raw, 'utf8');
  } catch {
    throw new Error('is neither PEM text nor a readable file');
  }
}
