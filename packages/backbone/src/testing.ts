/**
 * Helpers for tests of code that runs a backbone (`@mobilenets/backbone/testing`; not part of the
 * published package).
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

/**
 * Gives every batch-norm layer the mean and variance of its input on `x` (one training-mode forward
 * pass with momentum 0), as a trained model's moving statistics would be. A freshly built model's are
 * mean 0 and variance 1; with torchvision's initialisation (fan-out for the depthwise filters) its
 * activations then fade layer by layer, so a test comparing outputs of an untrained model would compare
 * numbers near 0. Weights are unchanged; the momenta are restored.
 */
export function useBatchStatisticsOf(model: tfl.LayersModel, x: tf.Tensor): void {
  const norms = model.layers.filter((l) => l.getClassName() === 'BatchNormalization') as unknown as { momentum: number }[];
  const saved = norms.map((l) => l.momentum);
  norms.forEach((l) => (l.momentum = 0));
  try {
    tf.tidy(() => {
      model.apply(x, { training: true });
    });
  } finally {
    norms.forEach((l, i) => (l.momentum = saved[i]));
  }
}
