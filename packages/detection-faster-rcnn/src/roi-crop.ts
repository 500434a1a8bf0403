/**
 * The second stage's input: each proposal cropped from the stride-16 features and resized to
 * cropSize × cropSize by bilinear crop-and-resize (TF's `tf.image.crop_and_resize` on normalised
 * boxes, as the TF Object Detection API does before its 2×2 max-pool). Differentiable with respect to
 * the features through the gradient `@mobilenets/backbone` registers, so the backbone learns from the
 * second stage's loss; the boxes themselves get no gradient (proposals are constants, as in TF).
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerCropAndResizeGradient } from '@mobilenets/backbone';

/** Crops [proposals, cropSize, cropSize, C] of `features` [B, h, w, C] at normalised xyxy boxes, box i from image boxIndex[i]. */
export function cropProposals(features: tf.Tensor4D, proposalsXyxy: ArrayLike<number>, boxIndex: ArrayLike<number>, cropSize: number): tf.Tensor4D {
  registerCropAndResizeGradient();
  const n = boxIndex.length;
  if (proposalsXyxy.length !== 4 * n) throw new RangeError(`cropProposals: ${n} box indices need ${4 * n} box numbers, received ${proposalsXyxy.length}.`);
  const yxyx = new Float32Array(4 * n);
  for (let i = 0; i < n; i++) {
    yxyx[4 * i] = proposalsXyxy[4 * i + 1];
    yxyx[4 * i + 1] = proposalsXyxy[4 * i];
    yxyx[4 * i + 2] = proposalsXyxy[4 * i + 3];
    yxyx[4 * i + 3] = proposalsXyxy[4 * i + 2];
  }
  return tf.tidy(() => tf.image.cropAndResize(features, tf.tensor2d(yxyx, [n, 4]), tf.tensor1d(Int32Array.from(boxIndex), 'int32'), [cropSize, cropSize], 'bilinear', 0));
}
