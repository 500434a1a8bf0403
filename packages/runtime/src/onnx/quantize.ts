/**
 * Static int8 quantization in QDQ form: calibrated activation ranges, QuantizeLinear → DequantizeLinear
 * pairs on activations, int8 per-channel convolution weights and int32 biases — the pattern onnxruntime
 * fuses into QLinearConv.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { onnx } from 'onnx-proto';
import type { Layer } from './converter';
import { layerConfig } from './converter';
import type { OnnxGraphBuilder } from './graph-builder';

export interface ActivationRange {
  min: number;
  max: number;
}

/**
 * The largest weight code: 7 bits of the int8 range (onnxruntime's `reduce_range`). On x86 processors
 * without VNNI (AVX2, and AVX-512 before VNNI), onnxruntime's uint8 × int8 kernels add pairs of products
 * in 16 bits, which saturate when 255 · 127 · 2 > 32767: measured on an AVX2 machine, the trained V1 of
 * export.test.ts came out 0.13 relative off fp32 with full-range weights and 0.04 on AVX-512 VNNI.
 * With codes in ±63 a pair stays below 32767 on every machine, for half a bit of weight resolution.
 */
export const INT8_WEIGHT_MAX_CODE = 63;

/**
 * int8 weights, symmetric per output channel (scale max|w| / INT8_WEIGHT_MAX_CODE), and int32 biases with
 * scale inputScale · weightScale, each behind a DequantizeLinear: the weight/bias half of the QDQ Conv
 * pattern. `w` is in ONNX order, output channel first.
 */
export function quantizedConvWeights(name: string, w: Float32Array, bias: Float32Array, dims: number[], inputScale: number, g: OnnxGraphBuilder): [string, string] {
  const cout = dims[0];
  const per = w.length / cout;
  const wScale = new Float32Array(cout);
  const wq = new Int8Array(w.length);
  const bq = new Int32Array(cout);
  const bScale = new Float32Array(cout);
  for (let o = 0; o < cout; o++) {
    let max = 0;
    for (let q = 0; q < per; q++) max = Math.max(max, Math.abs(w[o * per + q]));
    wScale[o] = max > 0 ? max / INT8_WEIGHT_MAX_CODE : 1;
    for (let q = 0; q < per; q++) wq[o * per + q] = Math.max(-INT8_WEIGHT_MAX_CODE, Math.min(INT8_WEIGHT_MAX_CODE, Math.round(w[o * per + q] / wScale[o])));
    bScale[o] = inputScale * wScale[o];
    bq[o] = Math.round(bias[o] / bScale[o]);
  }
  const T = onnx.TensorProto.DataType;
  const wq8 = g.addTypedInitializer(`${name}/W_int8`, T.INT8, new Uint8Array(wq.buffer), dims);
  const wZero = g.addTypedInitializer(`${name}/W_zero`, T.INT8, new Uint8Array(cout), [cout]);
  const bq32 = g.addTypedInitializer(`${name}/B_int32`, T.INT32, new Uint8Array(bq.buffer), [cout]);
  const bZero = g.addTypedInitializer(`${name}/B_zero`, T.INT32, new Uint8Array(4 * cout), [cout]);
  const wDq = g.addNode('DequantizeLinear', [wq8, g.addFloatInitializer(`${name}/W_scale`, wScale, [cout]), wZero], `${name}/W_dq`, { axis: { int: 0 } })[0];
  const bDq = g.addNode('DequantizeLinear', [bq32, g.addFloatInitializer(`${name}/B_scale`, bScale, [cout]), bZero], `${name}/B_dq`, { axis: { int: 0 } })[0];
  return [wDq, bDq];
}

const RECTIFIERS = ['Activation', 'ReLU'];

/**
 * Whether `layer`'s output gets a QuantizeLinear → DequantizeLinear pair: activations (relu, relu6,
 * linear), linear batch norms (V2's projections), residual adds and the input.
 */
export function isQuantizedOutput(layer: Layer, next: Layer | undefined): boolean {
  const className = layer.getClassName();
  const activationFollows = next !== undefined && RECTIFIERS.includes(next.getClassName());
  return (
    className === 'InputLayer' ||
    className === 'Add' ||
    (className === 'BatchNormalization' && !activationFollows) ||
    (RECTIFIERS.includes(className) && ['relu', 'relu6', undefined].includes(layerConfig<{ activation?: string }>(layer).activation))
  );
}

/** Adds the QuantizeLinear → DequantizeLinear pair for `range` after `tensor`; returns the dequantized tensor and its scale. */
export function addQdq(g: OnnxGraphBuilder, tensor: string, range: ActivationRange, layerName: string): { name: string; scale: number } {
  const min = Math.min(range.min, 0);
  const max = Math.max(range.max, min + 1e-6);
  const scale = (max - min) / 255;
  const zeroPoint = Math.max(0, Math.min(255, Math.round(-min / scale)));
  const s = g.addFloatInitializer(`${layerName}/q_scale`, [scale], []);
  const z = g.addTypedInitializer(`${layerName}/q_zero`, onnx.TensorProto.DataType.UINT8, new Uint8Array([zeroPoint]), []);
  const q = g.addNode('QuantizeLinear', [tensor, s, z], `${layerName}_q`)[0];
  return { name: g.addNode('DequantizeLinear', [q, s, z], `${layerName}_dq`)[0], scale };
}

/**
 * Activation ranges for int8 export: min and max of every layer output over calibration batches
 * (NHWC images preprocessed to [-1, 1]), run through the tfjs model (one image input).
 */
export function calibrateRanges(model: tfl.LayersModel, batches: Iterable<tf.Tensor4D>): Map<string, ActivationRange> {
  if (model.inputs.length !== 1) throw new TypeError(`calibrateRanges: the model has ${model.inputs.length} inputs; calibration runs models with one image input.`);
  const inputName = model.inputs[0].sourceLayer.name;
  const layers = model.layers.filter((l) => l.getClassName() !== 'InputLayer');
  const probe = tfl.model({ inputs: model.inputs, outputs: layers.map((l) => l.output as tfl.SymbolicTensor) });
  const ranges = new Map<string, ActivationRange>([[inputName, { min: Infinity, max: -Infinity }]]);
  const widen = (name: string, t: tf.Tensor) => {
    const [min, max] = tf.tidy(() => [tf.min(t).dataSync()[0], tf.max(t).dataSync()[0]]);
    const previous = ranges.get(name) ?? { min: Infinity, max: -Infinity };
    ranges.set(name, { min: Math.min(previous.min, min), max: Math.max(previous.max, max) });
  };
  for (const x of batches) {
    widen(inputName, x);
    const outputs = probe.predict(x);
    const list = Array.isArray(outputs) ? outputs : [outputs];
    layers.forEach((layer, i) => widen(layer.name, list[i]));
    tf.dispose(list);
  }
  return ranges;
}

/**
 * Activation ranges from seeded random images in [-1, 1] (`batches` of 4): enough to time an int8
 * model, which runs the same kernels whatever its ranges; calibrate on real images for its accuracy.
 */
export function randomCalibrationRanges(model: tfl.LayersModel, batches = 2): Map<string, ActivationRange> {
  const [, height, width, channels] = model.inputs[0].shape as number[];
  const calibration = Array.from({ length: batches }, (_, seed) => tf.randomUniform([4, height, width, channels], -1, 1, 'float32', seed) as tf.Tensor4D);
  try {
    return calibrateRanges(model, calibration);
  } finally {
    tf.dispose(calibration);
  }
}
