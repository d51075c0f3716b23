/** `pnpm --filter @marrowbridge/sync-worker start`: runs the delivery workers until SIGTERM/SIGINT. */
import { loadSyncWorkerConfig } from './config';
import { startSyncWorker, type SyncWorker } from './worker';

async function main(): Promise<void> {
  let config;
  try {
    config = loadSyncWorkerConfig();
  } catch (err) {
    console.error(`sync-worker: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  }
  // Signals are handled from the first moment: one during start-up stops the worker as soon as it is up.
  let worker: SyncWorker | undefined;
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.error(`sync-worker: ${signal} received, finishing jobs in flight`);
    if (!worker) return; // start-up below sees `stopping`
    worker.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  try {
    worker = await startSyncWorker(config);
  } catch (err) {
    console.error(`sync-worker: could not start: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
  if (stopping) {
    await worker.close();
    process.exit(0);
  }
}

void main();
