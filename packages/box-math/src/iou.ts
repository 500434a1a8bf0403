/**
 * Intersection over union of xyxy boxes (continuous corners, width = x2 − x1, no "+1").
 * A zero-area or inverted box (x2 ≤ x1 or y2 ≤ y1), or one with a NaN coordinate, has IoU 0 with
 * every box, itself included: the answer is always a number in [0, 1], never NaN.
 */
import { boxAreasXyxy, boxCount } from './formats';

/**
 * IoU of box `i` of `boxesA` with box `j` of `boxesB` (both xyxy), given their areas as
 * {@link boxAreasXyxy} computes them (0 for an inverted box). The building block of the matrix,
 * the pairwise IoU and NMS; callers precompute areas once.
 */
export function iouOfPairXyxy(
  boxesA: ArrayLike<number>,
  i: number,
  areaA: number,
  boxesB: ArrayLike<number>,
  j: number,
  areaB: number,
): number {
  const a = 4 * i;
  const b = 4 * j;
  const w = Math.min(boxesA[a + 2], boxesB[b + 2]) - Math.max(boxesA[a], boxesB[b]);
  if (!(w > 0)) return 0;
  const h = Math.min(boxesA[a + 3], boxesB[b + 3]) - Math.max(boxesA[a + 1], boxesB[b + 1]);
  if (!(h > 0)) return 0;
  const intersection = w * h;
  const union = areaA + areaB - intersection;
  return union > 0 ? intersection / union : 0;
}

/**
 * IoU of every box of `boxesA` (xyxy, nA boxes) with every box of `boxesB` (xyxy, nB boxes):
 * a Float64Array of shape [nA, nB], row-major (entry `a * nB + b`). Either side may be empty.
 * For the matcher, pass ground truth as `boxesA` and anchors as `boxesB` ([numGt × numAnchors]).
 */
export function iouMatrixXyxy(boxesA: ArrayLike<number>, boxesB: ArrayLike<number>): Float64Array {
  const nA = boxCount(boxesA, 'boxesA');
  const nB = boxCount(boxesB, 'boxesB');
  const areasA = boxAreasXyxy(boxesA);
  const areasB = boxAreasXyxy(boxesB);
  const out = new Float64Array(nA * nB);
  for (let a = 0; a < nA; a++) {
    const row = a * nB;
    for (let b = 0; b < nB; b++) out[row + b] = iouOfPairXyxy(boxesA, a, areasA[a], boxesB, b, areasB[b]);
  }
  return out;
}

/**
 * IoU of box k of `boxesA` with box k of `boxesB` (both xyxy, the same number of boxes): a
 * Float64Array of length n (e.g. predicted boxes against their matched ground truth).
 */
export function pairwiseIouXyxy(boxesA: ArrayLike<number>, boxesB: ArrayLike<number>): Float64Array {
  const n = boxCount(boxesA, 'boxesA');
  const nB = boxCount(boxesB, 'boxesB');
  if (nB !== n) throw new RangeError(`pairwiseIouXyxy: boxesA has ${n} boxes but boxesB has ${nB}; pass the same number of boxes (or use iouMatrixXyxy for every pair).`);
  const areasA = boxAreasXyxy(boxesA);
  const areasB = boxAreasXyxy(boxesB);
  const out = new Float64Array(n);
  for (let k = 0; k < n; k++) out[k] = iouOfPairXyxy(boxesA, k, areasA[k], boxesB, k, areasB[k]);
  return out;
}
