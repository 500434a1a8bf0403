import { iouMatrixXyxy } from './iou';
import { argmaxMatchGtByAnchor, IGNORED, UNMATCHED } from './matcher';

const list = (a: ArrayLike<number>) => Array.from(a);

describe('argmaxMatchGtByAnchor ([numGt × numAnchors])', () => {
  it('hand-worked 2 gt × 5 anchors with an ignored band', () => {
    const iou = [
      0.7, 0.45, 0.1, 0.0, 0.3, // gt 0
      0.2, 0.6, 0.35, 0.0, 0.3, // gt 1
    ];
    // anchor 0: best gt 0 at 0.7 ≥ 0.5 → 0
    // anchor 1: best gt 1 at 0.6 → 1
    // anchor 2: best gt 1 at 0.35 < 0.4 → −1
    // anchor 3: 0 and 0 → −1;  anchor 4: 0.3 and 0.3 → −1
    expect(list(argmaxMatchGtByAnchor(iou, 2, 5, { matchedThreshold: 0.5, unmatchedThreshold: 0.4 }))).toEqual([0, 1, -1, -1, -1]);
    // With unmatched 0.3, anchors 2 (0.35) and 4 (0.3) fall in [0.3, 0.5): ignored.
    expect(list(argmaxMatchGtByAnchor(iou, 2, 5, { matchedThreshold: 0.5, unmatchedThreshold: 0.3 }))).toEqual([0, 1, -2, -1, -2]);
  });

  it('thresholds at exact equality: IoU = matched → matched, IoU = unmatched → ignored', () => {
    expect(list(argmaxMatchGtByAnchor([0.5, 0.4, 0.39], 1, 3, { matchedThreshold: 0.5, unmatchedThreshold: 0.4 }))).toEqual([0, IGNORED, UNMATCHED]);
    // unmatchedThreshold defaults to matchedThreshold: no ignored band.
    expect(list(argmaxMatchGtByAnchor([0.5, 0.49], 1, 2, { matchedThreshold: 0.5 }))).toEqual([0, UNMATCHED]);
  });

  it('two ground truths tied for one anchor: the lower index wins (argmax)', () => {
    expect(list(argmaxMatchGtByAnchor([0.7, 0.7], 2, 1, { matchedThreshold: 0.5 }))).toEqual([0]);
  });

  it('forceMatchForEachRow gives each ground truth its best anchor below the threshold', () => {
    // gt 0 best at anchor 0 (0.3), gt 1 best at anchor 1 (0.25); all below 0.5.
    const iou = [0.3, 0.2, 0.1, 0.1, 0.25, 0.05];
    expect(list(argmaxMatchGtByAnchor(iou, 2, 3, { matchedThreshold: 0.5 }))).toEqual([-1, -1, -1]);
    expect(list(argmaxMatchGtByAnchor(iou, 2, 3, { matchedThreshold: 0.5, forceMatchForEachRow: true }))).toEqual([0, 1, -1]);
  });

  it('forced and low-quality matches on a shared best anchor: TF gives the lowest gt, torchvision the anchor’s argmax', () => {
    // gt 0: [0.3, 0.1] best anchor 0; gt 1: [0.35, 0.2] best anchor 0 too.
    const iou = [0.3, 0.1, 0.35, 0.2];
    expect(list(argmaxMatchGtByAnchor(iou, 2, 2, { matchedThreshold: 0.5, forceMatchForEachRow: true }))).toEqual([0, -1]);
    // torchvision: anchor 0 ties gt 0's best and gt 1's best; it gets its own argmax, gt 1 (0.35).
    expect(list(argmaxMatchGtByAnchor(iou, 2, 2, { matchedThreshold: 0.5, allowLowQualityMatches: true }))).toEqual([1, -1]);
  });

  it('ties at a ground truth’s best IoU: low-quality matches take every tied anchor, forcing only the first', () => {
    const iou = [0.3, 0.3, 0.1];
    expect(list(argmaxMatchGtByAnchor(iou, 1, 3, { matchedThreshold: 0.5, allowLowQualityMatches: true }))).toEqual([0, 0, -1]);
    expect(list(argmaxMatchGtByAnchor(iou, 1, 3, { matchedThreshold: 0.5, forceMatchForEachRow: true }))).toEqual([0, -1, -1]);
  });

  it('a low-quality match restores the anchor’s own best ground truth, even another one below threshold', () => {
    // gt 0: [0.3, 0.1] (best 0.3 at anchor 0); gt 1: [0.4, 0.8]. Anchor 0's argmax is gt 1 (0.4 < 0.5).
    const iou = [0.3, 0.1, 0.4, 0.8];
    expect(list(argmaxMatchGtByAnchor(iou, 2, 2, { matchedThreshold: 0.5 }))).toEqual([-1, 1]);
    expect(list(argmaxMatchGtByAnchor(iou, 2, 2, { matchedThreshold: 0.5, allowLowQualityMatches: true }))).toEqual([1, 1]);
    // Forcing instead hands anchor 0 to gt 0 (its best anchor) and anchor 1 to gt 1.
    expect(list(argmaxMatchGtByAnchor(iou, 2, 2, { matchedThreshold: 0.5, forceMatchForEachRow: true }))).toEqual([0, 1]);
  });

  it('a ground truth that overlaps nothing forces nothing', () => {
    const iou = [0, 0, 0.6, 0.1];
    expect(list(argmaxMatchGtByAnchor(iou, 2, 2, { matchedThreshold: 0.5, forceMatchForEachRow: true }))).toEqual([1, -1]);
    expect(list(argmaxMatchGtByAnchor(iou, 2, 2, { matchedThreshold: 0.5, allowLowQualityMatches: true }))).toEqual([1, -1]);
  });

  it('no ground truth: every anchor unmatched; no anchors: an empty result', () => {
    expect(list(argmaxMatchGtByAnchor([], 0, 3, { matchedThreshold: 0.5, forceMatchForEachRow: true }))).toEqual([-1, -1, -1]);
    expect(argmaxMatchGtByAnchor([], 2, 0, { matchedThreshold: 0.5, allowLowQualityMatches: true }).length).toBe(0);
  });

  it('NaN similarities never win', () => {
    expect(list(argmaxMatchGtByAnchor([Number.NaN, Number.NaN, 0.9, Number.NaN], 2, 2, { matchedThreshold: 0.5 }))).toEqual([1, -1]);
  });

  it('end to end with iouMatrixXyxy(gt, anchors)', () => {
    const gt = [0, 0, 10, 10];
    const anchors = [
      0, 0, 10, 10, // IoU 1 → 0
      5, 0, 15, 10, // 50 / 150 = 1/3 → ignored in [0.3, 0.5)
      20, 20, 30, 30, // 0 → unmatched
    ];
    expect(list(argmaxMatchGtByAnchor(iouMatrixXyxy(gt, anchors), 1, 3, { matchedThreshold: 0.5, unmatchedThreshold: 0.3 }))).toEqual([0, -2, -1]);
  });

  it('RangeErrors name what is wrong and what was received', () => {
    expect(() => argmaxMatchGtByAnchor([0.1, 0.2, 0.3], 2, 2, { matchedThreshold: 0.5 })).toThrow('iouGtByAnchor: expected [numGt × numAnchors] = 2 × 2 = 4 numbers, received 3');
    expect(() => argmaxMatchGtByAnchor([], -1, 0, { matchedThreshold: 0.5 })).toThrow('numGt: expected a non-negative integer, received -1');
    expect(() => argmaxMatchGtByAnchor([], 0, 1.5, { matchedThreshold: 0.5 })).toThrow(/numAnchors.*1\.5/);
    expect(() => argmaxMatchGtByAnchor([0.1], 1, 1, { matchedThreshold: 0.5, unmatchedThreshold: 0.6 })).toThrow('unmatchedThreshold: expected a number at most matchedThreshold (0.5), received 0.6');
    expect(() => argmaxMatchGtByAnchor([0.1], 1, 1, { matchedThreshold: Number.NaN })).toThrow(/matchedThreshold.*NaN/);
    expect(() => argmaxMatchGtByAnchor([0.1], 1, 1, { matchedThreshold: 0.5, forceMatchForEachRow: true, allowLowQualityMatches: true })).toThrow(/pick one/);
  });
});
