/**
 * The gradient of crop-and-resize against finite differences of tfjs' own forward kernel. The crop is
 * linear in the image, so a difference with step 1 is exact but for rounding: every pixel of the image
 * is checked, with boxes inside, across and outside the image, flipped, and of one row or column.
 */
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers'; // registers tfjs' gradients
import * as tf from '@tensorflow/tfjs-core';
import { CROP_AND_RESIZE_GRAD_IMAGE, cropAndResizeGradImageInto, cropSamplePosition, registerCropAndResizeGradient } from './crop-and-resize';

beforeAll(async () => {
  await tf.setBackend('cpu');
  registerCropAndResizeGradient();
});

const imageShape: [number, number, number, number] = [2, 5, 7, 3];
const boxes = [
  [0.1, 0.2, 0.8, 0.9], // inside
  [-0.3, 0.5, 0.6, 1.4], // across the top and right edges
  [0.9, 0.7, 0.2, 0.1], // flipped
  [0.4, 0.0, 0.4, 1.0], // one row
  [1.2, 1.1, 1.6, 1.5], // outside
];
const boxIndex = [0, 1, 1, 0, 1];
const cropSize: [number, number] = [4, 3];

function values(n: number, seed: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.73 + seed) * 2);
}

/** Σ crop(image) ⊙ weights in doubles, through tfjs' forward kernel. */
function objective(image: Float32Array, weights: Float32Array): number {
  const crop = tf.tidy(() => tf.image.cropAndResize(tf.tensor4d(image, imageShape), tf.tensor2d(boxes), tf.tensor1d(boxIndex, 'int32'), cropSize, 'bilinear', 0.5).dataSync());
  let s = 0;
  for (let i = 0; i < crop.length; i++) s += crop[i] * weights[i];
  return s;
}

describe('crop-and-resize gradient', () => {
  const size = imageShape.reduce((a, b) => a * b, 1);
  const image = values(size, 1);
  const weights = values(boxes.length * cropSize[0] * cropSize[1] * imageShape[3], 2);

  test('tf.grad through tf.image.cropAndResize equals a finite difference at every pixel', () => {
    const grad = tf.tidy(() =>
      tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.image.cropAndResize(x as tf.Tensor4D, tf.tensor2d(boxes), tf.tensor1d(boxIndex, 'int32'), cropSize), tf.tensor4d(weights, [boxes.length, ...cropSize, imageShape[3]]))))(tf.tensor4d(image, imageShape)).dataSync(),
    );
    const base = objective(image, weights);
    let worst = 0;
    let nonZero = 0;
    for (let k = 0; k < size; k++) {
      const moved = image.slice();
      moved[k] += 1;
      const difference = objective(moved, weights) - base;
      worst = Math.max(worst, Math.abs(difference - grad[k]));
      if (Math.abs(grad[k]) > 1e-3) nonZero += 1;
    }
    expect(worst).toBeLessThan(1e-4);
    expect(nonZero).toBeGreaterThan(size / 4); // the check is not trivially about zeros
  });

  test('a box wholly outside the image sends no gradient; the weights of a sample sum to 1', () => {
    const out = new Float32Array(imageShape.reduce((a, b) => a * b, 1));
    const dy = new Float32Array(cropSize[0] * cropSize[1] * 3).fill(1);
    cropAndResizeGradImageInto(dy, [1.2, 1.1, 1.6, 1.5], [1], imageShape, cropSize, out);
    expect(out.every((v) => v === 0)).toBe(true);
    cropAndResizeGradImageInto(dy, [0, 0, 1, 1], [0], imageShape, cropSize, out);
    expect(out.reduce((a, b) => a + b, 0)).toBeCloseTo(cropSize[0] * cropSize[1] * 3, 4);
  });

  test('sample positions follow TF: corners on the box edges, the centre for one point', () => {
    expect(cropSamplePosition(0, 1, 0, 14, 21)).toBe(0);
    expect(cropSamplePosition(0, 1, 13, 14, 21)).toBeCloseTo(20, 10);
    expect(cropSamplePosition(0.2, 0.6, 0, 1, 11)).toBeCloseTo(4, 10);
  });

  test('bad box indices and sizes are named', () => {
    const out = new Float32Array(imageShape.reduce((a, b) => a * b, 1));
    expect(() => cropAndResizeGradImageInto(new Float32Array(36), [0, 0, 1, 1], [2], imageShape, cropSize, out)).toThrow(/box 0 names image 2/);
    expect(() => cropAndResizeGradImageInto(new Float32Array(5), [0, 0, 1, 1], [0], imageShape, cropSize, out)).toThrow(/dy must hold/);
  });

  test('no kernel is registered on cpu: the host path runs, and it frees what it makes', () => {
    expect(tf.getKernel(CROP_AND_RESIZE_GRAD_IMAGE, 'cpu')).toBeUndefined();
    const before = tf.memory().numTensors;
    const x = tf.tensor4d(image, imageShape);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.image.cropAndResize(t as tf.Tensor4D, tf.tensor2d(boxes), tf.tensor1d(boxIndex, 'int32'), cropSize)))(x);
    tf.dispose([x, g]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
