/**
 * Greedy non-maximum suppression on xyxy boxes, one class (`nonMaxSuppressionXyxy`), one class a box
 * (`batchedNmsXyxy`, torchvision's batched_nms) and a score per box and class
 * (`multiClassNmsXyxy`, the TF Object Detection API's multiclass_non_max_suppression).
 *
 * Shared semantics:
 * - a candidate needs score > scoreThreshold (strict, like tf.image.non_max_suppression and
 *   torchvision's box_score_thresh); a NaN score is never a candidate;
 * - candidates are visited once in descending score order, ties broken by the lower box index
 *   (then the lower class id): a stable order;
 * - a candidate is suppressed when its IoU with an already kept box (of the same class, where
 *   classes apply) is strictly greater than iouThreshold (TF and torchvision both discard on
 *   IoU > threshold): with iouThreshold 0.5 a box at IoU exactly 0.5 is kept;
 * - zero-area and inverted boxes have IoU 0 with everything, so they never suppress nor get suppressed;
 * - the cost is one sort plus O(n·k) IoUs for n candidates and k kept boxes.
 */
import { boxAreasXyxy, boxCount } from './formats';

/** Options of {@link nonMaxSuppressionXyxy}. */
export interface NmsOptions {
  /** A candidate whose IoU with a kept box is > this is suppressed; in [0, 1]. */
  iouThreshold: number;
  /** Only scores > this are candidates (strict). Default −Infinity (every non-NaN score). */
  scoreThreshold?: number;
  /** At most this many kept boxes: a non-negative integer or Infinity (the default). */
  maxDetections?: number;
}

/** Options of {@link batchedNmsXyxy}: {@link NmsOptions} plus a cap per class. */
export interface BatchedNmsOptions extends NmsOptions {
  /** At most this many kept boxes per class: a non-negative integer or Infinity (the default). */
  maxDetectionsPerClass?: number;
}

/** Options of {@link multiClassNmsXyxy}. */
export interface MultiClassNmsOptions extends BatchedNmsOptions {
  /**
   * false (default): suppression only within a class, each (box, class) pair with a score above
   * the threshold is its own candidate, so one box may come out under several classes.
   * true: each box takes its best class (the lowest class id among equal scores) and suppresses
   * boxes of every class (TF's class_agnostic_non_max_suppression with one class a detection);
   * maxDetectionsPerClass is then ignored.
   */
  classAgnostic?: boolean;
}

/** Detections of {@link multiClassNmsXyxy}, in descending score order: detection d is box `boxIndices[d]` as class `classIds[d]`. */
export interface MultiClassNmsResult {
  boxIndices: Int32Array;
  classIds: Int32Array;
  scores: Float64Array;
}

function checkThresholds(options: NmsOptions): { iouThreshold: number; scoreThreshold: number; maxDetections: number } {
  const { iouThreshold, scoreThreshold = -Infinity, maxDetections = Infinity } = options;
  if (typeof iouThreshold !== 'number' || !(iouThreshold >= 0 && iouThreshold <= 1)) {
    throw new RangeError(`iouThreshold: expected a number in [0, 1], received ${String(iouThreshold)}.`);
  }
  if (typeof scoreThreshold !== 'number' || Number.isNaN(scoreThreshold)) {
    throw new RangeError(`scoreThreshold: expected a number (−Infinity keeps every score), received ${String(scoreThreshold)}.`);
  }
  return { iouThreshold, scoreThreshold, maxDetections: checkCount('maxDetections', maxDetections) };
}

function checkCount(name: string, value: number): number {
  if (typeof value !== 'number' || !(value === Infinity || (Number.isInteger(value) && value >= 0))) {
    throw new RangeError(`${name}: expected a non-negative integer or Infinity, received ${String(value)}.`);
  }
  return value;
}

/** Sorts `order` (candidate ids) in place by descending `scores[id]`, ties by ascending id. */
function sortByScoreDescending(order: Int32Array, scores: ArrayLike<number>): Int32Array {
  return order.sort((p, q) => scores[q] - scores[p] || p - q);
}

/**
 * Greedy NMS over xyxy boxes and one score a box: indices of the kept boxes in descending score
 * order (ties: lower index first), at most maxDetections of them. See the file comment for the
 * threshold semantics (score > scoreThreshold; IoU > iouThreshold suppresses).
 */
export function nonMaxSuppressionXyxy(boxesXyxy: ArrayLike<number>, scores: ArrayLike<number>, options: NmsOptions): Int32Array {
  const n = boxCount(boxesXyxy, 'boxesXyxy');
  if (scores.length !== n) throw new RangeError(`scores: expected one score a box (${n}), received ${scores.length}.`);
  const { iouThreshold, scoreThreshold, maxDetections } = checkThresholds(options);
  const candidates: number[] = [];
  for (let i = 0; i < n; i++) if (scores[i] > scoreThreshold) candidates.push(i);
  const order = sortByScoreDescending(Int32Array.from(candidates), scores);
  const kept = greedyPerClass(boxesXyxy, order, (i) => i, () => 0, iouThreshold, Infinity, maxDetections);
  return Int32Array.from(kept);
}

/**
 * Kept boxes of one class: corners and area packed in one growable Float64Array (5 numbers a box),
 * so the O(n·k) inner loop reads contiguous memory and calls nothing.
 */
class KeptBoxes {
  private data = new Float64Array(5 * 16);
  count = 0;

  /** Whether the box (x1, y1, x2, y2) of `area` overlaps a kept box with IoU > iouThreshold (newest first: usually the nearest in score). */
  overlaps(x1: number, y1: number, x2: number, y2: number, area: number, iouThreshold: number): boolean {
    if (!(area > 0)) return false; // a zero-area box has IoU 0 with everything
    const d = this.data;
    for (let o = 5 * (this.count - 1); o >= 0; o -= 5) {
      const w = Math.min(x2, d[o + 2]) - Math.max(x1, d[o]);
      if (!(w > 0)) continue;
      const h = Math.min(y2, d[o + 3]) - Math.max(y1, d[o + 1]);
      if (!(h > 0)) continue;
      const intersection = w * h;
      // The same division as iouOfPairXyxy, so "IoU > threshold" agrees with iouMatrixXyxy to the last bit.
      if (intersection / (area + d[o + 4] - intersection) > iouThreshold) return true;
    }
    return false;
  }

  push(x1: number, y1: number, x2: number, y2: number, area: number): void {
    if (5 * (this.count + 1) > this.data.length) {
      const grown = new Float64Array(2 * this.data.length);
      grown.set(this.data);
      this.data = grown;
    }
    this.data.set([x1, y1, x2, y2, area], 5 * this.count);
    this.count++;
  }
}

/**
 * torchvision's batched_nms: box i has class `classIds[i]` (a non-negative integer) and
 * suppresses only boxes of its own class. Returns kept indices in descending score order (ties:
 * lower index first), at most maxDetectionsPerClass a class and maxDetections in all.
 */
export function batchedNmsXyxy(
  boxesXyxy: ArrayLike<number>,
  scores: ArrayLike<number>,
  classIds: ArrayLike<number>,
  options: BatchedNmsOptions,
): Int32Array {
  const n = boxCount(boxesXyxy, 'boxesXyxy');
  if (scores.length !== n) throw new RangeError(`scores: expected one score a box (${n}), received ${scores.length}.`);
  if (classIds.length !== n) throw new RangeError(`classIds: expected one class id a box (${n}), received ${classIds.length}.`);
  const { iouThreshold, scoreThreshold, maxDetections } = checkThresholds(options);
  const perClass = checkCount('maxDetectionsPerClass', options.maxDetectionsPerClass ?? Infinity);
  const candidates: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = classIds[i];
    if (!(Number.isInteger(c) && c >= 0)) throw new RangeError(`classIds[${i}]: expected a non-negative integer, received ${c}.`);
    if (scores[i] > scoreThreshold) candidates.push(i);
  }
  const order = sortByScoreDescending(Int32Array.from(candidates), scores);
  const kept = greedyPerClass(boxesXyxy, order, (i) => i, (i) => classIds[i], iouThreshold, perClass, maxDetections);
  return Int32Array.from(kept);
}

/**
 * The greedy pass shared by the per-class variants: visits candidate ids in `order`, each standing
 * for box `boxOf(id)` of class `classOf(id)`, and keeps it unless a kept box of the same class
 * overlaps it (IoU > iouThreshold) or its class already has `perClass` kept boxes.
 */
function greedyPerClass(
  boxes: ArrayLike<number>,
  order: Int32Array,
  boxOf: (id: number) => number,
  classOf: (id: number) => number,
  iouThreshold: number,
  perClass: number,
  maxDetections: number,
): number[] {
  const b = boxes instanceof Float64Array ? boxes : Float64Array.from(boxes);
  const areas = boxAreasXyxy(b);
  const keptOfClass = new Map<number, KeptBoxes>();
  const kept: number[] = [];
  for (let c = 0; c < order.length && kept.length < maxDetections; c++) {
    const id = order[c];
    const cls = classOf(id);
    let same = keptOfClass.get(cls);
    if (same === undefined) keptOfClass.set(cls, (same = new KeptBoxes()));
    if (same.count >= perClass) continue;
    const i = boxOf(id);
    const o = 4 * i;
    if (same.overlaps(b[o], b[o + 1], b[o + 2], b[o + 3], areas[i], iouThreshold)) continue;
    same.push(b[o], b[o + 1], b[o + 2], b[o + 3], areas[i]);
    kept.push(id);
  }
  return kept;
}

/**
 * Multi-class NMS on shared xyxy boxes (N boxes) and `scores` of shape [N, C] row-major (score of
 * box i for class c at `i * C + c`; class c is column c: drop a background column before calling).
 * Per class (default), like the TF Object Detection API's multiclass_non_max_suppression with
 * boxes shared by the classes (q = 1): each class runs greedy NMS over its scores > scoreThreshold, keeping at most
 * maxDetectionsPerClass; the detections of all classes are merged in descending score order (ties:
 * lower class id, then lower box index) and cut to maxDetections. With `classAgnostic`, see
 * {@link MultiClassNmsOptions.classAgnostic}.
 */
export function multiClassNmsXyxy(boxesXyxy: ArrayLike<number>, scores: ArrayLike<number>, options: MultiClassNmsOptions): MultiClassNmsResult {
  const n = boxCount(boxesXyxy, 'boxesXyxy');
  const numClasses = n === 0 ? 0 : scores.length / n;
  if (n === 0 ? scores.length !== 0 : !Number.isInteger(numClasses)) {
    throw new RangeError(`scores: expected [${n} boxes × numClasses] numbers, received ${scores.length} (not a multiple of ${n}).`);
  }
  const { iouThreshold, scoreThreshold, maxDetections } = checkThresholds(options);
  const perClass = checkCount('maxDetectionsPerClass', options.maxDetectionsPerClass ?? Infinity);
  if (options.classAgnostic) return classAgnostic(boxesXyxy, scores, n, numClasses, iouThreshold, scoreThreshold, maxDetections);
  // A candidate id is the flat index i * C + c; with C ≥ 1 its box is ⌊id / C⌋ and its class id % C.
  const candidates: number[] = [];
  for (let id = 0; id < scores.length; id++) if (scores[id] > scoreThreshold) candidates.push(id);
  const order = Int32Array.from(candidates).sort(
    (p, q) => scores[q] - scores[p] || (p % numClasses) - (q % numClasses) || p - q,
  );
  const kept = greedyPerClass(boxesXyxy, order, (id) => Math.floor(id / numClasses), (id) => id % numClasses, iouThreshold, perClass, maxDetections);
  return {
    boxIndices: Int32Array.from(kept, (id) => Math.floor(id / numClasses)),
    classIds: Int32Array.from(kept, (id) => id % numClasses),
    scores: Float64Array.from(kept, (id) => scores[id]),
  };
}

function classAgnostic(
  boxes: ArrayLike<number>,
  scores: ArrayLike<number>,
  n: number,
  numClasses: number,
  iouThreshold: number,
  scoreThreshold: number,
  maxDetections: number,
): MultiClassNmsResult {
  const bestClass = new Int32Array(n);
  const bestScore = new Float64Array(n).fill(Number.NaN);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < numClasses; c++) {
      const s = scores[i * numClasses + c];
      if (s > bestScore[i] || Number.isNaN(bestScore[i])) {
        bestScore[i] = s;
        bestClass[i] = c;
      }
    }
  }
  const kept = nonMaxSuppressionXyxy(boxes, bestScore, { iouThreshold, scoreThreshold, maxDetections });
  return {
    boxIndices: kept,
    classIds: Int32Array.from(kept, (i) => bestClass[i]),
    scores: Float64Array.from(kept, (i) => bestScore[i]),
  };
}
