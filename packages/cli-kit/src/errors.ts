/**
 * How every CLI ends on an error: one clear line (plus its cause chain), no stack trace from inside
 * tfjs. MOBILENETS_DEBUG=1 prints the stack for bug reports.
 */

/** A mistake in how the command was called; exits with status 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export function reportError(error: unknown, write: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): number {
  const debug = process.env.MOBILENETS_DEBUG === '1';
  let e: unknown = error;
  let first = true;
  while (e !== undefined) {
    const message = e instanceof Error ? e.message : String(e);
    write(`${first ? 'error' : '  caused by'}: ${message}`);
    if (debug && e instanceof Error && e.stack) write(e.stack);
    first = false;
    e = e instanceof Error ? e.cause : undefined;
  }
  if (!debug) write('(set MOBILENETS_DEBUG=1 to see the stack trace)');
  return error instanceof UsageError ? 2 : 1;
}
