/**
 * Faster R-CNN's targets and proposals, on the host with box-math (shared/reference/detection.md §1.4–1.5):
 *
 *   rpnTargets        anchors ↔ ground truth by IoU: positive ≥ 0.7, negative < 0.3, each ground truth
 *                     forced onto its best anchor (TF's ('FasterRCNN', 'proposal') assigner); then 256
 *                     anchors an image sampled at random, at most half positive;
 *   rpnProposals      the RPN's outputs → decoded boxes, clipped to the image, tiny ones dropped, the
 *                     best `preNmsTopK` by objectness, NMS at IoU 0.7, at most `maxProposals` (300);
 *   secondStageTargets proposals ↔ ground truth: positive ≥ 0.5, negative below (TF's ('FasterRCNN',
 *                     'detection') assigner, no forced matches); 64 sampled, at most a quarter positive.
 *
 * Boxes are normalised xyxy of the network input. The box coder is TF's (scales 10, 10, 5, 5): IoU and
 * the codes do not change when each axis is scaled, so normalised coordinates give the pixel results.
 */
import {
  IGNORED,
  argmaxMatchGtByAnchor,
  convertBoxes,
  decodeBoxesTfOrder,
  encodeBoxesTfOrder,
  iouMatrixXyxy,
  nonMaxSuppressionXyxy,
  sampleBalancedPositiveNegative,
  type BoxCoderConfig,
} from '@mobilenets/box-math';

/** RPN target of an anchor that is not sampled. */
export const RPN_NOT_SAMPLED = -1;

export interface RpnTargetOptions {
  /** Default 0.7. */
  matchedThreshold?: number;
  /** Default 0.3. */
  unmatchedThreshold?: number;
  /** Default true. */
  forceMatch?: boolean;
  /** Anchors sampled an image. Default 256 (TF's first_stage_minibatch_size). */
  batchSizePerImage?: number;
  /** Largest share of positives. Default 0.5. */
  positiveFraction?: number;
  boxCoder?: BoxCoderConfig;
  /** Uniform numbers in [0, 1) for the sampler. */
  random: () => number;
}

export interface RpnTargets {
  /** [anchors]: 1 sampled positive, 0 sampled negative, −1 not sampled. */
  labels: Int32Array;
  /** [anchors, 4]: codes (TF order) of the matched ground truth for sampled positives, 0 elsewhere. */
  boxTargets: Float32Array;
  positives: number;
  negatives: number;
}

function matchedCodes(indices: ArrayLike<number>, matches: ArrayLike<number>, boxesXyxy: ArrayLike<number>, referencesXyxy: ArrayLike<number>, boxCoder: BoxCoderConfig): Float64Array {
  const gt = new Float64Array(4 * indices.length);
  const ref = new Float64Array(4 * indices.length);
  for (let i = 0; i < indices.length; i++) {
    const a = indices[i];
    const g = matches[a];
    for (let k = 0; k < 4; k++) {
      gt[4 * i + k] = boxesXyxy[4 * g + k];
      ref[4 * i + k] = referencesXyxy[4 * a + k];
    }
  }
  return encodeBoxesTfOrder(convertBoxes(gt, 'xyxy', 'cxcywh'), convertBoxes(ref, 'xyxy', 'cxcywh'), boxCoder);
}

/**
 * The RPN targets of one image. `anchorsXyxy` normalised; ground truth normalised xyxy with labels
 * (any value: the RPN is class-agnostic) and ignore flags (crowds: anchors matched to them are neither).
 */
export function rpnTargets(boxesXyxy: ArrayLike<number>, ignore: ArrayLike<number> | undefined, anchorsXyxy: ArrayLike<number>, options: RpnTargetOptions): RpnTargets {
  const { matchedThreshold = 0.7, unmatchedThreshold = 0.3, forceMatch = true, batchSizePerImage = 256, positiveFraction = 0.5, boxCoder = {}, random } = options;
  const anchors = anchorsXyxy.length / 4;
  const gts = boxesXyxy.length / 4;
  const labels = new Int32Array(anchors).fill(RPN_NOT_SAMPLED);
  const boxTargets = new Float32Array(anchors * 4);
  const matches = gts === 0
    ? new Int32Array(anchors).fill(-1)
    : argmaxMatchGtByAnchor(iouMatrixXyxy(boxesXyxy, anchorsXyxy), gts, anchors, { matchedThreshold, unmatchedThreshold, forceMatchForEachRow: forceMatch });
  if (ignore !== undefined) for (let a = 0; a < anchors; a++) if (matches[a] >= 0 && ignore[matches[a]]) matches[a] = IGNORED;
  const { positiveIndices, negativeIndices } = sampleBalancedPositiveNegative(matches, { batchSizePerImage, positiveFraction, random });
  for (const a of negativeIndices) labels[a] = 0;
  for (const a of positiveIndices) labels[a] = 1;
  if (positiveIndices.length > 0) boxTargets.set(Float32Array.from(spread(positiveIndices, matchedCodes(positiveIndices, matches, boxesXyxy, anchorsXyxy, boxCoder), anchors)));
  return { labels, boxTargets, positives: positiveIndices.length, negatives: negativeIndices.length };
}

/** Codes of `indices` (4 each) placed at their anchors in an [anchors, 4] array. */
function spread(indices: ArrayLike<number>, codes: Float64Array, anchors: number): Float64Array {
  const out = new Float64Array(anchors * 4);
  for (let i = 0; i < indices.length; i++) for (let k = 0; k < 4; k++) out[4 * indices[i] + k] = codes[4 * i + k];
  return out;
}

export interface ProposalOptions {
  /** Boxes kept by objectness before NMS. Default 1000. */
  preNmsTopK?: number;
  /** Default 0.7 (TF's first_stage_nms_iou_threshold). */
  iouThreshold?: number;
  /** Default 300 (TF's first_stage_max_proposals, the paper's "300 RPN proposal boxes"). */
  maxProposals?: number;
  /** Proposals narrower or shorter than this (normalised) are dropped. Default 1e-3. */
  minSize?: number;
  boxCoder?: BoxCoderConfig;
}

export interface Proposals {
  /** [proposals, 4] normalised xyxy, clipped to [0, 1], best first. */
  boxesXyxy: Float64Array;
  /** Objectness probability of each. */
  scores: Float64Array;
}

/** Object probability of an anchor from its two logits (softmax over background, object). */
export function objectness(logits: ArrayLike<number>, anchor: number): number {
  return 1 / (1 + Math.exp(logits[2 * anchor] - logits[2 * anchor + 1]));
}

/** The proposals of one image from its RPN outputs: codes [anchors, 4], logits [anchors, 2], normalised anchors cxcywh. */
export function rpnProposals(boxCodes: ArrayLike<number>, objectnessLogits: ArrayLike<number>, anchorsCxcywh: ArrayLike<number>, options: ProposalOptions = {}): Proposals {
  const { preNmsTopK = 1000, iouThreshold = 0.7, maxProposals = 300, minSize = 1e-3, boxCoder = {} } = options;
  const anchors = anchorsCxcywh.length / 4;
  if (boxCodes.length !== anchors * 4 || objectnessLogits.length !== anchors * 2) {
    throw new RangeError(`rpnProposals: ${anchors} anchors need ${anchors * 4} box codes and ${anchors * 2} logits; received ${boxCodes.length} and ${objectnessLogits.length}.`);
  }
  const scores = Float64Array.from({ length: anchors }, (_, a) => objectness(objectnessLogits, a));
  const order = Int32Array.from({ length: anchors }, (_, a) => a).sort((a, b) => scores[b] - scores[a] || a - b);
  const top = order.subarray(0, Math.min(preNmsTopK, anchors));
  const codes = new Float64Array(top.length * 4);
  const refs = new Float64Array(top.length * 4);
  top.forEach((a, i) => {
    for (let k = 0; k < 4; k++) {
      codes[4 * i + k] = boxCodes[4 * a + k];
      refs[4 * i + k] = anchorsCxcywh[4 * a + k];
    }
  });
  const decoded = convertBoxes(decodeBoxesTfOrder(codes, refs, boxCoder), 'cxcywh', 'xyxy');
  const keptBoxes: number[] = [];
  const keptScores: number[] = [];
  for (let i = 0; i < top.length; i++) {
    const [x1, y1, x2, y2] = [0, 1, 2, 3].map((k) => Math.min(Math.max(decoded[4 * i + k], 0), 1));
    if (!(x2 - x1 >= minSize && y2 - y1 >= minSize)) continue;
    keptBoxes.push(x1, y1, x2, y2);
    keptScores.push(scores[top[i]]);
  }
  const kept = nonMaxSuppressionXyxy(keptBoxes, keptScores, { iouThreshold, maxDetections: maxProposals });
  const boxesXyxy = new Float64Array(kept.length * 4);
  kept.forEach((j, i) => boxesXyxy.set(keptBoxes.slice(4 * j, 4 * j + 4), 4 * i));
  return { boxesXyxy, scores: Float64Array.from(kept, (j) => keptScores[j]) };
}

export interface SecondStageTargetOptions {
  /** Default 0.5. */
  matchedThreshold?: number;
  /** Proposals sampled an image. Default 64 (TF's second_stage_batch_size). */
  batchSizePerImage?: number;
  /** Default 0.25 (TF's second_stage_balance_fraction). */
  positiveFraction?: number;
  boxCoder?: BoxCoderConfig;
  random: () => number;
}

export interface SecondStageTargets {
  /** Indices of the sampled proposals, positives first. */
  indices: Int32Array;
  /** Per sampled proposal: 0 background, c + 1 class c. */
  classTargets: Int32Array;
  /** Per sampled proposal: codes (TF order) of its ground truth relative to the proposal; 0 for negatives. */
  boxTargets: Float32Array;
  positives: number;
}

/**
 * The second-stage targets of one image. `boxesXyxy`/`labels` are the ground truth to learn (leave out
 * ignored ones); proposals normalised xyxy.
 */
export function secondStageTargets(proposalsXyxy: ArrayLike<number>, boxesXyxy: ArrayLike<number>, labels: ArrayLike<number>, options: SecondStageTargetOptions): SecondStageTargets {
  const { matchedThreshold = 0.5, batchSizePerImage = 64, positiveFraction = 0.25, boxCoder = {}, random } = options;
  const proposals = proposalsXyxy.length / 4;
  const gts = labels.length;
  if (boxesXyxy.length !== 4 * gts) throw new RangeError(`secondStageTargets: ${gts} labels need ${4 * gts} box numbers, received ${boxesXyxy.length}.`);
  const matches = gts === 0
    ? new Int32Array(proposals).fill(-1)
    : argmaxMatchGtByAnchor(iouMatrixXyxy(boxesXyxy, proposalsXyxy), gts, proposals, { matchedThreshold, unmatchedThreshold: matchedThreshold });
  const { positiveIndices, negativeIndices } = sampleBalancedPositiveNegative(matches, { batchSizePerImage, positiveFraction, random });
  const indices = Int32Array.from([...positiveIndices, ...negativeIndices]);
  const classTargets = new Int32Array(indices.length);
  const boxTargets = new Float32Array(indices.length * 4);
  positiveIndices.forEach((p, i) => (classTargets[i] = labels[matches[p]] + 1));
  if (positiveIndices.length > 0) boxTargets.set(Float32Array.from(matchedCodes(positiveIndices, matches, boxesXyxy, proposalsXyxy, boxCoder)));
  return { indices, classTargets, boxTargets, positives: positiveIndices.length };
}
