/**
 * Prints the README's configuration tables from the services' own setting declarations, so the README and
 * the code cannot drift (test/docs/readme.test.ts checks every variable is documented).
 * Run: pnpm exec tsx scripts/config-table.ts
 */
import { describeSettings } from '@marrowbridge/config';
import { EHR_SANDBOX_SETTINGS } from '@marrowbridge/ehr-sandbox';
import { GATEWAY_SETTINGS, MLLP_SETTINGS } from '@marrowbridge/gateway';
import { LAUNCHER_SETTINGS } from '@marrowbridge/launcher';
import { SYNC_WORKER_SETTINGS } from '@marrowbridge/sync-worker';

const sections: [string, Parameters<typeof describeSettings>[0]][] = [
  ['`pnpm start` (the launcher)', LAUNCHER_SETTINGS],
  ['sync-worker', SYNC_WORKER_SETTINGS],
  ['gateway (HTTP)', GATEWAY_SETTINGS],
  ['gateway (MLLP listener)', MLLP_SETTINGS],
  ['ehr-sandbox', EHR_SANDBOX_SETTINGS],
];
for (const [title, specs] of sections) {
  console.log(`\n#### ${title}\n\n| variable | default | meaning |\n| --- | --- | --- |`);
  for (const row of describeSettings(specs)) console.log(row);
}
