/** Helpers for the fault tests: a hash of a folder tree (to prove nothing was changed) and damaged files. */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * A hash of everything under `dir`: names, file contents, link targets and modes. Links are not
 * followed (a symlink loop hashes fine). Equal before and after a command: the command changed nothing.
 */
export function hashTree(dir: string): string {
  const hash = createHash('sha256');
  const visit = (p: string, rel: string) => {
    const stats = fs.lstatSync(p);
    hash.update(`${rel}\0${stats.mode}\0`);
    if (stats.isSymbolicLink()) hash.update(`-> ${fs.readlinkSync(p)}\0`);
    else if (stats.isFile()) hash.update(fs.readFileSync(p));
    else if (stats.isDirectory()) for (const name of fs.readdirSync(p).sort()) visit(path.join(p, name), `${rel}/${name}`);
  };
  visit(dir, '.');
  return hash.digest('hex');
}

/** Copies a folder (links as links). */
export function copyTree(from: string, to: string): string {
  fs.cpSync(from, to, { recursive: true, verbatimSymlinks: true });
  return to;
}

/** Bytes that no image decoder accepts. */
export const NOT_AN_IMAGE = Buffer.from('this is not an image, whatever its name says\n');
