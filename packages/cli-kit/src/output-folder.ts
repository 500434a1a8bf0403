/** Output folders the apps write into: never a file, never a folder that already holds something unless the user says so. */
import * as fs from 'node:fs';
import * as path from 'node:path';
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

/** realpath when the path exists, else the absolute path (a folder not created yet). */
function realOrResolved(p: string): string {
  const absolute = path.resolve(p);
  try {
    return fs.realpathSync(absolute);
  } catch {
    return absolute;
  }
}

/** True when `child` is `parent` or lies inside it (both resolved through symlinks where they exist). */
export function isInsideFolder(child: string, parent: string): boolean {
  const r = path.relative(realOrResolved(parent), realOrResolved(child));
  return r === '' || (!r.startsWith('..') && !path.isAbsolute(r));
}

/**
 * Refuses a run folder `out` inside the user's data folder `data` (nothing is ever written into the
 * user's data) and data inside the run folder. `why` says what writing there would do, e.g. "the
 * run's model/ and checkpoints/ would become classes of the data".
 */
export function checkSeparateFolders(out: string, data: string | null, dataFlag: string, why = 'nothing is written into your data folders'): void {
  if (data === null) return;
  if (isInsideFolder(out, data)) throw new UsageError(`--out ${out} is inside ${dataFlag} ${data}: ${why}. Choose an --out outside the data folder.`);
  if (isInsideFolder(data, out)) throw new UsageError(`${dataFlag} ${data} is inside --out ${out}: a run folder holds a run's outputs; keep the data folder outside it.`);
}
