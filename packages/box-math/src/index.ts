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

// SSD anchors (TF create_ssd_anchors): normalised cxcywh / yxyx, TF order, not clipped.
export type { AnchorSpec, InterpolatedAnchorPlacement, ResolvedSsdAnchorConfig, SsdAnchorConfig } from './ssd-anchors';
export {
  SSD_ANCHOR_DEFAULTS,
  SSD_MOBILENET_V1_300_FEATURE_MAP_SIZES,
  resolveSsdAnchorConfig,
  ssdAnchorCount,
  ssdAnchorsCxcywh,
  ssdAnchorsPerLocation,
  ssdAnchorsYxyx,
  ssdBoxSpecs,
  ssdLayerScales,
} from './ssd-anchors';

// How well anchors fit a dataset's boxes (share with an anchor at the matcher's IoU, anchors a box).
export type { AnchorCoverage, CoverageGroup, CoverageImage } from './anchor-coverage';
export { anchorCoverage, formatAnchorCoverage } from './anchor-coverage';

// Faster R-CNN grid anchors (TF GridAnchorGenerator): pixels, TF order, not clipped.
export type { GridAnchorConfig, ResolvedGridAnchorConfig } from './grid-anchors';
export { GRID_ANCHOR_DEFAULTS, gridAnchorsCxcywh, gridAnchorsPerLocation, gridAnchorsXyxy, gridAnchorsYxyx, resolveGridAnchorConfig } from './grid-anchors';

// Faster R-CNN box coder (TF faster_rcnn_box_coder): cxcywh boxes ↔ codes in TF order [ty, tx, th, tw].
export type { BoxCoderConfig, ResolvedBoxCoderConfig } from './box-coder';
export {
  BOX_CODER_DEFAULTS,
  TF_BOX_CODER_EPSILON,
  TORCHVISION_BBOX_XFORM_CLIP,
  decodeBoxesTfOrder,
  encodeBoxesTfOrder,
  resolveBoxCoderConfig,
  swapCodeOrderTfTorchvision,
} from './box-coder';

// COCO box evaluation (pycocotools' COCOeval, iouType 'bbox'); the caller reads the JSON files.
export type { CocoGroundTruth, CocoResults } from './coco-json';
export { parseCocoGroundTruth, parseCocoResults } from './coco-json';
export type { CocoCategoryStats, CocoEvalOptions, CocoEvalResult } from './coco-eval';
export {
  COCO_AREA_RANGES,
  COCO_IOU_THRESHOLDS,
  COCO_MAX_DETS,
  COCO_RECALL_THRESHOLDS,
  cocoIouXywh,
  evaluateCocoBoxes,
  evaluateParsedCocoBoxes,
  formatCocoStats,
} from './coco-eval';
export type { AccumulatedEvaluation, AccumulatedImage, CocoSummaryName, PixelDetection } from './coco-accumulator';
export { COCO_SUMMARY_NAMES, CocoBoxAccumulator } from './coco-accumulator';
