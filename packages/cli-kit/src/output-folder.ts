/** Output folders the apps write into: never a file, never a folder that already holds something unless the user says so. */
import * as fs from 'node:fs';
import { UsageError } from './errors';

/**
 * Refuses `dir` when it is a file, when part of its path is a file, or when it is a folder that is not
 * empty (unless `overwrite`). A missing folder is fine: the caller creates it. `writes` says what the
 * command would put there, e.g. "generate writes <class>/<n>.png files".
 */
export function checkOutputFolder(option: string, dir: string, overwrite: boolean, writes: string): void {
  let entries: string[];
  try {
    if (!fs.statSync(dir).isDirectory()) throw new UsageError(`${option} ${dir}: this is a file, not a folder. Give a new or empty folder.`);
    entries = fs.readdirSync(dir);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    if ((error as NodeJS.ErrnoException).code === 'ENOTDIR') throw new UsageError(`${option} ${dir}: a part of this path is a file, not a folder. Give a new or empty folder.`);
    throw new Error(`${option} ${dir}: cannot read this folder`, { cause: error });
  }
  if (entries.length === 0 || overwrite) return;
  const shown = entries.sort().slice(0, 5).join(', ');
  throw new UsageError(
    `${option} ${dir} is not empty (it holds ${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}: ${shown}${entries.length > 5 ? ', …' : ''}). ` +
      `${writes} and would overwrite files of the same names. Choose a new or empty folder, or pass --overwrite to write into it anyway.`,
  );
}
