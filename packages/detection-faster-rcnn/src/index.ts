// @mobilenets/detection-faster-rcnn: Faster R-CNN on a MobileNet backbone (issue 13).
export type { FasterRcnnConfig, FasterRcnnModel, RpnHeadKind } from './faster-rcnn-model';
export { FASTER_RCNN_CROP_INPUT, FASTER_RCNN_OUTPUTS, FASTER_RCNN_TAPS, createFasterRcnn, fasterRcnnAnchorsCxcywh, stagesOf } from './faster-rcnn-model';
export type { ProposalOptions, Proposals, RpnTargetOptions, RpnTargets, SecondStageTargetOptions, SecondStageTargets } from './targets';
export { RPN_NOT_SAMPLED, objectness, rpnProposals, rpnTargets, secondStageTargets } from './targets';
export type { PooledCrops } from './roi-crop';
export { cropAndPoolGradient, cropAndPoolProposals, cropProposals } from './roi-crop';
export type { FasterRcnnImageOutputs, FasterRcnnStages } from './inference';
export { runFasterRcnn } from './inference';
export type { FasterRcnnDetection, FasterRcnnPostprocessOptions } from './postprocess';
export { postprocessFasterRcnn } from './postprocess';
export type { FasterRcnnLossWeights, FasterRcnnTaskOptions, FasterRcnnValidationDetails, SecondStageSamples } from './task';
export { FASTER_RCNN_LOSS_WEIGHTS, FASTER_RCNN_VALIDATION_METRICS, fasterRcnnTask, rpnLoss, secondStageLoss, secondStageSampler } from './task';
