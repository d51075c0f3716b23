import { bool, ConfigError, int, loadConfig, spec, text, type Env } from '@marrowbridge/config';
import { ehrClientConfigProblems, ehrClientSettings } from '@marrowbridge/ehr-client';
import { QUEUE_SETTINGS, RETRY_SETTINGS } from '@marrowbridge/queue';

/** Every setting of the sync-worker. A wrong or missing one stops it at start, naming the variable. */
export const SYNC_WORKER_SETTINGS = {
  ...QUEUE_SETTINGS,
  ...ehrClientSettings(['system/*.read', 'system/*.write']),
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
  ...RETRY_SETTINGS,
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
  const problems = ehrClientConfigProblems(config);
  if (problems.length) throw new ConfigError(problems);
  return config;
}
