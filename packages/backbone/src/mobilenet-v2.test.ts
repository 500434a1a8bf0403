import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { makeDivisible } from './rounding';
import { mobilenetV2, mobilenetV2Blocks, mobilenetV2EndpointLayers, mobilenetV2LastChannels } from './mobilenet-v2';

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

describe('mobilenetV2 blocks (Table 2)', () => {
  it('has 17 bottlenecks, 10 with identity shortcuts', () => {
    const blocks = mobilenetV2Blocks();
    expect(blocks).toHaveLength(17);
    expect(blocks.filter((b) => b.residual)).toHaveLength(10);
    expect(blocks.map((b) => b.outChannels)).toEqual([16, 24, 24, 32, 32, 32, 64, 64, 64, 64, 96, 96, 96, 160, 160, 160, 320]);
    expect(blocks[1].hiddenChannels).toBe(96);
    expect(blocks[0].expansion).toBe(1);
  });

  it('keeps the last conv at 1280 for α ≤ 1 and scales it above 1', () => {
    expect(mobilenetV2LastChannels(0.35)).toBe(1280);
    expect(mobilenetV2LastChannels(1)).toBe(1280);
    expect(mobilenetV2LastChannels(1.4)).toBe(1792);
  });

  it('rounds every width with _make_divisible(·, 8)', () => {
    for (const alpha of [0.35, 0.5, 0.75, 1.3, 1.4]) {
      for (const b of mobilenetV2Blocks(alpha)) {
        expect(b.outChannels % 8).toBe(0);
        expect(b.hiddenChannels % 8).toBe(0);
      }
      expect(mobilenetV2Blocks(alpha)[0].inChannels).toBe(makeDivisible(32 * alpha));
    }
  });
});

describe('mobilenetV2 layers (Keras names)', () => {
  it.each([
    [1, 224],
    [0.35, 96],
    [0.5, 128],
    [1.4, 160],
  ])('α=%f, %i px: names and shapes', (alpha, size) => {
    withModel(mobilenetV2({ widthMultiplier: alpha, inputSize: size, classes: 5 }), (m) => {
      expect(m.getLayer('Conv1').outputShape).toEqual([null, size / 2, size / 2, makeDivisible(32 * alpha)]);
      expect(() => m.getLayer('expanded_conv_expand')).toThrow(); // t = 1: no expansion
      expect(m.getLayer('expanded_conv_project_BN').outputShape).toEqual([null, size / 2, size / 2, makeDivisible(16 * alpha)]);
      expect(m.getLayer('block_1_expand_relu').outputShape).toEqual([null, size / 2, size / 2, 6 * makeDivisible(16 * alpha)]);
      expect(m.getLayer('block_2_add').getClassName()).toBe('Add');
      expect(m.getLayer('block_13_expand_relu').outputShape).toEqual([null, size / 16, size / 16, 6 * makeDivisible(96 * alpha)]);
      expect(m.getLayer('block_16_project_BN').outputShape).toEqual([null, size / 32, size / 32, makeDivisible(320 * alpha)]);
      expect(m.getLayer('out_relu').outputShape).toEqual([null, size / 32, size / 32, mobilenetV2LastChannels(alpha)]);
      expect(m.outputs[0].shape).toEqual([null, 5]);
    });
  });

  it('keeps projections linear: no activation after *_project_BN', () => {
    withModel(mobilenetV2({ widthMultiplier: 0.35, inputSize: 32 }), (m) => {
      expect(m.layers.some((l) => /_project_relu$/.test(l.name))).toBe(false);
    });
  });

  it('maps TF-slim end points to Keras layers', () => {
    const map = mobilenetV2EndpointLayers();
    expect(map.get('layer_1')).toBe('Conv1_relu');
    expect(map.get('layer_2')).toBe('expanded_conv_project_BN');
    expect(map.get('layer_4')).toBe('block_2_add');
    expect(map.get('layer_15/expansion_output')).toBe('block_13_expand_relu');
    expect(map.get('layer_18')).toBe('block_16_project_BN');
    expect(map.get('layer_19')).toBe('out_relu');
  });
});

describe('mobilenetV2 config validation', () => {
  it.each([
    [{ widthMultiplier: 0 }, /widthMultiplier \(α\) must be a finite value > 0.*Received 0/],
    [{ widthMultiplier: Number.POSITIVE_INFINITY }, /Received Infinity/],
    [{ inputSize: 31 }, /inputSize must be an integer multiple of 32.*Received 31/],
    [{ classes: -1 }, /classes must be an integer ≥ 1\. Received -1/],
  ])('%j', (config, message) => {
    expect(() => mobilenetV2(config)).toThrow(RangeError);
    expect(() => mobilenetV2(config)).toThrow(message);
  });

  it('accepts α > 1', () => {
    withModel(mobilenetV2({ widthMultiplier: 1.4, inputSize: 32, includeTop: false }), (m) => expect(m.outputs[0].shape).toEqual([null, 1, 1, 1792]));
  });
});
