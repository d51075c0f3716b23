/**
 * `marrowbridge` — the command for integration engineers and operators.
 * Exit codes: 0 success, 1 the input (or the resource) has errors, 2 usage errors.
 */
import { translateCommand } from './commands/translate';
import { demoCommand } from './commands/demo';
import { UsageError, type Io } from './io';

const USAGE = `Usage: marrowbridge <command> [options]

Commands:
  translate FILE [--json] [--time-zone ZONE]
      Translate a canonical JSON order/result or an HL7 v2 file (OML^O21, ORM^O01, ORU^R01; a batch
      gives one Bundle per message) into FHIR R4 transaction Bundles. With --json, prints the Bundle
      (an array of Bundles for a multi-message file), or an OperationOutcome when the input is rejected.
      --time-zone: IANA zone for HL7 times without a UTC offset (default UTC).
  demo
      Translate and validate the bundled sample orders and results, then print a summary.
  help
      Show this text.
`;

export async function run(argv: string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'translate':
        return await translateCommand(rest, io);
      case 'demo':
        return await demoCommand(rest, io);
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
