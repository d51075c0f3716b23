/**
 * `pnpm --filter @marrowbridge/gateway start`: the gateway as its own process until SIGTERM/SIGINT.
 *
 * MLLP: the HL7 listener is hosted in this process through `startGateway(config, { mllp })`, where `mllp` is a
 * MllpListenerStarter (server.ts): it gets `ctx.enqueue(result, raw, control)` (a sink for a listener that
 * translates by itself) and `ctx.handleMessage(bytes)` (the POST /hl7 path), and returns `{ stop() }`.
 * Not wired here yet: the listener and its settings belong to the HL7/MLLP work (see the README).
 */
import { ConfigError } from '@marrowbridge/config';
import { loadGatewayConfig } from './config';
import { startGateway } from './server';

async function main(): Promise<void> {
  let config;
  try {
    config = loadGatewayConfig();
  } catch (err) {
    console.error(`gateway: ${err instanceof ConfigError || err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  }
  const gateway = await startGateway(config);
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
