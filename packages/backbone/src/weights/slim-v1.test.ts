import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { mobilenetV1 } from '../mobilenet-v1';
import { loadSlimMobileNetV1Weights } from './slim-v1';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A weight map as face-api's SSD stores MobileNetV1: depthwise batch norms in full, the others folded into `convolution_bn_offset`. */
function faceApiStyleWeights(model: tf.serialization.Serializable & { getLayer(name: string): { weights: { shape: number[] }[] } }, layers: number): tf.NamedTensorMap {
  const map: tf.NamedTensorMap = {};
  let seed = 1;
  const random = (shape: number[]) => tf.randomUniform(shape, -1, 1, 'float32', seed++);
  for (let index = 0; index < layers; index++) {
    const pointwise = index === 0 ? 'Conv2d_0' : `Conv2d_${index}_pointwise`;
    const scope = `MobilenetV1/${index === 0 ? 'Conv2d_0_pointwise' : pointwise}`;
    const kernel = model.getLayer(pointwise).weights[0].shape;
    map[`${scope}/weights`] = random(kernel);
    map[`${scope}/convolution_bn_offset`] = random([kernel[3]]);
    if (index === 0) continue;
    const depthwise = `MobilenetV1/Conv2d_${index}_depthwise`;
    const dwKernel = model.getLayer(`Conv2d_${index}_depthwise`).weights[0].shape;
    map[`${depthwise}/depthwise_weights`] = random(dwKernel);
    for (const name of ['gamma', 'beta', 'moving_mean']) map[`${depthwise}/BatchNorm/${name}`] = random([dwKernel[2]]);
    map[`${depthwise}/BatchNorm/moving_variance`] = tf.add(random([dwKernel[2]]), 2);
  }
  return map;
}

describe('loadSlimMobileNetV1Weights', () => {
  it('loads a folded batch norm as γ 1, β offset, mean 0, variance 1 − ε, and leaves no tensor behind', () => {
    const model = mobilenetV1({ inputSize: 32, widthMultiplier: 0.25, includeTop: false });
    const weights = faceApiStyleWeights(model as never, 14);
    const before = tf.memory().numTensors;
    const report = loadSlimMobileNetV1Weights(model, weights);
    expect(tf.memory().numTensors).toBe(before);
    expect(report.missing).toEqual([]);
    expect(report.loaded).toHaveLength(27);
    const [gamma, beta, mean, variance] = model.getLayer('Conv2d_5_pointwise_BatchNorm').getWeights().map((w) => Array.from(w.dataSync()));
    expect(new Set(gamma)).toEqual(new Set([1]));
    expect(beta).toEqual(Array.from(weights['MobilenetV1/Conv2d_5_pointwise/convolution_bn_offset'].dataSync()));
    expect(new Set(mean)).toEqual(new Set([0]));
    expect(new Set(variance)).toEqual(new Set([Math.fround(1 - 1e-3)]));
    // The variables keep their values once the weight map is gone.
    tf.dispose(Object.values(weights));
    expect(model.getLayer('Conv2d_0_BatchNorm').getWeights()[1].dataSync().length).toBe(8);
    model.dispose();
  });
});
