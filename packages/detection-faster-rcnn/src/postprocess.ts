/**
 * Faster R-CNN's second-stage post-processing in plain TypeScript, the same for tfjs and onnxruntime:
 * class logits [proposals, classes + 1] (background first) → softmax scores; per-class box codes
 * [proposals, classes, 4] decoded against their proposal; per-class NMS (TF's Faster R-CNN configs: IoU
 * 0.6, 100 a class, 300 in all); boxes clipped to the image, in its pixels.
 */
import { batchedNmsXyxy, convertBoxes, decodeBoxesTfOrder, type BoxCoderConfig } from '@mobilenets/box-math';

export interface FasterRcnnPostprocessOptions {
  classes: number;
  /** Size of the image the detections are for, pixels. */
  imageWidth: number;
  imageHeight: number;
  /** A detection needs a score above this. Default 0.5. */
  minScore?: number;
  /** Default 0.6. */
  iouThreshold?: number;
  /** Default 100. */
  maxDetectionsPerClass?: number;
  /** Default 300 (TF's max_total_detections); COCO evaluation reads the best 100. */
  maxDetections?: number;
  boxCoder?: BoxCoderConfig;
}

/** One detection: box [x1, y1, x2, y2] in image pixels, score, label (0-based, background excluded). */
export interface FasterRcnnDetection {
  boxXyxy: [number, number, number, number];
  score: number;
  label: number;
}

/** Detections of one image from its proposals (normalised xyxy) and second-stage outputs, best first. */
export function postprocessFasterRcnn(proposalsXyxy: ArrayLike<number>, classLogits: ArrayLike<number>, boxCodes: ArrayLike<number>, options: FasterRcnnPostprocessOptions): FasterRcnnDetection[] {
  const { classes, imageWidth, imageHeight, minScore = 0.5, iouThreshold = 0.6, maxDetectionsPerClass = 100, maxDetections = 300 } = options;
  const proposals = proposalsXyxy.length / 4;
  const width = classes + 1;
  if (classLogits.length !== proposals * width || boxCodes.length !== proposals * classes * 4) {
    throw new RangeError(`postprocessFasterRcnn: ${proposals} proposals and ${classes} classes need ${proposals * width} logits and ${proposals * classes * 4} box codes; received ${classLogits.length} and ${boxCodes.length}.`);
  }
  if (!(imageWidth > 0 && imageHeight > 0)) throw new RangeError(`postprocessFasterRcnn: imageWidth and imageHeight must be positive. Received ${imageWidth} × ${imageHeight}.`);
  const references = new Float64Array(proposals * classes * 4);
  const proposalsCxcywh = convertBoxes(proposalsXyxy, 'xyxy', 'cxcywh');
  const scores = new Float64Array(proposals * classes);
  const classIds = new Int32Array(proposals * classes);
  for (let p = 0; p < proposals; p++) {
    let max = -Infinity;
    for (let k = 0; k < width; k++) max = Math.max(max, classLogits[p * width + k]);
    let sum = 0;
    for (let k = 0; k < width; k++) sum += Math.exp(classLogits[p * width + k] - max);
    for (let c = 0; c < classes; c++) {
      const i = p * classes + c;
      scores[i] = Math.exp(classLogits[p * width + 1 + c] - max) / sum;
      classIds[i] = c;
      for (let k = 0; k < 4; k++) references[4 * i + k] = proposalsCxcywh[4 * p + k];
    }
  }
  const boxes = convertBoxes(decodeBoxesTfOrder(boxCodes, references, options.boxCoder), 'cxcywh', 'xyxy');
  for (let i = 0; i < boxes.length; i++) boxes[i] = Math.min(Math.max(boxes[i], 0), 1);
  const kept = batchedNmsXyxy(boxes, scores, classIds, { iouThreshold, scoreThreshold: minScore, maxDetections, maxDetectionsPerClass });
  return Array.from(kept, (i) => ({
    boxXyxy: [boxes[4 * i] * imageWidth, boxes[4 * i + 1] * imageHeight, boxes[4 * i + 2] * imageWidth, boxes[4 * i + 3] * imageHeight],
    score: scores[i],
    label: classIds[i],
  }));
}
