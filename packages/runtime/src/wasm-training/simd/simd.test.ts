/**
 * The WebAssembly SIMD kernels against the JavaScript loops they replace (same kernels, SIMD switched
 * off), on channel counts that exercise every block variant (1, 3, 4, 8, 17, 20, 36), and on sizes met
 * in training, where per-channel sums run over hundreds of thousands of values.
 */
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { installFusedLayers, batchNormTraining } from '@mobilenets/backbone';
import { registerWasmTrainingKernels } from '../register';
import { initWasmSimdKernels, setWasmSimdEnabled, simdExports } from './module';
import { WasmBackend } from '../heap';
import { uniformArray as seeded } from '@mobilenets/random';

beforeAll(async () => {
  installFusedLayers();
  registerWasmTrainingKernels();
  expect(await initWasmSimdKernels()).toBe(true);
  await tf.setBackend('wasm');
});

afterEach(() => setWasmSimdEnabled(true));


/** max |actual − expected| / max |expected| */
function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  let scale = 1e-6;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  return worst / scale;
}

/** Runs `run` on wasm with the SIMD kernels on, then off; returns both results. */
async function simdAndJs(run: () => tf.Tensor[]): Promise<{ simd: Float32Array[]; js: Float32Array[] }> {
  const results: Float32Array[][] = [];
  for (const on of [true, false]) {
    setWasmSimdEnabled(on);
    const outputs = tf.tidy(run);
    results.push(await Promise.all(outputs.map(async (t) => (await t.data()) as Float32Array)));
    tf.dispose(outputs);
  }
  return { simd: results[0], js: results[1] };
}

it('binds to the wasm backend memory', () => {
  expect(simdExports(tf.backend() as unknown as WasmBackend)).not.toBeNull();
});

describe.each([1, 3, 4, 8, 17, 20, 36])('%i channels: SIMD and JavaScript agree', (channels) => {
  const xShape: [number, number, number, number] = [3, 7, 5, channels];
  const size = xShape.reduce((a, b) => a * b, 1);
  const x = seeded(size, 1, -2.3, 3.7);
  const dy = seeded(size, 2);

  it('batch-norm forward and gradient', async () => {
    const scale = seeded(channels, 3, 0.5, 1.5);
    const offset = seeded(channels, 4);
    const { simd, js } = await simdAndJs(() => {
      const f = (xt: tf.Tensor, s: tf.Tensor, o: tf.Tensor) => tf.sum(tf.mul(batchNormTraining(xt, s as tf.Tensor1D, o as tf.Tensor1D, 1e-3).y, tf.tensor(dy, xShape)));
      const r = batchNormTraining(tf.tensor(x, xShape), tf.tensor1d(scale), tf.tensor1d(offset), 1e-3);
      return [r.y, r.mean, r.variance, ...tf.grads(f)([tf.tensor(x, xShape), tf.tensor1d(scale), tf.tensor1d(offset)])];
    });
    js.forEach((expected, i) => expect(relativeError(simd[i], expected)).toBeLessThanOrEqual(1e-5));
  });

  it.each([['relu6', tf.relu6], ['relu', tf.relu]] as const)('%s gradient', async (_name, op) => {
    const values = seeded(size, 5, -6, 10);
    values[0] = 0;
    values[size - 1] = 6;
    const { simd, js } = await simdAndJs(() => [tf.grad((t: tf.Tensor) => tf.sum(tf.mul(op(t), tf.tensor(dy, xShape))))(tf.tensor(values, xShape))]);
    expect(relativeError(simd[0], js[0])).toBe(0); // (JavaScript's masked values are −0 where dy < 0)
  });

  it.each([[1, 'same'], [2, 'same'], [2, 'valid']] as const)('depthwise gradients, stride %i, %s', async (stride, pad) => {
    const filterShape: [number, number, number, number] = [3, 3, channels, 1];
    const filter = seeded(3 * 3 * channels, 6);
    const yShape = tf.tidy(() => tf.depthwiseConv2d(tf.zeros(xShape) as tf.Tensor4D, tf.zeros(filterShape) as tf.Tensor4D, stride, pad).shape);
    const g = seeded(yShape.reduce((a, b) => a * b, 1), 7);
    const common = { strides: [stride, stride], pad, dilations: [1, 1] };
    const { simd, js } = await simdAndJs(() => [
      tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x: tf.tensor(x, xShape), dy: tf.tensor(g, yShape) }, { ...common, filterShape }) as tf.Tensor,
      tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy: tf.tensor(g, yShape), filter: tf.tensor(filter, filterShape) }, { ...common, inputShape: xShape }) as tf.Tensor,
    ]);
    js.forEach((expected, i) => expect(relativeError(simd[i], expected)).toBeLessThanOrEqual(1e-5));
  });
});

describe('training-sized sums (x of shape [32, 64, 64, 16]: 131072 values a channel)', () => {
  const shape = [32, 64, 64, 16];
  const channels = 16;
  const size = shape.reduce((a, b) => a * b, 1);
  // A mean large against the spread for half the channels: the variance must not cancel away.
  const x = seeded(size, 11, -1.5, 2.5);
  for (let i = 0; i < size; i += 2) x[i] += 40;
  const dy = seeded(size, 12, -0.95, 1.05);
  const scale = seeded(channels, 13, 0.5, 1.5);
  const offset = seeded(channels, 14);

  /** Batch norm forward and gradient in doubles, straight from the definitions. */
  function reference(): { y: Float64Array; mean: Float64Array; variance: Float64Array; dx: Float64Array; dScale: Float64Array; dOffset: Float64Array } {
    const count = size / channels;
    const mean = new Float64Array(channels);
    const variance = new Float64Array(channels);
    for (let i = 0; i < size; i++) mean[i % channels] += x[i] / count;
    for (let i = 0; i < size; i++) variance[i % channels] += (x[i] - mean[i % channels]) ** 2 / count;
    const r = variance.map((v) => 1 / Math.sqrt(v + 1e-3));
    const y = new Float64Array(size);
    const dScale = new Float64Array(channels);
    const dOffset = new Float64Array(channels);
    for (let i = 0; i < size; i++) {
      const c = i % channels;
      const xHat = (x[i] - mean[c]) * r[c];
      y[i] = xHat * scale[c] + offset[c];
      dScale[c] += dy[i] * xHat;
      dOffset[c] += dy[i];
    }
    const dx = new Float64Array(size);
    for (let i = 0; i < size; i++) {
      const c = i % channels;
      const xHat = (x[i] - mean[c]) * r[c];
      dx[i] = (scale[c] * r[c] / count) * (count * dy[i] - dOffset[c] - xHat * dScale[c]);
    }
    return { y, mean, variance, dx, dScale, dOffset };
  }

  it('batch-norm forward and gradient stay within 1e-4 of a float64 reference', async () => {
    const expected = reference();
    const outputs = tf.tidy(() => {
      const f = (xt: tf.Tensor, s: tf.Tensor, o: tf.Tensor) => tf.sum(tf.mul(batchNormTraining(xt, s as tf.Tensor1D, o as tf.Tensor1D, 1e-3).y, tf.tensor(dy, shape)));
      const r = batchNormTraining(tf.tensor(x, shape), tf.tensor1d(scale), tf.tensor1d(offset), 1e-3);
      return [r.y, r.mean, r.variance, ...tf.grads(f)([tf.tensor(x, shape), tf.tensor1d(scale), tf.tensor1d(offset)])];
    });
    const [y, mean, variance, dx, dScale, dOffset] = await Promise.all(outputs.map((t) => t.data()));
    tf.dispose(outputs);
    expect(relativeError(mean, expected.mean)).toBeLessThanOrEqual(1e-4);
    expect(relativeError(variance, expected.variance)).toBeLessThanOrEqual(1e-4);
    expect(relativeError(y, expected.y)).toBeLessThanOrEqual(1e-4);
    expect(relativeError(dScale, expected.dScale)).toBeLessThanOrEqual(1e-4);
    expect(relativeError(dOffset, expected.dOffset)).toBeLessThanOrEqual(1e-4);
    expect(relativeError(dx, expected.dx)).toBeLessThanOrEqual(1e-4);
  });

  it('the depthwise filter gradient stays within 1e-4 of a float64 reference', async () => {
    // 3×3, stride 1, 'same': tap (i, j) pairs x[n, y + i − 1, x + j − 1, c] with dy[n, y, x, c].
    const [batch, height, width] = shape;
    const expected = new Float64Array(9 * channels);
    for (let n = 0; n < batch; n++) {
      for (let oy = 0; oy < height; oy++) {
        for (let ox = 0; ox < width; ox++) {
          for (let tap = 0; tap < 9; tap++) {
            const iy = oy + Math.floor(tap / 3) - 1;
            const ix = ox + (tap % 3) - 1;
            if (iy < 0 || iy >= height || ix < 0 || ix >= width) continue;
            const xBase = ((n * height + iy) * width + ix) * channels;
            const dyBase = ((n * height + oy) * width + ox) * channels;
            for (let c = 0; c < channels; c++) expected[tap * channels + c] += x[xBase + c] * dy[dyBase + c];
          }
        }
      }
    }
    const out = tf.tidy(() => tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x: tf.tensor(x, shape), dy: tf.tensor(dy, shape) }, { strides: [1, 1], pad: 'same', dilations: [1, 1], filterShape: [3, 3, channels, 1] }) as tf.Tensor);
    const actual = await out.data();
    out.dispose();
    expect(relativeError(actual, expected)).toBeLessThanOrEqual(1e-4);
});
});
