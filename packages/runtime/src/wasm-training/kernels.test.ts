/**
 * Every kernel of the wasm training pack against the cpu backend's, on odd shapes (batch 1 and 3, odd
 * and non-square sizes, strides 1 and 2, 'same' and 'valid', 1, 3, 8 and 17 channels), and against a
 * finite difference: the convolution is linear in each argument, so a central difference with step 1
 * is exact but for rounding.
 */
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { CROP_AND_RESIZE_GRAD_IMAGE, registerFusedGradients } from '@mobilenets/backbone';
import { registerWasmTrainingKernels } from './register';
import { initWasmSimdKernels } from './simd/module';
import { uniformArray as seededUniform } from '@mobilenets/random';

beforeAll(async () => {
  registerWasmTrainingKernels();
  expect(await initWasmSimdKernels()).toBe(true);
  await tf.setBackend('wasm');
});

/** Reproducible values in [-1, 1) for a tensor of this shape. */
const seeded = (shape: number[], seed: number) => seededUniform(shape.reduce((a, b) => a * b, 1), seed);

async function onBackend(backend: 'cpu' | 'wasm', run: () => tf.Tensor): Promise<Float32Array> {
  await tf.setBackend(backend);
  const out = tf.tidy(run);
  const values = (await out.data()) as Float32Array;
  out.dispose();
  return values;
}

function maxRelativeError(actual: Float32Array, expected: Float32Array): number {
  expect(actual.length).toBe(expected.length);
  let scale = 1e-6;
  for (const v of expected) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / scale);
  return worst;
}

/** Σ f(arg) ⊙ weights, in doubles. */
function weightedSum(values: Float32Array, weights: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] * weights[i];
  return sum;
}

/** Central differences of Σ f(t)⊙dy at a few coordinates of t (exact for f linear in t). */
async function finiteDifference(shape: number[], base: Float32Array, dy: Float32Array, f: (t: tf.Tensor) => tf.Tensor, coords: number[]): Promise<number[]> {
  const result: number[] = [];
  for (const k of coords) {
    const plus = base.slice();
    const minus = base.slice();
    plus[k] += 1;
    minus[k] -= 1;
    const yPlus = await onBackend('cpu', () => f(tf.tensor(plus, shape)));
    const yMinus = await onBackend('cpu', () => f(tf.tensor(minus, shape)));
    result.push((weightedSum(yPlus, dy) - weightedSum(yMinus, dy)) / 2);
  }
  return result;
}

const pick = (size: number) => [0, Math.floor(size / 3), Math.floor(size / 2), size - 1];

type Pad = 'same' | 'valid';
const CONV_CASES: [number, number, number, number, number, number, 1 | 2, Pad][] = [
  // batch, height, width, inChannels, outChannels, kernel, stride, pad
  [1, 7, 7, 3, 8, 3, 2, 'same'],
  [3, 9, 7, 17, 8, 3, 1, 'valid'],
  [3, 5, 6, 8, 17, 1, 1, 'same'],
  [1, 8, 8, 1, 3, 1, 1, 'valid'],
  [3, 7, 9, 3, 1, 3, 1, 'same'],
  [1, 10, 10, 8, 3, 3, 2, 'valid'],
  [3, 11, 11, 17, 17, 1, 2, 'same'],
];

describe('Conv2DBackpropFilter', () => {
  it.each(CONV_CASES)('x [%i, %i, %i, %i] → %i channels, kernel %i, stride %i, %s', async (n, h, w, cin, cout, k, stride, pad) => {
    const xShape: [number, number, number, number] = [n, h, w, cin];
    const filterShape: [number, number, number, number] = [k, k, cin, cout];
    const x = seeded(xShape, 1);
    const yShape = tf.tidy(() => tf.conv2d(tf.zeros(xShape) as tf.Tensor4D, tf.zeros(filterShape) as tf.Tensor4D, stride, pad).shape);
    const dy = seeded(yShape, 2);
    const run = () => tf.engine().runKernel('Conv2DBackpropFilter', { x: tf.tensor(x, xShape), dy: tf.tensor(dy, yShape) }, { strides: [stride, stride], pad, dataFormat: 'NHWC', filterShape }) as tf.Tensor;
    const expected = await onBackend('cpu', run);
    const actual = await onBackend('wasm', run);
    expect(maxRelativeError(actual, expected)).toBeLessThanOrEqual(1e-4);

    const weights = seeded(filterShape, 3);
    const coords = pick(weights.length);
    const numeric = await finiteDifference(filterShape, weights, dy, (wt) => tf.conv2d(tf.tensor4d(x, xShape), wt as tf.Tensor4D, stride, pad), coords);
    coords.forEach((c, i) => expect(actual[c]).toBeCloseTo(numeric[i], 3));
  });
});

const DEPTHWISE_CASES: [number, number, number, number, number, 1 | 2, Pad][] = [
  // batch, height, width, channels, multiplier, stride, pad
  [1, 7, 7, 1, 1, 1, 'same'],
  [3, 9, 7, 3, 1, 1, 'valid'],
  [3, 8, 8, 8, 1, 2, 'same'],
  [1, 9, 9, 17, 1, 2, 'valid'],
  [3, 5, 6, 17, 1, 1, 'same'],
  [1, 7, 8, 3, 2, 1, 'same'],
  [3, 7, 7, 8, 2, 2, 'valid'],
];

describe.each(['DepthwiseConv2dNativeBackpropInput', 'DepthwiseConv2dNativeBackpropFilter'])('%s', (kernel) => {
  it.each(DEPTHWISE_CASES)('x [%i, %i, %i, %i], multiplier %i, stride %i, %s', async (n, h, w, c, m, stride, pad) => {
    const xShape = [n, h, w, c] as [number, number, number, number];
    const filterShape = [3, 3, c, m] as [number, number, number, number];
    const x = seeded(xShape, 4);
    const filter = seeded(filterShape, 5);
    const yShape = tf.tidy(() => tf.depthwiseConv2d(tf.zeros(xShape) as tf.Tensor4D, tf.zeros(filterShape) as tf.Tensor4D, stride, pad).shape);
    const dy = seeded(yShape, 6);
    const common = { strides: [stride, stride], pad, dilations: [1, 1] };
    const run =
      kernel === 'DepthwiseConv2dNativeBackpropInput'
        ? () => tf.engine().runKernel(kernel, { dy: tf.tensor(dy, yShape), filter: tf.tensor(filter, filterShape) }, { ...common, inputShape: xShape }) as tf.Tensor
        : () => tf.engine().runKernel(kernel, { x: tf.tensor(x, xShape), dy: tf.tensor(dy, yShape) }, { ...common, filterShape }) as tf.Tensor;
    const expected = await onBackend('cpu', run);
    const actual = await onBackend('wasm', run);
    expect(maxRelativeError(actual, expected)).toBeLessThanOrEqual(1e-4);

    const [shape, base, f] =
      kernel === 'DepthwiseConv2dNativeBackpropInput'
        ? [xShape, x, (t: tf.Tensor) => tf.depthwiseConv2d(t as tf.Tensor4D, tf.tensor4d(filter, filterShape), stride, pad)] as const
        : [filterShape, filter, (t: tf.Tensor) => tf.depthwiseConv2d(tf.tensor4d(x, xShape), t as tf.Tensor4D, stride, pad)] as const;
    const coords = pick(base.length);
    const numeric = await finiteDifference(shape, base, dy, f, coords);
    coords.forEach((k, i) => expect(actual[k]).toBeCloseTo(numeric[i], 3));
  });
});

describe('CropAndResize', () => {
  it.each([['bilinear', [14, 14], 0], ['bilinear', [1, 5], 0.5], ['nearest', [3, 4], -1]] as const)('%s to %j (extrapolation %d): the wasm kernel gives the cpu backend\'s values exactly', async (method, size, extrapolation) => {
    const imageShape = [2, 9, 11, 17] as [number, number, number, number];
    // Inside, across the edges, flipped, one row, outside.
    const boxes = [0.1, 0.2, 0.8, 0.9, -0.2, 0.5, 0.7, 1.3, 0.9, 0.7, 0.2, 0.1, 0.4, 0.1, 0.4, 0.9, 1.2, 1.1, 1.5, 1.4];
    const boxInd = [1, 0, 1, 0, 1];
    const image = seeded(imageShape, 9);
    const run = () => tf.image.cropAndResize(tf.tensor4d(image, imageShape), tf.tensor2d(boxes, [5, 4]), tf.tensor1d(boxInd, 'int32'), [...size], method, extrapolation);
    const expected = await onBackend('cpu', run);
    const actual = await onBackend('wasm', run);
    expect(Array.from(actual)).toEqual(Array.from(expected));
    expect(expected.some((v) => v === extrapolation)).toBe(true);
  });
});

describe('CropAndResize image gradient', () => {
  it('the wasm kernel equals the backbone\'s host loop, through tf.grad on each backend', async () => {
    registerFusedGradients();
    const imageShape = [2, 9, 11, 17] as [number, number, number, number];
    const boxes = [0.1, 0.2, 0.8, 0.9, -0.2, 0.5, 0.7, 1.3, 0.9, 0.7, 0.2, 0.1];
    const boxInd = [1, 0, 1];
    const image = seeded(imageShape, 7);
    const weights = seeded([3, 14, 14, 17], 8);
    const run = () =>
      tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.image.cropAndResize(x as tf.Tensor4D, tf.tensor2d(boxes, [3, 4]), tf.tensor1d(boxInd, 'int32'), [14, 14]), tf.tensor4d(weights, [3, 14, 14, 17]))))(tf.tensor4d(image, imageShape));
    expect(tf.getKernel(CROP_AND_RESIZE_GRAD_IMAGE, 'wasm')).toBeDefined();
    const expected = await onBackend('cpu', run);
    const actual = await onBackend('wasm', run);
    expect(maxRelativeError(actual, expected)).toBeLessThanOrEqual(1e-5);
    expect(expected.some((v) => v !== 0)).toBe(true);
  });
});

describe('MaxPoolGrad', () => {
  const CASES: [number[], [number, number], [number, number], Pad][] = [
    // input [B, H, W, C], filter, strides, pad
    [[2, 14, 14, 17], [2, 2], [2, 2], 'valid'], // the Faster R-CNN crop pool (the 2×2 fast path)
    [[1, 7, 9, 3], [2, 2], [2, 2], 'valid'], // the fast path on odd sizes: the last row and column are in no window
    [[1, 7, 9, 3], [3, 3], [2, 2], 'same'],
    [[3, 5, 6, 8], [2, 3], [1, 1], 'same'], // overlapping windows: gradients add
    [[1, 8, 7, 1], [3, 2], [2, 3], 'valid'],
  ];
  it.each(CASES)('input %j, filter %j, strides %j, %s: the wasm kernel equals the cpu backend\'s', async (shape, filter, strides, pad) => {
    const x = seeded(shape, 11);
    const run = () => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(t as tf.Tensor4D, filter, strides, pad), tf.maxPool(tf.tensor4d(seeded(shape, 12), shape as [number, number, number, number]), filter, strides, pad))))(tf.tensor4d(x, shape as [number, number, number, number]));
    const expected = await onBackend('cpu', run);
    const actual = await onBackend('wasm', run);
    expect(maxRelativeError(actual, expected)).toBeLessThanOrEqual(1e-6);
    expect(expected.some((v) => v !== 0)).toBe(true);
  });

  it('ties: a window of equal values gives its gradient to its first position, as the cpu backend does', async () => {
    const shape: [number, number, number, number] = [1, 4, 4, 2];
    const run = () => tf.grad((t: tf.Tensor) => tf.sum(tf.maxPool(t as tf.Tensor4D, 2, 2, 'valid')))(tf.ones(shape));
    const expected = await onBackend('cpu', run);
    const actual = await onBackend('wasm', run);
    expect(Array.from(actual)).toEqual(Array.from(expected));
    // Row-major first of each 2×2 window: (0,0), (0,2), (2,0), (2,2), both channels.
    expect(Array.from(actual).map((v, i) => (v === 1 ? Math.floor(i / 2) : -1)).filter((p) => p >= 0)).toEqual([0, 0, 2, 2, 8, 8, 10, 10]);
  });
});
