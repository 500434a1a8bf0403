/**
 * Every default converter against tfjs: a small model around the layer, seeded weights, onnxruntime's
 * outputs within 1e-4 of tfjs' (relative to the largest output). Feature maps reach the layers
 * channels-first (after a convolution), as they do in real models, so the layout handling is exercised.
 */
import '@tensorflow/tfjs-backend-cpu';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { BatchNormalization } from '@mobilenets/backbone';
import { SUPPORTED_ACTIVATIONS } from './activations';
import { DEFAULT_CONVERTERS } from './converters';
import { modelToOnnx } from './export';
import { compareWithOnnxRuntime, randomizeWeights } from './testing';

type Sym = tfl.SymbolicTensor;

let dir: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'onnx-converters-'));
});
afterAll(() => fs.rm(dir, { recursive: true, force: true }));

let counter = 0;

/** Exports `model` (weights seeded first), runs both engines and checks every output; returns the graph's op types. */
async function expectParity(model: tfl.LayersModel, weightScale = 0.5): Promise<string[]> {
  randomizeWeights(model, 100 + counter, weightScale);
  const result = await compareWithOnnxRuntime(model, path.join(dir, `model-${counter++}.onnx`));
  for (const [name, parity] of Object.entries(result.outputs)) {
    expect({ name, ...parity, ok: parity.maxRelative < 1e-4 }).toMatchObject({ name, ok: true });
  }
  model.dispose();
  return result.ops;
}

const image = (size = 9, channels = 3) => tfl.input({ shape: [size, size, channels], name: 'image' });
const conv = (x: Sym, filters = 6, options: Partial<Parameters<typeof tfl.layers.conv2d>[0]> = {}) =>
  tfl.layers.conv2d({ filters, kernelSize: 3, padding: 'same', useBias: true, ...options }).apply(x) as Sym;
const apply = (layer: tfl.layers.Layer, x: Sym | Sym[]) => layer.apply(x) as Sym;

describe('converters match tfjs within 1e-4 (relative)', () => {
  it.each([
    ['same padding, stride 2, odd input (TF puts the odd pad at the bottom/right)', { strides: 2 }, 9],
    ['same padding, stride 2, even input', { strides: 2 }, 8],
    ['valid padding, stride 1, no bias', { padding: 'valid', useBias: false }, 9],
    ['dilation 2', { dilationRate: 2 }, 9],
    ['5×3 kernel, relu activation', { kernelSize: [5, 3], activation: 'relu' }, 9],
  ] as const)('Conv2D: %s', async (_name, options, size) => {
    const x = image(size);
    const ops = await expectParity(tfl.model({ inputs: x, outputs: conv(x, 5, options as Partial<Parameters<typeof tfl.layers.conv2d>[0]>) }));
    expect(ops.filter((o) => o === 'Conv')).toHaveLength(1);
  });

  it('Conv2D and DepthwiseConv2D with \'same\' padding on an input of free size (auto_pad SAME_UPPER)', async () => {
    const x = tfl.input({ shape: [null, null, 3], name: 'image' });
    const y = apply(tfl.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same' }), conv(x, 4, { strides: 2 }));
    const model = tfl.model({ inputs: x, outputs: y });
    randomizeWeights(model, 9);
    for (const size of [9, 12]) {
      const result = await compareWithOnnxRuntime(model, path.join(dir, `free-size-${size}.onnx`), { inputShapes: [[size, size + 1, 3]] });
      expect(result.worstRelative).toBeLessThan(1e-4);
      expect(result.graph.input![0].type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue))).toEqual(['batch', 'image_dim1', 'image_dim2', 3]);
    }
    model.dispose();
  });

  it.each([
    ['stride 2, depth multiplier 2, bias', { strides: 2, depthMultiplier: 2, useBias: true }],
    ['stride 1, no bias, relu6', { useBias: false, activation: 'relu6' }],
  ] as const)('DepthwiseConv2D: %s', async (_name, options) => {
    const x = image();
    const y = apply(tfl.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', ...options }), conv(x));
    expect(await expectParity(tfl.model({ inputs: x, outputs: y }))).toContain('Conv');
  });

  it('BatchNormalization folded into the convolution before it (no Mul/Add left)', async () => {
    const x = image();
    const y = apply(new BatchNormalization({ epsilon: 1e-3 }), conv(x, 6, { useBias: false }));
    const ops = await expectParity(tfl.model({ inputs: x, outputs: y }));
    expect(ops.filter((o) => o === 'Mul' || o === 'Add')).toEqual([]);
  });

  it.each([
    ['after a convolution with an activation', () => {
      const x = image();
      return { x, y: apply(tfl.layers.batchNormalization({}), conv(x, 6, { activation: 'relu' })) };
    }],
    ['whose convolution also feeds another layer', () => {
      const x = image();
      const c = conv(x);
      return { x, y: apply(tfl.layers.add(), [apply(new BatchNormalization({}), c), c]) };
    }],
    ['on a 2-D tensor (tfjs layout)', () => {
      const x = tfl.input({ shape: [7], name: 'features' });
      return { x, y: apply(tfl.layers.batchNormalization({}), apply(tfl.layers.dense({ units: 5 }), x)) };
    }],
  ])('BatchNormalization not folded: %s', async (_name, build) => {
    const { x, y } = build();
    expect(await expectParity(tfl.model({ inputs: x, outputs: y }))).toContain('Mul');
  });

  it.each(SUPPORTED_ACTIVATIONS.map((a) => [a]))('Activation %s on a channels-first feature map', async (activation) => {
    const x = image();
    const y = apply(tfl.layers.activation({ activation: activation as 'relu' }), conv(x));
    // Weights in ±2: the feature map reaches ±10, beyond relu6's clip and into the saturating ranges.
    await expectParity(tfl.model({ inputs: x, outputs: y }), 2);
  });

  it.each([
    ['without maxValue', {}],
    ['with maxValue 1.5', { maxValue: 1.5 }],
  ])('ReLU %s', async (_name, options) => {
    const x = image();
    await expectParity(tfl.model({ inputs: x, outputs: apply(tfl.layers.reLU(options), conv(x)) }));
  });

  it('Dropout is the identity at inference', async () => {
    const x = image();
    const ops = await expectParity(tfl.model({ inputs: x, outputs: apply(tfl.layers.dropout({ rate: 0.5 }), conv(x)) }));
    expect(ops).not.toContain('Dropout');
  });

  it('Add of three feature maps, and of two 2-D tensors', async () => {
    const x = image();
    const maps = [conv(x), conv(x), conv(x)];
    const vectors = [tfl.layers.dense({ units: 4 }), tfl.layers.dense({ units: 4 })].map((d) => apply(d, apply(tfl.layers.flatten(), x)));
    await expectParity(tfl.model({ inputs: x, outputs: [apply(tfl.layers.add(), maps), apply(tfl.layers.add(), vectors)] }));
  });

  it('ZeroPadding2D, asymmetric', async () => {
    const x = image();
    await expectParity(tfl.model({ inputs: x, outputs: apply(tfl.layers.zeroPadding2d({ padding: [[1, 2], [3, 0]] }), conv(x)) }));
  });

  it('UpSampling2D, nearest, by 2 and by [3, 1]', async () => {
    const x = image();
    const ops = await expectParity(tfl.model({ inputs: x, outputs: [apply(tfl.layers.upSampling2d({ size: [2, 2] }), conv(x)), apply(tfl.layers.upSampling2d({ size: [3, 1] }), conv(x))] }));
    expect(ops).toContain('Resize');
  });

  it('UpSampling2D, bilinear: a clear error', () => {
    const x = image();
    const model = tfl.model({ inputs: x, outputs: apply(tfl.layers.upSampling2d({ size: [2, 2], interpolation: 'bilinear' }), conv(x)) });
    expect(() => modelToOnnx(model)).toThrow(/UpSampling2D.*only 'nearest'/);
    model.dispose();
  });

  it.each([
    ['GlobalAveragePooling2D', () => tfl.layers.globalAveragePooling2d({})],
    ['GlobalMaxPooling2D', () => tfl.layers.globalMaxPooling2d({})],
  ])('%s', async (_name, layer) => {
    const x = image();
    await expectParity(tfl.model({ inputs: x, outputs: apply(layer(), conv(x)) }));
  });

  it.each([
    ['2-D input, bias, softmax', 2, { units: 5, activation: 'softmax' }],
    ['2-D input, no bias', 2, { units: 5, useBias: false }],
    ['3-D input (applied to the last axis), tanh', 3, { units: 4, activation: 'tanh' }],
  ] as const)('Dense: %s', async (_name, rank, options) => {
    const x = tfl.input({ shape: rank === 2 ? [6] : [3, 6], name: 'features' });
    await expectParity(tfl.model({ inputs: x, outputs: apply(tfl.layers.dense(options), x) }));
  });

  it('Softmax layer on a 2-D tensor and over the channels of a feature map', async () => {
    const x = image();
    const map = conv(x);
    const vector = apply(tfl.layers.dense({ units: 5 }), apply(tfl.layers.globalAveragePooling2d({}), map));
    await expectParity(tfl.model({ inputs: x, outputs: [apply(tfl.layers.softmax({}), vector), apply(tfl.layers.softmax({ axis: -1 }), map)] }));
  });

  it.each([
    ['channels of 4-D feature maps (axis -1)', -1],
    ['rows of 4-D feature maps (axis 1)', 1],
  ])('Concatenate: %s, no transposes', async (_name, axis) => {
    const x = image();
    const y = apply(tfl.layers.concatenate({ axis }), [conv(x, 4), conv(x, 4), conv(x, 4)]);
    const ops = await expectParity(tfl.model({ inputs: x, outputs: apply(tfl.layers.conv2d({ filters: 3, kernelSize: 1 }), y) }));
    expect(ops.filter((o) => o === 'Transpose')).toHaveLength(2); // the input's and the output's
  });

  it('Concatenate: 2-D tensors', async () => {
    const x = tfl.input({ shape: [6], name: 'features' });
    await expectParity(tfl.model({ inputs: x, outputs: apply(tfl.layers.concatenate({}), [apply(tfl.layers.dense({ units: 3 }), x), x]) }));
  });

  it('Concatenate: a channels-first feature map with one in the tfjs layout', async () => {
    const x = image(8);
    const flat = apply(tfl.layers.reshape({ targetShape: [8, 8, 3] }), apply(tfl.layers.flatten(), conv(x, 3))); // 4-D, in the tfjs layout
    await expectParity(tfl.model({ inputs: x, outputs: apply(tfl.layers.concatenate({}), [conv(x, 2), flat]) }));
  });

  it.each([
    ['[B,H,W,A·4] → [B,N,4]: the channels change, so transposed back to NHWC first', [-1, 4], {}, 2],
    ['[B,H,W,C] → [B,H·W,C]: the channels stay last, so reshaped channels-first (the 3-D output is transposed)', [81, 12], {}, 2],
    ['[B,1,1,C] → [B,C]: spatial size 1, the same order in both layouts', [12], { kernelSize: 9, padding: 'valid' }, 1],
  ] as const)('Reshape %s', async (_name, targetShape, convOptions, transposes) => {
    const x = image();
    const y = apply(tfl.layers.reshape({ targetShape: [...targetShape] }), conv(x, 12, convOptions));
    // A Dense after it mixes the values along the last axis: a wrong order shows there even when the output's flat order is right.
    const ops = await expectParity(tfl.model({ inputs: x, outputs: [y, apply(tfl.layers.dense({ units: 3 }), y)] }));
    expect(ops.filter((o) => o === 'Transpose')).toHaveLength(transposes); // the input's included
  });

  it('Reshape of a 2-D tensor and of an input', async () => {
    const x = tfl.input({ shape: [12], name: 'features' });
    await expectParity(tfl.model({ inputs: x, outputs: apply(tfl.layers.reshape({ targetShape: [3, 2, 2] }), apply(tfl.layers.dense({ units: 12 }), x)) }));
  });

  it.each([
    ['a feature map (transposed back first)', false],
    ['a 1×1 feature map (no transpose needed)', true],
  ])('Flatten of %s', async (_name, pooled) => {
    const x = image();
    const map = pooled ? apply(tfl.layers.conv2d({ filters: 5, kernelSize: 9 }), x) : conv(x, 5, { strides: 2 });
    const ops = await expectParity(tfl.model({ inputs: x, outputs: apply(tfl.layers.dense({ units: 3 }), apply(tfl.layers.flatten(), map)) }));
    expect(ops.filter((o) => o === 'Transpose')).toHaveLength(pooled ? 1 : 2);
  });
});

describe('inputs', () => {
  it('several named inputs of different ranks: only the 4-D image is transposed', async () => {
    const photo = tfl.input({ shape: [8, 8, 3], name: 'photo' });
    const extra = tfl.input({ shape: [4], name: 'extra' });
    const sequence = tfl.input({ shape: [5, 2], name: 'sequence' });
    const pooled = apply(tfl.layers.globalAveragePooling2d({}), conv(photo, 4));
    const joined = apply(tfl.layers.concatenate({}), [pooled, extra, apply(tfl.layers.flatten(), sequence)]);
    const model = tfl.model({ inputs: [photo, extra, sequence], outputs: apply(tfl.layers.dense({ units: 3, name: 'logits' }), joined) });
    randomizeWeights(model, 5);
    const result = await compareWithOnnxRuntime(model, path.join(dir, 'three-inputs.onnx'));
    expect(result.worstRelative).toBeLessThan(1e-4);
    expect((result.graph.input ?? []).map((i) => i.name)).toEqual(['photo', 'extra', 'sequence']);
    expect(result.ops.filter((o) => o === 'Transpose')).toHaveLength(1);
    model.dispose();
  });
});

describe('DEFAULT_CONVERTERS', () => {
  it('covers every layer class the parity tests above exercise', () => {
    expect(Object.keys(DEFAULT_CONVERTERS).sort()).toEqual(
      ['Activation', 'Add', 'BatchNormalization', 'Concatenate', 'Conv2D', 'Dense', 'DepthwiseConv2D', 'Dropout', 'Flatten', 'GlobalAveragePooling2D', 'GlobalMaxPooling2D', 'ReLU', 'Reshape', 'Softmax', 'UpSampling2D', 'ZeroPadding2D'].sort(),
    );
  });
});
