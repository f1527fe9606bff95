/**
 * The `tessera` command line. Results go to stdout, logs and progress to
 * stderr; `--json` switches results to one JSON document.
 */
import { Command, CommanderError } from 'commander';
import { nativeInfo } from '../index';
import { TesseraError } from '../errors';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './exit_codes';
import { UsageError } from './usage_error';
import { runDemo } from './demo';
import { registerObjects } from './objects';
import { registerReplication } from './replication';
import { registerServe } from './serve';
import { registerScrub, scrubExitCode } from './scrub';
import { gcExitCode, registerGc } from './gc';

function buildProgram(version: string): Command {
  const program = new Command('tessera')
    .description('Embeddable, erasure-coded object store for Node.js')
    .version(version)
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) })
    .addHelpText(
      'after',
      '\nEvery command on a store takes --data-dir (env TESSERA_DATA_DIR, default ./tessera-data);\n' +
        'a store is used by one process at a time (stop `tessera serve` before gc, scrub, heal, verify).\n' +
        'Exit codes: 0 ok, 1 failure, 2 usage error, 3 corruption found (verify, scrub, heal),\n' +
        '130 interrupted (resumable). Details: docs/cli.md.\n',
    );

  program
    .command('info')
    .description('show the native addon, its CPU features and kernels')
    .option('--json', 'print one JSON document')
    .action((options: { json?: boolean }) => {
      const info = nativeInfo();
      if (options.json) {
        process.stdout.write(JSON.stringify(info) + '\n');
        return;
      }
      process.stdout.write(
        `tessera ${info.version} (Node-API ${info.napiVersion})\n` +
          `cpu features: ${info.cpuFeatures.join(' ') || 'none detected'}\n`,
      );
    });

  program
    .command('demo')
    .description('exercise the native core end to end and print what it did')
    .option('--json', 'print one JSON document')
    .action(async (options: { json?: boolean }) => {
      await runDemo({ json: options.json === true });
    });

  registerServe(program);
  registerScrub(program);
  registerGc(program);
  registerReplication(program);
  registerObjects(program);
  return program;
}

/** One line for a failure, with the way out for the ones a new user meets. */
function describeFailure(error: unknown): string {
  if (error instanceof TesseraError) return `${error.code}: ${error.message}`;
  const sys = error as NodeJS.ErrnoException & { address?: string; port?: number };
  if (sys?.code === 'EADDRINUSE' && sys.syscall === 'listen') {
    return (
      `${sys.code}: ${sys.address ?? ''}:${sys.port ?? ''} is already in use ` +
      '(another tessera serve?); choose another with --port or TESSERA_PORT (0 picks a free one)'
    );
  }
  if (sys?.code === 'EACCES' && sys.syscall === 'listen') {
    return `${sys.code}: no permission to listen on ${sys.address ?? ''}:${sys.port ?? ''}; use a port above 1023`;
  }
  return String(error);
}

/** Runs the CLI; resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram(nativeInfo().version);
  try {
    await program.parseAsync(argv);
    return scrubExitCode !== EXIT_OK ? scrubExitCode : gcExitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end with exitCode 0; everything else is usage.
      return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    if (error instanceof UsageError) {
      process.stderr.write(`error: ${error.message}\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`tessera: ${describeFailure(error)}\n`);
    return EXIT_FAILURE;
  }
}
