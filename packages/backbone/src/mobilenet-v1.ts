/**
 * MobileNetV1 (Howard et al. 2017, arXiv:1704.04861), built from the paper's Table 1.
 *
 * Layer names follow TF-slim's end points (`Conv2d_0`, `Conv2d_1_depthwise`, `Conv2d_1_pointwise`, …,
 * `Conv2d_13_pointwise`) so that the official checkpoints map one to one: the layer named after an end
 * point holds its weights, `<name>_BatchNorm` its batch norm and `<name>_relu` its activation, whose
 * output is the end point.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { Activation, BlockSettings, MobileNetCommonConfig, classifierHead, convBnActivation } from './blocks';
import { v1Channels } from './rounding';
import { checkCommonConfig, checkOneOf, checkWidthMultiplier, withoutUndefined } from './validate';

/** One row of V1 Table 1: a full 3×3 convolution, or a depthwise separable one (3×3 depthwise + 1×1 pointwise). */
export interface V1LayerSpec {
  kind: 'conv' | 'separable';
  /** Stride of the 3×3 convolution (the depthwise one for a separable layer). */
  stride: 1 | 2;
  /** Output channels at α = 1. */
  filters: number;
}

/**
 * V1 Table 1, one entry per end point index (Conv2d_0 … Conv2d_13). The published table prints the
 * last depthwise layer as stride 2; it is stride 1 in the official code and in the 569M count.
 */
export const MOBILENET_V1_LAYERS: readonly V1LayerSpec[] = [
  { kind: 'conv', stride: 2, filters: 32 }, //        Conv2d_0:  224² × 3    → 112² × 32
  { kind: 'separable', stride: 1, filters: 64 }, //   Conv2d_1:  112² × 32   → 112² × 64
  { kind: 'separable', stride: 2, filters: 128 }, //  Conv2d_2:  112² × 64   → 56² × 128
  { kind: 'separable', stride: 1, filters: 128 }, //  Conv2d_3:  56² × 128   → 56² × 128
  { kind: 'separable', stride: 2, filters: 256 }, //  Conv2d_4:  56² × 128   → 28² × 256
  { kind: 'separable', stride: 1, filters: 256 }, //  Conv2d_5:  28² × 256   → 28² × 256
  { kind: 'separable', stride: 2, filters: 512 }, //  Conv2d_6:  28² × 256   → 14² × 512
  { kind: 'separable', stride: 1, filters: 512 }, //  Conv2d_7:  14² × 512   → 14² × 512  ┐
  { kind: 'separable', stride: 1, filters: 512 }, //  Conv2d_8                             │ the "5×" rows,
  { kind: 'separable', stride: 1, filters: 512 }, //  Conv2d_9                             │ removed by the
  { kind: 'separable', stride: 1, filters: 512 }, //  Conv2d_10                            │ shallow variant
  { kind: 'separable', stride: 1, filters: 512 }, //  Conv2d_11                            ┘
  { kind: 'separable', stride: 2, filters: 1024 }, // Conv2d_12: 14² × 512   → 7² × 1024
  { kind: 'separable', stride: 1, filters: 1024 }, // Conv2d_13: 7² × 1024   → 7² × 1024
];

/** Indices of the five 14×14×512 separable layers that V1 Table 5's shallow MobileNet removes. */
export const SHALLOW_REMOVED_LAYERS: readonly number[] = [7, 8, 9, 10, 11];

/** The paper's comparison models: Table 4 replaces every separable layer by a full 3×3 conv, Table 5 removes five. */
export type MobileNetV1Variant = 'standard' | 'full-conv' | 'shallow';
export const MOBILENET_V1_VARIANTS: readonly MobileNetV1Variant[] = ['standard', 'full-conv', 'shallow'];

export interface MobileNetV1Config extends MobileNetCommonConfig {
  /** Width multiplier α in (0, 1]: every layer's channels become max(int(c·α), minDepth). Default 1. */
  widthMultiplier?: number;
  /** Dropout rate before the classifier (TF-slim keeps 0.999, so 0.001). Default 0.001. */
  dropout?: number;
  /** 'relu6' (official code, released checkpoints, Keras) or 'relu' (what the paper says). Default 'relu6'. */
  activation?: Activation;
  /** 'standard', 'full-conv' (Table 4) or 'shallow' (Table 5). Default 'standard'. */
  variant?: MobileNetV1Variant;
  /** Smallest channel count any layer is rounded to (TF-slim's min_depth). Default 8. */
  minDepth?: number;
}

export type ResolvedMobileNetV1Config = Required<MobileNetV1Config>;

export const MOBILENET_V1_DEFAULTS: ResolvedMobileNetV1Config = {
  widthMultiplier: 1,
  inputSize: 224,
  includeTop: true,
  classes: 1000,
  dropout: 0.001,
  activation: 'relu6',
  pooling: null,
  variant: 'standard',
  minDepth: 8,
  batchNormMomentum: 0.9,
  seed: null,
};

/** Fills defaults and validates; throws RangeError/TypeError naming the bad field before anything is built. */
export function resolveMobileNetV1Config(config: MobileNetV1Config = {}): ResolvedMobileNetV1Config {
  const c: ResolvedMobileNetV1Config = { ...MOBILENET_V1_DEFAULTS, ...withoutUndefined(config) };
  const arch = 'mobilenetV1';
  checkWidthMultiplier(c.widthMultiplier, arch, false);
  checkCommonConfig(c, arch);
  checkOneOf(c.variant, MOBILENET_V1_VARIANTS, 'variant', arch);
  if (!Number.isInteger(c.minDepth) || c.minDepth < 1) throw new RangeError(`${arch}: minDepth must be an integer ≥ 1. Received ${c.minDepth}.`);
  return c;
}

/** End point names of the layers a variant keeps, in order (e.g. 'Conv2d_0', 'Conv2d_1_depthwise', …). */
export function mobilenetV1Endpoints(variant: MobileNetV1Variant = 'standard'): string[] {
  return v1Layers(variant).flatMap(({ index, spec }) =>
    spec.kind === 'separable' && variant !== 'full-conv' ? [`Conv2d_${index}_depthwise`, `Conv2d_${index}_pointwise`] : [`Conv2d_${index}`],
  );
}

function v1Layers(variant: MobileNetV1Variant): { index: number; spec: V1LayerSpec }[] {
  return MOBILENET_V1_LAYERS.map((spec, index) => ({ index, spec })).filter(
    ({ index }) => variant !== 'shallow' || !SHALLOW_REMOVED_LAYERS.includes(index),
  );
}

/** Model name in Keras' style, e.g. `mobilenet_v1_0.50_160`. */
export function mobilenetV1Name(c: ResolvedMobileNetV1Config): string {
  const suffix = c.variant === 'standard' ? '' : `_${c.variant.replace('-', '_')}`;
  return `mobilenet_v1_${c.widthMultiplier.toFixed(2)}_${c.inputSize}${suffix}`;
}

/** Builds MobileNetV1 as a tfjs-layers functional model with input [batch, inputSize, inputSize, 3] in [-1, 1]. */
export function mobilenetV1(config: MobileNetV1Config = {}): tfl.LayersModel {
  const c = resolveMobileNetV1Config(config);
  const bn: BlockSettings = { batchNorm: { momentum: c.batchNormMomentum, epsilon: 1e-3 }, seed: c.seed };
  const depth = (filters: number) => v1Channels(filters, c.widthMultiplier, c.minDepth);
  const input = tfl.input({ shape: [c.inputSize, c.inputSize, 3], name: 'input' });

  let x: tfl.SymbolicTensor = input;
  for (const { index, spec } of v1Layers(c.variant)) {
    if (spec.kind === 'conv' || c.variant === 'full-conv') {
      const name = `Conv2d_${index}`;
      x = convBnActivation(x, { kind: 'conv', kernelSize: 3, stride: spec.stride, filters: depth(spec.filters), activation: c.activation }, endpointNames(name), bn);
    } else {
      x = convBnActivation(x, { kind: 'depthwise', kernelSize: 3, stride: spec.stride, activation: c.activation }, endpointNames(`Conv2d_${index}_depthwise`), bn);
      x = convBnActivation(x, { kind: 'conv', kernelSize: 1, stride: 1, filters: depth(spec.filters), activation: c.activation }, endpointNames(`Conv2d_${index}_pointwise`), bn);
    }
  }
  const output = classifierHead(x, c, bn);
  return tfl.model({ inputs: input, outputs: output, name: mobilenetV1Name(c) });
}

function endpointNames(endpoint: string) {
  return { conv: endpoint, bn: `${endpoint}_BatchNorm`, activation: `${endpoint}_relu` };
}
