/**
 * `marrowbridge` — the command for integration engineers and operators.
 * Exit codes: 0 success, 1 the input (or the resource) has errors, 2 usage errors and wrong settings,
 * 3 Redis cannot be reached.
 */
import type { Env } from '@marrowbridge/config';
import { dlqCommand } from './commands/dlq';
import { enqueueCommand } from './commands/enqueue';
import { profilesCommand } from './commands/profiles';
import { translateCommand } from './commands/translate';
import { validateCommand } from './commands/validate';
import { UsageError, type Io } from './io';
import { QueueSetupError } from './queues';

const USAGE = `Usage: marrowbridge <command> [options]

Commands:
  translate FILE [--json] [--time-zone ZONE]
      Translate a canonical JSON order/result or an HL7 v2 file (OML^O21, ORM^O01, ORU^R01; a batch
      gives one Bundle per message) into FHIR R4 transaction Bundles. With --json, prints the Bundle
      (an array of Bundles for a multi-message file), or an OperationOutcome when the input is rejected.
      --time-zone: IANA zone for HL7 times without a UTC offset (default UTC).
  enqueue FILE... [--json] [--time-zone ZONE]
      Translate each file (canonical JSON or HL7 v2) and put it on the delivery queues, as the gateway
      would. Prints the tracking id and the job ids; a re-sent message (same sender, message id and
      content) prints the job it made before and says it existed. A rejected message is not queued and
      its OperationOutcome is printed; the exit code is then 1.
  dlq list [--json]
      List the dead-lettered deliveries: what, when, how many attempts, why (the reason and the
      OperationOutcome's errors with their FHIRPath locations). --json prints the whole entries,
      payload included.
  dlq replay ID... | --all
      Translate the kept input of the entries again with the current code and queue it as a new job;
      the entry leaves the dead-letter queue once the new job is queued.
  validate FILE [--profile URL]... [--ig PATH]... [--json]
      Validate a FHIR R4 resource or Bundle (JSON) against base R4, the profiles it names in
      meta.profile (the project's BMA profiles are built in) and each --profile. --ig loads your own
      StructureDefinitions (a missing snapshot is generated), ValueSets and CodeSystems from files or
      folders (JSON or FHIR XML). --json prints the OperationOutcome. Exit 0 no errors, 1 errors.
  profiles build [--out DIR] [--check]
      Compile fhir-profiles/ (FSH, SUSHI offline) into fhir-profiles/build (or DIR); --check fails
      when the committed build is stale.
  help
      Show this text.

Settings (environment, as for the sync-worker): REDIS_URL (default redis://127.0.0.1:6379),
QUEUE_PREFIX (default {marrowbridge}), RETRY_ATTEMPTS (default 12), REDIS_TIMEOUT_MS (default 5000).
Exit codes: 0 done, 1 input rejected or not replayed, 2 usage error or wrong setting, 3 Redis unreachable.
`;

export async function run(argv: string[], io: Io, env: Env = process.env): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'translate':
        return await translateCommand(rest, io);
      case 'enqueue':
        return await enqueueCommand(rest, io, env);
      case 'dlq':
        return await dlqCommand(rest, io, env);
      case 'validate':
        return await validateCommand(rest, io);
      case 'profiles':
        return await profilesCommand(rest, io);
      case 'help':
      case '--help':
      case '-h':
        io.out(USAGE);
        return 0;
      case undefined:
        io.err(USAGE);
        return 2;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`marrowbridge: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    if (err instanceof QueueSetupError) {
      io.err(`marrowbridge: ${err.message}`);
      return err.exitCode;
    }
    throw err;
  }
}

export function main(): void {
  const io: Io = {
    out: (s) => process.stdout.write(s.endsWith('\n') ? s : s + '\n'),
    err: (s) => process.stderr.write(s.endsWith('\n') ? s : s + '\n'),
  };
  run(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      // An unexpected failure is a bug: say so plainly, without a stack trace unless asked for.
      io.err(`marrowbridge: internal error: ${err instanceof Error ? err.message : String(err)}`);
      if (process.env.MARROWBRIDGE_DEBUG) console.error(err);
      process.exitCode = 70;
    },
  );
}
