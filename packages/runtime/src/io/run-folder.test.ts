import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RUN_JSON, RUN_LOCK, RunFolderBusyError, acquireRunLock, readRunRecord, writeRunRecord } from './run-folder';
import { makeTempDir, removeDir } from './testing';

describe('run folder', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(async () => {
    await removeDir(dir);
  });

  it('writes and reads run.json, keeping the creation time', async () => {
    expect(readRunRecord(dir)).toBeNull();
    const first = await writeRunRecord(dir, 'mobilenet-classify', { seed: 3, data: '/data' });
    await new Promise((r) => setTimeout(r, 5));
    const second = await writeRunRecord(dir, 'mobilenet-classify', { seed: 4, data: '/data' });
    const read = readRunRecord<{ seed: number }>(dir)!;
    expect(read.settings.seed).toBe(4);
    expect(read.created).toBe(first.created);
    expect(second.updated >= first.updated).toBe(true);
    expect(fs.readdirSync(dir)).toEqual([RUN_JSON]);
  });

  it('names a damaged or foreign run.json', () => {
    fs.writeFileSync(path.join(dir, RUN_JSON), '{"format": "other"}');
    expect(() => readRunRecord(dir)).toThrow(/run\.json: expected a run record/);
    fs.writeFileSync(path.join(dir, RUN_JSON), '{ broken');
    expect(() => readRunRecord(dir)).toThrow(/run\.json is not valid JSON/);
  });

  it('keeps a second run out while the first holds the lock, and takes over a stale lock', () => {
    const lock = acquireRunLock(dir, 'test');
    expect(() => acquireRunLock(dir, 'test')).toThrow(RunFolderBusyError);
    expect(() => acquireRunLock(dir, 'test')).toThrow(/is in use by another run \(test, process \d+/);
    lock.release();
    expect(fs.existsSync(path.join(dir, RUN_LOCK))).toBe(false);
    // A lock left by a process that has exited (as after kill -9).
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    fs.writeFileSync(path.join(dir, RUN_LOCK), JSON.stringify({ pid: Number(dead.stdout), hostname: require('node:os').hostname(), app: 'x', started: 'then' }));
    const again = acquireRunLock(dir, 'test');
    expect(JSON.parse(fs.readFileSync(again.file, 'utf8')).pid).toBe(process.pid);
    again.release();
  });
});
