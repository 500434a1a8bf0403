/**
 * The small layer groups both architectures are made of. Every layer gets an explicit, deterministic
 * name: names are the contract that checkpoint mapping and feature taps rely on.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { hashSeed, hashString } from '@mobilenets/random';
import { BatchNormalization } from './ops/batch-normalization';

type SymbolicTensor = tfl.SymbolicTensor;

/** 'relu' is what the V1 paper says; 'relu6' (min(max(x, 0), 6)) is what the official code and checkpoints use. */
export type Activation = 'relu' | 'relu6';

/** The configuration fields V1 and V2 share (each adds its own width multiplier, dropout and activation docs). */
export interface MobileNetCommonConfig {
  /** Input height and width in pixels (the resolution multiplier ρ is inputSize / 224). A multiple of 32, ≥ 32. Default 224. */
  inputSize?: number;
  /** Add global average pooling, dropout, the fully connected classifier and softmax. Default true. */
  includeTop?: boolean;
  /** Number of classes of the classifier. Default 1000. */
  classes?: number;
  /** Without the top: pool the final feature map ('avg' or 'max') or return it as is (null). Default null. */
  pooling?: 'avg' | 'max' | null;
  /**
   * Batch-norm moving-average momentum: moving = m · moving + (1 − m) · batch. Default 0.9 (PyTorch's
   * 0.1 in its convention): the averages follow the last ~10 steps, so they keep up with weights that
   * still move fast in a run of a few hundred steps. Keras' 0.99 averages over ~100 steps and lags a
   * short fine-tuning run (issue 8: validation on stale statistics; see the README).
   */
  batchNormMomentum?: number;
  /** Seed of the weight initialisers (the same seed builds the same weights); null: unseeded. Default null. */
  seed?: number | null;
}

/** Batch-norm settings shared by every BN layer of a model. Epsilon 1e-3 as in TF-slim and Keras. */
export interface BatchNormSettings {
  momentum: number;
  epsilon: number;
}

/** What every block of a model shares: batch-norm settings and the seed of the weight initialisers. */
export interface BlockSettings {
  batchNorm: BatchNormSettings;
  /** null: initialisers draw from Math.random; a number: layer L's weights are drawn from hashSeed(seed, hash(L)). */
  seed: number | null;
}

/**
 * The initialiser seed of the layer named `layer`: derived from the model's seed and the layer's name,
 * so a layer's initial weights do not depend on which other layers the model has. tfjs treats 0 as unseeded.
 */
export function layerSeed(settings: Pick<BlockSettings, 'seed'>, layer: string): number | undefined {
  return settings.seed === null ? undefined : hashSeed(settings.seed, hashString(layer)) || 1;
}

export interface ConvBnNames {
  conv: string;
  bn: string;
  /** Omit for a linear layer (V2's projection): conv → BN only. */
  activation?: string;
}

/**
 * Conv (or depthwise conv) without bias → BatchNorm → activation. 'same' padding in tfjs follows TF:
 * for stride 2 on an even input the extra row/column of padding goes at the bottom/right.
 */
export function convBnActivation(
  x: SymbolicTensor,
  spec: { kind: 'conv' | 'depthwise'; kernelSize: number; stride: number; filters?: number; activation: Activation },
  names: ConvBnNames,
  settings: BlockSettings,
): SymbolicTensor {
  const common = { kernelSize: spec.kernelSize, strides: spec.stride, padding: 'same' as const, useBias: false, name: names.conv };
  const init = heFanOut(spec.kind, layerSeed(settings, names.conv));
  const conv =
    spec.kind === 'conv'
      ? tfl.layers.conv2d({ ...common, filters: requireFilters(spec.filters, names.conv), kernelInitializer: init })
      : tfl.layers.depthwiseConv2d({ ...common, depthMultiplier: 1, depthwiseInitializer: init });
  let y = conv.apply(x) as SymbolicTensor;
  const { momentum, epsilon } = settings.batchNorm;
  y = new BatchNormalization({ axis: -1, momentum, epsilon, name: names.bn }).apply(y) as SymbolicTensor;
  if (names.activation !== undefined) {
    y = tfl.layers.activation({ activation: spec.activation, name: names.activation }).apply(y) as SymbolicTensor;
  }
  return y;
}

/**
 * He (Kaiming) initialisation over fan-out, as torchvision initialises MobileNet convolutions (variance
 * 2 / fan-out, here uniform): it keeps activations at unit scale through all 28 layers, where tfjs'
 * default (Glorot) shrinks them ~4× per layer, to ~1e-17 at the logits.
 *
 * Fan-out is torchvision's: output channels × kernel area for a full convolution, and for a depthwise
 * one (a grouped convolution to C channels) C × kernel area as well — which is tfjs' *fan-in* of a
 * depthwise kernel [kh, kw, C, 1] (tfjs' fan-out of it is only kh·kw). Counting it as tfjs does would draw
 * depthwise filters √C times too large; batch norm hides the scale in the forward pass, but the update
 * relative to the weights, and so the effective learning rate, shrinks by C (measured: the small-folder
 * runs of issue 8 learned markedly slower than PyTorch's).
 */
function heFanOut(kind: 'conv' | 'depthwise', seed: number | undefined) {
  return tfl.initializers.varianceScaling({ scale: 2, mode: kind === 'conv' ? 'fanOut' : 'fanIn', distribution: 'uniform', seed });
}

function requireFilters(filters: number | undefined, layer: string): number {
  if (filters === undefined) throw new Error(`internal: conv layer '${layer}' was built without a filter count`);
  return filters;
}

export interface HeadOptions {
  includeTop: boolean;
  classes: number;
  dropout: number;
  pooling: 'avg' | 'max' | null;
}

/** Layer names of the classifier head, the same for V1 and V2. */
export const HEAD_LAYER_NAMES = { avgPool: 'AvgPool', maxPool: 'MaxPool', dropout: 'Dropout', logits: 'Logits', predictions: 'Predictions' } as const;

/**
 * With `includeTop`: global average pool → dropout → fully connected logits → softmax, as in V1 Table 1
 * (the FC layer is counted by the paper's Mult-Adds). Without it: the feature map, optionally pooled.
 */
export function classifierHead(features: SymbolicTensor, options: HeadOptions, settings: Pick<BlockSettings, 'seed'>): SymbolicTensor {
  if (!options.includeTop) {
    if (options.pooling === 'avg') return tfl.layers.globalAveragePooling2d({ name: HEAD_LAYER_NAMES.avgPool }).apply(features) as SymbolicTensor;
    if (options.pooling === 'max') return tfl.layers.globalMaxPooling2d({ name: HEAD_LAYER_NAMES.maxPool }).apply(features) as SymbolicTensor;
    return features;
  }
  let x = tfl.layers.globalAveragePooling2d({ name: HEAD_LAYER_NAMES.avgPool }).apply(features) as SymbolicTensor;
  if (options.dropout > 0) x = tfl.layers.dropout({ rate: options.dropout, name: HEAD_LAYER_NAMES.dropout }).apply(x) as SymbolicTensor;
  // normal(0, 0.01) with zero bias, as torchvision initialises MobileNet classifiers: the first logits
  // are near 0 (every class about equally likely), and on the small folders of issue 8 it trained to a
  // higher validation top-1 than Glorot-uniform (README, "Defaults on a small folder").
  const seed = layerSeed(settings, HEAD_LAYER_NAMES.logits);
  const kernelInitializer = tfl.initializers.randomNormal({ mean: 0, stddev: 0.01, seed });
  x = tfl.layers.dense({ units: options.classes, name: HEAD_LAYER_NAMES.logits, kernelInitializer }).apply(x) as SymbolicTensor;
  return tfl.layers.activation({ activation: 'softmax', name: HEAD_LAYER_NAMES.predictions }).apply(x) as SymbolicTensor;
}
