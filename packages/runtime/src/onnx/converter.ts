/**
 * What a layer converter is and what it works with: the tensors of the graph being built (each with the
 * layout it is held in), and the context that adds nodes, changes layouts and folds layers.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { OnnxGraphBuilder } from './graph-builder';

export type Layer = tfl.layers.Layer;

/**
 * How the axes of an ONNX tensor relate to those of the tfjs tensor it stands for:
 * - 'tfjs': the same axes in the same order;
 * - 'channels-first': the tfjs tensor is channels-last, [N, …spatial, C], and the ONNX tensor holds
 *   it as [N, C, …spatial] — NCHW for a 4-D NHWC feature map. Convolutions and pooling work in it.
 * Tensors of rank below 3 have the same axes in both.
 */
export type TensorLayout = 'tfjs' | 'channels-first';

/** What a converter returns for each output of its layer: an ONNX tensor and its layout. */
export interface OnnxTensorRef {
  readonly name: string;
  readonly layout: TensorLayout;
}

/** A tensor of the graph being built, standing for a tfjs symbolic tensor. */
export interface ExportTensor extends OnnxTensorRef {
  /** The tfjs tensor's shape (batch and other free sizes are null), in tfjs' axis order whatever the layout. */
  readonly shape: readonly (number | null)[];
  readonly dtype: tf.DataType;
}

/**
 * Turns one tfjs layer into ONNX nodes: receives the ONNX tensors of the layer's inputs (in the order
 * of the layer's inputs) and returns one tensor per output of the layer, each with its layout.
 * Converters are looked up by the layer's class name (`layer.getClassName()`).
 */
export type LayerConverter = (layer: Layer, inputs: readonly ExportTensor[], ctx: ConversionContext) => OnnxTensorRef | readonly OnnxTensorRef[];

export interface ConversionContext {
  /** Adds nodes and initializers. */
  readonly graph: OnnxGraphBuilder;
  /** The name of a tensor holding `tensor`'s values in `layout`: the tensor itself, or a Transpose (added once, then reused). */
  inLayout(tensor: ExportTensor, layout: TensorLayout): string;
  /** The one layer that reads `layer`'s output; undefined when several do, none does, or the output is also a model output. */
  soleConsumer(layer: Layer): Layer | undefined;
  /**
   * Folds `layer` — the sole consumer of the layer being converted, e.g. a batch norm into the
   * convolution before it — into that layer: it gets no nodes, and its output is its input.
   */
  fold(layer: Layer): void;
  /** In int8 export, the scale of the uint8 quantization of a dequantized tensor; otherwise undefined. */
  quantizationScale(tensor: string): number | undefined;
}

/** The permutation (ONNX Transpose `perm`) from `from` to `to` for a tensor of `rank`; undefined when the axes are the same. */
export function layoutPermutation(rank: number, from: TensorLayout, to: TensorLayout): number[] | undefined {
  if (from === to || rank < 3) return undefined;
  const spatial = Array.from({ length: rank - 2 }, (_, i) => i + 1);
  return to === 'channels-first' ? [0, rank - 1, ...spatial] : [0, ...spatial.map((a) => a + 1), 1];
}

/** The ONNX axis of tfjs axis `axis` (negative counts from the end) of a rank-`rank` tensor held in `layout`. */
export function onnxAxis(axis: number, rank: number, layout: TensorLayout): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) throw new RangeError(`onnxAxis: axis ${axis} is out of range for a rank-${rank} tensor; expected an integer in [${-rank}, ${rank - 1}].`);
  const a = axis < 0 ? rank + axis : axis;
  if (layout === 'tfjs' || rank < 3 || a === 0) return a;
  return a === rank - 1 ? 1 : a + 1;
}

/**
 * Whether a tensor's values lie in the same order in memory in both layouts (a Reshape or Flatten
 * may then read the channels-first tensor as if it were the tfjs one): when it has one channel, or
 * its spatial size is 1.
 */
export function sameOrderInBothLayouts(shape: readonly (number | null)[]): boolean {
  if (shape.length < 3) return true;
  const spatial = shape.slice(1, -1);
  return shape[shape.length - 1] === 1 || spatial.every((d) => d === 1);
}

/** The layer's config as tfjs-layers returns it (camelCase keys, unlike model.json's snake_case). */
export function layerConfig<T>(layer: Layer): T {
  return layer.getConfig() as unknown as T;
}
