/**
 * Bad inputs and faults for `mobilenet summary`, `export` and `bench infer`, run as a user runs them:
 * the exit status (2: usage error, 1: failure), a message that names the flag or file at fault, no
 * stack trace, and no model or image folder changed. Independent commands run two at a time.
 */
import '@tensorflow/tfjs-backend-cpu';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { mobilenetV1 } from '@mobilenets/backbone';
import { generateClassificationDataset } from '@mobilenets/datasets';
import { fileSystem } from '@mobilenets/runtime';
import { copyTree, hashTree, NOT_AN_IMAGE } from './fixtures';
import { type CliResult, inPool, runCliAsync } from './run-cli';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mobilenet-faults-'));
const T = (...parts: string[]) => path.join(tmp, ...parts);
const tiny = ['--arch', 'v1', '--alpha', '0.25', '--input-size', '32'];

interface Case {
  name: string;
  args: string[];
  status: number;
  stderr?: string[];
  check?: (r: CliResult) => void;
}

const cases: Case[] = [
  // summary
  { name: 'summary: --alpha 2 for v1', args: ['summary', '--alpha', '2'], status: 2, stderr: ['error: --alpha must be a value in (0, 1] (1, 0.75, 0.5 and 0.25 are the published ones). Received 2.'] },
  { name: 'summary: --alpha -0.5 for v2', args: ['summary', '--arch', 'v2', '--alpha', '-0.5'], status: 2, stderr: ['error: --alpha must be a finite value > 0 (0.35 to 1.4 are the published ones). Received -0.5.'] },
  { name: 'summary: --alpha NaN', args: ['summary', '--alpha', 'NaN'], status: 2, stderr: ["error: --alpha expects a number. Received 'NaN'."] },
  {
    name: 'summary: --input-size 33 says what sizes are valid and that images are resized',
    args: ['summary', '--input-size', '33'],
    status: 2,
    stderr: ["error: --input-size must be an integer multiple of 32 that is at least 32 (224, 192, 160, 128 and 96 are the paper's). Received 33. Images of any size are resized to the input size, so pick the nearest valid one: 32 or 64."],
  },
  { name: 'summary: --classes 0', args: ['summary', '--classes', '0'], status: 2, stderr: ["error: --classes expects an integer ≥ 1. Received '0'."] },
  { name: 'summary: --arch v3', args: ['summary', '--arch', 'v3'], status: 2, stderr: ["error: --arch must be one of v1, v2. Received 'v3'."] },
  { name: 'summary: --variant for v2', args: ['summary', '--arch', 'v2', '--variant', 'shallow'], status: 2, stderr: ["error: --variant shallow exists only for --arch v1 (the V1 paper's Tables 4 and 5)."] },
  { name: 'summary: an unknown flag', args: ['summary', '--alpah', '0.5'], status: 2, stderr: ["error: unknown option '--alpah'"] },
  // export
  { name: 'export: --out through a file', args: ['export', ...tiny, '--out', T('file.txt', 'model.onnx')], status: 2, stderr: [`error: --out ${T('file.txt', 'model.onnx')}: a part of this path is a file, not a folder.`] },
  { name: 'export: --out is a folder', args: ['export', ...tiny, '--out', T('images')], status: 2, stderr: [`error: --out ${T('images')} is a folder; give a file name, e.g. ${T('images', 'model.onnx')}.`] },
  { name: 'export: a missing --model folder', args: ['export', '--model', T('nowhere'), '--out', T('x.onnx')], status: 2, stderr: [`error: --model ${T('nowhere')}: no such file or folder.`] },
  { name: 'export: --model without model.json', args: ['export', '--model', T('images'), '--out', T('x.onnx')], status: 2, stderr: [`error: --model ${T('images')}: no model.json in this folder or in ${T('images', 'model')}.`] },
  {
    name: 'export: a damaged model.json',
    args: ['export', '--model', T('damaged'), '--out', T('x.onnx')],
    status: 1,
    stderr: [`error: --model ${T('damaged')}: cannot load the model in ${T('damaged')}: ${T('damaged', 'model.json')} is not valid JSON`],
  },
  {
    name: "export: labels.json that does not match the model's outputs",
    args: ['export', '--model', T('bad-labels'), '--out', T('x.onnx')],
    status: 1,
    stderr: [`error: --model ${T('bad-labels')}: ${T('bad-labels', 'labels.json')} must be a JSON array of 2 class names, one per model output. Received 3 entries.`],
  },
  {
    name: 'export: --model pointing at a run folder',
    args: ['export', '--model', T('run'), '--out', T('from-run.onnx'), '--json'],
    status: 0,
    check: (r) => {
      expect(JSON.parse(r.stdout).file).toBe(T('from-run.onnx'));
      expect(fs.statSync(T('from-run.onnx')).size).toBeGreaterThan(1000);
    },
  },
  { name: 'export: a missing --calibration folder', args: ['export', ...tiny, '--int8', '--calibration', T('nowhere'), '--out', T('x.onnx')], status: 2, stderr: [`error: --calibration ${T('nowhere')}: no such folder.`] },
  {
    name: 'export: --calibration of only corrupt images',
    args: ['export', ...tiny, '--int8', '--calibration', T('corrupt'), '--out', T('x.onnx')],
    status: 1,
    stderr: [`warning: --calibration: skipped ${T('corrupt', 'a.png')}: not a decodable image`, `error: --calibration ${T('corrupt')}: none of the 2 image(s) found could be read`],
  },
  {
    name: 'export: a corrupt calibration image among good ones (and a symlink loop) is skipped',
    args: ['export', ...tiny, '--int8', '--calibration', T('images'), '--out', T('int8.onnx')],
    status: 0,
    stderr: [`warning: --calibration: skipped ${T('images', 'circle', 'zz-bad.png')}: not a decodable image`],
    check: () => expect(fs.existsSync(T('int8.onnx'))).toBe(true),
  },
  { name: 'export: --calibration-images 0', args: ['export', ...tiny, '--int8', '--calibration', T('images'), '--calibration-images', '0', '--out', T('x.onnx')], status: 2, stderr: ["error: --calibration-images expects an integer ≥ 1. Received '0'."] },
  // bench infer
  { name: 'bench infer: a missing --onnx file', args: ['bench', 'infer', '--onnx', T('missing.onnx'), '--no-tfjs'], status: 2, stderr: [`error: --onnx ${T('missing.onnx')}: no such file. Expected an ONNX file written by 'mobilenet export'.`] },
  { name: 'bench infer: --onnx is a folder', args: ['bench', 'infer', '--onnx', T('images'), '--no-tfjs'], status: 2, stderr: [`error: --onnx ${T('images')}: this is a folder.`] },
  { name: 'bench infer: --input-size 0', args: ['bench', 'infer', '--input-size', '0'], status: 2, stderr: ['error: --input-size must be an integer multiple of 32', 'Received 0.', 'pick the nearest valid one: 32.'] },
  { name: 'bench infer: --threads 0', args: ['bench', 'infer', '--threads', '0'], status: 2, stderr: ["error: --threads expects an integer ≥ 1. Received '0'."] },
  { name: 'bench infer: --runs -1', args: ['bench', 'infer', '--runs', '-1'], status: 2, stderr: ["error: --runs expects an integer ≥ 3. Received '-1'."] },
];

const results = new Map<string, CliResult>();
const guarded = new Map<string, string>();

beforeAll(async () => {
  tf.env().set('PROD', true); // no "install tfjs-node" banner in the test log
  await tf.setBackend('cpu');
  const model = mobilenetV1({ widthMultiplier: 0.25, inputSize: 32, classes: 2 });
  await model.save(fileSystem(T('run', 'model')));
  model.dispose();
  fs.writeFileSync(T('run', 'model', 'labels.json'), '["circle", "square"]\n');
  copyTree(T('run', 'model'), T('damaged'));
  fs.writeFileSync(T('damaged', 'model.json'), fs.readFileSync(T('run', 'model', 'model.json')).subarray(0, 80));
  copyTree(T('run', 'model'), T('bad-labels'));
  fs.writeFileSync(T('bad-labels', 'labels.json'), '["a", "b", "c"]\n');
  fs.writeFileSync(T('file.txt'), 'a file\n');
  await generateClassificationDataset({ classes: 2, imagesPerClass: 3, size: 32, seed: 0, dir: T('images') });
  fs.writeFileSync(T('images', 'circle', 'zz-bad.png'), NOT_AN_IMAGE);
  fs.symlinkSync('..', T('images', 'circle', 'up'));
  fs.mkdirSync(T('corrupt'));
  fs.writeFileSync(T('corrupt', 'a.png'), NOT_AN_IMAGE);
  fs.writeFileSync(T('corrupt', 'b.jpg'), NOT_AN_IMAGE);
  for (const dir of ['run', 'damaged', 'bad-labels', 'images', 'corrupt']) guarded.set(dir, hashTree(T(dir)));
  const ran = await inPool(cases.map((c) => () => runCliAsync('mobilenet', c.args)), 2);
  cases.forEach((c, i) => results.set(c.name, ran[i]));
}, 900_000);

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('mobilenet: bad inputs and faults', () => {
  for (const c of cases) {
    it(c.name, () => {
      const r = results.get(c.name) as CliResult;
      const context = `${c.args.join(' ')}\nstatus ${r.status}\nstderr: ${r.stderr}\nstdout: ${r.stdout.slice(0, 2000)}`;
      expect({ status: r.status, context }).toEqual({ status: c.status, context });
      for (const s of c.stderr ?? []) expect(r.stderr).toEqual(expect.stringContaining(s));
      expect(r.stderr).not.toMatch(/\n\s+at .*\(.*:\d+:\d+\)/); // no stack trace
      expect(r.stderr).not.toMatch(/node_modules|\.tmp-\d+|mobilenetV1:|widthMultiplier|inputSize/); // no library names for what the user typed as flags
      c.check?.(r);
    });
  }

  it('changed no model or image folder', () => {
    for (const [dir, before] of guarded) expect({ dir, hash: hashTree(T(dir)) }).toEqual({ dir, hash: before });
  });
});
