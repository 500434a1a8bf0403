/** `mobilenet-detect export` run through createProgram(): a saved tiny SSDLite → a .onnx that onnxruntime runs, detector.json beside it. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { mobilenetV1 } from '@mobilenets/backbone';
import { useBatchStatisticsOf } from '@mobilenets/backbone/testing';
import { UsageError, reportError } from '@mobilenets/cli-kit';
import { generateClassificationDataset } from '@mobilenets/datasets';
import { createSsd, ssdDetectorSpec } from '@mobilenets/detection-ssd';
import { createSession, fileSystem, float32Output, setup } from '@mobilenets/runtime';
import { createProgram } from './main';

const SIZE = 96;
let dir: string;
let modelDir: string;
let anchors: number;
/** tfjs' outputs for `image` (one seeded image), to compare the exported files with. */
let image: Float32Array;
let expected: Float32Array[];
/** The largest |output| of tfjs on `image` (~2.6). */
let scale: number;
/**
 * What the fp32 file may differ from tfjs by: 1e-3 of the outputs' scale. This untrained model's float32
 * noise floor is ~2e-4 of it (measured 1.6e-4): its 1×1 maps' batch norms amplify rounding.
 */
let tolerance: number;

beforeAll(async () => {
  await setup({ log: null });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'detect-export-'));
  // A tiny untrained SSDLite saved the way a training run saves it: <run>/model/{model.json, weights.bin, detector.json}.
  const ssd = createSsd({ backbone: mobilenetV1({ widthMultiplier: 0.25, inputSize: SIZE, includeTop: false, seed: 1 }), classes: 2, head: 'ssdlite', seed: 2 });
  anchors = ssd.anchors;
  // The batch-norm statistics of some images (a fresh model's outputs fade to ~1e-12, which any file would match).
  const images = tf.tidy(() => tf.concat([tf.randomUniform([6, SIZE, SIZE, 3], -1, 1, 'float32', 3), tf.reshape(tf.sin(tf.mul(tf.range(0, 2 * SIZE * SIZE * 3), 0.011)), [2, SIZE, SIZE, 3])]));
  useBatchStatisticsOf(ssd.model, images);
  images.dispose();
  modelDir = path.join(dir, 'run', 'model');
  await ssd.model.save(fileSystem(modelDir));
  fs.writeFileSync(path.join(modelDir, 'detector.json'), `${JSON.stringify(ssdDetectorSpec(ssd, { labels: ['a', 'b'], scoreFunction: 'softmax', arch: 'v1', widthMultiplier: 0.25 }))}\n`);
  image = Float32Array.from({ length: SIZE * SIZE * 3 }, (_, i) => Math.sin(i * 0.37));
  expected = tf.tidy(() => (ssd.model.predict(tf.tensor4d(image, [1, SIZE, SIZE, 3])) as tf.Tensor[]).map((t) => t.dataSync().slice() as Float32Array));
  scale = Math.max(...expected.map((e) => e.reduce((m, v) => Math.max(m, Math.abs(v)), 0)));
  tolerance = 1e-3 * scale;
  ssd.model.dispose();
}, 120_000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Runs `mobilenet-detect export …args` in this process; returns what it printed. */
async function run(...args: string[]): Promise<string> {
  let printed = '';
  const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    printed += String(chunk);
    return true;
  });
  try {
    await createProgram().parseAsync(['node', 'mobilenet-detect', 'export', ...args]);
  } finally {
    write.mockRestore();
  }
  return printed;
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
};

describe('mobilenet-detect export', () => {
  it('exports a run folder: the .onnx runs in onnxruntime and gives what tfjs gives; detector.json is copied; --json summarises', async () => {
    const out = path.join(dir, 'out', 'ssdlite.onnx');
    const summary = JSON.parse(await run('--model', path.join(dir, 'run'), '--out', out, '--json'));
    expect(summary).toEqual({
      file: out,
      bytes: fs.statSync(out).size,
      detectorJson: path.join(dir, 'out', 'ssdlite.detector.json'),
      model: expect.any(String),
      precision: 'fp32',
      inputSize: SIZE,
      outputs: { BoxEncodings: [1, anchors, 4], ClassLogits: [1, anchors, 3] },
      maxAbsDiff: expect.any(Number),
      checkedOn: 'one random image',
    });
    expect(summary.maxAbsDiff).toBeLessThan(tolerance);
    expect(fs.readFileSync(summary.detectorJson, 'utf8')).toBe(fs.readFileSync(path.join(modelDir, 'detector.json'), 'utf8'));

    const session = await createSession(out);
    expect(session.inputs).toEqual([{ name: 'input', type: 'float32', dims: ['batch', SIZE, SIZE, 3] }]);
    expect(session.outputNames).toEqual(['BoxEncodings', 'ClassLogits']);
    expect(session.preprocessing).toEqual({ scale: 1 / 127.5, offset: -1, layout: 'NHWC', channels: 'RGB' });
    expect(session.metadata.kind).toBe('detector');
    const outputs = await session.run({ input: { data: image, dims: [1, SIZE, SIZE, 3] } });
    expect(scale).toBeGreaterThan(1); // outputs of a real scale, not a faded model's ~1e-12
    expect(maxAbsDiff(float32Output(outputs, 'BoxEncodings'), expected[0])).toBeLessThan(tolerance);
    expect(maxAbsDiff(float32Output(outputs, 'ClassLogits'), expected[1])).toBeLessThan(tolerance);
    await session.dispose();
  }, 120_000);

  it('refuses to overwrite unless --overwrite; prints a readable summary', async () => {
    const out = path.join(dir, 'twice.onnx');
    await run('--model', modelDir, '--out', out);
    const sidecar = path.join(dir, 'twice.detector.json');
    fs.writeFileSync(sidecar, '{"edited":true}');
    const again = run('--model', modelDir, '--out', out);
    await expect(again).rejects.toThrow(UsageError);
    await expect(run('--model', modelDir, '--out', out)).rejects.toThrow(`--out ${out}: ${out} already exists. Pass --overwrite to replace it, or choose another --out.`);
    fs.rmSync(out);
    await expect(run('--model', modelDir, '--out', out)).rejects.toThrow(`${sidecar} already exists`); // the detector.json beside it counts too
    const text = await run('--model', path.join(modelDir, 'model.json'), '--out', out, '--overwrite');
    expect(text).toMatch(new RegExp(`^wrote ${out} \\([\\d,]+ bytes, fp32\\) from .*, input \\[batch, ${SIZE}, ${SIZE}, 3\\] in \\[-1, 1\\]\n`));
    expect(text).toContain(`wrote ${sidecar} (a copy of ${path.join(modelDir, 'detector.json')})`);
    expect(text).toMatch(new RegExp(`onnxruntime: BoxEncodings \\[1, ${anchors}, 4\\], ClassLogits \\[1, ${anchors}, 3\\]; max \\|tfjs − onnxruntime\\| = \\d\\.\\d\\de[-+]\\d+ on one random image`));
    expect(fs.readFileSync(sidecar, 'utf8')).toBe(fs.readFileSync(path.join(modelDir, 'detector.json'), 'utf8'));
  }, 120_000);

  it('--int8 calibrates on a folder of images; the quantized file runs and stays near tfjs', async () => {
    const images = path.join(dir, 'calibration');
    await generateClassificationDataset({ classes: 2, imagesPerClass: 4, size: 64, seed: 1, dir: images });
    const out = path.join(dir, 'int8.onnx');
    const summary = JSON.parse(await run('--model', modelDir, '--out', out, '--int8', '--calibration', images, '--calibration-images', '6', '--json'));
    expect(summary.precision).toBe('int8');
    expect(summary.checkedOn).toBe('the first calibration image');
    // Random filters carry no structure, so int8 errors pile up (measured 0.83 against outputs up to 2.6);
    // face-api's trained detector is the real check (ssd-onnx.test.ts). Here: quantized, and not garbage.
    expect(summary.maxAbsDiff).toBeGreaterThan(tolerance);
    expect(summary.maxAbsDiff).toBeLessThan(scale / 2);
    const session = await createSession(out);
    expect(session.metadata.precision).toBe('int8');
    const outputs = await session.run({ input: { data: image, dims: [1, SIZE, SIZE, 3] } });
    expect(float32Output(outputs, 'ClassLogits')).toHaveLength(anchors * 3);
    await session.dispose();
  }, 120_000);

  it('usage errors (status 2) and failures (status 1) name the option and the file', async () => {
    const out = path.join(dir, 'never.onnx');
    const status = async (promise: Promise<unknown>) => promise.then(() => 0, (error: unknown) => reportError(error, () => undefined));
    await expect(run('--model', modelDir, '--out', out, '--int8')).rejects.toThrow('--int8 needs --calibration DIR');
    await expect(run('--model', modelDir, '--out', path.join(dir, 'model.bin'))).rejects.toThrow('give a file name ending in .onnx');
    await expect(run('--model', path.join(dir, 'nowhere'), '--out', out)).rejects.toThrow(`--model ${path.join(dir, 'nowhere')}: no such file or folder. Expected a model folder (model.json, weights.bin, detector.json)`);
    expect(await status(run('--model', path.join(dir, 'nowhere'), '--out', out))).toBe(2);

    // A classifier's folder: model.json but no detector.json.
    const classifierDir = path.join(dir, 'classifier');
    const classifier = mobilenetV1({ widthMultiplier: 0.25, inputSize: 32, classes: 3 });
    await classifier.save(fileSystem(classifierDir));
    fs.writeFileSync(path.join(classifierDir, 'labels.json'), '["a","b","c"]');
    await expect(run('--model', classifierDir, '--out', out)).rejects.toThrow(`${path.join(classifierDir, 'detector.json')} is missing: this is not a detector saved by 'mobilenet-detect train'`);
    // With another detector's detector.json, the model itself is checked against it: status 1.
    fs.copyFileSync(path.join(modelDir, 'detector.json'), path.join(classifierDir, 'detector.json'));
    await expect(run('--model', classifierDir, '--out', out)).rejects.toThrow(/detector\.json does not describe the model next to it \(\d+ anchors, 2 classes \+ background, input 96; the model's outputs are \[\[null,3\]\]/);
    expect(await status(run('--model', classifierDir, '--out', out))).toBe(1);
    fs.writeFileSync(path.join(classifierDir, 'detector.json'), '[1, 2]');
    await expect(run('--model', classifierDir, '--out', out)).rejects.toThrow(`${path.join(classifierDir, 'detector.json')}`);
    classifier.dispose();
    expect(fs.existsSync(out)).toBe(false);
  }, 120_000);
});
