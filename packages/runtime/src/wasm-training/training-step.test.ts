/**
 * A whole training step — forward in training mode, cross-entropy with weight decay, backward through
 * batch norm, ReLU/ReLU6, depthwise and pointwise convolutions, RMSprop update — on wasm (with the kernel
 * pack) against the cpu backend (tfjs' reference kernels).
 *
 * What "the same" can mean here was measured: float32 rounding differences of ~1e-7 grow through 28
 * batch-normalised layers to ~1e-4 at the logits, and they flip the odd ReLU mask (an activation within
 * that distance of 0 or 6), which moves a few gradient entries by a whole term. On the cpu backend alone,
 * scaling the input by 1 + 1e-6 changes some gradient entries by 4% (tmp experiments, recorded in the
 * closing note of the wasm-training issue), and one RMSprop step (lr 0.045) of the cpu backend on an input
 * scaled by 1 + 1e-7 moves every kernel's update by 0.4–0.9% (relative L2). So the test asks for: the
 * loss within 1e-4 relative, and each kernel's update (new − initial weights) within 5% in relative L2
 * norm of the cpu's — a wrong kernel (a transposed filter, a padding off by one, a missing term) is off
 * by tens of percent.
 */
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { installFusedLayers, mobilenetV1, mobilenetV2 } from '@mobilenets/backbone';
import { mulberry32 } from '@mobilenets/random';
import { classificationTask, trainStep } from '@mobilenets/training';
import { registerWasmTrainingKernels } from './register';
import { initWasmSimdKernels } from './simd/module';

beforeAll(async () => {
  installFusedLayers(); // the fused batch-norm and ReLU gradients, as setup() installs them
  registerWasmTrainingKernels();
  expect(await initWasmSimdKernels()).toBe(true);
});

/**
 * Initial weights from a seeded generator, He-uniform over fan-out for convolutions and Glorot-uniform
 * for the classifier; constant tensors (batch-norm γ, β, moving statistics, biases) stay as built.
 */
function seededWeights(model: tfl.LayersModel, seed: number): tf.Tensor[] {
  const random = mulberry32(seed);
  const next = () => 2 * random() - 1;
  return model.getWeights().map((w) => {
    const values = w.dataSync();
    if (values.every((v) => v === values[0])) return w.clone();
    const [a, b, , d] = w.shape;
    const limit = w.rank === 4 ? Math.sqrt(6 / (a * b * d)) : Math.sqrt(6 / (a + b));
    return tf.tensor(Float32Array.from(values, () => next() * limit), w.shape);
  });
}

interface StepResult {
  losses: number[];
  weights: Float32Array[];
  names: string[];
}

async function train(backend: string, build: () => tfl.LayersModel, initial: tf.Tensor[], steps: number): Promise<StepResult> {
  await tf.setBackend(backend);
  const model = build();
  model.setWeights(initial);
  const optimizer = tf.train.rmsprop(0.045, 0.9, 0.9, 1.0);
  const size = model.inputs[0].shape[1] as number;
  const batch = 4;
  const images = Float32Array.from({ length: batch * size * size * 3 }, (_, i) => Math.sin(i * 0.37));
  const step = { tensors: { images: { data: images, shape: [batch, size, size, 3] }, labels: { data: Int32Array.from([0, 3, 1, 2]), shape: [batch] } }, examples: batch };
  const task = classificationTask();
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) losses.push(trainStep(model, optimizer, task, step, { weightDecay: 4e-5 }).loss);
  const weights = model.getWeights().map((w) => w.dataSync().slice() as Float32Array);
  const names = model.weights.map((w) => w.originalName);
  optimizer.dispose();
  model.dispose();
  return { losses, weights, names };
}

/** ‖(a − start) − (b − start)‖ / ‖b − start‖: how far update a is from update b, relative to b's size. */
function relativeUpdateError(a: Float32Array, b: Float32Array, start: Float32Array): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < a.length; i++) {
    diff += (a[i] - b[i]) ** 2;
    norm += (b[i] - start[i]) ** 2;
  }
  return Math.sqrt(diff / Math.max(norm, 1e-30));
}

describe.each([
  ['MobileNetV1 0.25-64', () => mobilenetV1({ widthMultiplier: 0.25, inputSize: 64, classes: 4, dropout: 0 })],
  ['MobileNetV1 0.25-64 relu', () => mobilenetV1({ widthMultiplier: 0.25, inputSize: 64, classes: 4, dropout: 0, activation: 'relu' })],
  ['MobileNetV2 0.35-64', () => mobilenetV2({ widthMultiplier: 0.35, inputSize: 64, classes: 4, dropout: 0 })],
])('%s', (_name, build) => {
  it('a training step on wasm gives the cpu loss (1e-4) and update (5% per kernel)', async () => {
    await tf.setBackend('cpu');
    const reference = build();
    const initial = seededWeights(reference, 12345);
    reference.dispose();
    const start = initial.map((w) => w.dataSync().slice() as Float32Array);
    const cpu = await train('cpu', build, initial, 1);
    const wasm = await train('wasm', build, initial, 1);
    tf.dispose(initial);

    cpu.losses.forEach((loss, i) => expect(Math.abs(wasm.losses[i] - loss) / Math.abs(loss)).toBeLessThan(1e-4));
    expect(wasm.names).toEqual(cpu.names);
    const kernels = cpu.names.map((n, i) => [n, i] as const).filter(([n]) => /kernel$/.test(n));
    expect(kernels.length).toBeGreaterThan(20);
    const errors = kernels.map(([name, i]) => [name, relativeUpdateError(wasm.weights[i], cpu.weights[i], start[i])] as const);
    for (const [name, error] of errors) {
      if (error >= 0.05) throw new Error(`${name}: the wasm update differs from the cpu update by ${(100 * error).toFixed(2)}% (relative L2)`);
    }
  });
});
