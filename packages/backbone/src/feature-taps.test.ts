import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { featureTap, featureTaps, listEndpoints } from './feature-taps';
import { mobilenetV1 } from './mobilenet-v1';
import { mobilenetV2 } from './mobilenet-v2';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('feature taps', () => {
  it("SSD's V1 taps: Conv2d_11_pointwise at stride 16 and Conv2d_13_pointwise at stride 32", () => {
    const m = mobilenetV1({ widthMultiplier: 0.5, inputSize: 320, includeTop: false });
    const [c11, c13] = featureTaps(m, ['Conv2d_11_pointwise', 'Conv2d_13_pointwise']);
    expect([c11.channels, c11.stride, c11.height, c11.width]).toEqual([256, 16, 20, 20]);
    expect([c13.channels, c13.stride, c13.height]).toEqual([512, 32, 10]);
    expect(c11.layerName).toBe('Conv2d_11_pointwise_relu');
    m.dispose();
  });

  it("SSDLite's V2 taps: layer_15/expansion_output at stride 16 and layer_19 at stride 32", () => {
    const m = mobilenetV2({ inputSize: 320, includeTop: false });
    const [e15, l19] = featureTaps(m, ['layer_15/expansion_output', 'layer_19']);
    expect([e15.channels, e15.stride, e15.layerName]).toEqual([576, 16, 'block_13_expand_relu']);
    expect([l19.channels, l19.stride, l19.layerName]).toEqual([1280, 32, 'out_relu']);
    expect(featureTap(m, 'block_13_expand_relu').channels).toBe(576); // Keras layer names work too
    m.dispose();
  });

  it('taps are symbolic tensors a new head can be built on', () => {
    const m = mobilenetV1({ widthMultiplier: 0.25, inputSize: 64, includeTop: false });
    const tap = featureTap(m, 'Conv2d_5_pointwise');
    const head = tfl.layers.conv2d({ filters: 4, kernelSize: 1 }).apply(tap.output) as tfl.SymbolicTensor;
    const detector = tfl.model({ inputs: m.inputs, outputs: [head, m.outputs[0]] });
    const outputs = detector.predict(tf.zeros([2, 64, 64, 3])) as tf.Tensor[];
    expect(outputs[0].shape).toEqual([2, 8, 8, 4]);
    tf.dispose(outputs);
    detector.dispose();
  });

  it('an unknown end point names the ones that exist', () => {
    const m = mobilenetV1({ widthMultiplier: 0.25, inputSize: 32, variant: 'shallow' });
    expect(listEndpoints(m)).not.toContain('Conv2d_8_pointwise');
    expect(() => featureTap(m, 'Conv2d_8_pointwise')).toThrow(/has no end point 'Conv2d_8_pointwise'\. Available: Conv2d_0, Conv2d_1_depthwise/);
    m.dispose();
  });

  it("runs without the top at sizes that are not multiples of 32, as SSD's 300 (feature maps 19 and 10)", () => {
    const v1 = mobilenetV1({ widthMultiplier: 0.25, inputSize: 300, includeTop: false });
    expect(featureTaps(v1, ['Conv2d_11_pointwise', 'Conv2d_13_pointwise']).map((t) => [t.height, t.width, t.stride])).toEqual([[19, 19, 16], [10, 10, 30]]);
    const v2 = mobilenetV2({ widthMultiplier: 0.35, inputSize: 300, includeTop: false });
    expect(featureTaps(v2, ['layer_15/expansion_output', 'layer_19']).map((t) => [t.height, t.width])).toEqual([[19, 19], [10, 10]]);
    expect(() => mobilenetV1({ inputSize: 300 })).toThrow(/multiple of 32/); // with the classifier, the papers' sizes
    expect(() => mobilenetV1({ inputSize: 31, includeTop: false })).toThrow('inputSize must be an integer ≥ 32');
    v1.dispose();
    v2.dispose();
  });
});
