/**
 * face-api's SSD MobileNetV1 weights load into mobilenetV1() and compute what face-api's own network
 * computes (its conv + folded-BN offset + clip, and depthwise conv + batch norm + clip).
 */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { loadSlimMobileNetV1Weights, mobilenetV1 } from '@mobilenets/backbone';
import { readFaceApiWeights } from './face-api';

let weights: tf.NamedTensorMap;

beforeAll(async () => {
  await tf.setBackend('cpu');
  weights = await readFaceApiWeights('ssd_mobilenetv1_model');
});

afterAll(() => tf.dispose(Object.values(weights)));

it('reads and dequantizes the 93 MobileNetV1 tensors', () => {
  const body = Object.keys(weights).filter((n) => n.startsWith('MobilenetV1/'));
  expect(body).toHaveLength(93);
  const kernel = weights['MobilenetV1/Conv2d_13_pointwise/weights'];
  expect(kernel.shape).toEqual([1, 1, 1024, 1024]);
  expect(kernel.dtype).toBe('float32');
  const values = kernel.dataSync();
  const distinct = new Set(values.slice(0, 20000));
  expect(distinct.size).toBeGreaterThan(50); // dequantized uint8: up to 256 levels
  expect(distinct.size).toBeLessThanOrEqual(256);
});

it('loads every end point of an α = 1 model, any input size, and matches face-api math', () => {
  const model = mobilenetV1({ inputSize: 96, includeTop: false });
  const report = loadSlimMobileNetV1Weights(model, weights);
  expect(report.missing).toEqual([]);
  expect(report.loaded).toHaveLength(27);

  const x = tf.randomUniform([1, 96, 96, 3], -1, 1, 'float32', 3);
  const probe = tfl.model({ inputs: model.inputs, outputs: ['Conv2d_0_relu', 'Conv2d_1_depthwise_relu', 'Conv2d_1_pointwise_relu'].map((n) => model.getLayer(n).output as tfl.SymbolicTensor) });
  const ours = probe.predict(x) as tf.Tensor[];
  const w = (n: string) => weights[`MobilenetV1/${n}`];
  const expected = tf.tidy(() => {
    const c0 = tf.clipByValue(tf.add(tf.conv2d(x as tf.Tensor4D, w('Conv2d_0_pointwise/weights') as tf.Tensor4D, 2, 'same'), w('Conv2d_0_pointwise/convolution_bn_offset')), 0, 6);
    const d1 = tf.clipByValue(
      tf.batchNorm(tf.depthwiseConv2d(c0 as tf.Tensor4D, w('Conv2d_1_depthwise/depthwise_weights') as tf.Tensor4D, 1, 'same'), w('Conv2d_1_depthwise/BatchNorm/moving_mean'), w('Conv2d_1_depthwise/BatchNorm/moving_variance'), w('Conv2d_1_depthwise/BatchNorm/beta'), w('Conv2d_1_depthwise/BatchNorm/gamma'), 0.0010000000474974513),
      0, 6,
    );
    const p1 = tf.clipByValue(tf.add(tf.conv2d(d1 as tf.Tensor4D, w('Conv2d_1_pointwise/weights') as tf.Tensor4D, 1, 'same'), w('Conv2d_1_pointwise/convolution_bn_offset')), 0, 6);
    return [c0, d1, p1];
  });
  expected.forEach((e, i) => {
    const a = ours[i].dataSync();
    const b = e.dataSync();
    let worst = 0;
    for (let k = 0; k < a.length; k++) worst = Math.max(worst, Math.abs(a[k] - b[k]));
    expect(worst).toBeLessThan(1e-4);
    expect(Array.from(b).reduce((m, v) => Math.max(m, v), 0)).toBeGreaterThan(0.1); // real activations, not all clipped to 0
  });
  tf.dispose([x, ...ours, ...expected]);
  model.dispose();
});

it('refuses another width multiplier, naming the layer', () => {
  const model = mobilenetV1({ widthMultiplier: 0.5, inputSize: 32 });
  expect(() => loadSlimMobileNetV1Weights(model, weights)).toThrow(/layer 'Conv2d_0' weight 'Conv2d_0\/kernel' has shape \[3,3,3,16\], the weight map gives \[3,3,3,32\]/);
  model.dispose();
});
