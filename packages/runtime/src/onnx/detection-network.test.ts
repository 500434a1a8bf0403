/** onnxDetectionNetwork: an exported two-headed detector run on NHWC batches, its interface checked on load and on every run. */
import '@tensorflow/tfjs-backend-cpu';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { mobilenetV1 } from '@mobilenets/backbone';
import { uniformArray } from '@mobilenets/random';
import { onnxDetectionNetwork } from './detection-network';
import { exportOnnx } from './export';
import { randomizeWeights } from './testing';

type Sym = tfl.SymbolicTensor;

let dir: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'onnx-detection-network-'));
});
afterAll(() => fs.rm(dir, { recursive: true, force: true }));

const apply = (layer: tfl.layers.Layer, x: Sym | Sym[]) => layer.apply(x) as Sym;

/** Two feature maps of a 32×32 image (8×8, 4×4), 2 anchors a cell, `classes` + 1 logits: 160 anchors. */
function tinyDetector(classes: number, names = { boxes: 'BoxEncodings', logits: 'ClassLogits' }): tfl.LayersModel {
  const image = tfl.input({ shape: [32, 32, 3], name: 'image' });
  const f1 = apply(tfl.layers.conv2d({ filters: 8, kernelSize: 3, strides: 4, padding: 'same', activation: 'relu6' }), image);
  const f2 = apply(tfl.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu6' }), f1);
  const head = (feature: Sym, cells: number, width: number) => apply(tfl.layers.reshape({ targetShape: [cells * 2, width] }), apply(tfl.layers.conv2d({ filters: 2 * width, kernelSize: 1 }), feature));
  const boxes = apply(tfl.layers.concatenate({ axis: 1, name: names.boxes }), [head(f1, 64, 4), head(f2, 16, 4)]);
  const logits = apply(tfl.layers.concatenate({ axis: 1, name: names.logits }), [head(f1, 64, classes + 1), head(f2, 16, classes + 1)]);
  const model = tfl.model({ inputs: image, outputs: [boxes, logits] });
  randomizeWeights(model, 5);
  return model;
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
};

describe('onnxDetectionNetwork', () => {
  it('runs a batch and returns both heads in the tfjs layouts, equal to tfjs', async () => {
    const model = tinyDetector(3);
    const file = path.join(dir, 'tiny.onnx');
    await exportOnnx(model, file);
    const network = await onnxDetectionNetwork(file);
    expect(network.inputSize).toBe(32);
    const images = uniformArray(2 * 32 * 32 * 3, 11);
    const { boxEncodings, classLogits } = await network.run(images, 2);
    const [boxes, logits] = tf.tidy(() => (model.predict(tf.tensor4d(images, [2, 32, 32, 3])) as tf.Tensor[]).map((t) => t.dataSync().slice()));
    expect(boxEncodings).toBeInstanceOf(Float32Array);
    expect(boxEncodings.length).toBe(2 * 160 * 4);
    expect(classLogits.length).toBe(2 * 160 * 4);
    expect(maxAbsDiff(boxEncodings, boxes)).toBeLessThan(1e-4);
    expect(maxAbsDiff(classLogits, logits)).toBeLessThan(1e-4);
    // A batch of one is the first image's rows.
    const one = await network.run(images.slice(0, 32 * 32 * 3), 1);
    expect(maxAbsDiff(one.classLogits, classLogits.slice(0, 160 * 4))).toBeLessThan(1e-5);
    await network.dispose();
    await expect(network.run(images, 2)).rejects.toThrow('run() after dispose()');
    model.dispose();
  });

  it('says what is wrong with a call: batch, array type, length', async () => {
    const model = tinyDetector(1);
    const file = path.join(dir, 'tiny-1.onnx');
    await exportOnnx(model, file);
    const network = await onnxDetectionNetwork(file, { threads: 1 });
    const image = new Float32Array(32 * 32 * 3);
    await expect(network.run(image, 0)).rejects.toThrow('batch must be a positive integer; received 0');
    await expect(network.run(Array.from(image) as unknown as Float32Array, 1)).rejects.toThrow('images must be a Float32Array [batch, 32, 32, 3] (NHWC, preprocessed); received Array');
    await expect(network.run(new Float32Array(3 * 32 * 32 * 3), 2)).rejects.toThrow('2 image(s) of 32×32×3 are 6144 values; received 9216 (3 images)');
    const { classLogits } = await network.run(image, 1);
    expect(classLogits.length).toBe(160 * 2); // one class + the background
    await network.dispose();
    model.dispose();
  });

  it('other output names are options; a model without them (a classifier) is refused naming its outputs', async () => {
    const renamed = tinyDetector(2, { boxes: 'boxes', logits: 'scores' });
    const file = path.join(dir, 'renamed.onnx');
    await exportOnnx(renamed, file);
    await expect(onnxDetectionNetwork(file)).rejects.toThrow(/no output 'BoxEncodings' \(the outputs are 'boxes' float32 \[batch, 160, 4\], 'scores' float32 \[batch, 160, 3\]\)\. Pass options\.boxEncodingsOutput/);
    const network = await onnxDetectionNetwork(file, { boxEncodingsOutput: 'boxes', classLogitsOutput: 'scores' });
    expect((await network.run(new Float32Array(32 * 32 * 3), 1)).classLogits.length).toBe(160 * 3);
    await network.dispose();
    // Box encodings must be 4 wide: the logits output given for them is refused.
    await expect(onnxDetectionNetwork(file, { boxEncodingsOutput: 'scores', classLogitsOutput: 'boxes' })).rejects.toThrow("output 'scores' float32 [batch, 160, 3] must be float32 [batch, anchors, 4] (box encodings)");
    await expect(onnxDetectionNetwork(file, { classLogitsOutput: '' })).rejects.toThrow('options.classLogitsOutput must be a non-empty output name');
    renamed.dispose();

    const classifier = mobilenetV1({ widthMultiplier: 0.25, inputSize: 32, classes: 3 });
    const classifierFile = path.join(dir, 'classifier.onnx');
    await exportOnnx(classifier, classifierFile);
    await expect(onnxDetectionNetwork(classifierFile)).rejects.toThrow(/classifier\.onnx: no output 'BoxEncodings' \(the outputs are 'Predictions' float32 \[batch, 3\]\)/);
    classifier.dispose();
  });

  it('refuses an input that is not one square NHWC image of fixed size', async () => {
    const x = tfl.input({ shape: [null, null, 3], name: 'image' });
    const conv = apply(tfl.layers.conv2d({ filters: 8, kernelSize: 1 }), x);
    const model = tfl.model({ inputs: x, outputs: [apply(tfl.layers.reshape({ targetShape: [-1, 4], name: 'BoxEncodings' }), conv), apply(tfl.layers.reshape({ targetShape: [-1, 4], name: 'ClassLogits' }), conv)] });
    const file = path.join(dir, 'free-size.onnx');
    await exportOnnx(model, file);
    await expect(onnxDetectionNetwork(file)).rejects.toThrow(/the image input must be float32 \[batch, size, size, 3\] \(NHWC, square, of fixed size\); input 'image' float32 \[batch, image_dim1, image_dim2, 3\] is not/);
    model.dispose();
  });
});
