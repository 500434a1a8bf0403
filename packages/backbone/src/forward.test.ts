/**
 * Forward passes on every backend this machine has (cpu always; wasm from the dev dependencies),
 * agreement between them, and no tensor leaks from building, predicting or disposing.
 */
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { mobilenetV1 } from './mobilenet-v1';
import { mobilenetV2 } from './mobilenet-v2';
import { useBatchStatisticsOf } from './testing';

const BACKENDS = ['cpu', 'wasm'];
const BUILDERS: [string, () => tfl.LayersModel][] = [
  ['V1 0.25-64', () => mobilenetV1({ widthMultiplier: 0.25, inputSize: 64, classes: 10 })],
  ['V1 0.5-96 relu', () => mobilenetV1({ widthMultiplier: 0.5, inputSize: 96, classes: 10, activation: 'relu' })],
  ['V2 0.35-64', () => mobilenetV2({ widthMultiplier: 0.35, inputSize: 64, classes: 10 })],
  ['V2 1.0-96', () => mobilenetV2({ inputSize: 96, classes: 10 })],
];

function input(size: number): tf.Tensor4D {
  return tf.tidy(() => tf.reshape(tf.sin(tf.range(0, 2 * size * size * 3)), [2, size, size, 3]) as tf.Tensor4D);
}

describe.each(BACKENDS)('on the %s backend', (backend) => {
  beforeAll(async () => {
    expect(await tf.setBackend(backend)).toBe(true);
  });

  it.each(BUILDERS)('%s predicts a probability distribution per image without leaking', (_name, build) => {
    const before = tf.memory().numTensors;
    const model = build();
    const x = input(model.inputs[0].shape[1] as number);
    const probabilities = model.predict(x) as tf.Tensor2D;
    expect(probabilities.shape).toEqual([2, 10]);
    const values = probabilities.arraySync();
    for (const row of values) {
      expect(row.every(Number.isFinite)).toBe(true);
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    }
    tf.dispose([x, probabilities]);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('cpu and wasm agree', () => {
  it.each(BUILDERS)('%s: same weights, same input → same features (the pooled output of the body) within 1e-4 relative', async (_name, build) => {
    await tf.setBackend('cpu');
    const model = build();
    const featuresModel = tfl.model({ inputs: model.inputs, outputs: model.getLayer('AvgPool').output as tfl.SymbolicTensor });
    const x = input(model.inputs[0].shape[1] as number);
    await tf.setBackend('wasm'); // tfjs moves the weights over on first use
    // Statistics of 8 random images, as a trained model's would be (a fresh model's activations fade to ~0).
    const calibration = tf.randomUniform([8, ...(model.inputs[0].shape.slice(1) as number[])], -1, 1, 'float32', 7);
    useBatchStatisticsOf(model, calibration);
    calibration.dispose();
    const onWasm = tf.tidy(() => (featuresModel.predict(x) as tf.Tensor).dataSync().slice());
    await tf.setBackend('cpu');
    const onCpu = tf.tidy(() => (featuresModel.predict(x) as tf.Tensor).dataSync().slice());
    const scale = Math.max(...onCpu.map(Math.abs));
    const spread = scale - Math.min(...onCpu.map(Math.abs));
    expect(spread).toBeGreaterThan(1e-3); // the features differ from each other: the comparison means something
    const maxDiff = Math.max(...onCpu.map((v, i) => Math.abs(v - onWasm[i])));
    expect(maxDiff / scale).toBeLessThan(1e-4);
    x.dispose();
    model.dispose();
  });
});
