/**
 * The host's crop-and-pool of proposals (the onnxruntime step's second-stage input) against tfjs'
 * crop-and-resize followed by the model's max-pool: the same values, and the same gradient with respect
 * to the features — boxes partly outside the map, tiny and whole-image boxes, and tied maxima (features on
 * a coarse grid of values) included.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { mulberry32 } from '@mobilenets/random';
import { cropAndPoolGradient, cropAndPoolProposals, cropProposals } from './roi-crop';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const SHAPE: [number, number, number, number] = [2, 5, 6, 3];
const CROP = 4;
const POOL = 2;
// Normalised xyxy: inside, partly outside (left and bottom), tiny, the whole image, another on image 1.
const BOXES = [0.1, 0.2, 0.7, 0.9, -0.3, 0.5, 0.4, 1.4, 0.5, 0.5, 0.52, 0.51, 0, 0, 1, 1, 0.25, 0.1, 0.95, 0.6];
const BOX_INDEX = [0, 0, 1, 1, 1];

function features(seed: number): Float32Array {
  const random = mulberry32(seed);
  return Float32Array.from({ length: SHAPE.reduce((a, b) => a * b, 1) }, () => Math.floor(random() * 4) / 4);
}

test('cropAndPoolProposals = cropProposals then a 2×2 max-pool, value for value', () => {
  const f = features(1);
  const ours = cropAndPoolProposals(f, SHAPE, BOXES, BOX_INDEX, CROP, POOL);
  expect(ours.shape).toEqual([5, 2, 2, 3]);
  const expected = tf.tidy(() => tf.maxPool(cropProposals(tf.tensor4d(f, SHAPE), BOXES, BOX_INDEX, CROP), POOL, POOL, 'valid').dataSync());
  expect(Array.from(ours.pooled)).toEqual(Array.from(expected));
  expect(ours.argmax.every((k) => k >= 0 && k < POOL * POOL)).toBe(true);
});

test('cropAndPoolGradient = tfjs\' gradient through max-pool and crop-and-resize (first of tied maxima)', () => {
  const f = features(2);
  const random = mulberry32(3);
  const crops = cropAndPoolProposals(f, SHAPE, BOXES, BOX_INDEX, CROP, POOL);
  const dPooled = Float32Array.from({ length: crops.pooled.length }, () => random() * 2 - 1);
  const ours = cropAndPoolGradient(dPooled, crops, BOXES, BOX_INDEX, SHAPE, CROP, POOL);
  const gradient = tf.tidy(() => {
    const dy = tf.tensor4d(dPooled, crops.shape);
    return tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(cropProposals(x as tf.Tensor4D, BOXES, BOX_INDEX, CROP), POOL, POOL, 'valid'), dy)))(tf.tensor4d(f, SHAPE));
  });
  const expected = gradient.dataSync();
  gradient.dispose();
  expect(ours.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < ours.length; i++) worst = Math.max(worst, Math.abs(ours[i] - expected[i]));
  expect(worst).toBeLessThan(1e-5);
  expect(expected.some((v) => v !== 0)).toBe(true);
});

test('bad shapes are named', () => {
  const f = features(4);
  expect(() => cropAndPoolProposals(f, SHAPE, BOXES, BOX_INDEX, 5, 2)).toThrow(/cropSize \(5\) must be a whole multiple of pool \(2\)/);
  expect(() => cropAndPoolProposals(f, SHAPE, BOXES.slice(4), BOX_INDEX, CROP, POOL)).toThrow(/5 box indices need 20 box numbers/);
  const crops = cropAndPoolProposals(f, SHAPE, BOXES, BOX_INDEX, CROP, POOL);
  expect(() => cropAndPoolGradient(new Float32Array(3), crops, BOXES, BOX_INDEX, SHAPE, CROP, POOL)).toThrow(/3 gradient values for crops of shape \[5,2,2,3\]/);
});
