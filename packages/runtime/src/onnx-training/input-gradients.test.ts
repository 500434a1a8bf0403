/**
 * The step compiler's input gradients (CompileStepOptions.inputGradients: a Faster R-CNN's second stage
 * hands the gradient of its crops back to the host) and the MaxPooling2D emitter, against tfjs' gradient
 * of the same loss. The max-pool reads the input itself, whose values repeat, so many windows hold tied
 * maxima: the gradient must go to the first of them, as tfjs' MaxPoolGrad sends it.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import * as ort from 'onnxruntime-node';
import { uniformArray } from '@mobilenets/random';
import { classificationTask } from '@mobilenets/training';
import { setup } from '../backend';
import { compileTrainingStep } from './compile';
import { classificationLoss } from './losses';
import { stepOptimizer } from './optimizers';

beforeAll(async () => {
  await setup({ backend: 'wasm', log: null });
});

const N = 4;
const SIZE = 8;
const CLASSES = 3;

function build(): tfl.LayersModel {
  const input = tfl.input({ shape: [SIZE, SIZE, 3] });
  let x = tfl.layers.maxPooling2d({ poolSize: 2, strides: 2, name: 'pool' }).apply(input) as tfl.SymbolicTensor;
  x = tfl.layers.conv2d({ filters: 5, kernelSize: 3, padding: 'same', activation: 'relu', name: 'conv', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as tfl.SymbolicTensor;
  const y = tfl.layers.dense({ units: CLASSES, activation: 'softmax', name: 'dense', kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }).apply(x) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: y });
}

test('d loss / d images of a compiled step (max-pool with tied maxima first) = tfjs\' gradient; the weights still update', async () => {
  const model = build();
  // Values on a coarse grid of 4 levels: most 2×2 windows hold a tied maximum.
  const images = uniformArray(N * SIZE * SIZE * 3, 7, 0, 1).map((v) => Math.floor(v * 4) / 4);
  const labels = Int32Array.from({ length: N }, (_, i) => i % CLASSES);
  const task = classificationTask();
  const gradient = tf.tidy(() => tf.grad((x: tf.Tensor) => tf.addN(Object.values(task.loss(model, { images: x, labels: tf.tensor1d(labels, 'int32') }).losses)) as tf.Scalar)(tf.tensor4d(images, [N, SIZE, SIZE, 3])));
  const expected = gradient.dataSync().slice() as Float32Array;
  gradient.dispose();

  const optimizer = tf.train.sgd(0.1);
  const compiled = compileTrainingStep(model, {
    loss: classificationLoss(), optimizer: stepOptimizer(optimizer), weightDecay: 0, inputGradients: true,
    batchShapes: { images: [N, SIZE, SIZE, 3], labels: [N] },
  });
  expect(Object.keys(compiled.inputGradientOutputs)).toEqual(['images']);
  const session = await ort.InferenceSession.create(compiled.bytes);
  const feeds: Record<string, ort.Tensor> = {};
  const weights = model.weights;
  for (const [i, input] of compiled.weightInputs) feeds[input] = new ort.Tensor('float32', weights[i].read().dataSync() as Float32Array, weights[i].shape as number[]);
  for (const [name, value] of Object.entries(stepOptimizer(optimizer).scalars(0.1, 0))) feeds[compiled.scalarInputs[name]] = new ort.Tensor('float32', Float32Array.of(value), []);
  feeds[compiled.batchInputs.images] = new ort.Tensor('float32', images, [N, SIZE, SIZE, 3]);
  feeds[compiled.batchInputs.labels] = new ort.Tensor('int32', labels, [N]);
  const results = await session.run(feeds);
  const ours = results[compiled.inputGradientOutputs.images].data as Float32Array;

  expect(ours.length).toBe(expected.length);
  const largest = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  expect(largest).toBeGreaterThan(0);
  let worst = 0;
  let nonZero = 0;
  for (let i = 0; i < expected.length; i++) {
    worst = Math.max(worst, Math.abs(ours[i] - expected[i]));
    if (expected[i] !== 0) nonZero += 1;
  }
  expect(worst).toBeLessThan(1e-5 * largest);
  // A max-pool's gradient reaches one value of each 2×2 window (at most a quarter of them), whatever the ties.
  expect(nonZero).toBeLessThanOrEqual(expected.length / 4);
  expect(nonZero).toBeGreaterThan(0);
  // And the step is still a step: the conv kernel's new value differs from the old.
  const convKernel = model.weights.findIndex((w) => w.originalName === 'conv/kernel');
  const updated = results[compiled.weightOutputs.get(convKernel) as string].data as Float32Array;
  const before = weights[convKernel].read().dataSync();
  expect(updated.some((v, i) => v !== before[i])).toBe(true);
  await session.release();
  model.dispose();
});
