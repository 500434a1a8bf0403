// @mobilenets/box-math: detection math in plain TypeScript (no tfjs), shared by training (through
// tensors), onnxruntime inference and evaluation. One job a file; box formats are in every name.

export type { BoxFormat, Boxes } from './formats';
export { BOX_FORMATS, boxAreasXyxy, boxCount, clipBoxesXyxy, convertBoxes, scaleBoxesXyxy } from './formats';

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
