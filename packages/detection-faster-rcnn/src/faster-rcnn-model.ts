/**
 * Faster R-CNN on a MobileNet backbone, laid out as the TF Object Detection API's Faster R-CNN MobileNet
 * feature extractors build it (shared/reference/detection.md §1.4–1.7):
 *
 *   first stage     the backbone up to its output-stride-16 end point (V1: Conv2d_11_pointwise; V2:
 *                   layer_15/expansion_output, the map SSD taps too), then the RPN head: a 3×3 conv
 *                   (depth 512, ReLU6) — or, with `rpnHead: 'separable'`, a 3×3 depthwise and a 1×1
 *                   conv, each → BN → ReLU6 — then per anchor 2 objectness logits (background, object)
 *                   and 4 box codes (TF order [ty, tx, th, tw]) from 1×1 convs;
 *   crop            (outside the layers model) the proposals are cropped from the stride-16 features by
 *                   crop-and-resize to 14×14 (./roi-crop.ts);
 *   second stage    2×2 max-pool to 7×7, then the backbone's own layers after the tap applied to the
 *                   crops (V1: Conv2d_12 and Conv2d_13, the first with stride 2; V2: the rest of
 *                   layer_15 through layer_19), global average pool, and two dense layers: class logits
 *                   (classes + 1, the background first) and per-class box codes [classes, 4].
 *
 * The backbone's layers after the tap are copied (same class, config and name, fresh weights), so a
 * classifier's weights load into the box classifier by name as TF's checkpoints do.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { convBnActivation, featureTap, layerSeed, listEndpoints, type BlockSettings } from '@mobilenets/backbone';
import { GRID_ANCHOR_DEFAULTS, gridAnchorsCxcywh, gridAnchorsPerLocation, resolveGridAnchorConfig, type GridAnchorConfig } from '@mobilenets/box-math';

type SymbolicTensor = tfl.SymbolicTensor;

/** The output-stride-16 end point the first stage ends at, by backbone family. */
export const FASTER_RCNN_TAPS = { v1: 'Conv2d_11_pointwise', v2: 'layer_15/expansion_output' } as const;

/** The RPN head's conv: a full 3×3 conv (TF) or a depthwise-separable one (3×3 depthwise + 1×1, SSDLite-style). */
export type RpnHeadKind = 'conv' | 'separable';

export interface FasterRcnnConfig {
  /** A MobileNet from @mobilenets/backbone without its top (includeTop: false, pooling: null), at the detector's input size. */
  backbone: tfl.LayersModel;
  /** Object classes, without the background. */
  classes: number;
  /** The end point the first stage ends at. Default: FASTER_RCNN_TAPS for the backbone's family. */
  tap?: string;
  /** Depth of the RPN head's 3×3 conv. Default 512 (TF's first_stage_box_predictor_depth). */
  rpnDepth?: number;
  /** 'conv' (default, TF) or 'separable'. */
  rpnHead?: RpnHeadKind;
  /** First-stage anchors (TF grid anchors; stride 16). Default scales [0.25, 0.5, 1, 2] × 256 px, aspect ratios [0.5, 1, 2]. */
  anchors?: GridAnchorConfig;
  /** Side of the crop-and-resize output. Default 14 (TF's initial_crop_size). */
  cropSize?: number;
  /** Max-pool kernel and stride after the crop. Default 2 (TF's maxpool_kernel_size / maxpool_stride). */
  cropPool?: number;
  /** Batch-norm momentum of new layers. Default 0.9. */
  batchNormMomentum?: number;
  /** Seed of new layers' initialisers; null: unseeded. Default null. */
  seed?: number | null;
}

export interface FasterRcnnModel {
  /**
   * All trainable layers: inputs [image [B, H, W, 3], crops [R, cropSize, cropSize, C]]; outputs
   * [rpnBoxEncodings [B, A, 4], rpnObjectnessLogits [B, A, 2], features [B, h, w, C], classLogits
   * [R, classes + 1], boxEncodings [R, classes, 4]].
   */
  model: tfl.LayersModel;
  /** image → [rpnBoxEncodings, rpnObjectnessLogits, features] (shares model's layers). */
  firstStage: tfl.LayersModel;
  /** crops → [classLogits, boxEncodings] (shares model's layers). */
  secondStage: tfl.LayersModel;
  classes: number;
  /** [height, width] of the network input, pixels. */
  inputSize: [number, number];
  /** [height, width] of the stride-16 feature map. */
  featureMapSize: [number, number];
  /** Channels of the feature map the crops are taken from. */
  featureDepth: number;
  anchorsPerLocation: number;
  /** Anchors an image: h · w · anchorsPerLocation. */
  anchors: number;
  anchorConfig: Required<GridAnchorConfig>;
  cropSize: number;
}

/** Output names of the Faster R-CNN model, in order. */
export const FASTER_RCNN_OUTPUTS = {
  rpnBoxEncodings: 'RpnBoxEncodings',
  rpnObjectnessLogits: 'RpnObjectnessLogits',
  features: 'Features',
  classLogits: 'ClassLogits',
  boxEncodings: 'BoxEncodings',
} as const;

export const FASTER_RCNN_CROP_INPUT = 'crops';

function defaultTap(backbone: tfl.LayersModel): string {
  const endpoints = new Set(listEndpoints(backbone));
  for (const tap of [FASTER_RCNN_TAPS.v1, FASTER_RCNN_TAPS.v2]) if (endpoints.has(tap)) return tap;
  throw new RangeError(`createFasterRcnn: backbone '${backbone.name}' has neither V1's ${FASTER_RCNN_TAPS.v1} nor V2's ${FASTER_RCNN_TAPS.v2}. Pass tap.`);
}

function checkConfig(config: FasterRcnnConfig): void {
  const { classes, rpnDepth = 512, rpnHead = 'conv', cropSize = 14, cropPool = 2 } = config;
  if (!Number.isInteger(classes) || classes < 1) throw new RangeError(`createFasterRcnn: classes must be an integer ≥ 1 (object classes, without the background). Received ${classes}.`);
  if (!Number.isInteger(rpnDepth) || rpnDepth < 1) throw new RangeError(`createFasterRcnn: rpnDepth must be a positive integer. Received ${rpnDepth}.`);
  if (rpnHead !== 'conv' && rpnHead !== 'separable') throw new RangeError(`createFasterRcnn: rpnHead must be 'conv' or 'separable'. Received '${String(rpnHead)}'.`);
  if (!Number.isInteger(cropPool) || cropPool < 1 || !Number.isInteger(cropSize) || cropSize < cropPool || cropSize % cropPool !== 0) {
    throw new RangeError(`createFasterRcnn: cropSize (${cropSize}) must be a whole multiple of cropPool (${cropPool}), both positive integers.`);
  }
  const out = config.backbone.outputs;
  if (out.length !== 1 || out[0].shape.length !== 4) {
    throw new RangeError(`createFasterRcnn: backbone '${config.backbone.name}' must be built without its top (includeTop: false, pooling: null): its output is ${JSON.stringify(out[0]?.shape)}.`);
  }
}

/** A new layer of the same class and config (name included) as `layer`, with fresh weights. */
function copyLayer(layer: tfl.layers.Layer): tfl.layers.Layer {
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[layer.getClassName()];
  if (entry === undefined) throw new Error(`createFasterRcnn: layer class '${layer.getClassName()}' of '${layer.name}' is not registered for serialization.`);
  const [cls, fromConfig] = entry;
  return fromConfig(cls, layer.getConfig()) as tfl.layers.Layer;
}

/**
 * Applies copies of the backbone's layers after `tapOutput` to `input`, in the backbone's topological
 * order, and returns the copy of the backbone's output. Layers that do not depend on the tap are not copied.
 */
function replayAfterTap(backbone: tfl.LayersModel, tapOutput: SymbolicTensor, input: SymbolicTensor): SymbolicTensor {
  const mapped = new Map<number, SymbolicTensor>([[tapOutput.id, input]]);
  for (const layer of backbone.layers) {
    const node = layer.inboundNodes[0];
    if (node === undefined || node.inputTensors.length === 0) continue;
    const found = node.inputTensors.map((t) => mapped.get(t.id));
    if (found.every((t) => t === undefined)) continue;
    if (found.some((t) => t === undefined)) throw new Error(`createFasterRcnn: layer '${layer.name}' mixes inputs from before and after the tap.`);
    const copy = copyLayer(layer);
    const out = copy.apply(found.length === 1 ? found[0] as SymbolicTensor : found as SymbolicTensor[]) as SymbolicTensor;
    mapped.set(node.outputTensors[0].id, out);
  }
  const result = mapped.get(backbone.outputs[0].id);
  if (result === undefined) throw new Error(`createFasterRcnn: the backbone's output does not follow the tap.`);
  return result;
}

/** A 1×1 conv predicting `width` numbers per anchor, reshaped to [batch, cells · anchors, width]. */
function anchorPredictor(x: SymbolicTensor, name: string, anchors: number, width: number, cells: number, stddev: number, settings: BlockSettings): SymbolicTensor {
  const conv = tfl.layers.conv2d({ filters: anchors * width, kernelSize: 1, padding: 'same', useBias: true, name, kernelInitializer: tfl.initializers.randomNormal({ mean: 0, stddev, seed: layerSeed(settings, name) }) });
  return tfl.layers.reshape({ targetShape: [cells * anchors, width], name: `${name}_reshape` }).apply(conv.apply(x)) as SymbolicTensor;
}

/** Builds the detector on `config.backbone`, whose layers up to the tap are shared (its weights are the detector's). */
export function createFasterRcnn(config: FasterRcnnConfig): FasterRcnnModel {
  checkConfig(config);
  const { backbone, classes, rpnDepth = 512, rpnHead = 'conv', cropSize = 14, cropPool = 2, batchNormMomentum = 0.9, seed = null } = config;
  const settings: BlockSettings = { batchNorm: { momentum: batchNormMomentum, epsilon: 1e-3 }, seed };
  const anchorConfig = resolveGridAnchorConfig({ ...GRID_ANCHOR_DEFAULTS, ...config.anchors });
  const perLocation = gridAnchorsPerLocation(anchorConfig);
  const tap = featureTap(backbone, config.tap ?? defaultTap(backbone));
  const features = tap.output;
  const [, fh, fw, depth] = features.shape as number[];
  const [, ih, iw] = backbone.inputs[0].shape as number[];
  if (![fh, fw, depth, ih, iw].every((d) => Number.isInteger(d) && d > 0)) throw new RangeError(`createFasterRcnn: the backbone needs a fixed input size; its tap '${tap.endpoint}' is ${JSON.stringify(features.shape)}.`);

  // First stage: the RPN head on the stride-16 map.
  let x: SymbolicTensor;
  if (rpnHead === 'conv') {
    const name = 'FirstStageBoxPredictor_Conv';
    x = tfl.layers.conv2d({
      filters: rpnDepth, kernelSize: 3, padding: 'same', useBias: true, activation: 'relu6', name,
      kernelInitializer: tfl.initializers.varianceScaling({ scale: 2, mode: 'fanOut', distribution: 'uniform', seed: layerSeed(settings, name) }),
    }).apply(features) as SymbolicTensor;
  } else {
    const name = 'FirstStageBoxPredictor_Conv';
    x = convBnActivation(features, { kind: 'depthwise', kernelSize: 3, stride: 1, activation: 'relu6' }, { conv: `${name}_depthwise`, bn: `${name}_depthwise_BatchNorm`, activation: `${name}_depthwise_relu` }, settings);
    x = convBnActivation(x, { kind: 'conv', kernelSize: 1, stride: 1, filters: rpnDepth, activation: 'relu6' }, { conv: name, bn: `${name}_BatchNorm`, activation: `${name}_relu` }, settings);
  }
  const cells = fh * fw;
  const rpnBox = anchorPredictor(x, 'FirstStageBoxPredictor_BoxEncodingPredictor', perLocation, 4, cells, 0.01, settings);
  const rpnObjectness = anchorPredictor(x, 'FirstStageBoxPredictor_ClassPredictor', perLocation, 2, cells, 0.01, settings);
  const rpnBoxEncodings = tfl.layers.activation({ activation: 'linear', name: FASTER_RCNN_OUTPUTS.rpnBoxEncodings }).apply(rpnBox) as SymbolicTensor;
  const rpnObjectnessLogits = tfl.layers.activation({ activation: 'linear', name: FASTER_RCNN_OUTPUTS.rpnObjectnessLogits }).apply(rpnObjectness) as SymbolicTensor;
  const featuresOut = tfl.layers.activation({ activation: 'linear', name: FASTER_RCNN_OUTPUTS.features }).apply(features) as SymbolicTensor;

  // Second stage: max-pool the crops, the backbone's remaining layers, pool, predict.
  const crops = tfl.input({ shape: [cropSize, cropSize, depth], name: FASTER_RCNN_CROP_INPUT });
  let y = tfl.layers.maxPooling2d({ poolSize: cropPool, strides: cropPool, padding: 'valid', name: 'SecondStage_MaxPool' }).apply(crops) as SymbolicTensor;
  y = replayAfterTap(backbone, tap.output, y);
  y = tfl.layers.globalAveragePooling2d({ name: 'SecondStage_AvgPool' }).apply(y) as SymbolicTensor;
  const classLogits = tfl.layers.dense({
    units: classes + 1, name: FASTER_RCNN_OUTPUTS.classLogits,
    kernelInitializer: tfl.initializers.randomNormal({ mean: 0, stddev: 0.01, seed: layerSeed(settings, FASTER_RCNN_OUTPUTS.classLogits) }),
  }).apply(y) as SymbolicTensor;
  const boxDense = tfl.layers.dense({
    units: classes * 4, name: 'SecondStageBoxPredictor_BoxEncodingPredictor',
    kernelInitializer: tfl.initializers.randomNormal({ mean: 0, stddev: 0.001, seed: layerSeed(settings, 'SecondStageBoxPredictor_BoxEncodingPredictor') }),
  }).apply(y) as SymbolicTensor;
  const boxEncodings = tfl.layers.reshape({ targetShape: [classes, 4], name: FASTER_RCNN_OUTPUTS.boxEncodings }).apply(boxDense) as SymbolicTensor;

  const name = `faster_rcnn_${backbone.name}`;
  const model = tfl.model({ inputs: [backbone.inputs[0], crops], outputs: [rpnBoxEncodings, rpnObjectnessLogits, featuresOut, classLogits, boxEncodings], name });
  disposeUnused(backbone, model);
  const { firstStage, secondStage } = stagesOf(model);
  return {
    model, firstStage, secondStage, classes,
    inputSize: [ih, iw], featureMapSize: [fh, fw], featureDepth: depth,
    anchorsPerLocation: perLocation, anchors: cells * perLocation, anchorConfig, cropSize,
  };
}

/** Frees the weights of backbone layers the detector does not use (those after the tap, which it copied). */
function disposeUnused(backbone: tfl.LayersModel, model: tfl.LayersModel): void {
  const used = new Set(model.layers);
  for (const layer of backbone.layers) if (!used.has(layer) && layer.weights.length > 0) layer.dispose();
}

const stageCache = new WeakMap<tfl.LayersModel, { firstStage: tfl.LayersModel; secondStage: tfl.LayersModel }>();

/**
 * The two stages of a Faster R-CNN model (built here, rebuilt from its JSON, or a data-parallel
 * worker's replica) as models sharing its layers: image → first-stage outputs, crops → second-stage outputs.
 */
export function stagesOf(model: tfl.LayersModel): { firstStage: tfl.LayersModel; secondStage: tfl.LayersModel } {
  const cached = stageCache.get(model);
  if (cached !== undefined) return cached;
  if (model.inputs.length !== 2 || model.outputs.length !== 5) {
    throw new RangeError(`Faster R-CNN: the model '${model.name}' must have inputs [image, crops] and 5 outputs (${Object.values(FASTER_RCNN_OUTPUTS).join(', ')}); it has ${model.inputs.length} inputs and ${model.outputs.length} outputs.`);
  }
  const [rpnBox, rpnObjectness, features, classLogits, boxEncodings] = model.outputs;
  const stages = {
    firstStage: tfl.model({ inputs: model.inputs[0], outputs: [rpnBox, rpnObjectness, features], name: `${model.name}_first_stage` }),
    secondStage: tfl.model({ inputs: model.inputs[1], outputs: [classLogits, boxEncodings], name: `${model.name}_second_stage` }),
  };
  stageCache.set(model, stages);
  return stages;
}

/** The model's first-stage anchors, normalised cxcywh in its output order. */
export function fasterRcnnAnchorsCxcywh(frcnn: Pick<FasterRcnnModel, 'featureMapSize' | 'inputSize' | 'anchorConfig'>): Float64Array {
  const [fh, fw] = frcnn.featureMapSize;
  const [ih, iw] = frcnn.inputSize;
  const anchors = gridAnchorsCxcywh(fh, fw, frcnn.anchorConfig);
  for (let i = 0; i < anchors.length; i += 4) {
    anchors[i] /= iw;
    anchors[i + 1] /= ih;
    anchors[i + 2] /= iw;
    anchors[i + 3] /= ih;
  }
  return anchors;
}
