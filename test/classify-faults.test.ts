/**
 * Bad inputs and faults for `mobilenet-classify eval`, `predict` and `generate`, run as a user runs them:
 * each case checks the exit status (2: usage error, 1: failure, 0: done despite a bad file), that the
 * message names what is at fault, that no stack trace reaches the user, and — at the end — that no
 * data or model folder was changed. The commands are independent, so they run two at a time.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateClassificationDataset, readImageFolder } from '@mobilenets/datasets';
import { copyTree, hashTree, NOT_AN_IMAGE } from './fixtures';
import { type CliResult, inPool, runCli, runCliAsync } from './run-cli';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'classify-faults-'));
const T = (...parts: string[]) => path.join(tmp, ...parts);
const isRoot = process.getuid?.() === 0; // root writes into read-only folders: that case needs another user

interface Case {
  name: string;
  args: string[];
  status: number;
  /** Text that stderr must contain (each). */
  stderr?: (string | RegExp)[];
  /** Text that stdout must contain (each). */
  stdout?: (string | RegExp)[];
  check?: (r: CliResult) => void;
  skip?: boolean;
}

const json = (r: CliResult) => JSON.parse(r.stdout);
const data = T('data');
const run = T('run');
const model = T('run', 'model');
const image = (cls: string, n: number) => T('data', cls, `000${n}.png`);
/** Folders that no command may change, and their hashes before the commands ran. */
const guarded = new Map<string, string>();
const results = new Map<string, CliResult>();
let heldOut: string[] = [];

/** Overwrites some of the settings a run recorded in its run.json (to fake a changed or damaged run). */
function writeRunJson(dir: string, settings: Record<string, unknown>): void {
  const file = path.join(dir, 'run.json');
  const record = JSON.parse(fs.readFileSync(file, 'utf8'));
  record.settings = { ...record.settings, ...settings };
  fs.writeFileSync(file, JSON.stringify(record));
}

const cases: Case[] = [
  // eval: the data folder
  { name: 'eval: a missing --data folder', args: ['eval', '--model', model, '--data', T('no-such-folder')], status: 2, stderr: [`error: --data ${T('no-such-folder')}: no such directory. Expected a folder with one subfolder per class`] },
  { name: 'eval: --data is a file', args: ['eval', '--model', model, '--data', T('file.txt')], status: 2, stderr: [`error: --data ${T('file.txt')}: not a directory.`] },
  { name: 'eval: an empty --data folder', args: ['eval', '--model', model, '--data', T('empty')], status: 2, stderr: [`error: --data ${T('empty')}: this folder has no class folders. Expected dir/<class>/<image>`] },
  {
    name: 'eval: a folder of only corrupt images',
    args: ['eval', '--model', model, '--data', T('corrupt')],
    status: 1,
    stderr: [`warning: skipped ${T('corrupt', 'circle', 'a.png')}: not a decodable image`, `warning: skipped ${T('corrupt', 'square', 'c.png')}`, `error: none of the 3 images to score in ${T('corrupt')} could be read`],
  },
  {
    name: 'eval: one corrupt image among good ones is skipped and listed',
    args: ['eval', '--model', model, '--data', T('onebad'), '--json'],
    status: 0,
    stderr: [`warning: skipped ${T('onebad', 'circle', 'zz-bad.png')}: not a decodable image (expected JPEG, PNG or WebP`],
    check: (r) => {
      const out = json(r);
      expect(out.count).toBe(12);
      expect(out.skipped).toEqual([{ file: T('onebad', 'circle', 'zz-bad.png'), reason: expect.stringContaining('not a decodable image') }]);
      expect(out.files).toHaveLength(12);
      expect(out.files).not.toContain(T('onebad', 'circle', 'zz-bad.png'));
      expect(out.source).toEqual({ kind: 'folder', folder: T('onebad'), run: null, valFraction: null, seed: null });
    },
  },
  {
    name: "eval: class folders that are not the model's labels",
    args: ['eval', '--model', model, '--data', T('other-classes')],
    status: 2,
    stderr: [`error: --data ${T('other-classes')}: class folder(s) 'zebra' are not labels of the model (${path.join(model, 'labels.json')}: circle, square)`],
  },
  {
    name: 'eval: a symlink loop in --data counts each image once, in its own class',
    args: ['eval', '--model', model, '--data', T('loop'), '--json'],
    status: 0,
    stderr: ['--data: warning: skipped the link circle/up: it leads to the dataset folder itself (a loop)', '--data: warning: skipped the link circle/more: it leads to square, a folder of this dataset', 'circle/dup.png (the same file as square/0000.png)'],
    check: (r) => {
      const out = json(r);
      expect(out.count).toBe(12);
      expect(out.perClass.map((c: { count: number }) => c.count)).toEqual([6, 6]);
    },
  },
  // eval: the model folder
  { name: 'eval: a model folder without model.json', args: ['eval', '--model', T('no-model'), '--data', data], status: 2, stderr: [`error: --model ${T('no-model')}: no model.json in this folder or in ${T('no-model', 'model')}.`] },
  {
    name: 'eval: a damaged model.json',
    args: ['eval', '--model', T('damaged'), '--data', data],
    status: 1,
    stderr: [`error: --model ${T('damaged')}: cannot load the model in ${T('damaged')}: ${T('damaged', 'model.json')} is not valid JSON`, 'Train or save the model again, or restore the folder from a copy.'],
  },
  {
    name: "eval: a model.json with a layer type we don't know",
    args: ['eval', '--model', T('foreign'), '--data', data],
    status: 1,
    stderr: ["model.json uses a layer type this project does not know ('FancyConv')"],
  },
  { name: 'eval: weights.bin missing', args: ['eval', '--model', T('no-weights'), '--data', data], status: 1, stderr: [`${T('no-weights', 'weights.bin')} is missing (${T('no-weights', 'model.json')} lists it)`] },
  {
    name: 'eval: labels.json that does not match the model',
    args: ['eval', '--model', T('bad-labels'), '--data', data],
    status: 1,
    stderr: [`error: --model ${T('bad-labels')}: ${T('bad-labels', 'labels.json')} lists 3 class name(s) but the model has 2 outputs.`],
  },
  { name: 'eval: labels.json missing', args: ['eval', '--model', T('no-labels'), '--data', data], status: 1, stderr: [`${T('no-labels', 'labels.json')} is missing. It lists the class names, one per model output (2)`] },
  { name: 'eval: an .onnx file as --model', args: ['eval', '--model', T('model.onnx'), '--data', data], status: 2, stderr: ['eval scores saved model folders (model.json + weights.bin), not ONNX files'] },
  {
    name: 'eval: --model pointing at a run folder scores with <run>/model, notes the training images and writes its picture into the run folder',
    args: ['eval', '--model', run, '--data', data, '--json'],
    status: 0,
    stderr: [`note: --data ${data} is the folder the model in ${run} was trained on: 8 of these 12 images were training images`, `'eval --run ${run}' scores only the 4 images it held out`],
    check: (r) => {
      const out = json(r);
      expect(out.model).toBe(model);
      expect(out.count).toBe(12);
      expect(out.confusionPng).toBe(path.join(run, 'confusion-matrix-data.png'));
      expect(fs.readFileSync(out.confusionPng).subarray(1, 4).toString()).toBe('PNG');
    },
  },
  {
    name: 'eval: a bare model folder gets no picture unless --plot (never one inside the model folder)',
    args: ['eval', '--model', T('bare'), '--data', data],
    status: 0,
    stdout: [`scored 12 images (circle 6, square 6): every image in ${data}`, 'confusion matrix image: not written (give --plot FILE.png to save one)'],
  },
  // eval --run
  {
    name: "eval --run scores the run's held-out split and says which images",
    args: ['eval', '--run', run, '--json'],
    status: 0,
    check: (r) => {
      const out = json(r);
      expect(out.source).toEqual({ kind: 'held-out', folder: data, run, valFraction: 0.25, seed: 0 });
      expect(out.files).toEqual(heldOut);
      expect(out.count).toBe(heldOut.length);
      expect(out.confusionPng).toBe(path.join(run, 'confusion-matrix.png'));
    },
  },
  {
    name: 'eval --run in words',
    args: ['eval', '--run', run, '--no-plot'],
    status: 0,
    stdout: [`scored 4 images (circle 2, square 2): the images held out for validation from ${data} (val-fraction 0.25, seed 0, as recorded in ${path.join(run, 'run.json')})`],
  },
  { name: 'eval --run: a folder without run.json', args: ['eval', '--run', T('no-run-json')], status: 2, stderr: [`error: --run ${T('no-run-json')}: no run.json there, so the held-out images are not known.`] },
  { name: 'eval --run: the model folder of a run instead of the run', args: ['eval', '--run', model], status: 2, stderr: [`error: --run ${model}: no run.json there; this looks like the model folder of the run in ${run}. Give that folder: --run ${run}.`] },
  { name: 'eval --run: a damaged run.json', args: ['eval', '--run', T('run-damaged')], status: 1, stderr: [`error: --run ${T('run-damaged')}: cannot use the run's record`, `${T('run-damaged', 'run.json')} is not valid JSON`] },
  {
    name: "eval --run: the run's data folder is gone",
    args: ['eval', '--run', T('run-data-gone')],
    status: 1,
    stderr: [`error: --run ${T('run-data-gone')}: the run's data folder ${T('gone')} (recorded in run.json) does not exist any more.`],
  },
  {
    name: 'eval --run: a run trained with --val scores that folder',
    args: ['eval', '--run', T('run-val-folder'), '--json', '--no-plot'],
    status: 0,
    check: (r) => {
      const out = json(r);
      expect(out.source).toEqual({ kind: 'val-folder', folder: T('onebad'), run: T('run-val-folder'), valFraction: null, seed: null });
      expect(out.count).toBe(12);
      expect(out.skipped).toHaveLength(1);
    },
  },
  {
    name: "eval --run: the run's model was replaced by one with other classes",
    args: ['eval', '--run', T('run-other-model')],
    status: 1,
    stderr: [`error: --run ${T('run-other-model')}: the run trained on classes circle, square (run.json), but its model's labels.json lists circle, star`],
  },
  { name: 'eval --run: a run that held out nothing', args: ['eval', '--run', T('run-no-val')], status: 2, stderr: ['the run held out no images (val-fraction 0 and no --val in run.json)'] },
  { name: 'eval: --run and --data together', args: ['eval', '--run', run, '--data', data], status: 2, stderr: [`To score ${data} with that run's model, use --model ${run} --data ${data}.`] },
  { name: 'eval: --model without --data', args: ['eval', '--model', model], status: 2, stderr: ['error: --model needs --data FOLDER'] },
  // eval: the picture
  {
    name: 'eval: an unwritable --plot location warns and still prints the results',
    args: ['eval', '--model', model, '--data', data, '--plot', T('file.txt', 'cm.png')],
    status: 0,
    stderr: [`warning: could not write the confusion matrix picture ${T('file.txt', 'cm.png')}: a part of the path ${T('file.txt')} is a file, not a folder. The results are below`],
    stdout: ['scored 12 images', /top-1 \d+\.\d%/, 'confusion matrix (rows: true class, columns: predicted):'],
  },
  {
    name: 'eval: a read-only --plot folder warns and still prints the results',
    args: ['eval', '--model', model, '--data', data, '--plot', T('read-only', 'cm.png'), '--json'],
    status: 0,
    skip: isRoot,
    stderr: [`warning: could not write the confusion matrix picture ${T('read-only', 'cm.png')}: permission denied`],
    check: (r) => expect(json(r).confusionPng).toBeNull(),
  },
  { name: 'eval: --plot is a folder', args: ['eval', '--model', model, '--data', data, '--plot', T('empty')], status: 2, stderr: [`error: --plot ${T('empty')} is a folder; give a file name`] },
  // eval: numbers and flags
  { name: 'eval: --batch 0', args: ['eval', '--model', model, '--data', data, '--batch', '0'], status: 2, stderr: ["error: --batch expects an integer ≥ 1. Received '0'."] },
  {
    name: 'eval: images over --max-pixels',
    args: ['eval', '--model', model, '--data', data, '--max-pixels', '1000'],
    status: 1,
    stderr: ['image is too large (32×32 = 1024 pixels): the limit is 1000 pixels', 'raise the limit to at least 1024 pixels (--max-pixels 1024 on the command line', `error: none of the 12 images to score in ${data} could be read`],
  },
  { name: 'eval: an unknown flag', args: ['eval', '--model', model, '--data', data, '--bogus'], status: 2, stderr: ["error: unknown option '--bogus'"] },

  // predict
  {
    name: 'predict: one unreadable file among good ones is skipped and listed; exit 0',
    args: ['predict', '--model', model, image('circle', 0), T('onebad', 'circle', 'zz-bad.png'), T('no-such.png'), image('square', 1), '--json'],
    status: 0,
    stderr: [`warning: skipped ${T('onebad', 'circle', 'zz-bad.png')}: not a decodable image`, `warning: skipped ${T('no-such.png')}: file not found`],
    check: (r) => {
      const out = json(r);
      expect(out.predictions.map((p: { path: string }) => p.path)).toEqual([image('circle', 0), image('square', 1)]);
      expect(out.skipped).toEqual([
        { file: T('onebad', 'circle', 'zz-bad.png'), reason: expect.stringContaining('not a decodable image') },
        { file: T('no-such.png'), reason: 'file not found' },
      ]);
    },
  },
  {
    name: 'predict: the good images are printed when one is bad (text output)',
    args: ['predict', '--model', model, T('onebad', 'circle', 'zz-bad.png'), image('circle', 2)],
    status: 0,
    stdout: [image('circle', 2)],
    stderr: ['1 of 2 images skipped (see the warnings above)'],
  },
  { name: 'predict: no image could be read: exit 1', args: ['predict', '--model', model, T('corrupt', 'circle', 'a.png')], status: 1, stderr: ['error: none of the 1 image(s) could be read; nothing was classified.'] },
  { name: 'predict: a folder instead of an image', args: ['predict', '--model', model, data], status: 1, stderr: [`warning: skipped ${data}: this is a folder, not an image file`] },
  {
    name: 'predict: --model pointing at a run folder',
    args: ['predict', '--model', run, image('square', 0), '--json'],
    status: 0,
    check: (r) => expect(json(r).predictions[0].top.map((t: { label: string }) => t.label).sort()).toEqual(['circle', 'square']),
  },
  { name: 'predict: a missing .onnx file', args: ['predict', '--model', T('missing.onnx'), image('circle', 0)], status: 2, stderr: [`error: --model ${T('missing.onnx')}: no such file.`] },
  { name: 'predict: --top -3', args: ['predict', '--model', model, image('circle', 0), '--top', '-3'], status: 2, stderr: ["error: --top expects an integer ≥ 1. Received '-3'."] },
  { name: 'eval: --max-pixels NaN', args: ['eval', '--model', model, '--data', data, '--max-pixels', 'NaN'], status: 2, stderr: ["error: --max-pixels expects a number of pixels ≥ 1 (e.g. 200000000 for 200 megapixels). Received 'NaN'."] },

  // generate
  {
    name: 'generate: refuses a non-empty folder',
    args: ['generate', '--out', T('users-photos'), '--classes', '2', '--images-per-class', '1', '--size', '16'],
    status: 2,
    stderr: [`error: --out ${T('users-photos')} is not empty (it holds 2 entries: circle, notes.txt).`, 'or pass --overwrite to write into it anyway'],
  },
  {
    name: 'generate --overwrite writes into a non-empty folder and leaves other files alone',
    args: ['generate', '--out', T('overwrite'), '--classes', '2', '--images-per-class', '1', '--size', '16'].concat('--overwrite', '--json'),
    status: 0,
    stderr: [`note: ${T('overwrite')} also holds notes.txt, left as they are`],
    check: (r) => {
      expect(json(r).files).toBe(2);
      expect(fs.readFileSync(T('overwrite', 'notes.txt'), 'utf8')).toBe('mine');
      expect(fs.readFileSync(T('overwrite', 'circle', '0000.png')).subarray(1, 4).toString()).toBe('PNG');
    },
  },
  { name: 'generate: --out is a file', args: ['generate', '--out', T('file.txt'), '--classes', '2', '--images-per-class', '1'], status: 2, stderr: [`error: --out ${T('file.txt')}: this is a file, not a folder.`] },
  { name: 'generate: --classes 13', args: ['generate', '--out', T('gen-a'), '--classes', '13'], status: 2, stderr: ['error: --classes must be at most 12 (the generator draws 12 shapes). Received 13.'] },
  { name: 'generate: --size 0', args: ['generate', '--out', T('gen-b'), '--size', '0'], status: 2, stderr: ["error: --size expects an integer ≥ 16. Received '0'."] },
];

beforeAll(async () => {
  await generateClassificationDataset({ classes: 2, imagesPerClass: 6, size: 32, seed: 0, dir: data });
  const trained = runCli('mobilenet-classify', ['train', '--data', data, '--arch', 'v1', '--alpha', '0.25', '--input-size', '32', '--batch', '8', '--steps', '2', '--val-fraction', '0.25', '--seed', '0', '--out', run]);
  if (trained.status !== 0) throw new Error(`train failed (${trained.status}): ${trained.stderr}`);
  expect(fs.existsSync(path.join(run, 'run.json'))).toBe(true); // train records the run's settings
  heldOut = (await readImageFolder(data, { valFraction: 0.25, seed: 0 })).val.map((r) => r.path);

  fs.writeFileSync(T('file.txt'), 'a file\n');
  fs.writeFileSync(T('model.onnx'), 'not read: eval refuses .onnx by name');
  fs.mkdirSync(T('empty'));
  for (const [cls, name] of [['circle', 'a.png'], ['circle', 'b.jpg'], ['square', 'c.png']]) {
    fs.mkdirSync(T('corrupt', cls), { recursive: true });
    fs.writeFileSync(T('corrupt', cls, name), NOT_AN_IMAGE);
  }
  copyTree(data, T('onebad'));
  fs.writeFileSync(T('onebad', 'circle', 'zz-bad.png'), NOT_AN_IMAGE);
  copyTree(path.join(data, 'circle'), T('other-classes', 'zebra'));
  copyTree(data, T('loop'));
  fs.symlinkSync('..', T('loop', 'circle', 'up'));
  fs.symlinkSync('../square', T('loop', 'circle', 'more'));
  fs.symlinkSync('../square/0000.png', T('loop', 'circle', 'dup.png'));

  fs.mkdirSync(T('no-model'));
  fs.writeFileSync(T('no-model', 'notes.txt'), 'no model here');
  copyTree(model, T('bare'));
  copyTree(model, T('damaged'));
  fs.writeFileSync(T('damaged', 'model.json'), fs.readFileSync(path.join(model, 'model.json')).subarray(0, 100));
  copyTree(model, T('foreign'));
  fs.writeFileSync(T('foreign', 'model.json'), fs.readFileSync(path.join(model, 'model.json'), 'utf8').replace('"DepthwiseConv2D"', '"FancyConv"'));
  copyTree(model, T('no-weights'));
  fs.rmSync(T('no-weights', 'weights.bin'));
  copyTree(model, T('bad-labels'));
  fs.writeFileSync(T('bad-labels', 'labels.json'), '["circle", "square", "triangle"]\n');
  copyTree(model, T('no-labels'));
  fs.rmSync(T('no-labels', 'labels.json'));

  copyTree(model, T('no-run-json', 'model'));
  copyTree(run, T('run-damaged'));
  fs.writeFileSync(T('run-damaged', 'run.json'), '{"format": "mobilenets-run", ');
  copyTree(run, T('run-data-gone'));
  writeRunJson(T('run-data-gone'), { data: T('gone') });
  copyTree(run, T('run-val-folder'));
  writeRunJson(T('run-val-folder'), { val: T('onebad') });
  copyTree(run, T('run-other-model'));
  fs.writeFileSync(T('run-other-model', 'model', 'labels.json'), '["circle", "star"]\n');
  copyTree(run, T('run-no-val'));
  writeRunJson(T('run-no-val'), { valFraction: 0 });

  fs.mkdirSync(T('read-only'));
  fs.chmodSync(T('read-only'), 0o555);
  fs.mkdirSync(T('users-photos', 'circle'), { recursive: true });
  fs.writeFileSync(T('users-photos', 'circle', '0000.png'), 'my own picture');
  fs.writeFileSync(T('users-photos', 'notes.txt'), 'mine');
  fs.mkdirSync(T('overwrite'));
  fs.writeFileSync(T('overwrite', 'notes.txt'), 'mine');

  for (const dir of ['data', 'onebad', 'corrupt', 'loop', 'other-classes', 'run/model', 'bare', 'damaged', 'foreign', 'no-weights', 'bad-labels', 'no-labels', 'no-model', 'users-photos', 'read-only']) {
    guarded.set(dir, hashTree(T(dir)));
  }
  const todo = cases.filter((c) => !c.skip);
  const ran = await inPool(todo.map((c) => () => runCliAsync('mobilenet-classify', c.args)), 2);
  todo.forEach((c, i) => results.set(c.name, ran[i]));
}, 900_000);

afterAll(() => {
  if (fs.existsSync(T('read-only'))) fs.chmodSync(T('read-only'), 0o755);
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('mobilenet-classify: bad inputs and faults', () => {
  for (const c of cases) {
    (c.skip ? it.skip : it)(c.name, () => {
      const r = results.get(c.name) as CliResult;
      const context = `${c.args.join(' ')}\nstatus ${r.status}\nstderr: ${r.stderr}\nstdout: ${r.stdout.slice(0, 2000)}`;
      expect({ status: r.status, context }).toEqual({ status: c.status, context });
      for (const s of c.stderr ?? []) expect(r.stderr).toEqual(typeof s === 'string' ? expect.stringContaining(s) : expect.stringMatching(s));
      for (const s of c.stdout ?? []) expect(r.stdout).toEqual(typeof s === 'string' ? expect.stringContaining(s) : expect.stringMatching(s));
      expect(r.stderr).not.toMatch(/\n\s+at .*\(.*:\d+:\d+\)/); // no stack trace
      expect(r.stderr).not.toMatch(/node_modules|\.tmp-\d+|tfjs-layers|AssertionError|ValueError/); // no library or temp-file internals
      c.check?.(r);
    });
  }

  it('changed no data folder, model folder or user folder', () => {
    for (const [dir, before] of guarded) expect({ dir, hash: hashTree(T(dir)) }).toEqual({ dir, hash: before });
    expect(fs.readdirSync(model).sort()).toEqual(['labels.json', 'model.json', 'weights.bin']);
  });
});
