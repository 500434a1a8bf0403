/**
 * The fused kernels on wasm against tfjs' own composition of the same math on the cpu backend (which
 * has no fused kernels registered): batch-norm training forward and its gradients with respect to x,
 * scale and offset through the batch statistics; the ReLU and ReLU6 gradients; Conv2DBackpropInput.
 */
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { batchNormTraining, installFusedLayers } from '@mobilenets/backbone';
import { registerWasmTrainingKernels } from './register';
import { initWasmSimdKernels } from './simd/module';
import { uniformArray as seeded } from '@mobilenets/random';

beforeAll(async () => {
  installFusedLayers();
  registerWasmTrainingKernels();
  expect(await initWasmSimdKernels()).toBe(true);
  await tf.setBackend('wasm');
});


async function onBoth(run: () => tf.Tensor[]): Promise<{ cpu: Float32Array[]; wasm: Float32Array[] }> {
  const results: Record<string, Float32Array[]> = {};
  for (const backend of ['cpu', 'wasm']) {
    await tf.setBackend(backend);
    const outputs = tf.tidy(run);
    results[backend] = await Promise.all(outputs.map(async (t) => (await t.data()) as Float32Array));
    tf.dispose(outputs);
  }
  return { cpu: results.cpu, wasm: results.wasm };
}

function expectClose(actual: Float32Array, expected: Float32Array, tolerance = 1e-4): void {
  expect(actual.length).toBe(expected.length);
  let scale = 1e-6;
  for (const v of expected) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < actual.length; i++) expect(Math.abs(actual[i] - expected[i]) / scale).toBeLessThanOrEqual(tolerance);
}

describe.each([
  [[3, 7, 5, 17]],
  [[1, 9, 9, 8]],
  [[2, 3, 1]],
  [[5, 3]],
])('batch-norm training on x of shape %j', (shape) => {
  const size = shape.reduce((a, b) => a * b, 1);
  const channels = shape[shape.length - 1];
  const x = seeded(size, 1, -2.3, 3.7);
  const dy = seeded(size, 2);
  const scale = seeded(channels, 3, 0.5, 1.5);
  const offset = seeded(channels, 4);

  it('forward: y, mean and variance match tf.moments + tf.batchNorm', async () => {
    const { cpu, wasm } = await onBoth(() => {
      const r = batchNormTraining(tf.tensor(x, shape), tf.tensor1d(scale), tf.tensor1d(offset), 1e-3);
      return [r.y, r.mean, r.variance];
    });
    cpu.forEach((expected, i) => expectClose(wasm[i], expected));
  });

  it('gradients with respect to x, scale and offset match autodiff of the composition', async () => {
    const { cpu, wasm } = await onBoth(() => {
      const f = (xt: tf.Tensor, s: tf.Tensor, o: tf.Tensor) => tf.sum(tf.mul(batchNormTraining(xt, s as tf.Tensor1D, o as tf.Tensor1D, 1e-3).y, tf.tensor(dy, shape)));
      return tf.grads(f)([tf.tensor(x, shape), tf.tensor1d(scale), tf.tensor1d(offset)]);
    });
    cpu.forEach((expected, i) => expectClose(wasm[i], expected));
  });
});

describe('ReLU and ReLU6 gradients', () => {
  it.each([['relu6', tf.relu6], ['relu', tf.relu]] as const)('%s', async (_name, op) => {
    const values = seeded(3 * 5 * 7 * 9, 5, -6, 10); // spans < 0, (0, 6] and > 6
    values[0] = 0;
    values[1] = 6;
    const dy = seeded(values.length, 6);
    const { cpu, wasm } = await onBoth(() => [tf.grad((t: tf.Tensor) => tf.sum(tf.mul(op(t), tf.tensor(dy, [3, 5, 7, 9]))))(tf.tensor(values, [3, 5, 7, 9]))]);
    expectClose(wasm[0], cpu[0], 0);
  });
});

describe('Conv2DBackpropInput as GEMM', () => {
  it.each([
    [1, 7, 7, 3, 8, 3, 2, 'same'],
    [3, 9, 7, 17, 8, 3, 1, 'valid'],
    [3, 5, 6, 8, 17, 1, 1, 'same'],
    [1, 10, 10, 8, 3, 3, 2, 'valid'],
    [3, 11, 11, 17, 1, 1, 2, 'same'],
  ] as const)('x [%i, %i, %i, %i] → %i channels, kernel %i, stride %i, %s', async (n, h, w, cin, cout, k, stride, pad) => {
    const xShape: [number, number, number, number] = [n, h, w, cin];
    const filterShape: [number, number, number, number] = [k, k, cin, cout];
    const yShape = tf.tidy(() => tf.conv2d(tf.zeros(xShape) as tf.Tensor4D, tf.zeros(filterShape) as tf.Tensor4D, stride, pad).shape);
    const dy = seeded(yShape.reduce((a, b) => a * b, 1), 7);
    const filter = seeded(filterShape.reduce((a, b) => a * b, 1), 8);
    const { cpu, wasm } = await onBoth(() => [
      tf.engine().runKernel('Conv2DBackpropInput', { dy: tf.tensor(dy, yShape), filter: tf.tensor(filter, filterShape) }, { strides: [stride, stride], pad, dataFormat: 'NHWC', inputShape: xShape }) as tf.Tensor,
    ]);
    expectClose(wasm[0], cpu[0]);
  });
});
