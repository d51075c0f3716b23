/**
 * `pnpm --filter @marrowbridge/gateway start`: the gateway as its own process until SIGTERM/SIGINT.
 * The MLLP listener (HL7 v2 over TCP, MLLP_* settings) runs in the same process.
 */
import { ConfigError } from '@marrowbridge/config';
import { loadGatewayConfig } from './config';
import { loadMllpConfig, mllpListener } from './mllp';
import { startGateway } from './server';

async function main(): Promise<void> {
  let config;
  let mllp;
  try {
    config = loadGatewayConfig();
    mllp = loadMllpConfig();
  } catch (err) {
    console.error(`gateway: ${err instanceof ConfigError || err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  }
  const gateway = await startGateway(config, { mllp: mllp.enabled ? mllpListener(mllp) : undefined });
  const stop = (signal: string) => {
    console.error(`gateway: ${signal} received, finishing requests in flight`);
    gateway.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  console.error(`gateway: could not start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
