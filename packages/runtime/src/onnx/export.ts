/**
 * tfjs-layers model → ONNX (opset 13), NCHW throughout: one Transpose at the input (NHWC images in,
 * as tfjs takes them) and none inside the body; 4-D outputs are transposed back to NHWC so the ONNX
 * model has the same interface as the tfjs one. Batch norm is folded into the convolution before it,
 * dropout is dropped, TF 'SAME' padding becomes explicit (asymmetric) pads.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { onnx } from 'onnx-proto';
import { OnnxGraphBuilder } from './graph-builder';

export interface OnnxExportOptions {
  /** Written into the model's metadata: architecture, width multiplier, input size, labels… */
  metadata?: Record<string, string | number>;
  /** Class labels, stored as JSON in the metadata under 'labels'. */
  labels?: string[];
  /**
   * Static int8 quantization (QDQ): calibrated activation ranges by layer name (see calibrateRanges).
   * Activations become uint8 (asymmetric), convolution weights int8 per output channel (symmetric),
   * biases int32 — the pattern onnxruntime turns into QLinearConv.
   */
  int8Ranges?: Map<string, ActivationRange>;
}

export interface ActivationRange {
  min: number;
  max: number;
}

/** Preprocessing every MobileNet here expects, stored in the metadata: x · scale + offset maps [0, 255] to [-1, 1]. */
export const MOBILENET_PREPROCESSING = { scale: 1 / 127.5, offset: -1, layout: 'NHWC', channels: 'RGB' };

type Layer = tfl.layers.Layer;

interface Context {
  g: OnnxGraphBuilder;
  /** ONNX tensor holding each layer's output (NCHW for 4-D). */
  tensors: Map<string, string>;
  /** Per-channel scale and shift of a batch norm folded into the conv that feeds it. */
  folded: Set<string>;
  consumers: Map<string, Layer[]>;
  int8Ranges?: Map<string, ActivationRange>;
  /** Scale of the uint8 quantization of each dequantized tensor (its zero point does not matter downstream). */
  scales: Map<string, number>;
}

export async function exportOnnx(model: tfl.LayersModel, file: string, options: OnnxExportOptions = {}): Promise<void> {
  const bytes = modelToOnnx(model, options);
  await fs.mkdir(path.dirname(path.resolve(file)), { recursive: true });
  const temp = `${file}.tmp-${process.pid}`;
  await fs.writeFile(temp, bytes);
  await fs.rename(temp, file);
}

export function modelToOnnx(model: tfl.LayersModel, options: OnnxExportOptions = {}): Uint8Array {
  const g = new OnnxGraphBuilder();
  const consumers = new Map<string, Layer[]>();
  for (const layer of model.layers) for (const input of inboundLayers(layer)) consumers.set(input.name, [...(consumers.get(input.name) ?? []), layer]);
  const ctx: Context = { g, tensors: new Map(), folded: new Set(), consumers, int8Ranges: options.int8Ranges, scales: new Map() };

  for (const layer of model.layers) {
    const className = layer.getClassName();
    if (className === 'InputLayer') {
      const shape = layer.outputShape as (number | null)[];
      if (shape.length !== 4) throw new TypeError(`exportOnnx: input '${layer.name}' has shape ${JSON.stringify(shape)}; image models with [batch, height, width, channels] inputs are supported.`);
      const input = g.addInput(layer.name, ['batch', ...(shape.slice(1) as number[])]);
      ctx.tensors.set(layer.name, quantizeOutput(layer, g.addNode('Transpose', [input], `${layer.name}_nchw`, { perm: [0, 3, 1, 2] })[0], ctx));
      continue;
    }
    const convert = CONVERTERS[className];
    if (convert === undefined) throw new TypeError(`exportOnnx: layer '${layer.name}' of class ${className} is not supported (supported: ${Object.keys(CONVERTERS).join(', ')}).`);
    const inputs = inboundLayers(layer).map((l) => ctx.tensors.get(l.name) as string);
    ctx.tensors.set(layer.name, quantizeOutput(layer, convert(layer, inputs, ctx), ctx));
  }

  model.outputs.forEach((output, i) => {
    const layer = output.sourceLayer;
    let tensor = ctx.tensors.get(layer.name) as string;
    const shape = output.shape.slice(1) as number[];
    if (shape.length === 3) tensor = g.addNode('Transpose', [tensor], `${layer.name}_nhwc`, { perm: [0, 2, 3, 1] })[0];
    g.addOutput(tensor, model.outputNames[i] ?? layer.name, ['batch', ...shape]);
  });

  const metadata: Record<string, string> = {
    preprocessing: JSON.stringify(MOBILENET_PREPROCESSING),
    model_name: model.name,
    ...Object.fromEntries(Object.entries(options.metadata ?? {}).map(([k, v]) => [k, String(v)])),
  };
  if (options.labels) metadata.labels = JSON.stringify(options.labels);
  return g.toBytes(model.name, metadata);
}

/** Shape of the (single) input of `layer`, with the batch dimension. */
function inputShapeOf(layer: Layer): number[] {
  return inboundLayers(layer)[0].outputShape as number[];
}

function inboundLayers(layer: Layer): Layer[] {
  if (layer.inboundNodes.length > 1) throw new TypeError(`exportOnnx: layer '${layer.name}' is applied ${layer.inboundNodes.length} times; shared layers are not supported.`);
  return layer.inboundNodes.length === 0 ? [] : (layer.inboundNodes[0].inboundLayers as Layer[]);
}

type Converter = (layer: Layer, inputs: string[], ctx: Context) => string;

/** The layer's config as tfjs-layers returns it (camelCase keys, unlike model.json's snake_case). */
const config = <T>(layer: Layer) => layer.getConfig() as unknown as T;

const pair = (v: number | number[] | null | undefined): number[] => (Array.isArray(v) ? v : [v ?? 1, v ?? 1]);

/** TF 'SAME' pads [top, left, bottom, right]: the odd pixel goes at the bottom/right. */
function samePads(inputHW: number[], kernel: number[], strides: number[], dilations: number[]): number[] {
  const pads = [0, 1].map((d) => {
    const effective = (kernel[d] - 1) * dilations[d] + 1;
    const out = Math.ceil(inputHW[d] / strides[d]);
    return Math.max((out - 1) * strides[d] + effective - inputHW[d], 0);
  });
  return [Math.floor(pads[0] / 2), Math.floor(pads[1] / 2), pads[0] - Math.floor(pads[0] / 2), pads[1] - Math.floor(pads[1] / 2)];
}

/** The batch norm right after `layer`, if it is its only consumer (then it is folded into the conv). */
function foldableBatchNorm(layer: Layer, ctx: Context): Layer | undefined {
  const next = ctx.consumers.get(layer.name) ?? [];
  return next.length === 1 && next[0].getClassName() === 'BatchNormalization' ? next[0] : undefined;
}

/** Conv2D / DepthwiseConv2D → Conv (grouped for depthwise), with a following batch norm folded in. */
function convolution(layer: Layer, [x]: string[], ctx: Context): string {
  const depthwise = layer.getClassName() === 'DepthwiseConv2D';
  const c = config<{ strides: number | number[]; padding: string; dilationRate?: number | number[]; useBias: boolean; activation: string }>(layer);
  const strides = pair(c.strides);
  const dilations = pair(c.dilationRate);
  const weights = layer.getWeights();
  const kernel = weights[0];
  const [kh, kw, cin, m] = kernel.shape as number[];
  const cout = depthwise ? cin * m : m;
  const k = kernel.dataSync();
  // tf: [kh, kw, cin, cout] (depthwise: [kh, kw, cin, multiplier]); ONNX: [cout, cin/group, kh, kw].
  const w = new Float32Array(cout * (depthwise ? 1 : cin) * kh * kw);
  const bias = new Float32Array(cout);
  if (c.useBias) bias.set(weights[1].dataSync());
  for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) for (let ci = 0; ci < cin; ci++) for (let o = 0; o < m; o++) {
    const value = k[((i * kw + j) * cin + ci) * m + o];
    const outChannel = depthwise ? ci * m + o : o;
    const inChannel = depthwise ? 0 : ci;
    w[((outChannel * (depthwise ? 1 : cin) + inChannel) * kh + i) * kw + j] = value;
  }
  const bn = foldableBatchNorm(layer, ctx);
  if (bn !== undefined) {
    const { scale, shift } = batchNormAffine(bn);
    const per = w.length / cout;
    for (let o = 0; o < cout; o++) {
      for (let q = 0; q < per; q++) w[o * per + q] *= scale[o];
      bias[o] = bias[o] * scale[o] + shift[o];
    }
    ctx.folded.add(bn.name);
  }
  const inputShape = inputShapeOf(layer);
  const pads = c.padding === 'same' ? samePads([inputShape[1], inputShape[2]], [kh, kw], strides, dilations) : [0, 0, 0, 0];
  const g = ctx.g;
  const wDims = [cout, depthwise ? 1 : cin, kh, kw];
  const inputScale = ctx.scales.get(x);
  const [wTensor, bTensor] =
    inputScale === undefined
      ? [g.addFloatInitializer(`${layer.name}/W`, w, wDims), g.addFloatInitializer(`${layer.name}/B`, bias, [cout])]
      : quantizedConvWeights(layer.name, w, bias, wDims, inputScale, g);
  const out = g.addNode('Conv', [x, wTensor, bTensor], layer.name, {
    kernel_shape: [kh, kw],
    strides,
    dilations,
    pads,
    group: depthwise ? cin : 1,
  })[0];
  return activation(out, c.activation, layer.name, ctx);
}

/**
 * int8 weights, symmetric per output channel (scale max|w|/127), and int32 biases with scale
 * inputScale · weightScale, each behind a DequantizeLinear: the weight/bias half of the QDQ Conv pattern.
 */
function quantizedConvWeights(name: string, w: Float32Array, bias: Float32Array, dims: number[], inputScale: number, g: OnnxGraphBuilder): [string, string] {
  const cout = dims[0];
  const per = w.length / cout;
  const wScale = new Float32Array(cout);
  const wq = new Int8Array(w.length);
  const bq = new Int32Array(cout);
  const bScale = new Float32Array(cout);
  for (let o = 0; o < cout; o++) {
    let max = 0;
    for (let q = 0; q < per; q++) max = Math.max(max, Math.abs(w[o * per + q]));
    wScale[o] = max > 0 ? max / 127 : 1;
    for (let q = 0; q < per; q++) wq[o * per + q] = Math.max(-127, Math.min(127, Math.round(w[o * per + q] / wScale[o])));
    bScale[o] = inputScale * wScale[o];
    bq[o] = Math.round(bias[o] / bScale[o]);
  }
  const T = onnx.TensorProto.DataType;
  const wq8 = g.addTypedInitializer(`${name}/W_int8`, T.INT8, new Uint8Array(wq.buffer), dims);
  const wZero = g.addTypedInitializer(`${name}/W_zero`, T.INT8, new Uint8Array(cout), [cout]);
  const bq32 = g.addTypedInitializer(`${name}/B_int32`, T.INT32, new Uint8Array(bq.buffer), [cout]);
  const bZero = g.addTypedInitializer(`${name}/B_zero`, T.INT32, new Uint8Array(4 * cout), [cout]);
  const wDq = g.addNode('DequantizeLinear', [wq8, g.addFloatInitializer(`${name}/W_scale`, wScale, [cout]), wZero], `${name}/W_dq`, { axis: 0 })[0];
  const bDq = g.addNode('DequantizeLinear', [bq32, g.addFloatInitializer(`${name}/B_scale`, bScale, [cout]), bZero], `${name}/B_dq`, { axis: 0 })[0];
  return [wDq, bDq];
}

/** Which layers' outputs get a QuantizeLinear → DequantizeLinear pair: activations, linear batch norms (V2 projections), residual adds, the input. */
function quantizeOutput(layer: Layer, tensor: string, ctx: Context): string {
  const range = ctx.int8Ranges?.get(layer.name);
  if (range === undefined) return tensor;
  const className = layer.getClassName();
  const next = ctx.consumers.get(layer.name) ?? [];
  const activationFollows = next.length === 1 && ['Activation', 'ReLU'].includes(next[0].getClassName());
  const quantizable =
    className === 'InputLayer' || className === 'Add' || (className === 'BatchNormalization' && !activationFollows) ||
    (['Activation', 'ReLU'].includes(className) && ['relu', 'relu6', undefined].includes(config<{ activation?: string }>(layer).activation));
  if (!quantizable) return tensor;
  const min = Math.min(range.min, 0);
  const max = Math.max(range.max, min + 1e-6);
  const scale = (max - min) / 255;
  const zeroPoint = Math.max(0, Math.min(255, Math.round(-min / scale)));
  const g = ctx.g;
  const T = onnx.TensorProto.DataType;
  const s = g.addFloatInitializer(`${layer.name}/q_scale`, [scale], []);
  const z = g.addTypedInitializer(`${layer.name}/q_zero`, T.UINT8, new Uint8Array([zeroPoint]), []);
  const q = g.addNode('QuantizeLinear', [tensor, s, z], `${layer.name}_q`)[0];
  const dq = g.addNode('DequantizeLinear', [q, s, z], `${layer.name}_dq`)[0];
  ctx.scales.set(dq, scale);
  return dq;
}

/**
 * Activation ranges for int8 export: min and max of every layer output over calibration batches
 * (NHWC images preprocessed to [-1, 1]), run through the tfjs model.
 */
export function calibrateRanges(model: tfl.LayersModel, batches: Iterable<tf.Tensor4D>): Map<string, ActivationRange> {
  const layers = model.layers.filter((l) => l.getClassName() !== 'InputLayer');
  const probe = tfl.model({ inputs: model.inputs, outputs: layers.map((l) => l.output as tfl.SymbolicTensor) });
  const ranges = new Map<string, ActivationRange>([[model.layers[0].name, { min: Infinity, max: -Infinity }]]);
  for (const x of batches) {
    const inputRange = ranges.get(model.layers[0].name) as ActivationRange;
    const [inMin, inMax] = tf.tidy(() => [tf.min(x).dataSync()[0], tf.max(x).dataSync()[0]]);
    ranges.set(model.layers[0].name, { min: Math.min(inputRange.min, inMin), max: Math.max(inputRange.max, inMax) });
    const outputs = probe.predict(x) as tf.Tensor[];
    layers.forEach((layer, i) => {
      const [min, max] = tf.tidy(() => [tf.min(outputs[i]).dataSync()[0], tf.max(outputs[i]).dataSync()[0]]);
      const previous = ranges.get(layer.name) ?? { min: Infinity, max: -Infinity };
      ranges.set(layer.name, { min: Math.min(previous.min, min), max: Math.max(previous.max, max) });
    });
    tf.dispose(outputs);
  }
  return ranges;
}

/** y = x · scale + shift per channel, from γ, β and the moving statistics. */
function batchNormAffine(layer: Layer): { scale: Float32Array; shift: Float32Array } {
  const c = config<{ epsilon: number; center: boolean; scale: boolean }>(layer);
  const byName = new Map(layer.weights.map((w, i) => [w.originalName.split('/').pop() as string, layer.getWeights()[i].dataSync()]));
  const mean = byName.get('moving_mean') as Float32Array;
  const variance = byName.get('moving_variance') as Float32Array;
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

function batchNormalization(layer: Layer, [x]: string[], ctx: Context): string {
  if (ctx.folded.has(layer.name)) return x; // folded into the conv before it
  const { scale, shift } = batchNormAffine(layer);
  const dims = [1, scale.length, 1, 1];
  const g = ctx.g;
  const scaled = g.addNode('Mul', [x, g.addFloatInitializer(`${layer.name}/scale`, scale, dims)], `${layer.name}_scale`)[0];
  return g.addNode('Add', [scaled, g.addFloatInitializer(`${layer.name}/shift`, shift, dims)], layer.name)[0];
}

function activation(x: string, name: string | undefined, layerName: string, ctx: Context): string {
  const g = ctx.g;
  switch (name ?? 'linear') {
    case 'linear':
      return x;
    case 'relu':
      return g.addNode('Relu', [x], `${layerName}_relu`)[0];
    case 'relu6':
      return g.addNode('Clip', [x, g.addFloatInitializer(`${layerName}/min`, [0], []), g.addFloatInitializer(`${layerName}/max`, [6], [])], `${layerName}_relu6`)[0];
    case 'softmax':
      return g.addNode('Softmax', [x], `${layerName}_softmax`, { axis: -1 })[0];
    case 'sigmoid':
      return g.addNode('Sigmoid', [x], `${layerName}_sigmoid`)[0];
    default:
      throw new TypeError(`exportOnnx: activation '${name}' of layer '${layerName}' is not supported (relu, relu6, softmax, sigmoid, linear).`);
  }
}

const CONVERTERS: Record<string, Converter> = {
  Conv2D: convolution,
  DepthwiseConv2D: convolution,
  BatchNormalization: batchNormalization,
  Activation: (layer, [x], ctx) => activation(x, config<{ activation: string }>(layer).activation, layer.name, ctx),
  ReLU: (layer, [x], ctx) => {
    const maxValue = config<{ maxValue?: number | null }>(layer).maxValue;
    if (maxValue == null) return activation(x, 'relu', layer.name, ctx);
    return ctx.g.addNode('Clip', [x, ctx.g.addFloatInitializer(`${layer.name}/min`, [0], []), ctx.g.addFloatInitializer(`${layer.name}/max`, [maxValue], [])], layer.name)[0];
  },
  Dropout: (_layer, [x]) => x,
  Add: (layer, inputs, ctx) => inputs.slice(1).reduce((sum, next, i) => ctx.g.addNode('Add', [sum, next], i === inputs.length - 2 ? layer.name : `${layer.name}_${i}`)[0], inputs[0]),
  ZeroPadding2D: (layer, [x], ctx) => {
    const [[top, bottom], [left, right]] = config<{ padding: number[][] }>(layer).padding;
    return ctx.g.addNode('Pad', [x, ctx.g.addInt64Initializer(`${layer.name}/pads`, [0, 0, top, left, 0, 0, bottom, right])], layer.name)[0];
  },
  GlobalAveragePooling2D: (layer, [x], ctx) => ctx.g.addNode('Flatten', [ctx.g.addNode('GlobalAveragePool', [x], `${layer.name}_pool`)[0]], layer.name, { axis: 1 })[0],
  GlobalMaxPooling2D: (layer, [x], ctx) => ctx.g.addNode('Flatten', [ctx.g.addNode('GlobalMaxPool', [x], `${layer.name}_pool`)[0]], layer.name, { axis: 1 })[0],
  Dense: (layer, [x], ctx) => {
    const c = config<{ useBias: boolean; activation: string; units: number }>(layer);
    const [kernel, bias] = layer.getWeights();
    if (inputShapeOf(layer).length !== 2) throw new TypeError(`exportOnnx: Dense layer '${layer.name}' on a ${inputShapeOf(layer).length}-D input is not supported (flatten or pool first).`);
    const g = ctx.g;
    const inputs = [x, g.addFloatInitializer(`${layer.name}/W`, kernel.dataSync() as Float32Array, kernel.shape)];
    if (c.useBias) inputs.push(g.addFloatInitializer(`${layer.name}/B`, bias.dataSync() as Float32Array, bias.shape));
    return activation(g.addNode('Gemm', inputs, layer.name)[0], c.activation, layer.name, ctx);
  },
  Softmax: (layer, [x], ctx) => ctx.g.addNode('Softmax', [x], layer.name, { axis: -1 })[0],
  Concatenate: (layer, inputs, ctx) => {
    const axis = config<{ axis: number }>(layer).axis;
    const rank = (layer.outputShape as number[]).length;
    const nhwcAxis = axis < 0 ? rank + axis : axis;
    const nchwAxis = rank === 4 ? [0, 2, 3, 1][nhwcAxis] : nhwcAxis;
    return ctx.g.addNode('Concat', inputs, layer.name, { axis: nchwAxis })[0];
  },
};
