/**
 * The default batch-norm momentum lets the moving averages keep up with a short run (issue 8): after 30
 * training-mode steps on data whose statistics changed, they are within 5% of the new batch statistics
 * (Keras' 0.99 would still be 74% of the way back, at 1 − 0.99³⁰ = 26%).
 */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { MOBILENET_V1_DEFAULTS, mobilenetV1 } from './mobilenet-v1';
import { MOBILENET_V2_DEFAULTS, mobilenetV2 } from './mobilenet-v2';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe.each([
  ['mobilenetV1', () => mobilenetV1({ widthMultiplier: 0.25, inputSize: 32, classes: 3, seed: 1 }), MOBILENET_V1_DEFAULTS.batchNormMomentum],
  ['mobilenetV2', () => mobilenetV2({ widthMultiplier: 0.35, inputSize: 32, classes: 3, seed: 1 }), MOBILENET_V2_DEFAULTS.batchNormMomentum],
])('%s default batch-norm momentum', (_name, build, momentum) => {
  it('is 0.9 on every BN layer, and the moving averages settle within 30 steps', () => {
    expect(momentum).toBe(0.9);
    const model = build();
    try {
      const bns = model.layers.filter((l) => l.getClassName() === 'BatchNormalization');
      expect(bns.length).toBeGreaterThan(10);
      for (const l of bns) expect((l.getConfig() as { momentum: number }).momentum).toBe(0.9);
      // Training-mode steps of one BN layer on inputs whose mean moved away from the initial 0.
      const layer = bns[0];
      const channels = (layer.getWeights()[0] as tf.Tensor).shape[0];
      const x = tf.add(tf.randomUniform([4, 4, 4, channels], -1, 1, 'float32', 5), 0.8);
      const batchMean = tf.mean(x, [0, 1, 2]);
      for (let step = 0; step < 30; step++) tf.dispose(layer.apply(x, { training: true }) as tf.Tensor);
      const moving = layer.getWeights()[2];
      const error = tf.tidy(() => tf.div(tf.norm(tf.sub(moving, batchMean)), tf.norm(batchMean)).dataSync()[0]);
      expect(error).toBeLessThan(0.05);
      tf.dispose([x, batchMean]);
    } finally {
      model.dispose();
    }
  });
});
