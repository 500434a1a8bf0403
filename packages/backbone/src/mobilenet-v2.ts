/**
 * MobileNetV2 (Sandler et al. 2018, arXiv:1801.04381), built from the paper's Table 2.
 *
 * Layer names are Keras' (`Conv1`, `expanded_conv_depthwise`, `block_1_expand`, …, `Conv_1`, `out_relu`),
 * and TF-slim's end points (`layer_1` … `layer_19`, `layer_N/expansion_output`) resolve to them through
 * {@link mobilenetV2EndpointLayers}.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { Activation, BlockSettings, MobileNetCommonConfig, classifierHead, convBnActivation } from './blocks';
import { makeDivisible } from './rounding';
import { checkCommonConfig, checkWidthMultiplier, withoutUndefined } from './validate';

/** One line of V2 Table 2: `repeats` inverted-residual blocks, the first with `stride`, expanding by `expansion`. */
export interface V2StageSpec {
  /** Expansion factor t: the hidden width is t × input channels. */
  expansion: number;
  /** Output channels c at α = 1. */
  filters: number;
  /** Number of blocks n. */
  repeats: number;
  /** Stride s of the first block; the others have stride 1. */
  stride: 1 | 2;
}

/** V2 Table 2 (t, c, n, s), between the 32-channel stem and the 1280-channel last convolution. */
export const MOBILENET_V2_STAGES: readonly V2StageSpec[] = [
  { expansion: 1, filters: 16, repeats: 1, stride: 1 }, //  112² × 32  → 112² × 16
  { expansion: 6, filters: 24, repeats: 2, stride: 2 }, //  112² × 16  → 56² × 24
  { expansion: 6, filters: 32, repeats: 3, stride: 2 }, //  56² × 24   → 28² × 32
  { expansion: 6, filters: 64, repeats: 4, stride: 2 }, //  28² × 32   → 14² × 64
  { expansion: 6, filters: 96, repeats: 3, stride: 1 }, //  14² × 64   → 14² × 96
  { expansion: 6, filters: 160, repeats: 3, stride: 2 }, // 14² × 96   → 7² × 160
  { expansion: 6, filters: 320, repeats: 1, stride: 1 }, // 7² × 160   → 7² × 320
];
export const MOBILENET_V2_STEM_FILTERS = 32;
export const MOBILENET_V2_LAST_FILTERS = 1280;

export interface MobileNetV2Config extends MobileNetCommonConfig {
  /** Width multiplier α > 0 (0.35 to 1.4 published). Channels are made divisible by 8. Default 1. */
  widthMultiplier?: number;
  /** Dropout rate before the classifier (TF-slim trains with keep_prob 0.8; Keras has none). Default 0.2. */
  dropout?: number;
  /** 'relu6' as in the paper and the code, or 'relu'. Projections stay linear either way. Default 'relu6'. */
  activation?: Activation;
}

export type ResolvedMobileNetV2Config = Required<MobileNetV2Config>;

export const MOBILENET_V2_DEFAULTS: ResolvedMobileNetV2Config = {
  widthMultiplier: 1,
  inputSize: 224,
  includeTop: true,
  classes: 1000,
  dropout: 0.2,
  activation: 'relu6',
  pooling: null,
  batchNormMomentum: 0.9,
  seed: null,
};

export function resolveMobileNetV2Config(config: MobileNetV2Config = {}): ResolvedMobileNetV2Config {
  const c: ResolvedMobileNetV2Config = { ...MOBILENET_V2_DEFAULTS, ...withoutUndefined(config) };
  const arch = 'mobilenetV2';
  checkWidthMultiplier(c.widthMultiplier, arch, true);
  checkCommonConfig(c, arch);
  return c;
}

/** One inverted-residual block as built: channels after rounding, stride, and whether it adds its input. */
export interface V2BlockPlan {
  /** 0 … 16; Keras prefixes block 0 with `expanded_conv_` and block k with `block_k_`. */
  blockId: number;
  /** Expansion factor t; t = 1 means no expansion convolution (block 0). */
  expansion: number;
  inChannels: number;
  hiddenChannels: number;
  outChannels: number;
  stride: 1 | 2;
  residual: boolean;
}

/** The 17 blocks of Table 2 at width multiplier α, with TF-slim's rounding (_make_divisible to 8). */
export function mobilenetV2Blocks(widthMultiplier = 1): V2BlockPlan[] {
  const blocks: V2BlockPlan[] = [];
  let inChannels = makeDivisible(MOBILENET_V2_STEM_FILTERS * widthMultiplier);
  for (const stage of MOBILENET_V2_STAGES) {
    const outChannels = makeDivisible(stage.filters * widthMultiplier);
    for (let i = 0; i < stage.repeats; i++) {
      const stride = i === 0 ? stage.stride : 1;
      const hiddenChannels = stage.expansion === 1 ? inChannels : makeDivisible(inChannels * stage.expansion);
      blocks.push({ blockId: blocks.length, expansion: stage.expansion, inChannels, hiddenChannels, outChannels, stride, residual: stride === 1 && inChannels === outChannels });
      inChannels = outChannels;
    }
  }
  return blocks;
}

/** The last 1×1 conv keeps 1280 channels for α ≤ 1 ("improves performance for smaller models", §4). */
export function mobilenetV2LastChannels(widthMultiplier: number): number {
  return widthMultiplier > 1 ? makeDivisible(MOBILENET_V2_LAST_FILTERS * widthMultiplier) : MOBILENET_V2_LAST_FILTERS;
}

function blockPrefix(blockId: number): string {
  return blockId === 0 ? 'expanded_conv_' : `block_${blockId}_`;
}

function blockOutputLayer(block: V2BlockPlan): string {
  return `${blockPrefix(block.blockId)}${block.residual ? 'add' : 'project_BN'}`;
}

/**
 * TF-slim end point → the Keras-named layer whose output it is: `layer_1` is the stem, `layer_2` …
 * `layer_18` the 17 blocks, `layer_19` the last 1×1 conv; `layer_N/expansion_output` is block N's
 * expansion (SSDLite taps `layer_15/expansion_output` at stride 16 and `layer_19` at stride 32).
 */
export function mobilenetV2EndpointLayers(): Map<string, string> {
  const map = new Map<string, string>([['layer_1', 'Conv1_relu']]);
  for (const block of mobilenetV2Blocks()) {
    const layerIndex = block.blockId + 2;
    if (block.blockId > 0) map.set(`layer_${layerIndex}/expansion_output`, `${blockPrefix(block.blockId)}expand_relu`);
    map.set(`layer_${layerIndex}`, blockOutputLayer(block));
  }
  map.set(`layer_${MOBILENET_V2_STAGES.reduce((n, s) => n + s.repeats, 0) + 2}`, 'out_relu');
  return map;
}

/** Model name in Keras' style, e.g. `mobilenet_v2_0.35_96`. */
export function mobilenetV2Name(c: ResolvedMobileNetV2Config): string {
  return `mobilenet_v2_${c.widthMultiplier.toFixed(2)}_${c.inputSize}`;
}

/** Builds MobileNetV2 as a tfjs-layers functional model with input [batch, inputSize, inputSize, 3] in [-1, 1]. */
export function mobilenetV2(config: MobileNetV2Config = {}): tfl.LayersModel {
  const c = resolveMobileNetV2Config(config);
  const bn: BlockSettings = { batchNorm: { momentum: c.batchNormMomentum, epsilon: 1e-3 }, seed: c.seed };
  const act = c.activation;
  const input = tfl.input({ shape: [c.inputSize, c.inputSize, 3], name: 'input' });

  const stemFilters = makeDivisible(MOBILENET_V2_STEM_FILTERS * c.widthMultiplier);
  let x = convBnActivation(input, { kind: 'conv', kernelSize: 3, stride: 2, filters: stemFilters, activation: act }, { conv: 'Conv1', bn: 'bn_Conv1', activation: 'Conv1_relu' }, bn);

  for (const block of mobilenetV2Blocks(c.widthMultiplier)) {
    const prefix = blockPrefix(block.blockId);
    const shortcut = x;
    if (block.expansion !== 1) {
      x = convBnActivation(x, { kind: 'conv', kernelSize: 1, stride: 1, filters: block.hiddenChannels, activation: act }, { conv: `${prefix}expand`, bn: `${prefix}expand_BN`, activation: `${prefix}expand_relu` }, bn);
    }
    x = convBnActivation(x, { kind: 'depthwise', kernelSize: 3, stride: block.stride, activation: act }, { conv: `${prefix}depthwise`, bn: `${prefix}depthwise_BN`, activation: `${prefix}depthwise_relu` }, bn);
    x = convBnActivation(x, { kind: 'conv', kernelSize: 1, stride: 1, filters: block.outChannels, activation: act }, { conv: `${prefix}project`, bn: `${prefix}project_BN` }, bn);
    if (block.residual) x = tfl.layers.add({ name: `${prefix}add` }).apply([shortcut, x]) as tfl.SymbolicTensor;
  }

  const lastFilters = mobilenetV2LastChannels(c.widthMultiplier);
  x = convBnActivation(x, { kind: 'conv', kernelSize: 1, stride: 1, filters: lastFilters, activation: act }, { conv: 'Conv_1', bn: 'Conv_1_bn', activation: 'out_relu' }, bn);
  const output = classifierHead(x, c, bn);
  return tfl.model({ inputs: input, outputs: output, name: mobilenetV2Name(c) });
}
