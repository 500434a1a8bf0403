/**
 * Crash-safe file writes: write a temporary file in the same directory, fsync it, rename it over the
 * target, fsync the directory. A rename within one directory is atomic, so a reader sees the old file
 * or the new one, never a partial one.
 */
import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { getSystemErrorMap } from 'node:util';

/**
 * The file operations the io module uses. Everything goes through this object so that tests can
 * substitute one that fails at a chosen step, simulating a crash there.
 */
export type FileOps = Pick<typeof fsp, 'open' | 'readFile' | 'readdir' | 'mkdir' | 'rename' | 'link' | 'copyFile' | 'rm'>;

export const nodeFileOps: FileOps = fsp;

/**
 * An Error whose message says what failed and why, with the underlying I/O error as `cause`. With
 * `hidePath` (a temporary file's), a reason that names that path is given without paths instead
 * ('EACCES: permission denied'): messages name the files the caller knows, never temporary ones.
 */
export function ioError(message: string, cause: unknown, options: { hidePath?: string } = {}): Error {
  const text = (cause as { message?: unknown } | null)?.message;
  let reason = typeof text === 'string' ? text : String(cause); // not instanceof: errors may come from another realm
  if (options.hidePath !== undefined && reason.includes(options.hidePath)) reason = reasonWithoutPaths(cause) ?? reason.split(options.hidePath).join('(a temporary file)');
  return new Error(`${message}: ${reason}`, { cause });
}

/** 'CODE: description' of a Node system error (the part of its message before the syscall and paths). */
function reasonWithoutPaths(cause: unknown): string | undefined {
  const { code, errno } = (cause ?? {}) as NodeJS.ErrnoException;
  if (typeof code !== 'string') return undefined;
  const description = typeof errno === 'number' ? getSystemErrorMap().get(errno)?.[1] : undefined;
  return description === undefined ? code : `${code}: ${description}`;
}

export function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | null)?.code === 'ENOENT';
}

/** Reads a text file; a failure names the file, and says `missingHint` when the file does not exist. */
export async function readText(file: string, ops: FileOps, caller: string, missingHint: string): Promise<string> {
  try {
    return await ops.readFile(file, 'utf8');
  } catch (error) {
    throw ioError(`${caller}: cannot read ${file}${isNotFound(error) ? ` (${missingHint})` : ''}`, error);
  }
}

const TEMPORARY = /^\..+\.[0-9a-f]{12}\.tmp$/;

/** Writes `data` to a fresh temporary file next to `file` and fsyncs it; returns the temporary path. */
export async function writeTemp(file: string, data: Uint8Array | string, ops: FileOps): Promise<string> {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await ops.open(temp, 'wx');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    return temp;
  } catch (error) {
    await ops.rm(temp, { force: true }).catch(() => undefined);
    throw ioError(`could not write ${file}`, error, { hidePath: temp });
  }
}

/** Deletes the temporary files that a crashed write left in `dir` (concurrent writers to one directory are not supported). */
export async function removeTemporaries(dir: string, ops: FileOps): Promise<void> {
  const names = await ops.readdir(dir).catch(() => [] as string[]);
  for (const name of names) if (TEMPORARY.test(name)) await ops.rm(path.join(dir, name), { force: true }).catch(() => undefined);
}

/** Renames `temp` over `file` and makes the rename durable. */
export async function commit(temp: string, file: string, ops: FileOps): Promise<void> {
  try {
    await ops.rename(temp, file);
  } catch (error) {
    await ops.rm(temp, { force: true }).catch(() => undefined);
    throw ioError(`could not replace ${file}`, error, { hidePath: temp });
  }
  await fsyncDir(path.dirname(file), ops);
}

export async function writeFileAtomic(file: string, data: Uint8Array | string, ops: FileOps): Promise<void> {
  await commit(await writeTemp(file, data, ops), file, ops);
}

/** Makes the directory's entries (renames, new files) durable. A no-op on Windows, which cannot open directories. */
export async function fsyncDir(dir: string, ops: FileOps): Promise<void> {
  if (process.platform === 'win32') return;
  try {
    const handle = await ops.open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw ioError(`could not fsync directory ${dir}`, error);
  }
}
