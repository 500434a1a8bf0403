/**
 * How every CLI ends on an error: one clear line (plus its cause chain), no stack trace from inside
 * tfjs. MOBILENETS_DEBUG=1 prints the stack for bug reports.
 */

/** A mistake in how the command was called; exits with status 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * `run()`, with a RangeError it throws (a library's "this setting cannot work") turned into a usage
 * error that names the flags behind it: `flags` such as "--batch 64, --input-size 224".
 */
export function rangeErrorsAsUsage<T>(run: () => T, flags: string): T {
  try {
    return run();
  } catch (error) {
    if (error instanceof RangeError) throw new UsageError(`${error.message} (${flags})`, { cause: error });
    throw error;
  }
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

/** The part of a commander `Command` that {@link exitWithUsageStatus} uses (cli-kit does not depend on commander). */
interface CommandTree {
  readonly commands: readonly CommandTree[];
  exitOverride(callback: (error: { exitCode: number; code: string }) => void): unknown;
}

/**
 * Makes the command-line parser's own errors (an unknown option, a missing argument or required option,
 * a value outside --choices) end with status 2 like every other usage error, instead of commander's 1.
 * Commander has already printed its message (and the help) when this runs; help and --version stay 0.
 * Call it on the program after adding every subcommand: it applies to the whole tree.
 */
export function exitWithUsageStatus<T extends CommandTree>(program: T): T {
  const visit = (command: CommandTree) => {
    command.exitOverride((error) => {
      process.exit(error.exitCode === 0 ? 0 : 2);
    });
    for (const sub of command.commands) visit(sub);
  };
  visit(program);
  return program;
}

/**
 * Why `file` could not be written, in words: the system error's code turned into what it means for the
 * user (no temp-file names or library internals); other errors keep their message.
 */
export function describeWriteError(file: string, error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const resolved = file.startsWith('/') ? file : `${process.cwd()}/${file}`;
  const folder = resolved.slice(0, Math.max(1, resolved.lastIndexOf('/')));
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return `permission denied (${folder} is not writable for you)`;
    case 'EROFS':
      return `${folder} is on a read-only file system`;
    case 'ENOENT':
      return `the folder ${folder} does not exist`;
    case 'ENOTDIR':
    case 'EEXIST':
      return `a part of the path ${folder} is a file, not a folder`;
    case 'EISDIR':
      return `${file} is a folder`;
    case 'ENOSPC':
      return 'no space left on the device';
    case 'EDQUOT':
      return 'your disk quota is used up';
    default:
      return error instanceof Error ? error.message : String(error);
  }
}
