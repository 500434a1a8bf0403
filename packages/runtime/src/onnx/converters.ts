/**
 * The converters for tfjs-layers' own layers. Convolutions and pooling work channels-first (NCHW);
 * element-wise layers keep the layout they receive; Reshape and Flatten work on channels-first
 * tensors directly where that is exact and otherwise transpose back to the tfjs layout first.
 */
import type { ConversionContext, ExportTensor, Layer, LayerConverter, OnnxTensorRef, TensorLayout } from './converter';
import { layerConfig, onnxAxis, sameOrderInBothLayouts } from './converter';
import { addActivation } from './activations';
import type { OnnxAttribute } from './graph-builder';
import { quantizedConvWeights } from './quantize';

const pair = (v: number | number[] | null | undefined): number[] => (Array.isArray(v) ? v : [v ?? 1, v ?? 1]);

function requireChannelsLast(layer: Layer): void {
  const { dataFormat } = layerConfig<{ dataFormat?: string }>(layer);
  if (dataFormat !== undefined && dataFormat !== 'channelsLast') {
    throw new TypeError(`exportOnnx: layer '${layer.name}' (${layer.getClassName()}) has dataFormat '${dataFormat}'; only 'channelsLast' (tfjs' default) is supported.`);
  }
}

/** TF 'SAME' pads [top, left, bottom, right]: the odd pixel goes at the bottom/right. */
export function samePads(inputHW: number[], kernel: number[], strides: number[], dilations: number[]): number[] {
  const pads = [0, 1].map((d) => {
    const effective = (kernel[d] - 1) * dilations[d] + 1;
    const out = Math.ceil(inputHW[d] / strides[d]);
    return Math.max((out - 1) * strides[d] + effective - inputHW[d], 0);
  });
  return [Math.floor(pads[0] / 2), Math.floor(pads[1] / 2), pads[0] - Math.floor(pads[0] / 2), pads[1] - Math.floor(pads[1] / 2)];
}

/** y = x · scale + shift per channel, from γ, β and the moving statistics. */
function batchNormAffine(layer: Layer): { scale: Float32Array; shift: Float32Array } {
  const c = layerConfig<{ epsilon: number }>(layer);
  const values = layer.getWeights();
  const byName = new Map(layer.weights.map((w, i) => [w.originalName.split('/').pop() as string, values[i].dataSync()]));
  const mean = byName.get('moving_mean');
  const variance = byName.get('moving_variance');
  if (mean === undefined || variance === undefined) throw new TypeError(`exportOnnx: batch norm '${layer.name}' has weights [${layer.weights.map((w) => w.originalName).join(', ')}]; expected moving_mean and moving_variance (and gamma, beta).`);
  const gamma = byName.get('gamma');
  const beta = byName.get('beta');
  const scale = new Float32Array(mean.length);
  const shift = new Float32Array(mean.length);
  for (let i = 0; i < mean.length; i++) {
    scale[i] = (gamma?.[i] ?? 1) / Math.sqrt(variance[i] + c.epsilon);
    shift[i] = (beta?.[i] ?? 0) - mean[i] * scale[i];
  }
  return { scale, shift };
}

const isLastAxis = (axis: number, rank: number) => axis === -1 || axis === rank - 1;

/** The batch norm right after a linear convolution, over the channels, read by nothing else: folded into the convolution. */
function foldableBatchNorm(layer: Layer, activation: string | undefined, ctx: ConversionContext): Layer | undefined {
  if ((activation ?? 'linear') !== 'linear') return undefined;
  const next = ctx.soleConsumer(layer);
  if (next === undefined || next.getClassName() !== 'BatchNormalization') return undefined;
  return isLastAxis(layerConfig<{ axis: number }>(next).axis, 4) ? next : undefined;
}

/** Conv2D / DepthwiseConv2D → Conv (grouped for depthwise), channels-first, with a following batch norm folded in. */
export const convolution: LayerConverter = (layer, [x], ctx) => {
  requireChannelsLast(layer);
  const depthwise = layer.getClassName() === 'DepthwiseConv2D';
  const c = layerConfig<{ strides: number | number[]; padding: string; dilationRate?: number | number[]; useBias: boolean; activation?: string }>(layer);
  const strides = pair(c.strides);
  const dilations = pair(c.dilationRate);
  const weights = layer.getWeights();
  const [kh, kw, cin, m] = weights[0].shape as number[];
  const cout = depthwise ? cin * m : m;
  const k = weights[0].dataSync();
  // tf: [kh, kw, cin, cout] (depthwise: [kh, kw, cin, multiplier]); ONNX: [cout, cin/group, kh, kw].
  const w = new Float32Array(cout * (depthwise ? 1 : cin) * kh * kw);
  const bias = new Float32Array(cout);
  if (c.useBias) bias.set(weights[1].dataSync());
  for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) for (let ci = 0; ci < cin; ci++) for (let o = 0; o < m; o++) {
    const outChannel = depthwise ? ci * m + o : o;
    const inChannel = depthwise ? 0 : ci;
    w[((outChannel * (depthwise ? 1 : cin) + inChannel) * kh + i) * kw + j] = k[((i * kw + j) * cin + ci) * m + o];
  }
  const bn = foldableBatchNorm(layer, c.activation, ctx);
  if (bn !== undefined) {
    const { scale, shift } = batchNormAffine(bn);
    const per = w.length / cout;
    for (let o = 0; o < cout; o++) {
      for (let q = 0; q < per; q++) w[o * per + q] *= scale[o];
      bias[o] = bias[o] * scale[o] + shift[o];
    }
    ctx.fold(bn);
  }
  const [, height, width] = x.shape;
  const padding: Record<string, OnnxAttribute> =
    c.padding !== 'same'
      ? { pads: { ints: [0, 0, 0, 0] } }
      : height !== null && width !== null
        ? { pads: { ints: samePads([height, width], [kh, kw], strides, dilations) } }
        : { auto_pad: { string: 'SAME_UPPER' } }; // TF 'SAME' for sizes known at run time only
  const g = ctx.graph;
  const input = ctx.inLayout(x, 'channels-first');
  const wDims = [cout, depthwise ? 1 : cin, kh, kw];
  const inputScale = ctx.quantizationScale(input);
  const [wTensor, bTensor] =
    inputScale === undefined
      ? [g.addFloatInitializer(`${layer.name}/W`, w, wDims), g.addFloatInitializer(`${layer.name}/B`, bias, [cout])]
      : quantizedConvWeights(layer.name, w, bias, wDims, inputScale, g);
  const out = g.addNode('Conv', [input, wTensor, bTensor], layer.name, {
    kernel_shape: { ints: [kh, kw] },
    strides: { ints: strides },
    dilations: { ints: dilations },
    group: { int: depthwise ? cin : 1 },
    ...padding,
  })[0];
  return { name: addActivation(ctx, { name: out, rank: 4, layout: 'channels-first' }, c.activation, layer.name, `${layer.name}_${c.activation}`), layout: 'channels-first' };
};

/** Batch norm not folded into a convolution: Mul and Add by per-channel constants, in the input's layout. */
export const batchNormalization: LayerConverter = (layer, [x], ctx) => {
  const rank = x.shape.length;
  const axis = onnxAxis(layerConfig<{ axis: number }>(layer).axis, rank, x.layout);
  const { scale, shift } = batchNormAffine(layer);
  const dims = Array.from({ length: rank }, (_, i) => (i === axis ? scale.length : 1));
  const g = ctx.graph;
  const scaled = g.addNode('Mul', [x.name, g.addFloatInitializer(`${layer.name}/scale`, scale, dims)], `${layer.name}_scale`)[0];
  return { name: g.addNode('Add', [scaled, g.addFloatInitializer(`${layer.name}/shift`, shift, dims)], layer.name)[0], layout: x.layout };
};

const elementwise = (layer: Layer, x: ExportTensor, activation: string | undefined, ctx: ConversionContext): OnnxTensorRef => ({
  name: addActivation(ctx, { name: x.name, rank: x.shape.length, layout: x.layout }, activation, layer.name),
  layout: x.layout,
});

/** The layout all `inputs` share, else 'tfjs'; and their names in it. */
function commonLayout(inputs: readonly ExportTensor[], ctx: ConversionContext): { layout: TensorLayout; names: string[] } {
  const layout = inputs.every((t) => t.layout === inputs[0].layout && t.shape.length === inputs[0].shape.length) ? inputs[0].layout : 'tfjs';
  return { layout, names: inputs.map((t) => ctx.inLayout(t, layout)) };
}

/** Reshape to the tfjs shape `target` (batch excluded, -1 for the one size to infer). */
function reshape(layer: Layer, x: ExportTensor, target: readonly number[], ctx: ConversionContext): OnnxTensorRef {
  const g = ctx.graph;
  const rank = x.shape.length;
  const channels = x.shape[rank - 1];
  if (x.layout === 'channels-first' && rank >= 3 && target.length >= 2 && channels !== null && target[target.length - 1] === channels) {
    // The channels stay the last tfjs axis: only the spatial axes are regrouped, in the same order in both layouts.
    const shape = g.addInt64Initializer(`${layer.name}/shape`, [0, channels, ...target.slice(0, -1)]);
    return { name: g.addNode('Reshape', [x.name, shape], layer.name)[0], layout: 'channels-first' };
  }
  const source = sameOrderInBothLayouts(x.shape) ? x.name : ctx.inLayout(x, 'tfjs');
  return { name: g.addNode('Reshape', [source, g.addInt64Initializer(`${layer.name}/shape`, [0, ...target])], layer.name)[0], layout: 'tfjs' };
}

/** tfjs class name → converter: the layers the MobileNets are built of, and the common ones a task head adds. */
export const DEFAULT_CONVERTERS: Readonly<Record<string, LayerConverter>> = Object.freeze({
  Conv2D: convolution,
  DepthwiseConv2D: convolution,
  BatchNormalization: batchNormalization,
  Activation: (layer, [x], ctx) => elementwise(layer, x, layerConfig<{ activation: string }>(layer).activation, ctx),
  ReLU: (layer, [x], ctx) => {
    const maxValue = layerConfig<{ maxValue?: number | null }>(layer).maxValue;
    if (maxValue == null) return elementwise(layer, x, 'relu', ctx);
    const g = ctx.graph;
    const clip = g.addNode('Clip', [x.name, g.addFloatInitializer(`${layer.name}/min`, [0], []), g.addFloatInitializer(`${layer.name}/max`, [maxValue], [])], layer.name)[0];
    return { name: clip, layout: x.layout };
  },
  Dropout: (_layer, [x]) => x,
  Add: (layer, inputs, ctx) => {
    const { layout, names } = commonLayout(inputs, ctx);
    const sum = names.slice(1).reduce((acc, next, i) => ctx.graph.addNode('Add', [acc, next], i === names.length - 2 ? layer.name : `${layer.name}_${i}`)[0], names[0]);
    return { name: sum, layout };
  },
  ZeroPadding2D: (layer, [x], ctx) => {
    requireChannelsLast(layer);
    const [[top, bottom], [left, right]] = layerConfig<{ padding: number[][] }>(layer).padding;
    const pads = x.layout === 'channels-first' ? [0, 0, top, left, 0, 0, bottom, right] : [0, top, left, 0, 0, bottom, right, 0];
    return { name: ctx.graph.addNode('Pad', [x.name, ctx.graph.addInt64Initializer(`${layer.name}/pads`, pads)], layer.name)[0], layout: x.layout };
  },
  GlobalAveragePooling2D: (layer, [x], ctx) => {
    requireChannelsLast(layer);
    const pooled = ctx.graph.addNode('GlobalAveragePool', [ctx.inLayout(x, 'channels-first')], `${layer.name}_pool`)[0];
    return { name: ctx.graph.addNode('Flatten', [pooled], layer.name, { axis: { int: 1 } })[0], layout: 'tfjs' };
  },
  GlobalMaxPooling2D: (layer, [x], ctx) => {
    requireChannelsLast(layer);
    const pooled = ctx.graph.addNode('GlobalMaxPool', [ctx.inLayout(x, 'channels-first')], `${layer.name}_pool`)[0];
    return { name: ctx.graph.addNode('Flatten', [pooled], layer.name, { axis: { int: 1 } })[0], layout: 'tfjs' };
  },
  /** Gemm on a 2-D input; on a larger one (tfjs applies the kernel to the last axis) MatMul and Add in the tfjs layout. */
  Dense: (layer, [x], ctx) => {
    const c = layerConfig<{ useBias: boolean; activation?: string }>(layer);
    const [kernel, bias] = layer.getWeights();
    const g = ctx.graph;
    const w = g.addFloatInitializer(`${layer.name}/W`, kernel.dataSync() as Float32Array, kernel.shape);
    const b = c.useBias ? g.addFloatInitializer(`${layer.name}/B`, bias.dataSync() as Float32Array, bias.shape) : undefined;
    const rank = x.shape.length;
    const linear = (c.activation ?? 'linear') === 'linear' ? layer.name : `${layer.name}_linear`;
    let out: string;
    if (rank === 2) {
      out = g.addNode('Gemm', b === undefined ? [x.name, w] : [x.name, w, b], linear)[0];
    } else {
      const product = g.addNode('MatMul', [ctx.inLayout(x, 'tfjs'), w], b === undefined ? linear : `${layer.name}_matmul`)[0];
      out = b === undefined ? product : g.addNode('Add', [product, b], linear)[0];
    }
    return { name: addActivation(ctx, { name: out, rank, layout: 'tfjs' }, c.activation, layer.name), layout: 'tfjs' };
  },
  Softmax: (layer, [x], ctx) => {
    const axis = layerConfig<{ axis?: number | number[] }>(layer).axis ?? 1; // tfjs' default
    const axes = (Array.isArray(axis) ? axis : [axis]).map((a) => onnxAxis(a, x.shape.length, x.layout));
    const g = ctx.graph;
    if (axes.length === 1) return { name: g.addNode('Softmax', [x.name], layer.name, { axis: { int: axes[0] } })[0], layout: x.layout };
    // Several axes, as tfjs computes it: exp(x − logSumExp(x, axes)).
    const logSumExp = g.addNode('ReduceLogSumExp', [x.name], `${layer.name}_logsumexp`, { axes: { ints: axes }, keepdims: { int: 1 } })[0];
    return { name: g.addNode('Exp', [g.addNode('Sub', [x.name, logSumExp], `${layer.name}_shifted`)[0]], layer.name)[0], layout: x.layout };
  },
  /** Nearest-neighbour UpSampling2D by whole factors: Resize (asymmetric, floor) on channels-first maps. */
  UpSampling2D: (layer, [x], ctx) => {
    requireChannelsLast(layer);
    const c = layerConfig<{ size?: number | number[]; interpolation?: string }>(layer);
    const [fh, fw] = pair(c.size ?? 2);
    if ((c.interpolation ?? 'nearest') !== 'nearest' || !Number.isInteger(fh) || !Number.isInteger(fw)) {
      throw new TypeError(`exportOnnx: layer '${layer.name}' (UpSampling2D) interpolates '${c.interpolation}' by [${fh}, ${fw}]; only 'nearest' by whole factors is supported.`);
    }
    const g = ctx.graph;
    const scales = g.addFloatInitializer(`${layer.name}/scales`, [1, 1, fh, fw], [4]);
    const attributes: Record<string, OnnxAttribute> = { mode: { string: 'nearest' }, coordinate_transformation_mode: { string: 'asymmetric' }, nearest_mode: { string: 'floor' } };
    return { name: g.addNode('Resize', [ctx.inLayout(x, 'channels-first'), '', scales], layer.name, attributes)[0], layout: 'channels-first' };
  },
  /** Concat along the axis in the layout all inputs share (any axis maps exactly), else in the tfjs layout. */
  Concatenate: (layer, inputs, ctx) => {
    const { layout, names } = commonLayout(inputs, ctx);
    const axis = onnxAxis(layerConfig<{ axis?: number }>(layer).axis ?? -1, inputs[0].shape.length, layout);
    return { name: ctx.graph.addNode('Concat', names, layer.name, { axis: { int: axis } })[0], layout };
  },
  // tfjs stores the size to infer as null (given as -1 or null); ONNX's Reshape takes -1.
  Reshape: (layer, [x], ctx) => reshape(layer, x, layerConfig<{ targetShape: (number | null)[] }>(layer).targetShape.map((d) => (d === null || d < 0 ? -1 : d)), ctx),
  Flatten: (layer, [x], ctx) => {
    requireChannelsLast(layer);
    const source = sameOrderInBothLayouts(x.shape) ? x.name : ctx.inLayout(x, 'tfjs');
    return { name: ctx.graph.addNode('Flatten', [source], layer.name, { axis: { int: 1 } })[0], layout: 'tfjs' };
  },
});
