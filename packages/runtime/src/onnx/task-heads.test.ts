/**
 * What a task package needs from the exporter: a detection head shaped like SSD's box predictor
 * (Reshape of NHWC head outputs, Concatenate over levels, two named outputs), and converters for its
 * own layer classes, including layers with several outputs.
 */
import '@tensorflow/tfjs-backend-cpu';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayerConverter } from './converter';
import { onnxAxis } from './converter';
import { DEFAULT_CONVERTERS } from './converters';
import { modelToOnnx } from './export';
import { createSession } from './session';
import { compareWithOnnxRuntime, randomizeWeights } from './testing';

type Sym = tfl.SymbolicTensor;

let dir: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'onnx-task-heads-'));
});
afterAll(() => fs.rm(dir, { recursive: true, force: true }));

const apply = (layer: tfl.layers.Layer, x: Sym | Sym[]) => layer.apply(x) as Sym;

/**
 * Two feature maps (8×8 and 4×4 from a 16×16 image), each with a 3×3 conv head for boxes [B,H,W,A·4]
 * and one for classes [B,H,W,A·C], reshaped to [B,H·W·A,4] / [B,H·W·A,C] and concatenated over the levels.
 */
function ssdLikeModel(anchors: number, classes: number): tfl.LayersModel {
  const image = tfl.input({ shape: [16, 16, 3], name: 'image' });
  const f1 = apply(tfl.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu6', name: 'feature_8x8' }), image);
  const f2 = apply(tfl.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu6', name: 'feature_4x4' }), f1);
  const head = (feature: Sym, level: number, perAnchor: number, kind: string) => {
    const conv = apply(tfl.layers.conv2d({ filters: anchors * perAnchor, kernelSize: 3, padding: 'same', name: `${kind}_head_${level}` }), feature);
    return apply(tfl.layers.reshape({ targetShape: [-1, perAnchor], name: `${kind}_reshape_${level}` }), conv);
  };
  const boxes = apply(tfl.layers.concatenate({ axis: 1, name: 'boxes' }), [head(f1, 0, 4, 'boxes'), head(f2, 1, 4, 'boxes')]);
  const scores = apply(tfl.layers.concatenate({ axis: 1, name: 'scores' }), [head(f1, 0, classes, 'classes'), head(f2, 1, classes, 'classes')]);
  return tfl.model({ inputs: image, outputs: [boxes, scores], name: 'ssd_like' });
}

describe('an SSD-like two-headed model', () => {
  it.each([
    [3, 5, 5], // A·4 ≠ 4: each of the 4 Reshapes transposes its head back to NHWC, plus the input's transpose
    [1, 4, 3], // A = 1 and C = 4: the channels stay last, the Reshapes and Concats stay channels-first; the 2 outputs are transposed
  ])('A = %i anchors, C = %i classes: outputs boxes [B,N,4] and scores [B,N,C] within 1e-4 of tfjs', async (anchors, classes, transposes) => {
    const model = ssdLikeModel(anchors, classes);
    randomizeWeights(model, 21);
    const file = path.join(dir, `ssd-${anchors}-${classes}.onnx`);
    const result = await compareWithOnnxRuntime(model, file, { batch: 3 });
    const n = (8 * 8 + 4 * 4) * anchors;
    expect(result.outputs.boxes.dims).toEqual([3, n, 4]);
    expect(result.outputs.scores.dims).toEqual([3, n, classes]);
    expect(result.outputs.boxes.maxRelative).toBeLessThan(1e-4);
    expect(result.outputs.scores.maxRelative).toBeLessThan(1e-4);
    // No transposes in the convolutional body: only on the input, before a Reshape that moves the channels, or on an output.
    const graph = result.graph;
    const outputNames = new Set((graph.output ?? []).map((o) => o.name));
    const readers = (tensor: string) => (graph.node ?? []).filter((n) => (n.input ?? []).includes(tensor));
    const transposeNodes = (graph.node ?? []).filter((n) => n.opType === 'Transpose');
    expect(transposeNodes).toHaveLength(transposes);
    for (const t of transposeNodes) {
      const fromInput = t.input?.[0] === 'image';
      const intoReshape = readers(t.output![0]).every((r) => r.opType === 'Reshape');
      const toOutput = readers(t.output![0]).every((r) => r.opType === 'Identity' && outputNames.has(r.output![0]));
      expect({ transpose: t.name, ok: fromInput || intoReshape || toOutput }).toEqual({ transpose: t.name, ok: true });
    }
    const session = await createSession(file);
    expect(session.outputs.map((o) => [o.name, o.dims])).toEqual([
      ['boxes', ['batch', n, 4]],
      ['scores', ['batch', n, classes]],
    ]);
    expect(session.inputs.map((i) => [i.name, i.dims])).toEqual([['image', ['batch', 16, 16, 3]]]);
    await session.dispose();
    model.dispose();
  });
});

/** y = 2x: a layer class tfjs-layers does not have. */
class TimesTwo extends tfl.layers.Layer {
  static className = 'TimesTwo';
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => tf.mul(Array.isArray(inputs) ? inputs[0] : inputs, 2));
  }
}

/** Splits the channels in two halves: a layer with two outputs. */
class SplitChannels extends tfl.layers.Layer {
  static className = 'SplitChannels';
  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape[] {
    const shape = inputShape as tfl.Shape;
    const half = [...shape.slice(0, -1), (shape[shape.length - 1] as number) / 2];
    return [half, half];
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor[] {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    return tf.split(x, 2, -1);
  }
}

const timesTwo: LayerConverter = (layer, [x], ctx) => ({
  name: ctx.graph.addNode('Mul', [x.name, ctx.graph.addFloatInitializer(`${layer.name}/two`, [2], [])], layer.name)[0],
  layout: x.layout,
});

const splitChannels: LayerConverter = (layer, [x], ctx) => {
  const axis = onnxAxis(-1, x.shape.length, x.layout);
  const halves = ctx.graph.addNode('Split', [x.name], layer.name, { axis: { int: axis } }, 2);
  return halves.map((name) => ({ name, layout: x.layout }));
};

describe('caller-supplied converters', () => {
  function customModel(): tfl.LayersModel {
    const image = tfl.input({ shape: [6, 6, 3], name: 'image' });
    const features = apply(tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same' }), image);
    const doubled = apply(new TimesTwo({ name: 'times_two' }), features);
    const [left, right] = new SplitChannels({ name: 'split' }).apply(doubled) as Sym[];
    const leftConv = apply(tfl.layers.conv2d({ filters: 3, kernelSize: 1, name: 'left_conv' }), left);
    const rightRelu = apply(tfl.layers.reLU({ name: 'right_relu' }), right);
    return tfl.model({ inputs: image, outputs: [leftConv, rightRelu] });
  }

  it('a custom layer class without a converter is an error that names it and says how to add one', () => {
    const model = customModel();
    expect(() => modelToOnnx(model)).toThrow(TypeError);
    expect(() => modelToOnnx(model)).toThrow(/layer 'times_two' of class TimesTwo is not supported .*converters: \{ TimesTwo: … \}/);
    model.dispose();
  });

  it('converters for custom classes (one with two outputs) are used, merged over the defaults; a replaced default is called', async () => {
    const model = customModel();
    randomizeWeights(model, 3);
    const relu = jest.fn(DEFAULT_CONVERTERS.ReLU);
    const custom = jest.fn(timesTwo);
    const result = await compareWithOnnxRuntime(model, path.join(dir, 'custom.onnx'), { converters: { TimesTwo: custom, SplitChannels: splitChannels, ReLU: relu } });
    expect(result.worstRelative).toBeLessThan(1e-4);
    expect(custom).toHaveBeenCalledTimes(1);
    expect(relu).toHaveBeenCalledTimes(1);
    expect(result.ops).toContain('Split');
    expect(result.ops.filter((o) => o === 'Transpose')).toHaveLength(3); // the input's and the two 4-D outputs'
    model.dispose();
  });

  it('a converter that returns the wrong number of outputs, or not a tensor, is a TypeError naming the layer', () => {
    const model = customModel();
    const oneOutput: LayerConverter = (_layer, [x]) => x;
    expect(() => modelToOnnx(model, { converters: { TimesTwo: timesTwo, SplitChannels: oneOutput } })).toThrow(/converter for SplitChannels returned .* for layer 'split'; expected 2 tensor\(s\)/);
    const noLayout = (() => ({ name: 'x' })) as unknown as LayerConverter;
    expect(() => modelToOnnx(model, { converters: { TimesTwo: noLayout, SplitChannels: splitChannels } })).toThrow(/layer 'times_two'; expected 1 tensor\(s\) \{ name, layout/);
    expect(() => modelToOnnx(model, { converters: { TimesTwo: 'Mul' as unknown as LayerConverter } })).toThrow(/converters.TimesTwo is string; expected a function/);
    model.dispose();
  });
});
