/**
 * The `tessera` command line. Results go to stdout, logs and progress to
 * stderr; `--json` switches results to one JSON document.
 */
import { Command, CommanderError } from 'commander';
import { nativeInfo } from '../index';
import { TesseraError } from '../errors';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './exit_codes';
import { runDemo } from './demo';
import { registerReplication } from './replication';
import { registerServe } from './serve';
import { registerScrub, scrubExitCode } from './scrub';
import { gcExitCode, registerGc } from './gc';

function buildProgram(version: string): Command {
  const program = new Command('tessera')
    .description('Embeddable, erasure-coded object store for Node.js')
    .version(version)
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });

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
  return program;
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
    const message =
      error instanceof TesseraError ? `${error.code}: ${error.message}` : String(error);
    process.stderr.write(`tessera: ${message}\n`);
    return EXIT_FAILURE;
  }
}
