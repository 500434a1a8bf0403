/**
 * A run folder: what a training app writes under `--out`. It records the run's settings (run.json), so
 * that `--resume` and `eval --run` need nothing but the folder, and it holds a lock file while a run
 * is busy in it, so that a second run cannot interleave its files with the first one's.
 *
 *     <out>/run.json    { format, version, app, created, updated, settings }   written atomically
 *     <out>/.lock       { pid, hostname, app, started }                         while a run is busy
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ioError, nodeFileOps, writeFileAtomic } from './atomic';
import { FileCheckpointStore } from './checkpoint-store';

export const RUN_JSON = 'run.json';
export const RUN_LOCK = '.lock';
const FORMAT = 'mobilenets-run';

/** The contents of run.json. `settings` is the app's own record (flags resolved to values, absolute paths). */
export interface RunRecord<S = Record<string, unknown>> {
  format: typeof FORMAT;
  version: 1;
  /** The app that wrote the run, e.g. 'mobilenet-classify'. */
  app: string;
  /** ISO times of the first and the latest write. */
  created: string;
  updated: string;
  settings: S;
}

/** Reads `<dir>/run.json`; null when there is none. A damaged or foreign file is an Error naming it. */
export function readRunRecord<S = Record<string, unknown>>(dir: string): RunRecord<S> | null {
  const file = path.join(dir, RUN_JSON);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw ioError(`cannot read ${file}`, error);
  }
  let json: Partial<RunRecord<S>>;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw ioError(`${file} is not valid JSON (it records a training run's settings)`, error);
  }
  if (typeof json !== 'object' || json === null || json.format !== FORMAT || json.version !== 1) {
    throw new Error(`${file}: expected a run record (format '${FORMAT}', version 1); this file was not written by a MobileNets.ts app.`);
  }
  if (typeof json.app !== 'string' || typeof json.settings !== 'object' || json.settings === null) {
    throw new Error(`${file}: expected "app" (a string) and "settings" (an object).`);
  }
  return json as RunRecord<S>;
}

/** Writes `<dir>/run.json` atomically, keeping `created` from an earlier record. */
export async function writeRunRecord<S>(dir: string, app: string, settings: S): Promise<RunRecord<S>> {
  const now = new Date().toISOString();
  const previous = readRunRecord(dir);
  const record: RunRecord<S> = { format: FORMAT, version: 1, app, created: previous?.created ?? now, updated: now, settings };
  await fs.promises.mkdir(dir, { recursive: true });
  await writeFileAtomic(path.join(dir, RUN_JSON), `${JSON.stringify(record, null, 1)}\n`, nodeFileOps);
  return record;
}

interface LockContents {
  pid: number;
  hostname: string;
  app: string;
  started: string;
}

/** Thrown when another live process holds the run folder's lock. */
export class RunFolderBusyError extends Error {
  override name = 'RunFolderBusyError';
  constructor(readonly dir: string, readonly holder: LockContents) {
    super(
      `${dir} is in use by another run (${holder.app}, process ${holder.pid} on ${holder.hostname}, started ${holder.started}). ` +
        `Wait for it to finish, stop it, or choose another --out.`,
    );
  }
}

export interface RunLock {
  readonly file: string;
  /** Removes the lock (idempotent). */
  release(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

/**
 * Takes `<dir>/.lock` for this process. A lock left by a process that no longer runs (a kill -9, a
 * power cut) on this host is taken over; one held by a live process, or by another host (a shared
 * drive), is a {@link RunFolderBusyError}. The lock is released on `release()` and at process exit.
 */
export function acquireRunLock(dir: string, app: string): RunLock {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, RUN_LOCK);
  const mine: LockContents = { pid: process.pid, hostname: os.hostname(), app, started: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(file, `${JSON.stringify(mine)}\n`, { flag: 'wx' });
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        process.removeListener('exit', release);
        try {
          const current = JSON.parse(fs.readFileSync(file, 'utf8')) as LockContents;
          if (current.pid === mine.pid && current.started === mine.started) fs.rmSync(file, { force: true });
        } catch {
          // already gone
        }
      };
      process.on('exit', release);
      return { file, release };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError(`cannot create the lock file ${file}`, error);
    }
    let holder: LockContents | null = null;
    try {
      holder = JSON.parse(fs.readFileSync(file, 'utf8')) as LockContents;
    } catch {
      holder = null; // empty or half-written: its writer died before finishing
    }
    if (holder !== null && typeof holder.pid === 'number' && (holder.hostname !== mine.hostname || alive(holder.pid))) {
      throw new RunFolderBusyError(dir, holder);
    }
    fs.rmSync(file, { force: true }); // stale: its process is gone
  }
  throw new Error(`cannot take the lock file ${file}: it keeps reappearing; another process is starting a run in ${dir}.`);
}

/** A run folder in the wrong state for what was asked (resume without a run, a new run over an old one): the user's choice of folder, so apps report it as a usage error. */
export class RunFolderStateError extends RangeError {
  override name = 'RunFolderStateError';
}

/**
 * Opens the run folder `out` for a training run of `app`, holding its lock throughout `body`: a new run
 * needs a folder without a run (no run.json, no checkpoints); `resuming` needs both a run.json and a
 * 'last' checkpoint. `body` gets the checkpoint store and the recorded settings (null for a new run).
 * A folder another run holds is reported before anything about its contents (they are changing).
 */
export async function withRunFolder<S, T>(
  out: string,
  app: string,
  options: {
    resuming: boolean;
    readSettings: (dir: string) => S | null;
    /** How a folder in the wrong state is reported (apps: their usage error). Default: a RunFolderStateError. */
    stateError?: (message: string) => Error;
  },
  body: (store: FileCheckpointStore, recorded: S | null) => Promise<T>,
): Promise<T> {
  const stateError = options.stateError ?? ((message: string) => new RunFolderStateError(message));
  const early = fs.existsSync(out) ? acquireRunLock(out, app) : null;
  try {
    const store = new FileCheckpointStore(path.join(out, 'checkpoints'));
    const recorded = options.readSettings(out);
    const existing = await store.list();
    if (options.resuming) {
      if (recorded === null) throw stateError(`--resume ${out}: there is no run there (no ${RUN_JSON}). Give the run folder an earlier 'train --out' wrote, or start without --resume.`);
      if (!existing.includes('last')) throw stateError(`--resume ${out}: the run has no checkpoint to continue from (${path.join(store.dir, 'last')} is missing); it stopped before its first checkpoint. Start it again without --resume.`);
    } else if (recorded !== null || existing.length > 0) {
      throw stateError(`--out ${out} holds an earlier run${existing.length > 0 ? ` (checkpoints: ${existing.join(', ')})` : ''}: pass --resume to continue it, or choose another --out.`);
    }
    const lock = early ?? acquireRunLock(out, app);
    try {
      return await body(store, options.resuming ? recorded : null);
    } finally {
      lock.release();
    }
  } finally {
    early?.release();
  }
}
