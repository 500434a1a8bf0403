/**
 * The small layer groups both architectures are made of. Every layer gets an explicit, deterministic
 * name: names are the contract that checkpoint mapping and feature taps rely on.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { BatchNormalization } from './ops/batch-normalization';

type SymbolicTensor = tfl.SymbolicTensor;

/** 'relu' is what the V1 paper says; 'relu6' (min(max(x, 0), 6)) is what the official code and checkpoints use. */
export type Activation = 'relu' | 'relu6';

/** Batch-norm settings shared by every BN layer of a model. Epsilon 1e-3 as in TF-slim and Keras. */
export interface BatchNormSettings {
  momentum: number;
  epsilon: number;
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
  bn: BatchNormSettings,
  seed: number | null = null,
): SymbolicTensor {
  const common = { kernelSize: spec.kernelSize, strides: spec.stride, padding: 'same' as const, useBias: false, name: names.conv };
  const init = heUniformFanOut(layerSeed(seed, names.conv));
  const conv =
    spec.kind === 'conv'
      ? tfl.layers.conv2d({ ...common, filters: requireFilters(spec.filters, names.conv), kernelInitializer: init })
      : tfl.layers.depthwiseConv2d({ ...common, depthMultiplier: 1, depthwiseInitializer: init });
  let y = conv.apply(x) as SymbolicTensor;
  y = new BatchNormalization({ axis: -1, momentum: bn.momentum, epsilon: bn.epsilon, name: names.bn }).apply(y) as SymbolicTensor;
  if (names.activation !== undefined) {
    y = tfl.layers.activation({ activation: spec.activation, name: names.activation }).apply(y) as SymbolicTensor;
  }
  return y;
}

/**
 * He (Kaiming) initialisation over fan-out, as torchvision initialises MobileNet convolutions: it keeps
 * activations at unit scale through all 28 layers, so an untrained model gives meaningful (non-vanishing)
 * outputs. tfjs' default (Glorot) shrinks them by ~4× per layer, to ~1e-17 at the logits.
 */
function heUniformFanOut(seed: number | undefined) {
  return tfl.initializers.varianceScaling({ scale: 2, mode: 'fanOut', distribution: 'uniform', seed });
}

/**
 * The initialiser seed of one layer: a hash of the model's seed and the layer's name, so that layers get
 * unrelated draws and a layer's draw does not depend on the layers built before it. Undefined (tfjs'
 * unseeded Math.random draws) when the model has no seed.
 */
export function layerSeed(seed: number | null, layerName: string): number | undefined {
  if (seed === null) return undefined;
  let h = 0x811c9dc5 ^ (seed >>> 0) ^ Math.imul(Math.floor(seed / 0x100000000) | 0, 0x27d4eb2d);
  for (let i = 0; i < layerName.length; i++) h = Math.imul(h ^ layerName.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
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
  /** Seed of the classifier's initialiser (see {@link layerSeed}); null: unseeded. */
  seed?: number | null;
}

/** Layer names of the classifier head, the same for V1 and V2. */
export const HEAD_LAYER_NAMES = { avgPool: 'AvgPool', maxPool: 'MaxPool', dropout: 'Dropout', logits: 'Logits', predictions: 'Predictions' } as const;

/**
 * With `includeTop`: global average pool → dropout → fully connected logits → softmax, as in V1 Table 1
 * (the FC layer is counted by the paper's Mult-Adds). Without it: the feature map, optionally pooled.
 */
export function classifierHead(features: SymbolicTensor, options: HeadOptions): SymbolicTensor {
  if (!options.includeTop) {
    if (options.pooling === 'avg') return tfl.layers.globalAveragePooling2d({ name: HEAD_LAYER_NAMES.avgPool }).apply(features) as SymbolicTensor;
    if (options.pooling === 'max') return tfl.layers.globalMaxPooling2d({ name: HEAD_LAYER_NAMES.maxPool }).apply(features) as SymbolicTensor;
    return features;
  }
  let x = tfl.layers.globalAveragePooling2d({ name: HEAD_LAYER_NAMES.avgPool }).apply(features) as SymbolicTensor;
  if (options.dropout > 0) x = tfl.layers.dropout({ rate: options.dropout, name: HEAD_LAYER_NAMES.dropout }).apply(x) as SymbolicTensor;
  const kernelInitializer = tfl.initializers.glorotUniform({ seed: layerSeed(options.seed ?? null, HEAD_LAYER_NAMES.logits) });
  x = tfl.layers.dense({ units: options.classes, name: HEAD_LAYER_NAMES.logits, kernelInitializer }).apply(x) as SymbolicTensor;
  return tfl.layers.activation({ activation: 'softmax', name: HEAD_LAYER_NAMES.predictions }).apply(x) as SymbolicTensor;
}
