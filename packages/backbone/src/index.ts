// Importing the backbone changes no global tfjs state. Models it builds use its BatchNormalization layer,
// which trains through a fused kernel where a backend registers one (see ops/fused-kernels);
// installFusedLayers() — which `setup()` from @mobilenets/runtime calls — also makes models loaded from
// model.json use it, gives 'relu6' a one-kernel activation and installs the fused ReLU/ReLU6 gradients.

export type { Activation, BatchNormSettings, BlockSettings, ConvBnNames } from './blocks';
export { HEAD_LAYER_NAMES, convBnActivation, layerSeed } from './blocks';
export { makeDivisible, v1Channels } from './rounding';
export type { MobileNetV1Config, MobileNetV1Variant, ResolvedMobileNetV1Config, V1LayerSpec } from './mobilenet-v1';
export {
  MOBILENET_V1_DEFAULTS,
  MOBILENET_V1_LAYERS,
  MOBILENET_V1_VARIANTS,
  SHALLOW_REMOVED_LAYERS,
  mobilenetV1,
  mobilenetV1Endpoints,
  mobilenetV1Name,
  resolveMobileNetV1Config,
} from './mobilenet-v1';
export type { MobileNetV2Config, ResolvedMobileNetV2Config, V2BlockPlan, V2StageSpec } from './mobilenet-v2';
export {
  MOBILENET_V2_DEFAULTS,
  MOBILENET_V2_LAST_FILTERS,
  MOBILENET_V2_STAGES,
  MOBILENET_V2_STEM_FILTERS,
  mobilenetV2,
  mobilenetV2Blocks,
  mobilenetV2EndpointLayers,
  mobilenetV2LastChannels,
  mobilenetV2Name,
  resolveMobileNetV2Config,
} from './mobilenet-v2';
export type { FeatureTap } from './feature-taps';
export { endpointLayerName, featureTap, featureTaps, listEndpoints } from './feature-taps';
export type { LayerType, ModelProfile, ProfileRow, TypeTotals } from './profiler';
export { LAYER_TYPES, profile } from './profiler';
export { BatchNormalization, installFusedLayers } from './ops/batch-normalization';
export type { BatchNormalizationArgs } from './ops/batch-normalization';
export { BATCH_NORM_TRAINING, BATCH_NORM_TRAINING_GRAD, FUSED_KERNEL_NAMES, RELU6_GRAD, RELU_GRAD, batchNormTraining, registerFusedGradients } from './ops/fused-kernels';
export type { BatchNormTrainingResult } from './ops/fused-kernels';
export type { WeightLoadReport } from './weights/slim-v1';
export { loadSlimMobileNetV1Weights } from './weights/slim-v1';
export { CROP_AND_RESIZE_GRAD_IMAGE, cropAndResizeGradImage, cropAndResizeGradImageInto, cropAndResizeInto, cropSamplePosition, registerCropAndResizeGradient } from './ops/crop-and-resize';
