// @mobilenets/box-math: detection math in plain TypeScript (no tfjs), shared by training (through
// tensors), onnxruntime inference and evaluation. One job a file; box formats are in every name.

export type { BoxFormat, Boxes } from './formats';
export { BOX_FORMATS, boxAreasXyxy, boxCount, clipBoxesXyxy, convertBoxes, scaleBoxesXyxy } from './formats';

// Issue 12: IoU, NMS, the argmax matcher and the samplers.
export { iouMatrixXyxy, iouOfPairXyxy, pairwiseIouXyxy } from './iou';
export type { BatchedNmsOptions, MultiClassNmsOptions, MultiClassNmsResult, NmsOptions } from './nms';
export { batchedNmsXyxy, multiClassNmsXyxy, nonMaxSuppressionXyxy } from './nms';
export type { ArgmaxMatcherOptions } from './matcher';
export { argmaxMatchGtByAnchor, IGNORED, UNMATCHED } from './matcher';
export type { BalancedSamplerOptions, HardNegativeOptions, SampledAnchors } from './sampler';
export { sampleBalancedPositiveNegative, selectHardNegatives } from './sampler';
