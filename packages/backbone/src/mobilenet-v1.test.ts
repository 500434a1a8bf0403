import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { MOBILENET_V1_LAYERS, mobilenetV1, mobilenetV1Endpoints } from './mobilenet-v1';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function withModel<T>(model: tfl.LayersModel, use: (m: tfl.LayersModel) => T): T {
  try {
    return use(model);
  } finally {
    model.dispose();
  }
}

const outputShape = (m: tfl.LayersModel, layer: string) => m.getLayer(layer).outputShape;

describe('mobilenetV1 layer names (TF-slim end points)', () => {
  it('names the 27 conv layers Conv2d_0, Conv2d_1_depthwise, Conv2d_1_pointwise … Conv2d_13_pointwise', () => {
    const endpoints = mobilenetV1Endpoints();
    expect(endpoints).toHaveLength(27);
    expect(endpoints.slice(0, 3)).toEqual(['Conv2d_0', 'Conv2d_1_depthwise', 'Conv2d_1_pointwise']);
    expect(endpoints[endpoints.length - 1]).toBe('Conv2d_13_pointwise');
    withModel(mobilenetV1({ widthMultiplier: 0.25, inputSize: 96 }), (m) => {
      for (const e of endpoints) {
        expect(m.getLayer(e).getClassName()).toBe(e.endsWith('_depthwise') ? 'DepthwiseConv2D' : 'Conv2D');
        expect(m.getLayer(`${e}_BatchNorm`).getClassName()).toBe('BatchNormalization');
        expect(m.getLayer(`${e}_relu`).getClassName()).toBe('Activation');
      }
      expect(m.layers.map((l) => l.name).slice(-4)).toEqual(['AvgPool', 'Dropout', 'Logits', 'Predictions']);
      expect(m.name).toBe('mobilenet_v1_0.25_96');
    });
  });

  it('gives the same names on every build (no global name counters)', () => {
    const a = withModel(mobilenetV1({ widthMultiplier: 0.25, inputSize: 32 }), (m) => m.layers.map((l) => l.name));
    const b = withModel(mobilenetV1({ widthMultiplier: 0.25, inputSize: 32 }), (m) => m.layers.map((l) => l.name));
    expect(b).toEqual(a);
  });

  it('has no conv bias before batch norm, BN epsilon 1e-3', () => {
    withModel(mobilenetV1({ widthMultiplier: 0.25, inputSize: 32 }), (m) => {
      const conv = m.getLayer('Conv2d_1_pointwise');
      expect(conv.weights.map((w) => w.originalName)).toEqual(['Conv2d_1_pointwise/kernel']);
      expect((m.getLayer('Conv2d_1_pointwise_BatchNorm').getConfig() as { epsilon: number }).epsilon).toBe(1e-3);
    });
  });
});

describe('mobilenetV1 shapes at several α and input sizes', () => {
  it.each([
    [1, 224],
    [0.75, 192],
    [0.5, 160],
    [0.25, 128],
    [0.25, 96],
    [0.5, 32],
  ])('α=%f, %i px', (alpha, size) => {
    withModel(mobilenetV1({ widthMultiplier: alpha, inputSize: size, classes: 7 }), (m) => {
      let spatial = size;
      MOBILENET_V1_LAYERS.forEach((spec, i) => {
        spatial = Math.ceil(spatial / spec.stride);
        const channels = Math.max(Math.trunc(spec.filters * alpha), 8);
        const last = spec.kind === 'conv' ? `Conv2d_${i}` : `Conv2d_${i}_pointwise`;
        expect(outputShape(m, last)).toEqual([null, spatial, spatial, channels]);
      });
      expect(spatial).toBe(size / 32);
      expect(m.outputs[0].shape).toEqual([null, 7]);
    });
  });

  it('full-conv variant replaces each separable pair by one 3×3 conv named Conv2d_i', () => {
    withModel(mobilenetV1({ variant: 'full-conv', widthMultiplier: 0.25, inputSize: 64 }), (m) => {
      expect((m.getLayer('Conv2d_5').getConfig() as { kernelSize: number[] }).kernelSize).toEqual([3, 3]);
      expect(m.layers.some((l) => l.name.endsWith('_depthwise'))).toBe(false);
      expect(outputShape(m, 'Conv2d_13')).toEqual([null, 2, 2, 256]);
    });
  });

  it('shallow variant drops Conv2d_7 … Conv2d_11 and keeps the other names', () => {
    withModel(mobilenetV1({ variant: 'shallow', widthMultiplier: 0.25, inputSize: 64 }), (m) => {
      for (const i of [7, 8, 9, 10, 11]) expect(() => m.getLayer(`Conv2d_${i}_pointwise`)).toThrow();
      expect(outputShape(m, 'Conv2d_12_pointwise')).toEqual([null, 2, 2, 256]);
    });
  });

  it('includeTop: false returns the feature map, or a pooled vector', () => {
    withModel(mobilenetV1({ includeTop: false, widthMultiplier: 0.25, inputSize: 64 }), (m) => expect(m.outputs[0].shape).toEqual([null, 2, 2, 256]));
    withModel(mobilenetV1({ includeTop: false, pooling: 'avg', widthMultiplier: 0.25, inputSize: 64 }), (m) => expect(m.outputs[0].shape).toEqual([null, 256]));
  });

  it("uses 'relu' when asked (the paper) and 'relu6' by default (the official code)", () => {
    const activationOf = (m: tfl.LayersModel) => (m.getLayer('Conv2d_0_relu').getConfig() as { activation: string }).activation;
    expect(withModel(mobilenetV1({ widthMultiplier: 0.25, inputSize: 32 }), activationOf)).toBe('relu6');
    expect(withModel(mobilenetV1({ widthMultiplier: 0.25, inputSize: 32, activation: 'relu' }), activationOf)).toBe('relu');
  });
});

describe("TF 'SAME' padding: stride 2 on an even input pads only bottom/right", () => {
  it('Conv2d_0 on a 32×32 image of ones with a kernel of ones sees 9 pixels top-left and 4 bottom-right', () => {
    withModel(mobilenetV1({ widthMultiplier: 0.25, inputSize: 32, classes: 2 }), (m) => {
      const conv = m.getLayer('Conv2d_0');
      const [kernel] = conv.getWeights();
      conv.setWeights([tf.ones(kernel.shape)]);
      const probe = tfl.model({ inputs: m.inputs, outputs: conv.output as tfl.SymbolicTensor });
      const out = tf.tidy(() => probe.predict(tf.ones([1, 32, 32, 3])) as tf.Tensor);
      const values = out.arraySync() as number[][][][];
      out.dispose();
      expect(values[0][0][0][0]).toBe(27); // 3×3 window inside the image, 3 channels
      expect(values[0][15][15][0]).toBe(12); // 2×2 window: one padded row and column at the bottom/right
      expect(values[0][0][15][0]).toBe(18);
    });
  });
});

describe('mobilenetV1 config validation', () => {
  it.each([
    [{ widthMultiplier: 0 }, RangeError, /widthMultiplier \(α\) must be a value in \(0, 1\] .*Received 0\./],
    [{ widthMultiplier: -0.5 }, RangeError, /Received -0.5/],
    [{ widthMultiplier: 1.25 }, RangeError, /Received 1.25/],
    [{ widthMultiplier: Number.NaN }, TypeError, /must be a number/],
    [{ inputSize: 16 }, RangeError, /inputSize must be an integer multiple of 32 that is at least 32.*Received 16/],
    [{ inputSize: 100 }, RangeError, /Received 100\. Images of any size are resized to the input size, so pick the nearest valid one: 96 or 128\./],
    [{ inputSize: 224.5 }, RangeError, /Received 224.5\..*nearest valid one: 224 or 256\./],
    [{ inputSize: 0 }, RangeError, /Received 0\..*nearest valid one: 32\./],
    [{ classes: 0 }, RangeError, /classes must be an integer ≥ 1\. Received 0/],
    [{ classes: 2.5 }, RangeError, /Received 2.5/],
    [{ dropout: 1 }, RangeError, /dropout is a drop rate/],
    [{ variant: 'deep' as never }, RangeError, /variant must be one of 'standard', 'full-conv', 'shallow'\. Received 'deep'/],
    [{ activation: 'gelu' as never }, RangeError, /activation must be one of 'relu', 'relu6'/],
  ])('%j', (config, errorClass, message) => {
    const before = tf.memory().numTensors;
    expect(() => mobilenetV1(config)).toThrow(errorClass);
    expect(() => mobilenetV1(config)).toThrow(message);
    expect(tf.memory().numTensors).toBe(before); // validated before any weight is made
  });

  it('accepts the paper sizes and any multiple of 32', () => {
    for (const inputSize of [32, 96, 128, 160, 192, 224, 256, 320]) {
      withModel(mobilenetV1({ widthMultiplier: 0.25, inputSize, includeTop: false }), (m) => expect(m.inputs[0].shape).toEqual([null, inputSize, inputSize, 3]));
    }
  });
});

describe('seeded initialisation', () => {
  const weightsOf = (m: import('@tensorflow/tfjs-layers').LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));
  it.each([
    ['V1', (seed: number | null) => mobilenetV1({ widthMultiplier: 0.25, inputSize: 32, classes: 3, seed })],
    ['V2', (seed: number | null) => require('./mobilenet-v2').mobilenetV2({ widthMultiplier: 0.35, inputSize: 32, classes: 3, seed })],
  ])('%s: the same seed builds the same weights, another seed or none other ones', (_name, build) => {
    const [a, b, c, d] = [build(7), build(7), build(8), build(null)];
    expect(weightsOf(b)).toEqual(weightsOf(a));
    const kernel = (m: import('@tensorflow/tfjs-layers').LayersModel) => weightsOf(m)[0];
    expect(kernel(c)).not.toEqual(kernel(a));
    expect(kernel(d)).not.toEqual(kernel(a));
    for (const m of [a, b, c, d]) m.dispose();
  });

  it('rejects a seed that is not an integer', () => {
    expect(() => mobilenetV1({ seed: 1.5 })).toThrow(/seed must be an integer.*Received 1.5/);
  });
});
