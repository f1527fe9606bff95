/**
 * A usage mistake (a bad option value, a missing required option): the CLI
 * prints `error: <message>` on stderr and exits 2 (EXIT_USAGE), as it does
 * for commander's own unknown-option and missing-argument errors.
 */
import { TesseraError } from '../errors';

export class UsageError extends TesseraError {
  constructor(message: string) {
    super('ERR_INVALID_ARG_VALUE', message);
  }
}
