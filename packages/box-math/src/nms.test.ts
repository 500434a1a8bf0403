import { iouMatrixXyxy } from './iou';
import { mulberry32 } from '@mobilenets/random';
import { batchedNmsXyxy, multiClassNmsXyxy, nonMaxSuppressionXyxy } from './nms';

const seeded = (seed: number) => mulberry32(seed); // the project's one seeded generator

function randomBoxesXyxy(n: number, random: () => number): Float64Array {
  const boxes = new Float64Array(4 * n);
  for (let i = 0; i < n; i++) {
    const x = random() * 100;
    const y = random() * 100;
    boxes.set([x, y, x + 5 + random() * 20, y + 5 + random() * 20], 4 * i);
  }
  return boxes;
}

const list = (a: ArrayLike<number>) => Array.from(a);

describe('nonMaxSuppressionXyxy', () => {
  it('hand-worked: a near-duplicate is suppressed, a far box kept', () => {
    const boxes = [
      0, 0, 10, 10, // 0: score 0.9
      1, 0, 11, 10, // 1: score 0.8; with 0: intersection 9·10 = 90, union 100 + 100 − 90 = 110 → 0.818 > 0.5
      20, 20, 30, 30, // 2: score 0.7, disjoint
    ];
    expect(list(nonMaxSuppressionXyxy(boxes, [0.9, 0.8, 0.7], { iouThreshold: 0.5 }))).toEqual([0, 2]);
    // At iouThreshold 0.82 (> 0.818) the near-duplicate survives.
    expect(list(nonMaxSuppressionXyxy(boxes, [0.9, 0.8, 0.7], { iouThreshold: 0.82 }))).toEqual([0, 1, 2]);
  });

  it('is greedy, not clustering: A suppresses B, so B cannot suppress C', () => {
    // A [0,0,10,10], B [5,0,15,10], C [10,0,20,10]: A·B = 50 / 150 = 1/3, B·C = 1/3, A·C = 0 (they touch).
    const boxes = [0, 0, 10, 10, 5, 0, 15, 10, 10, 0, 20, 10];
    expect(list(nonMaxSuppressionXyxy(boxes, [0.9, 0.8, 0.7], { iouThreshold: 0.3 }))).toEqual([0, 2]);
  });

  it('IoU exactly at the threshold keeps the box (suppression is IoU > threshold)', () => {
    // [0,0,3,1] and [1,0,4,1]: intersection 2·1 = 2, union 3 + 3 − 2 = 4 → exactly 0.5.
    const boxes = [0, 0, 3, 1, 1, 0, 4, 1];
    expect(list(nonMaxSuppressionXyxy(boxes, [0.9, 0.8], { iouThreshold: 0.5 }))).toEqual([0, 1]);
    expect(list(nonMaxSuppressionXyxy(boxes, [0.9, 0.8], { iouThreshold: 0.49 }))).toEqual([0]);
  });

  it('score exactly at scoreThreshold is not a candidate (score > threshold); NaN scores never are', () => {
    const boxes = [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5];
    expect(list(nonMaxSuppressionXyxy(boxes, [0.3, 0.31, Number.NaN], { iouThreshold: 0.5, scoreThreshold: 0.3 }))).toEqual([1]);
  });

  it('ties in score: lower index first, and the lower index wins between duplicates', () => {
    // Three disjoint boxes scored 0.5, 0.9, 0.5 → order 1, 0, 2.
    expect(list(nonMaxSuppressionXyxy([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5], [0.5, 0.9, 0.5], { iouThreshold: 0.5 }))).toEqual([1, 0, 2]);
    // Two identical boxes, equal scores: box 0 kept, box 1 suppressed (IoU 1).
    expect(list(nonMaxSuppressionXyxy([0, 0, 2, 2, 0, 0, 2, 2], [0.7, 0.7], { iouThreshold: 0.5 }))).toEqual([0]);
  });

  it('maxDetections cuts the kept list after the best ones', () => {
    const boxes = [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5];
    expect(list(nonMaxSuppressionXyxy(boxes, [0.1, 0.3, 0.2], { iouThreshold: 0.5, maxDetections: 2 }))).toEqual([1, 2]);
    expect(nonMaxSuppressionXyxy(boxes, [0.1, 0.3, 0.2], { iouThreshold: 0.5, maxDetections: 0 }).length).toBe(0);
  });

  it('zero-area and inverted boxes neither suppress nor get suppressed', () => {
    const boxes = [
      1, 1, 1, 1, // a point
      1, 1, 1, 1, // the same point
      5, 5, 0, 0, // inverted, "covering" the others
      0, 0, 5, 5, // a real box
    ];
    expect(list(nonMaxSuppressionXyxy(boxes, [0.9, 0.8, 0.7, 0.6], { iouThreshold: 0 }))).toEqual([0, 1, 2, 3]);
  });

  it('empty input gives an empty result; works on typed arrays', () => {
    expect(nonMaxSuppressionXyxy([], [], { iouThreshold: 0.5 })).toEqual(new Int32Array(0));
    expect(list(nonMaxSuppressionXyxy(new Float32Array([0, 0, 1, 1]), new Float32Array([0.5]), { iouThreshold: 0.5 }))).toEqual([0]);
  });

  it('RangeErrors name the option and the value received', () => {
    const boxes = [0, 0, 1, 1];
    expect(() => nonMaxSuppressionXyxy(boxes, [1], { iouThreshold: 1.5 })).toThrow('iouThreshold: expected a number in [0, 1], received 1.5');
    expect(() => nonMaxSuppressionXyxy(boxes, [1], { iouThreshold: Number.NaN })).toThrow(/iouThreshold.*received NaN/);
    expect(() => nonMaxSuppressionXyxy(boxes, [1], { iouThreshold: 0.5, scoreThreshold: Number.NaN })).toThrow(/scoreThreshold.*received NaN/);
    expect(() => nonMaxSuppressionXyxy(boxes, [1], { iouThreshold: 0.5, maxDetections: -1 })).toThrow('maxDetections: expected a non-negative integer or Infinity, received -1');
    expect(() => nonMaxSuppressionXyxy(boxes, [1], { iouThreshold: 0.5, maxDetections: 2.5 })).toThrow(/maxDetections.*2\.5/);
    expect(() => nonMaxSuppressionXyxy(boxes, [1, 2], { iouThreshold: 0.5 })).toThrow('scores: expected one score a box (1), received 2');
  });

  it('invariants on 600 random boxes: sorted by score, no kept pair above the threshold, every dropped candidate overlaps an earlier kept box', () => {
    const random = seeded(7);
    const n = 600;
    const boxes = randomBoxesXyxy(n, random);
    const scores = Float64Array.from({ length: n }, () => random());
    const iouThreshold = 0.4;
    const scoreThreshold = 0.2;
    const kept = nonMaxSuppressionXyxy(boxes, scores, { iouThreshold, scoreThreshold });
    const iou = iouMatrixXyxy(boxes, boxes);
    expect(kept.length).toBeGreaterThan(10);
    const keptSet = new Set(kept);
    for (let k = 0; k < kept.length; k++) {
      expect(scores[kept[k]]).toBeGreaterThan(scoreThreshold);
      if (k > 0) expect(scores[kept[k]]).toBeLessThanOrEqual(scores[kept[k - 1]]);
      for (let l = 0; l < k; l++) expect(iou[kept[k] * n + kept[l]]).toBeLessThanOrEqual(iouThreshold);
    }
    for (let i = 0; i < n; i++) {
      if (keptSet.has(i) || !(scores[i] > scoreThreshold)) continue;
      const suppressor = Array.from(kept).find((j) => scores[j] >= scores[i] && iou[i * n + j] > iouThreshold);
      expect(suppressor).toBeDefined();
    }
  });
});

describe('batchedNmsXyxy (torchvision batched_nms)', () => {
  const boxes = [0, 0, 10, 10, 0, 0, 10, 10, 1, 0, 11, 10]; // 0 and 1 identical; 2 overlaps both at 90/110
  const scores = [0.9, 0.8, 0.7];

  it('suppresses only within a class', () => {
    expect(list(batchedNmsXyxy(boxes, scores, [0, 1, 0], { iouThreshold: 0.5 }))).toEqual([0, 1]);
    expect(list(batchedNmsXyxy(boxes, scores, [0, 1, 2], { iouThreshold: 0.5 }))).toEqual([0, 1, 2]);
    // One class for all: plain NMS.
    expect(list(batchedNmsXyxy(boxes, scores, [3, 3, 3], { iouThreshold: 0.5 }))).toEqual(list(nonMaxSuppressionXyxy(boxes, scores, { iouThreshold: 0.5 })));
  });

  it('caps per class and in total', () => {
    const far = [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7];
    // classes 0, 0, 1, 0 with scores 0.9, 0.8, 0.7, 0.6 (all disjoint)
    expect(list(batchedNmsXyxy(far, [0.9, 0.8, 0.7, 0.6], [0, 0, 1, 0], { iouThreshold: 0.5, maxDetectionsPerClass: 1 }))).toEqual([0, 2]);
    expect(list(batchedNmsXyxy(far, [0.9, 0.8, 0.7, 0.6], [0, 0, 1, 0], { iouThreshold: 0.5, maxDetectionsPerClass: 2, maxDetections: 3 }))).toEqual([0, 1, 2]);
  });

  it('rejects class ids that are not non-negative integers, and mismatched lengths', () => {
    expect(() => batchedNmsXyxy(boxes, scores, [0, -1, 0], { iouThreshold: 0.5 })).toThrow('classIds[1]: expected a non-negative integer, received -1');
    expect(() => batchedNmsXyxy(boxes, scores, [0, 1], { iouThreshold: 0.5 })).toThrow(/classIds: expected one class id a box \(3\), received 2/);
    expect(() => batchedNmsXyxy(boxes, scores, [0, 0, 0], { iouThreshold: 0.5, maxDetectionsPerClass: -2 })).toThrow(/maxDetectionsPerClass.*-2/);
  });
});

describe('multiClassNmsXyxy', () => {
  // scores [3 boxes × 2 classes]:
  //   box 0 [0,0,10,10]     0.9  0.1
  //   box 1 [1,0,11,10]     0.8  0.75   (IoU with box 0 = 90/110 = 0.818)
  //   box 2 [50,50,60,60]   0.2  0.6
  const boxes = [0, 0, 10, 10, 1, 0, 11, 10, 50, 50, 60, 60];
  const scores = [0.9, 0.1, 0.8, 0.75, 0.2, 0.6];
  const base = { iouThreshold: 0.5, scoreThreshold: 0.15 };

  it('per class: box 1 survives as class 1 though class 0 suppresses it; merged by score', () => {
    // class 0: candidates 0 (0.9), 1 (0.8), 2 (0.2) → keep 0, drop 1 (0.818 > 0.5), keep 2
    // class 1: candidates 1 (0.75), 2 (0.6); box 0's 0.1 is below 0.15 → keep both (disjoint)
    const r = multiClassNmsXyxy(boxes, scores, base);
    expect(list(r.boxIndices)).toEqual([0, 1, 2, 2]);
    expect(list(r.classIds)).toEqual([0, 1, 1, 0]);
    expect(list(r.scores)).toEqual([0.9, 0.75, 0.6, 0.2]);
  });

  it('class-agnostic differs: each box takes its best class and boxes suppress across classes', () => {
    // best: box 0 → class 0 (0.9), box 1 → class 0 (0.8), box 2 → class 1 (0.6); box 1 suppressed by box 0.
    const r = multiClassNmsXyxy(boxes, scores, { ...base, classAgnostic: true });
    expect(list(r.boxIndices)).toEqual([0, 2]);
    expect(list(r.classIds)).toEqual([0, 1]);
    expect(list(r.scores)).toEqual([0.9, 0.6]);
  });

  it('maxDetectionsPerClass and maxDetections', () => {
    const perClass = multiClassNmsXyxy(boxes, scores, { ...base, maxDetectionsPerClass: 1 });
    expect(list(perClass.boxIndices)).toEqual([0, 1]);
    expect(list(perClass.classIds)).toEqual([0, 1]);
    const total = multiClassNmsXyxy(boxes, scores, { ...base, maxDetections: 3 });
    expect(list(total.scores)).toEqual([0.9, 0.75, 0.6]);
  });

  it('equal scores: lower class id first, then lower box index', () => {
    const r = multiClassNmsXyxy([0, 0, 1, 1, 5, 5, 6, 6], [0.5, 0.5, 0.5, 0.5], { iouThreshold: 0.5 });
    expect(list(r.boxIndices)).toEqual([0, 1, 0, 1]);
    expect(list(r.classIds)).toEqual([0, 0, 1, 1]);
    // Agnostic, a tie between classes gives the lower class.
    expect(list(multiClassNmsXyxy([0, 0, 1, 1], [0.5, 0.5], { iouThreshold: 0.5, classAgnostic: true }).classIds)).toEqual([0]);
  });

  it('empty input, and scores that are not [N × C]', () => {
    const r = multiClassNmsXyxy([], [], { iouThreshold: 0.5 });
    expect([r.boxIndices.length, r.classIds.length, r.scores.length]).toEqual([0, 0, 0]);
    expect(() => multiClassNmsXyxy(boxes, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], base)).toThrow(/scores: expected \[3 boxes × numClasses\] numbers, received 7/);
    expect(() => multiClassNmsXyxy([], [0.5], base)).toThrow(/received 1/);
  });

  it('invariant on random boxes and 4 classes: no two same-class detections above the threshold, scores descending', () => {
    const random = seeded(11);
    const n = 300;
    const C = 4;
    const rb = randomBoxesXyxy(n, random);
    const rs = Float64Array.from({ length: n * C }, () => random());
    const iouThreshold = 0.3;
    const r = multiClassNmsXyxy(rb, rs, { iouThreshold, scoreThreshold: 0.5, maxDetectionsPerClass: 40 });
    const iou = iouMatrixXyxy(rb, rb);
    const counts = new Array(C).fill(0);
    for (let d = 0; d < r.scores.length; d++) {
      counts[r.classIds[d]]++;
      expect(r.scores[d]).toBe(rs[r.boxIndices[d] * C + r.classIds[d]]);
      if (d > 0) expect(r.scores[d]).toBeLessThanOrEqual(r.scores[d - 1]);
      for (let e = 0; e < d; e++) {
        if (r.classIds[e] === r.classIds[d]) expect(iou[r.boxIndices[d] * n + r.boxIndices[e]]).toBeLessThanOrEqual(iouThreshold);
      }
    }
    counts.forEach((c) => expect(c).toBeLessThanOrEqual(40));
    expect(r.scores.length).toBeGreaterThan(C * 10);
  });
});
