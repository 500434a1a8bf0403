/**
 * What a layer's training emitter is: it writes the layer's forward pass (training mode) into the step
 * graph and returns, with its outputs, the backward pass — a function that, given the gradients of the
 * outputs, writes the gradients of the inputs and of the layer's weights. The forward converters of
 * ../onnx write inference graphs; these write training steps; a new layer type is one emitter here.
 */
import type { Layer } from '../onnx/converter';
import type { StepOps, Value } from './ops';

export interface StepContext {
  readonly ops: StepOps;
  /** The graph input holding the layer's weight `name` ('kernel', 'bias', 'gamma', 'moving_mean', …) in its tfjs shape. */
  weight(layer: Layer, name: string): string;
  /** Whether the layer has a weight called `name`. */
  hasWeight(layer: Layer, name: string): boolean;
  /** Records d loss / d weight (tfjs shape) of the layer's trainable weight `name`. */
  gradient(layer: Layer, name: string, gradient: string): void;
  /** Records the new value of the layer's non-trainable weight `name` (batch-norm moving statistics). */
  update(layer: Layer, name: string, value: string): void;
  /** A graph input holding the layer's dropout mask of `shape` (kept values scaled by 1 / (1 − rate), dropped ones 0). */
  mask(layer: Layer, shape: readonly number[]): string;
  /** Whether the loss's gradient with respect to `value` is wanted (false for the images). */
  needsGradient(value: Value): boolean;
  /** The channel block of onnxruntime's NCHWc kernels on this machine (./nchwc.ts), or null to use plain Conv. */
  readonly nchwcBlock: number | null;
  /**
   * Hands on an input gradient in the deferred form dx = A·(g + P·x + Q) (see {@link AffineGradient});
   * returns a gradient name to return from `backward`. A layer whose step sets `acceptsAffine` receives it
   * as it is (and reads it with `affine`); any other receives it computed.
   */
  deferAffine(parts: AffineGradient): string;
  /** The parts of a deferred gradient (from `deferAffine`), or undefined for a computed one. */
  affine(gradient: string): AffineGradient | undefined;
  /** A gradient as a tensor: a deferred one computed (once), any other as it is. */
  materialize(gradient: string): string;
  /** Records that `blocked` holds the tensor (a value or a gradient) `name` in the NCHWc layout. */
  setBlockedTwin(name: string, blocked: string): void;
  /** The tensor `name` in the NCHWc layout, if a layer recorded one. */
  blockedTwin(name: string): string | undefined;
}

/**
 * A batch norm's input gradient before its per-channel scale: dx = A·(g + P·x + Q), with g the
 * gradient reaching the batch norm's output and x its input, A, P and Q per-channel [C] vectors. The
 * layer that produced x folds A into its own (small) weight tensors instead of scaling a whole map,
 * and computes g + P·x + Q in the layout it works in (the depthwise convolution: one blocked NCHWc
 * convolution with g as its Sum input).
 */
export interface AffineGradient {
  g: string;
  /** g in the blocked NCHWc layout, when the batch norm reordered it (its input was blocked too). */
  gNchwc?: string;
  /** x − mean in the blocked layout with its Q (P·(x − mean) + Q' = P·x + Q), when the batch norm computed it. */
  centredNchwc?: { x: string; q: string };
  x: Value;
  a: string;
  p: string;
  q: string;
  /** The batch norm's name, for the nodes that compute the gradient. */
  name: string;
}

export interface LayerStep {
  outputs: Value[];
  /** Writes the gradients of the layer's inputs (null for an input that needs none) from those of its outputs (null: none reached it). */
  backward(outputGradients: readonly (string | null)[]): (string | null)[];
  /** Whether `backward` takes deferred gradients (StepContext.deferAffine) as they are; default false: they arrive computed. */
  acceptsAffine?: boolean;
}

export type LayerEmitter = (layer: Layer, inputs: readonly Value[], ctx: StepContext) => LayerStep;
