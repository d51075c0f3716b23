/**
 * `pnpm start`: the whole stack on its embedded defaults, then the demo. Runs until Ctrl-C (or, with
 * DEMO_EXIT=true, stops after the summary; exit code 1 if any sample was not delivered).
 */
import { ConfigError } from '@marrowbridge/config';
import { loadLauncherConfig } from './config';
import { runDemo } from './demo';
import { startStack } from './launcher';
import { RedisUnavailableError } from './redis';

const say = (line: string) => process.stdout.write(line + '\n');

async function main(): Promise<number> {
  let config;
  try {
    config = loadLauncherConfig();
  } catch (err) {
    console.error(`marrowbridge: ${err instanceof ConfigError ? err.message : String(err)}`);
    return 2;
  }
  say('marrowbridge: starting Redis, the EHR, a sync-worker and the gateway…');
  let stack;
  try {
    stack = await startStack(config, process.env, say);
  } catch (err) {
    if (err instanceof RedisUnavailableError || err instanceof ConfigError) {
      console.error(`marrowbridge: ${err.message}`);
      return 2;
    }
    console.error(`marrowbridge: could not start: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }

  let ok = true;
  if (config.sendSamples) ok = (await runDemo(stack, say)).ok;

  const api = stack.gateway.url;
  say('\nmarrowbridge is running:');
  say(`  API           ${api}   (OpenAPI: ${api}/openapi.json)`);
  say(`  dashboard     ${api}/admin/queues`);
  say(`  FHIR ops      ${api}/fhir/metadata, POST ${api}/fhir/Bundle/$validate, POST ${api}/$translate`);
  if (stack.mllpPort) say(`  HL7 v2 MLLP   127.0.0.1:${stack.mllpPort}`);
  say(`  EHR (FHIR)    ${stack.ehrBaseUrl}`);
  say(`  logs          ${stack.logFile}`);
  if (stack.token) {
    say('\nThe API wants a bearer token; this one (12 h, every scope) was made for you:');
    say(`  export TOKEN=${stack.token}`);
    say(`  curl -H "Authorization: Bearer $TOKEN" ${api}/orders/ORD-26-000214`);
    say('  (GATEWAY_AUTH=off pnpm start runs without tokens, e.g. to open the dashboard in a browser.)');
  }

  if (config.exitAfterDemo) {
    await stack.stop();
    return ok ? 0 : 1;
  }
  say('\nPress Ctrl-C to stop.');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  say('\nmarrowbridge: stopping…');
  await stack.stop();
  say('marrowbridge: stopped.');
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`marrowbridge: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
