/** Test helpers for the io module: temporary directories and file operations that "crash" on cue. */
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FileOps } from './atomic';

export function makeTempDir(): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), 'mobilenets-io-'));
}

export function removeDir(dir: string): Promise<void> {
  return fsp.rm(dir, { recursive: true, force: true });
}

const MUTATING = ['open', 'mkdir', 'rename', 'link', 'copyFile', 'rm'] as const;

/**
 * File operations that behave like node:fs/promises until the `crashAt`-th mutating call (1-based;
 * open, mkdir, rename, link, copyFile, rm), which throws, as does every call after it: the process
 * is dead from then on. `calls()` says how many mutating calls were made, to size a sweep over every
 * step of an operation.
 */
export function crashingFileOps(crashAt = Infinity): { ops: FileOps; calls: () => number } {
  let calls = 0;
  let crashed = false;
  const guard = <A extends unknown[], R>(name: string, fn: (...args: A) => Promise<R>, mutating: boolean) =>
    async (...args: A): Promise<R> => {
      if (mutating) calls++;
      if (crashed || calls === crashAt) {
        crashed = true;
        throw new Error(`simulated crash at ${name}(${String(args[0])})`);
      }
      return fn(...args);
    };
  const ops = { ...fsp } as Record<string, unknown>;
  for (const name of ['readFile', 'readdir', ...MUTATING]) {
    ops[name] = guard(name, (fsp as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[name], (MUTATING as readonly string[]).includes(name));
  }
  return { ops: ops as unknown as FileOps, calls: () => calls };
}
