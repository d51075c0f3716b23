import { ConfigError, loadConfigFromEnv } from './config';
import { startResolved } from './server';

/** Standalone entry: `pnpm --filter ./services/ehr-sandbox start`. Configuration: see loadConfigFromEnv. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfigFromEnv(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`ehr-sandbox: configuration error: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  const sandbox = await startResolved(config);
  console.log(
    JSON.stringify({
      service: 'ehr-sandbox',
      msg: 'ready',
      baseUrl: sandbox.baseUrl,
      tokenUrl: sandbox.tokenUrl,
      adminUrl: sandbox.adminUrl,
      auth: config.auth,
    }),
  );
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      return;
    }
    stopping = true;
    console.log(JSON.stringify({ service: 'ehr-sandbox', msg: `${signal}: stopping` }));
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    void sandbox.stop().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  console.error(`ehr-sandbox: failed to start: ${(err as Error)?.message ?? 'unknown error'}`);
  process.exit(1);
});
