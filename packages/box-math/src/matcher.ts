/**
 * The argmax matcher (TF Object Detection API's ArgMaxMatcher, torchvision's Matcher and SSDMatcher).
 *
 * Orientation: the similarity matrix is [numGt × numAnchors], row-major, ground truth in rows and
 * anchors in columns (entry `g * numAnchors + a`), as `iouMatrixXyxy(gtBoxesXyxy, anchorsXyxy)`
 * returns it and as TF ("rows: ground truth, columns: anchors") and torchvision (M gt × N
 * predictions) lay it out. The result has one entry an anchor (a column):
 *
 *   g ≥ 0         matched to ground truth g: its best IoU ≥ matchedThreshold
 *   IGNORED (−2)  unmatchedThreshold ≤ best IoU < matchedThreshold (neither positive nor negative)
 *   UNMATCHED (−1) best IoU < unmatchedThreshold (a negative), or no ground truth at all
 *
 * An anchor's best ground truth is the argmax over its column: among equal IoUs the lowest
 * ground-truth index wins. NaN similarities never win; an anchor whose column is all NaN is unmatched.
 */

/** Match result of an anchor with IoU below unmatchedThreshold (a negative), or of every anchor when there is no ground truth. */
export const UNMATCHED = -1;
/** Match result of an anchor with IoU in [unmatchedThreshold, matchedThreshold): ignored by the losses. */
export const IGNORED = -2;

/** Options of {@link argmaxMatchGtByAnchor}. */
export interface ArgmaxMatcherOptions {
  /** Best IoU ≥ this: matched (TF matched_threshold, torchvision high_threshold; SSD 0.5, RPN 0.7). */
  matchedThreshold: number;
  /** Best IoU < this: unmatched; in between: ignored. At most matchedThreshold; defaults to it (no ignored band). */
  unmatchedThreshold?: number;
  /**
   * TF's force_match_for_each_row (SSD configs: true; torchvision's SSDMatcher does the same): each
   * ground truth's best anchor (the lowest anchor index among equal IoUs) is matched to it whatever
   * the thresholds say. When several ground truths pick the same anchor, the lowest ground-truth index
   * gets it (TF's argmax over the forced rows) and the others force nothing.
   */
  forceMatchForEachRow?: boolean;
  /**
   * torchvision's allow_low_quality_matches (Faster R-CNN's RPN): for each ground truth, EVERY anchor
   * tied at that ground truth's best IoU is matched, and matched to the anchor's own best ground truth
   * (its column argmax), which can be another ground truth with a higher IoU for that anchor.
   */
  allowLowQualityMatches?: boolean;
}

/**
 * Argmax matching of anchors to ground truth; see the file comment for the orientation and the
 * result codes. A ground truth whose best IoU is 0 (or NaN) forces no match in either forcing mode
 * (a deliberate departure: TF masks such padding rows with valid_rows, and torchvision would match
 * every anchor tied at 0). `forceMatchForEachRow` and `allowLowQualityMatches` are alternatives:
 * setting both is a RangeError.
 *
 * @param iouGtByAnchor [numGt × numAnchors] row-major IoU (or any similarity, larger is better)
 * @returns Int32Array of length numAnchors: ground-truth index, UNMATCHED (−1) or IGNORED (−2)
 */
export function argmaxMatchGtByAnchor(
  iouGtByAnchor: ArrayLike<number>,
  numGt: number,
  numAnchors: number,
  options: ArgmaxMatcherOptions,
): Int32Array {
  checkShape(iouGtByAnchor, numGt, numAnchors);
  const { matchedThreshold, unmatchedThreshold } = checkOptions(options);
  const matches = new Int32Array(numAnchors).fill(UNMATCHED);
  if (numGt === 0) return matches;
  const { bestGt, bestIou } = bestGtPerAnchor(iouGtByAnchor, numGt, numAnchors);
  for (let a = 0; a < numAnchors; a++) {
    const iou = bestIou[a];
    matches[a] = iou >= matchedThreshold ? bestGt[a] : iou >= unmatchedThreshold ? IGNORED : UNMATCHED;
  }
  if (options.allowLowQualityMatches) restoreLowQualityMatches(matches, iouGtByAnchor, numGt, numAnchors, bestGt);
  if (options.forceMatchForEachRow) forceBestAnchorOfEachGt(matches, iouGtByAnchor, numGt, numAnchors);
  return matches;
}

function checkShape(iou: ArrayLike<number>, numGt: number, numAnchors: number): void {
  for (const [name, value] of [['numGt', numGt], ['numAnchors', numAnchors]] as const) {
    if (!(Number.isInteger(value) && value >= 0)) throw new RangeError(`${name}: expected a non-negative integer, received ${value}.`);
  }
  if (iou.length !== numGt * numAnchors) {
    throw new RangeError(`iouGtByAnchor: expected [numGt × numAnchors] = ${numGt} × ${numAnchors} = ${numGt * numAnchors} numbers, received ${iou.length}.`);
  }
}

function checkOptions(options: ArgmaxMatcherOptions): { matchedThreshold: number; unmatchedThreshold: number } {
  const { matchedThreshold, unmatchedThreshold = matchedThreshold } = options;
  if (typeof matchedThreshold !== 'number' || Number.isNaN(matchedThreshold)) {
    throw new RangeError(`matchedThreshold: expected a number (an IoU, e.g. 0.5), received ${String(matchedThreshold)}.`);
  }
  if (typeof unmatchedThreshold !== 'number' || !(unmatchedThreshold <= matchedThreshold)) {
    throw new RangeError(`unmatchedThreshold: expected a number at most matchedThreshold (${matchedThreshold}), received ${String(unmatchedThreshold)}.`);
  }
  if (options.forceMatchForEachRow && options.allowLowQualityMatches) {
    throw new RangeError('forceMatchForEachRow and allowLowQualityMatches: received both true; pick one (TF/SSD: forceMatchForEachRow, torchvision RPN: allowLowQualityMatches).');
  }
  return { matchedThreshold, unmatchedThreshold };
}

/** Column argmax: for each anchor its best ground truth (lowest index among equal IoUs) and that IoU (−Infinity for an all-NaN column). */
function bestGtPerAnchor(iou: ArrayLike<number>, numGt: number, numAnchors: number): { bestGt: Int32Array; bestIou: Float64Array } {
  const bestGt = new Int32Array(numAnchors);
  const bestIou = new Float64Array(numAnchors).fill(-Infinity);
  for (let g = 0; g < numGt; g++) {
    const row = g * numAnchors;
    for (let a = 0; a < numAnchors; a++) {
      if (iou[row + a] > bestIou[a]) {
        bestIou[a] = iou[row + a];
        bestGt[a] = g;
      }
    }
  }
  return { bestGt, bestIou };
}

/** Row maximum of ground truth g (−Infinity when the row has no number). */
function rowMax(iou: ArrayLike<number>, g: number, numAnchors: number): number {
  let best = -Infinity;
  for (let a = g * numAnchors, end = a + numAnchors; a < end; a++) if (iou[a] > best) best = iou[a];
  return best;
}

/** torchvision's set_low_quality_matches_: every anchor tied at some ground truth's best IoU (> 0) gets its own column argmax back. */
function restoreLowQualityMatches(matches: Int32Array, iou: ArrayLike<number>, numGt: number, numAnchors: number, bestGt: Int32Array): void {
  for (let g = 0; g < numGt; g++) {
    const best = rowMax(iou, g, numAnchors);
    if (!(best > 0)) continue;
    const row = g * numAnchors;
    for (let a = 0; a < numAnchors; a++) if (iou[row + a] === best) matches[a] = bestGt[a];
  }
}

/** TF's force_match_for_each_row: each ground truth's first best anchor (IoU > 0) is matched to it; the lowest ground truth wins a shared anchor. */
function forceBestAnchorOfEachGt(matches: Int32Array, iou: ArrayLike<number>, numGt: number, numAnchors: number): void {
  const forced = new Uint8Array(numAnchors);
  for (let g = 0; g < numGt; g++) {
    const best = rowMax(iou, g, numAnchors);
    if (!(best > 0)) continue;
    const row = g * numAnchors;
    let a = 0;
    while (iou[row + a] !== best) a++;
    if (forced[a]) continue;
    forced[a] = 1;
    matches[a] = g;
  }
}
