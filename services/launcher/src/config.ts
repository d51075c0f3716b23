import path from 'node:path';
import { bool, httpUrl, loadConfig, oneOf, optional, port, spec, text, type Env } from '@marrowbridge/config';

/** The launcher's own settings; each service it starts also reads its own (see the README's table). */
export const LAUNCHER_SETTINGS = {
  redisUrl: optional(
    'REDIS_URL',
    'Redis to use; unset: a redis-server is started with its data in MARROWBRIDGE_DATA_DIR',
    text,
  ),
  redisPort: spec('LOCAL_REDIS_PORT', 'port of the redis-server started for you', 6390, port),
  ehrBaseUrl: optional('EHR_BASE_URL', 'FHIR R4 base URL of an external EHR; unset: the embedded ehr-sandbox', httpUrl),
  sandboxPort: spec('EHR_SANDBOX_PORT', 'port of the embedded ehr-sandbox', 8103, port),
  sandboxAuth: spec(
    'EHR_SANDBOX_AUTH',
    'smart: the sandbox needs SMART tokens; off: browse it without a token',
    'smart' as 'smart' | 'off',
    oneOf('smart', 'off'),
  ),
  gatewayPort: spec('GATEWAY_PORT', 'HTTP port of the gateway', 8100, port),
  mllpPort: spec('MLLP_PORT', 'MLLP port of the gateway (HL7 v2 over TCP)', 2575, port),
  gatewayAuth: spec(
    'GATEWAY_AUTH',
    'jwt: bearer tokens required (the demo mints one and prints it); off: no tokens',
    'jwt' as 'jwt' | 'off',
    oneOf('jwt', 'off'),
  ),
  sendSamples: spec('DEMO_SAMPLES', 'send the sample orders and results after start', true, bool),
  exitAfterDemo: spec('DEMO_EXIT', 'stop once the summary is printed instead of running until Ctrl-C', false, bool),
  dataDir: spec(
    'MARROWBRIDGE_DATA_DIR',
    'folder for the local Redis data and the logs (relative to the repository)',
    '.data',
    text,
  ),
  logLevel: spec('LOG_LEVEL', 'log level of the services (their JSON logs go to .data/logs)', 'info', text),
};

export type LauncherConfig = ReturnType<typeof loadLauncherConfig>;

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

export function loadLauncherConfig(env: Env = process.env) {
  const config = loadConfig(LAUNCHER_SETTINGS, env);
  return { ...config, dataDir: path.resolve(REPO_ROOT, config.dataDir) };
}
