/** Exit codes of the `tessera` command; documented in docs/cli.md. */
export const EXIT_OK = 0;
/** A runtime failure: the command was valid but the work failed. */
export const EXIT_FAILURE = 1;
/** A usage error: unknown command or option, bad option value. */
export const EXIT_USAGE = 2;
/** `verify` found corruption. */
export const EXIT_CORRUPTION = 3;
/** Interrupted by SIGINT (128 + 2). */
export const EXIT_INTERRUPTED = 130;
