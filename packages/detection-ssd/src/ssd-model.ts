/**
 * The SSD / SSDLite detector on a MobileNet backbone, laid out as the TF Object Detection API builds
 * `ssd_mobilenet_v1` and `ssdlite_mobilenet_v2` (reference: shared/reference/detection.md §1.8–1.10):
 *
 *   feature maps   two taps of the backbone (V1: Conv2d_11_pointwise, Conv2d_13_pointwise; V2:
 *                  layer_15/expansion_output, layer_19) — optionally after a finer one at output stride 8
 *                  (SSD_FINE_TAPS: V1 Conv2d_5_pointwise, V2 layer_8/expansion_output) for small
 *                  objects, which TF's configs do not have — then one extra layer per entry of
 *                  EXTRA_LAYER_DEPTHS: a 1×1 conv to half the depth, then a 3×3 stride-2 conv
 *                  (SSDLite: 3×3 depthwise stride 2, then 1×1), each conv → BN → ReLU6;
 *   top-down       optionally (`fpn`), FPN's top-down pathway over the taps (Lin et al. 2017; TF's
 *                  FPN-lite feature extractors): from the coarsest tap down, each tap's map plus the
 *                  merged map above it, projected to the tap's depth (1×1 conv → BN, linear) and
 *                  upsampled (nearest) to the tap's size — so the fine maps that find small objects see
 *                  the deeper layers' features; the extra layers still grow from the coarsest tap;
 *   box predictors one per feature map: box encodings (4 a box) and class logits (classes + 1 with the
 *                  background first) for each of the map's anchors — SSD: a 1×1 conv each; SSDLite: a
 *                  3×3 depthwise conv → BN → ReLU6, then a 1×1 conv;
 *   outputs        `boxEncodings` [batch, anchors, 4] in the box coder's [ty, tx, th, tw] and
 *                  `classLogits` [batch, anchors, classes + 1], anchors in the anchor generator's order
 *                  (feature map by feature map; cells row by row; the cell's anchors in turn).
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { convBnActivation, featureTaps, layerSeed, listEndpoints, type BlockSettings } from '@mobilenets/backbone';

type SymbolicTensor = tfl.SymbolicTensor;

/** The depths of the extra feature maps after the two taps (TF: layer_depth [-1, -1, 512, 256, 256, 128]). */
export const EXTRA_LAYER_DEPTHS: readonly number[] = [512, 256, 256, 128];

/** Anchors per feature-map cell (TF's SSD anchor generator: 3 on the lowest map, 6 elsewhere). */
export const SSD_ANCHORS_PER_LOCATION: readonly number[] = [3, 6, 6, 6, 6, 6];

/** The backbone end points SSD taps, by backbone family. */
export const SSD_TAPS = {
  v1: ['Conv2d_11_pointwise', 'Conv2d_13_pointwise'],
  v2: ['layer_15/expansion_output', 'layer_19'],
} as const;

/**
 * The output-stride-8 end point an SSD may tap before SSD_TAPS, by backbone family: the analogue of
 * the stride-16 taps one stage earlier (V2: the expansion of the block whose depthwise conv halves the
 * map, as layer_15's is). Its map is four times the first tap's: at 320, 40×40.
 */
export const SSD_FINE_TAPS = { v1: 'Conv2d_5_pointwise', v2: 'layer_8/expansion_output' } as const;

export type SsdHead = 'ssd' | 'ssdlite';

export interface SsdConfig {
  /** A MobileNet built by @mobilenets/backbone without its top (includeTop: false), at the detector's input size. */
  backbone: tfl.LayersModel;
  /** Object classes, without the background. */
  classes: number;
  /** 'ssd' (1×1 conv predictors, full extra convs) or 'ssdlite' (depthwise-separable). Default 'ssd'. */
  head?: SsdHead;
  /**
   * The backbone end points to tap, finest first; the extra layers grow from the last. Default:
   * SSD_TAPS for the backbone's family (prepend SSD_FINE_TAPS' for a stride-8 map).
   */
  taps?: readonly string[];
  /** FPN's top-down pathway over the taps (see the module comment). Default false, as TF's SSD configs. */
  fpn?: boolean;
  /** Extra feature-map depths after the taps. Default EXTRA_LAYER_DEPTHS. */
  extraLayerDepths?: readonly number[];
  /** Anchors per cell of each feature map (taps first). Default SSD_ANCHORS_PER_LOCATION. */
  anchorsPerLocation?: readonly number[];
  /** Width multiplier of the extra layers (TF applies the backbone's). Default 1. */
  depthMultiplier?: number;
  /** Smallest depth of an extra layer. Default 16 (TF's min_depth). */
  minDepth?: number;
  /** Batch-norm momentum of the new layers. Default 0.9, as the backbone's. */
  batchNormMomentum?: number;
  /** Seed of the new layers' initialisers; null: unseeded. Default null. */
  seed?: number | null;
}

export interface SsdModel {
  /** Inputs: the backbone's image input. Outputs: [boxEncodings, classLogits]. */
  model: tfl.LayersModel;
  /** [height, width] of each feature map, in predictor order: what the anchor generator needs. */
  featureMapSizes: [number, number][];
  anchorsPerLocation: number[];
  /** Total anchors: Σ height · width · anchorsPerLocation. */
  anchors: number;
  classes: number;
  head: SsdHead;
}

/** The output names of the detector model. */
export const SSD_OUTPUTS = { boxEncodings: 'BoxEncodings', classLogits: 'ClassLogits' } as const;

function defaultTaps(backbone: tfl.LayersModel): readonly string[] {
  const endpoints = new Set(listEndpoints(backbone));
  for (const taps of [SSD_TAPS.v1, SSD_TAPS.v2]) if (taps.every((t) => endpoints.has(t))) return taps;
  throw new RangeError(`createSsd: backbone '${backbone.name}' has neither V1's (${SSD_TAPS.v1.join(', ')}) nor V2's (${SSD_TAPS.v2.join(', ')}) end points. Pass taps.`);
}

function checkConfig(config: SsdConfig): void {
  const { classes, head = 'ssd' } = config;
  if (!Number.isInteger(classes) || classes < 1) throw new RangeError(`createSsd: classes must be an integer ≥ 1 (object classes, without the background). Received ${classes}.`);
  if (head !== 'ssd' && head !== 'ssdlite') throw new RangeError(`createSsd: head must be 'ssd' or 'ssdlite'. Received '${String(head)}'.`);
  if (config.taps !== undefined && config.taps.length === 0) throw new RangeError('createSsd: taps must name at least one backbone end point.');
  const maps = (config.taps?.length ?? 2) + (config.extraLayerDepths ?? EXTRA_LAYER_DEPTHS).length;
  const perLocation = config.anchorsPerLocation ?? SSD_ANCHORS_PER_LOCATION;
  if (perLocation.length !== maps || !perLocation.every((a) => Number.isInteger(a) && a >= 1)) {
    throw new RangeError(`createSsd: anchorsPerLocation must give a positive integer for each of the ${maps} feature maps. Received [${perLocation.join(', ')}].`);
  }
  if (config.backbone.outputs.length !== 1 || (config.backbone.outputs[0].shape.length !== 4)) {
    throw new RangeError(`createSsd: backbone '${config.backbone.name}' must be built without its top (includeTop: false, pooling: null): its output is ${JSON.stringify(config.backbone.outputs[0].shape)}.`);
  }
}

/** One extra feature map: 1×1 to half depth, then a stride-2 3×3 (SSDLite: depthwise 3×3 + 1×1), TF's layer names. */
function extraLayer(x: SymbolicTensor, base: string, index: number, depth: (d: number) => number, layerDepth: number, head: SsdHead, settings: BlockSettings): SymbolicTensor {
  const half = depth(layerDepth / 2);
  const full = depth(layerDepth);
  const reduce = `${base}_1_Conv2d_${index}_1x1_${half}`;
  x = convBnActivation(x, { kind: 'conv', kernelSize: 1, stride: 1, filters: half, activation: 'relu6' }, { conv: reduce, bn: `${reduce}_BatchNorm`, activation: `${reduce}_relu` }, settings);
  const name = `${base}_2_Conv2d_${index}_3x3_s2_${full}`;
  if (head === 'ssd') {
    return convBnActivation(x, { kind: 'conv', kernelSize: 3, stride: 2, filters: full, activation: 'relu6' }, { conv: name, bn: `${name}_BatchNorm`, activation: `${name}_relu` }, settings);
  }
  x = convBnActivation(x, { kind: 'depthwise', kernelSize: 3, stride: 2, activation: 'relu6' }, { conv: `${name}_depthwise`, bn: `${name}_depthwise_BatchNorm`, activation: `${name}_depthwise_relu` }, settings);
  return convBnActivation(x, { kind: 'conv', kernelSize: 1, stride: 1, filters: full, activation: 'relu6' }, { conv: name, bn: `${name}_BatchNorm`, activation: `${name}_relu` }, settings);
}

/**
 * FPN's merge of one tap with the merged map above it: `fine` + upsample(BN(1×1 conv(`coarse`) to
 * fine's depth)), named after the tap. The upsampling factor is the ratio of the map sizes (2 between
 * taps one stride apart, at input sizes that are multiples of 32).
 */
function topDownMerge(fine: SymbolicTensor, coarse: SymbolicTensor, base: string, settings: BlockSettings): SymbolicTensor {
  const [, fh, fw, depth] = fine.shape as number[];
  const [, ch, cw] = coarse.shape as number[];
  const factor = [fh / ch, fw / cw];
  if (!factor.every((f) => Number.isInteger(f) && f >= 1)) throw new RangeError(`createSsd: fpn merges the ${ch}×${cw} map into the ${fh}×${fw} map of '${base}', which is not a whole multiple of it.`);
  const name = `${base}_TopDown_1x1_${depth}`;
  // No activation layer named: conv → BN only, linear (as V2's projections).
  const projected = convBnActivation(coarse, { kind: 'conv', kernelSize: 1, stride: 1, filters: depth, activation: 'relu6' }, { conv: name, bn: `${name}_BatchNorm` }, settings);
  const upsampled = tfl.layers.upSampling2d({ size: factor, name: `${base}_TopDown_upsample` }).apply(projected) as SymbolicTensor;
  return tfl.layers.add({ name: `${base}_TopDown_merge` }).apply([fine, upsampled]) as SymbolicTensor;
}

/** One predictor output (box encodings or class logits) of one feature map, reshaped to [batch, cells · anchors, width]. */
function predictor(x: SymbolicTensor, name: string, anchors: number, width: number, cells: number, head: SsdHead, settings: BlockSettings): SymbolicTensor {
  if (head === 'ssdlite') {
    x = convBnActivation(x, { kind: 'depthwise', kernelSize: 3, stride: 1, activation: 'relu6' }, { conv: `${name}_depthwise`, bn: `${name}_depthwise_BatchNorm`, activation: `${name}_depthwise_relu` }, settings);
  }
  const seed = layerSeed(settings, name);
  const conv = tfl.layers.conv2d({ filters: anchors * width, kernelSize: 1, padding: 'same', useBias: true, name, kernelInitializer: tfl.initializers.randomNormal({ mean: 0, stddev: 0.03, seed }) });
  return tfl.layers.reshape({ targetShape: [cells * anchors, width], name: `${name}_reshape` }).apply(conv.apply(x)) as SymbolicTensor;
}

/**
 * Builds the detector on `config.backbone`. The backbone's layers are shared, not copied: its weights
 * (pretrained or fresh) are the detector's.
 */
export function createSsd(config: SsdConfig): SsdModel {
  checkConfig(config);
  const { backbone, classes, head = 'ssd', depthMultiplier = 1, minDepth = 16, batchNormMomentum = 0.9, seed = null } = config;
  const taps = featureTaps(backbone, config.taps ?? defaultTaps(backbone));
  const settings: BlockSettings = { batchNorm: { momentum: batchNormMomentum, epsilon: 1e-3 }, seed };
  const depth = (d: number) => Math.max(Math.floor(d * depthMultiplier), minDepth);

  const maps: SymbolicTensor[] = taps.map((t) => t.output);
  let x = maps[maps.length - 1];
  if (config.fpn === true) {
    for (let i = maps.length - 2; i >= 0; i--) maps[i] = topDownMerge(maps[i], maps[i + 1], taps[i].endpoint.replace(/\//g, '_'), settings);
  }
  const base = taps[taps.length - 1].endpoint.replace(/\//g, '_');
  (config.extraLayerDepths ?? EXTRA_LAYER_DEPTHS).forEach((layerDepth, k) => {
    x = extraLayer(x, base, k + 2, depth, layerDepth, head, settings);
    maps.push(x);
  });

  const perLocation = [...(config.anchorsPerLocation ?? SSD_ANCHORS_PER_LOCATION)];
  const featureMapSizes = maps.map((m) => [m.shape[1], m.shape[2]] as [number, number]);
  const boxes: SymbolicTensor[] = [];
  const logits: SymbolicTensor[] = [];
  maps.forEach((map, i) => {
    const cells = featureMapSizes[i][0] * featureMapSizes[i][1];
    boxes.push(predictor(map, `BoxPredictor_${i}_BoxEncodingPredictor`, perLocation[i], 4, cells, head, settings));
    logits.push(predictor(map, `BoxPredictor_${i}_ClassPredictor`, perLocation[i], classes + 1, cells, head, settings));
  });
  const boxEncodings = tfl.layers.concatenate({ axis: 1, name: SSD_OUTPUTS.boxEncodings }).apply(boxes) as SymbolicTensor;
  const classLogits = tfl.layers.concatenate({ axis: 1, name: SSD_OUTPUTS.classLogits }).apply(logits) as SymbolicTensor;
  const inputSize = backbone.inputs[0].shape[1];
  const model = tfl.model({ inputs: backbone.inputs, outputs: [boxEncodings, classLogits], name: `${head}_${backbone.name}_${inputSize}` });
  const anchors = featureMapSizes.reduce((n, [h, w], i) => n + h * w * perLocation[i], 0);
  return { model, featureMapSizes, anchorsPerLocation: perLocation, anchors, classes, head };
}
