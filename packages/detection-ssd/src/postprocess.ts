/**
 * SSD post-processing in plain TypeScript, the same for a tfjs model and an onnxruntime session: the
 * raw outputs (box codes [anchors, 4] in TF order, class logits [anchors, classes + 1] with the
 * background first) → decoded boxes → scores → per-class NMS → detections in image pixels (xyxy).
 */
import { convertBoxes, decodeBoxesTfOrder, multiClassNmsXyxy, type BoxCoderConfig } from '@mobilenets/box-math';

/** How class logits become scores: TF's SSD MobileNet configs use a sigmoid per class; softmax over background and classes is the other common choice. */
export type ScoreFunction = 'sigmoid' | 'softmax';

export interface SsdPostprocessOptions {
  /** Normalised anchors, cxcywh, in the model's anchor order (box-math's ssdAnchorsCxcywh). */
  anchorsCxcywh: ArrayLike<number>;
  /** Object classes (the logits have one more: the background, first). */
  classes: number;
  /** Size of the image the detections are for, in pixels: boxes are scaled from [0, 1] to it and clipped to it. */
  imageWidth: number;
  imageHeight: number;
  /** A detection needs a score above this. Default 0.5. */
  minScore?: number;
  /** Boxes of one class overlapping more than this are suppressed. Default 0.5 (face-api; TF's configs use 0.6). */
  iouThreshold?: number;
  /** At most this many detections an image (best first), and per class. Default 100. */
  maxDetections?: number;
  scoreFunction?: ScoreFunction;
  boxCoder?: BoxCoderConfig;
  /** Classes (0-based, background excluded) never reported: the network has them, nobody trained them (face-api's third logit). Default none. */
  excludedClasses?: readonly number[];
}

/** One detection: box [x1, y1, x2, y2] in image pixels, score in [0, 1], label = class index (0-based, background excluded). */
export interface Detection {
  boxXyxy: [number, number, number, number];
  score: number;
  label: number;
}

/** Per-class scores [anchors × classes] (background dropped) from logits [anchors × (classes + 1)]. */
export function ssdScores(classLogits: ArrayLike<number>, classes: number, scoreFunction: ScoreFunction = 'sigmoid'): Float64Array {
  const width = classes + 1;
  if (classLogits.length % width !== 0) throw new RangeError(`ssdScores: expected ${width} logits an anchor (${classes} classes and the background), received ${classLogits.length} numbers.`);
  const anchors = classLogits.length / width;
  const scores = new Float64Array(anchors * classes);
  for (let a = 0; a < anchors; a++) {
    const row = a * width;
    if (scoreFunction === 'sigmoid') {
      for (let c = 0; c < classes; c++) scores[a * classes + c] = 1 / (1 + Math.exp(-classLogits[row + 1 + c]));
    } else {
      let max = -Infinity;
      for (let k = 0; k < width; k++) max = Math.max(max, classLogits[row + k]);
      let sum = 0;
      for (let k = 0; k < width; k++) sum += Math.exp(classLogits[row + k] - max);
      for (let c = 0; c < classes; c++) scores[a * classes + c] = Math.exp(classLogits[row + 1 + c] - max) / sum;
    }
  }
  return scores;
}

/** Detections of one image from its raw SSD outputs, best first. */
export function postprocessSsd(boxCodes: ArrayLike<number>, classLogits: ArrayLike<number>, options: SsdPostprocessOptions): Detection[] {
  const { anchorsCxcywh, classes, imageWidth, imageHeight, minScore = 0.5, iouThreshold = 0.5, maxDetections = 100, scoreFunction = 'sigmoid' } = options;
  const anchors = anchorsCxcywh.length / 4;
  if (boxCodes.length !== anchors * 4) throw new RangeError(`postprocessSsd: ${anchors} anchors need ${anchors * 4} box codes, received ${boxCodes.length}.`);
  if (classLogits.length !== anchors * (classes + 1)) throw new RangeError(`postprocessSsd: ${anchors} anchors and ${classes} classes need ${anchors * (classes + 1)} logits, received ${classLogits.length}.`);
  if (!(imageWidth > 0 && imageHeight > 0)) throw new RangeError(`postprocessSsd: imageWidth and imageHeight must be positive. Received ${imageWidth} × ${imageHeight}.`);
  const boxesXyxy = convertBoxes(decodeBoxesTfOrder(boxCodes, anchorsCxcywh, options.boxCoder), 'cxcywh', 'xyxy');
  const scores = ssdScores(classLogits, classes, scoreFunction);
  for (const c of options.excludedClasses ?? []) {
    if (!(Number.isInteger(c) && c >= 0 && c < classes)) throw new RangeError(`postprocessSsd: excludedClasses must hold class indices in [0, ${classes}). Received ${c}.`);
    for (let i = c; i < scores.length; i += classes) scores[i] = NaN; // never a candidate of the NMS
  }
  const kept = multiClassNmsXyxy(boxesXyxy, scores, { iouThreshold, scoreThreshold: minScore, maxDetections, maxDetectionsPerClass: maxDetections });
  const clip = (v: number, size: number) => Math.min(Math.max(v * size, 0), size);
  return Array.from(kept.boxIndices, (anchor, i) => {
    const o = anchor * 4;
    return {
      boxXyxy: [clip(boxesXyxy[o], imageWidth), clip(boxesXyxy[o + 1], imageHeight), clip(boxesXyxy[o + 2], imageWidth), clip(boxesXyxy[o + 3], imageHeight)],
      score: kept.scores[i],
      label: kept.classIds[i],
    };
  });
}
