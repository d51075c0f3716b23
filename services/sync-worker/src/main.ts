/** `pnpm --filter ./services/sync-worker start`: runs the delivery workers until SIGTERM/SIGINT. */
import { ConfigError } from '@marrowbridge/config';
import { loadSyncWorkerConfig } from './config';
import { startSyncWorker } from './worker';

async function main(): Promise<void> {
  let config;
  try {
    config = loadSyncWorkerConfig();
  } catch (err) {
    console.error(`sync-worker: ${err instanceof ConfigError || err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  }
  const worker = await startSyncWorker(config);
  const stop = (signal: string) => {
    console.error(`sync-worker: ${signal} received, finishing jobs in flight`);
    worker.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

void main();
