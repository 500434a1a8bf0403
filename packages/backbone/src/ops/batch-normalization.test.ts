/**
 * The backbone's BatchNormalization against tfjs-layers' own: the same arguments, config, weights and
 * results, in inference and in training (outputs and moving statistics), on the fused path (the last
 * axis) and on the paths it leaves to tfjs-layers (other axes).
 */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { BatchNormalization, BatchNormalizationArgs } from './batch-normalization';
import { BATCH_NORM_TRAINING } from './fused-kernels';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function ramp(shape: number[], seed: number): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tidy(() => tf.reshape(tf.add(tf.mul(tf.sin(tf.mul(tf.range(0, size), 0.37 + seed)), 3), seed), shape));
}

/** Builds both layers on `shape`, gives them the same (non-trivial) weights, and returns them. */
function pair(args: BatchNormalizationArgs, shape: number[]): [tfl.layers.Layer, tfl.layers.Layer] {
  const ours = new BatchNormalization(args);
  const theirs = tfl.layers.batchNormalization(args);
  const x = tf.zeros(shape);
  tf.dispose([ours.apply(x) as tf.Tensor, theirs.apply(x) as tf.Tensor, x]);
  const weights = theirs.getWeights().map((w, i) => tf.tidy(() => tf.add(tf.abs(ramp(w.shape, i + 1)), 0.5)));
  ours.setWeights(weights);
  theirs.setWeights(weights);
  tf.dispose(weights);
  return [ours, theirs];
}

function expectClose(actual: tf.Tensor, expected: tf.Tensor, tolerance = 1e-5): void {
  expect(actual.shape).toEqual(expected.shape);
  const [a, e] = [actual.dataSync(), expected.dataSync()];
  for (let i = 0; i < e.length; i++) expect(Math.abs(a[i] - e[i])).toBeLessThanOrEqual(tolerance * Math.max(1, Math.abs(e[i])));
}

const CASES: [string, BatchNormalizationArgs, number[]][] = [
  ['channels last, 4-D (the fused path)', { momentum: 0.9 }, [2, 3, 4, 5]],
  ['channels last, 2-D (the fused path)', { axis: -1, epsilon: 0.01 }, [6, 4]],
  ['channels first, axis 1', { axis: 1, momentum: 0.8 }, [2, 3, 4, 5]],
  ['a middle axis of a 3-D input', { axis: 1 }, [4, 3, 2]],
];

describe.each(CASES)('BatchNormalization, %s', (_name, args, shape) => {
  it("gives tfjs-layers' results in inference and training, moving statistics included", () => {
    const [ours, theirs] = pair(args, shape);
    const x = ramp(shape, 0.25);
    for (const training of [false, true, true]) {
      const [y, expected] = [ours.apply(x, { training }) as tf.Tensor, theirs.apply(x, { training }) as tf.Tensor];
      expectClose(y, expected);
      tf.dispose([y, expected]);
      ours.getWeights().forEach((w, i) => expectClose(w, theirs.getWeights()[i]));
    }
    x.dispose();
  });

  it("has tfjs-layers' class name, config and weights", () => {
    const [ours, theirs] = pair(args, shape);
    expect(ours.getClassName()).toBe('BatchNormalization');
    expect({ ...ours.getConfig(), name: '' }).toEqual({ ...theirs.getConfig(), name: '' });
    expect(ours.weights.map((w) => [w.originalName.split('/').pop(), w.shape, w.trainable])).toEqual(
      theirs.weights.map((w) => [w.originalName.split('/').pop(), w.shape, w.trainable]),
    );
  });
});

it("BatchNormalization accepts tfjs-layers' other arguments (no centre, initializers, regularizers, constraints)", () => {
  const args: BatchNormalizationArgs = {
    center: false,
    gammaInitializer: 'randomNormal',
    movingVarianceInitializer: tfl.initializers.constant({ value: 2 }),
    gammaRegularizer: tfl.regularizers.l2({ l2: 1e-3 }),
    gammaConstraint: tfl.constraints.nonNeg(),
  };
  const [ours, theirs] = pair(args, [2, 4, 4, 3]);
  expect(ours.weights.map((w) => w.originalName.split('/').pop())).toEqual(['gamma', 'moving_mean', 'moving_variance']);
  expect(ours.losses.length).toBe(theirs.losses.length);
  const x = ramp([2, 4, 4, 3], 1);
  const [y, expected] = [ours.apply(x) as tf.Tensor, theirs.apply(x) as tf.Tensor];
  expectClose(y, expected);
  expect({ ...ours.getConfig(), name: '' }).toEqual({ ...theirs.getConfig(), name: '' });
  tf.dispose([x, y, expected]);
});

it('trains through standard ops where a backend has the fused kernel but its gradient is not installed', () => {
  let calls = 0;
  tf.registerKernel({ kernelName: BATCH_NORM_TRAINING, backendName: 'cpu', kernelFunc: () => { calls++; throw new Error('the fused kernel ran without its gradient'); } });
  try {
    const shape = [2, 3, 3, 4];
    const [ours, theirs] = pair({}, shape);
    const [x, weights] = [ramp(shape, 0.5), ramp(shape, 2)];
    const gradient = (layer: tfl.layers.Layer) => tf.grad((input: tf.Tensor) => tf.sum(tf.mul(layer.apply(input, { training: true }) as tf.Tensor, weights)))(x);
    const [dx, expected] = [gradient(ours), gradient(theirs)];
    expectClose(dx, expected, 1e-4);
    expect(calls).toBe(0);
    tf.dispose([x, weights, dx, expected]);
  } finally {
    tf.unregisterKernel(BATCH_NORM_TRAINING, 'cpu');
  }
});
