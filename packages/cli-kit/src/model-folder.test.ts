import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UsageError, describeWriteError } from './errors';
import { describeModelLoadError, resolveModelFolder } from './model-folder';

let tmp: string;
const T = (...p: string[]) => path.join(tmp, ...p);
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-kit-model-folder-'));
  for (const dir of ['bare', 'run/model', 'unfinished/checkpoints', 'empty']) fs.mkdirSync(T(dir), { recursive: true });
  for (const file of ['bare/model.json', 'run/model/model.json', 'run/run.json', 'file.txt']) fs.writeFileSync(T(file), '{}');
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('resolveModelFolder', () => {
  it('takes a model folder, its model.json, or a run folder, and finds the run a model belongs to', () => {
    expect(resolveModelFolder(T('bare'))).toEqual({ modelDir: T('bare'), runDir: null });
    expect(resolveModelFolder(T('bare', 'model.json'))).toEqual({ modelDir: T('bare'), runDir: null });
    expect(resolveModelFolder(T('run'))).toEqual({ modelDir: T('run', 'model'), runDir: T('run') });
    expect(resolveModelFolder(T('run', 'model'))).toEqual({ modelDir: T('run', 'model'), runDir: T('run') });
  });

  it('says what is wrong, naming the option, as a UsageError', () => {
    const cases: [string, string][] = [
      [T('nowhere'), `--model ${T('nowhere')}: no such file or folder.`],
      [T('file.txt'), `--model ${T('file.txt')}: this is a file, not a folder.`],
      [T('empty'), `--model ${T('empty')}: no model.json in this folder or in ${T('empty', 'model')}.`],
      [T('unfinished'), `--model ${T('unfinished')}: this run folder has no model yet (no model/model.json: training writes it when it ends). Finish the run with 'mobilenet-classify train --resume ${T('unfinished')}'`],
    ];
    for (const [given, message] of cases) {
      expect(() => resolveModelFolder(given)).toThrow(UsageError);
      expect(() => resolveModelFolder(given)).toThrow(message);
    }
    expect(() => resolveModelFolder(T('empty'), '--init')).toThrow(/^--init /);
  });
});

describe('describeModelLoadError', () => {
  it("rephrases tfjs's deserialization errors and keeps the file system handler's own", () => {
    expect(describeModelLoadError(new Error('Unknown layer: FancyConv. This may be due to one of the following reasons:\n1. The layer is defined in Python'))).toBe(
      "model.json uses a layer type this project does not know ('FancyConv'): the model was not saved by MobileNets.ts, or model.json was edited or damaged",
    );
    expect(describeModelLoadError(new Error(''))).toMatch(/does not describe a model that can be built/);
    expect(describeModelLoadError(new Error("fileSystem: cannot read /m/weights.bin, listed in /m/model.json: ENOENT: no such file or directory, open '/m/weights.bin'"))).toBe('/m/weights.bin is missing (/m/model.json lists it)');
    expect(describeModelLoadError(new Error('/m/model.json is not valid JSON: Unexpected end of JSON input'))).toBe('/m/model.json is not valid JSON: Unexpected end of JSON input');
  });
});

describe('describeWriteError', () => {
  it('turns system error codes into words about the folder', () => {
    const error = (code: string) => Object.assign(new Error(`${code}: internal text`), { code });
    expect(describeWriteError('/a/b/c.png', error('EACCES'))).toBe('permission denied (/a/b is not writable for you)');
    expect(describeWriteError('/a/b/c.png', error('EROFS'))).toBe('/a/b is on a read-only file system');
    expect(describeWriteError('/a/b/c.png', error('ENOENT'))).toBe('the folder /a/b does not exist');
    expect(describeWriteError('/a/b/c.png', error('ENOSPC'))).toBe('no space left on the device');
    expect(describeWriteError('/a/b/c.png', new Error('something else'))).toBe('something else');
  });
});
