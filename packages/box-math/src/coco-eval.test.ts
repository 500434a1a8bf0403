import { COCO_IOU_THRESHOLDS, COCO_RECALL_THRESHOLDS, cocoIouXywh, evaluateCocoBoxes, formatCocoStats } from './coco-eval';

// Hand-made cases. Every expected number is worked out in the comments with pycocotools' rules:
// per IoU threshold, detections in score order give cumulative tp/fp; rc = tp / (regular gt), pr = tp / (tp + fp + eps);
// pr is made monotone from the right; AP is the mean of pr at the first rc ≥ each of the 101 recall thresholds
// (0 past the last rc). pr = 1 / (1 + eps) is 1 to 15 digits, hence toBeCloseTo.

type Bbox = [number, number, number, number];

let nextId = 1;
/** A ground-truth annotation of category 1 (unless given), area w·h (unless given). */
function ann(imageId: number, bbox: Bbox, extra: Record<string, unknown> = {}) {
  return { id: nextId++, image_id: imageId, category_id: 1, bbox, area: bbox[2] * bbox[3], iscrowd: 0, ...extra };
}
function det(imageId: number, bbox: Bbox, score: number, categoryId = 1) {
  return { image_id: imageId, category_id: categoryId, bbox, score };
}
function gtOf(annotations: object[], imageIds = [1], categoryIds = [1]) {
  return { images: imageIds.map((id) => ({ id })), annotations, categories: categoryIds.map((id) => ({ id, name: `c${id}` })) };
}
function expectStats(stats: number[], expected: number[]): void {
  expect(stats).toHaveLength(12);
  expected.forEach((v, i) => expect([i, stats[i]]).toEqual([i, expect.closeTo(v, 12)]));
}

// Boxes far apart, large (area 10000 > 96²) unless said otherwise.
const A: Bbox = [0, 0, 100, 100];
const B: Bbox = [200, 0, 100, 100];
const C: Bbox = [400, 0, 100, 100];
const FAR: Bbox = [0, 300, 100, 100];

describe('COCO thresholds (np.linspace values)', () => {
  it('has 10 IoU and 101 recall thresholds computed as numpy does', () => {
    expect(COCO_IOU_THRESHOLDS).toHaveLength(10);
    expect(COCO_IOU_THRESHOLDS[8]).toBe(0.8999999999999999);
    expect(COCO_IOU_THRESHOLDS[5]).toBe(0.75);
    expect(COCO_RECALL_THRESHOLDS).toHaveLength(101);
    expect(COCO_RECALL_THRESHOLDS[35]).toBe(0.35000000000000003);
    expect(COCO_RECALL_THRESHOLDS[100]).toBe(1);
  });
});

describe('cocoIouXywh', () => {
  it('is intersection over union, and over the detection area alone for crowd ground truth', () => {
    // det 10×10 inside gt 100×100: intersection 100, union 10000 → 0.01; crowd: 100 / 100 = 1; apart: 0.
    expect(Array.from(cocoIouXywh([0, 0, 10, 10], [0, 0, 100, 100, 0, 0, 100, 100, 500, 500, 5, 5], [0, 1, 0]))).toEqual([0.01, 1, 0]);
    // half overlap: [0,0,100,100] vs [50,0,100,100]: 5000 / 15000.
    expect(cocoIouXywh([0, 0, 100, 100], [50, 0, 100, 100])[0]).toBeCloseTo(1 / 3, 15);
  });
});

describe('evaluateCocoBoxes', () => {
  it('a perfect detector scores 1 everywhere', () => {
    // One box per (image, category), one of each size: small 10×10 (100 ≤ 32²), medium 50×50, large 200×200.
    // Every detection matches its gt at every IoU; in a size range the other sizes' gts are ignored and so are the
    // detections on them. So every AP and AR (also AR@1: one gt per image and category) is 1.
    const gt = gtOf([ann(1, [0, 0, 10, 10]), ann(1, [100, 0, 50, 50], { category_id: 2 }), ann(2, [0, 0, 200, 200])], [1, 2], [1, 2]);
    const results = [det(1, [0, 0, 10, 10], 0.9), det(1, [100, 0, 50, 50], 0.8, 2), det(2, [0, 0, 200, 200], 0.7)];
    const r = evaluateCocoBoxes(gt, results);
    expectStats(r.stats, Array(12).fill(1));
    // Category 2 has only a medium gt: small and large are −1 for it.
    expect(r.perCategory[2]).toMatchObject({ name: 'c2', ap: expect.closeTo(1, 12), apSmall: -1, apLarge: -1, arSmall: -1, arMedium: 1 });
  });

  it('one missing detection: AP 51/101, AR 0.5', () => {
    // 2 gts, one detected: rc = [0.5], pr ≈ [1]. Recall thresholds 0 … 0.50 (51 of them; 50 · 0.01 is exactly 0.5)
    // read pr = 1, the other 50 are past the last recall → 0. AP = 51/101 at every IoU; AR = 0.5. Both gts large:
    // small and medium have no gt → −1.
    const r = evaluateCocoBoxes(gtOf([ann(1, A), ann(1, B)]), [det(1, A, 0.9)]);
    expectStats(r.stats, [51 / 101, 51 / 101, 51 / 101, -1, -1, 51 / 101, 0.5, 0.5, 0.5, -1, -1, 0.5]);
  });

  it('a false positive ranked above the true positives: AP 2/3', () => {
    // FP 0.9, TP 0.8, TP 0.7 with 2 gts: tp = [0, 1, 2], fp = [1, 1, 1], rc = [0, .5, 1], pr = [0, 1/2, 2/3];
    // monotone from the right: [2/3, 2/3, 2/3]; every recall threshold finds an index → AP = 2/3. AR = 1.
    const r = evaluateCocoBoxes(gtOf([ann(1, A), ann(1, B)]), [det(1, FAR, 0.9), det(1, A, 0.8), det(1, B, 0.7)]);
    expect(r.stats[0]).toBeCloseTo(2 / 3, 12);
    expect(r.stats[8]).toBe(1);
  });

  it('a false positive between the true positives: AP (51 + 50 · 2/3) / 101', () => {
    // TP 0.9, FP 0.8, TP 0.7: rc = [.5, .5, 1], pr = [1, 1/2, 2/3] → [1, 2/3, 2/3]. Thresholds 0 … 0.50 take index 0
    // (pr 1, 51 of them), 0.51 … 1 take index 2 (pr 2/3, 50 of them).
    const r = evaluateCocoBoxes(gtOf([ann(1, A), ann(1, B)]), [det(1, A, 0.9), det(1, FAR, 0.8), det(1, B, 0.7)]);
    expect(r.stats[0]).toBeCloseTo((51 + (50 * 2) / 3) / 101, 12);
    expect(r.stats[6]).toBe(0.5); // AR@1: only the first detection (a TP) of 2 gts
  });

  it('IoU 0.6 passes thresholds .50, .55, .60 (≥), not .65 … .95: AP50 1, AP75 0, AP 0.3', () => {
    // det [0,0,100,60] on gt [0,0,100,100]: 6000 / 10000 = 0.6, equal to threshold 0.6, and `iou < t` skips only below.
    const r = evaluateCocoBoxes(gtOf([ann(1, A)]), [det(1, [0, 0, 100, 60], 0.9)]);
    expectStats(r.stats, [0.3, 1, 0, -1, -1, 0.3, 0.3, 0.3, 0.3, -1, -1, 0.3]);
  });

  it('detections on crowd ground truth are ignored, not false positives; a crowd gt matches repeatedly', () => {
    // Crowd region [300,300,200,200]; two detections inside it (IoU = intersection / detection area = 1) score above
    // the one TP. Both match the crowd gt (crowds can be matched again), so both are ignored; the crowd gt is not
    // counted. Left: the TP on the one regular gt → AP 1, AR 1. But AR@1 is 0: maxDets 1 keeps the image's first
    // detection, the ignored one (ignored detections still take their place in the top maxDets).
    const gt = gtOf([ann(1, A), ann(1, [300, 300, 200, 200], { iscrowd: 1 })]);
    const results = [det(1, [310, 310, 50, 50], 0.95), det(1, [400, 400, 50, 50], 0.92), det(1, A, 0.9)];
    expectStats(evaluateCocoBoxes(gt, results).stats, [1, 1, 1, -1, -1, 1, 0, 1, 1, -1, -1, 1]);
  });

  it('a detection matched to a regular gt does not move on to an ignored (crowd) gt with a higher IoU', () => {
    // det [0,0,100,100]; regular gt [0,0,100,60] (IoU 0.6); crowd gt [0,0,100,90] (IoU 9000 / 10000 = 0.9).
    // Regular gts come first. t ≤ .60: the regular gt matches, then the loop reaches an ignored gt and breaks → TP.
    // t = .65 … .90 (the 9th threshold is 0.8999999999999999): only the crowd gt passes → ignored (rc = pr = [0], AP 0).
    // t = .95: no match → FP. AP = 3/10, AP50 = 1, AP75 = 0. Both gts are medium (6000, 9000).
    const gt = gtOf([ann(1, [0, 0, 100, 60]), ann(1, [0, 0, 100, 90], { iscrowd: 1 })]);
    const r = evaluateCocoBoxes(gt, [det(1, A, 0.9)]);
    expectStats(r.stats, [0.3, 1, 0, -1, 0.3, -1, 0.3, 0.3, 0.3, -1, 0.3, -1]);
  });

  it('area ranges: small, medium and large split on the gt area field; unmatched detections outside a range are ignored', () => {
    // gts: S 10×10 (small), M 50×50 (medium), L 200×200 (large). Detections: FP 0.95 (a 200×200 box on nothing),
    // S 0.9, L 0.8 (M missed).
    // all:    FP, TP, TP, 3 gts: rc = [0, 1/3, 2/3], pr = [0, .5, 2/3] → 2/3; thresholds ≤ 2/3 (0 … 0.66, 67 of them)
    //         → AP = 67/101 · 2/3; AR@100 = 2/3; AR@1 = 0 (the image's first detection is the FP); AR@10 = 2/3.
    // small:  FP unmatched and 40000 > 32² → ignored; S TP; L matched to an ignored gt → ignored. AP 1, AR 1.
    // medium: M regular (1 gt); FP out of range → ignored; S, L on ignored gts → ignored. No TP: AP 0, AR 0.
    // large:  FP counts (40000 in range); S on an ignored gt → ignored; L TP: rc = [0, 0, 1], pr = [0, 0, .5] → .5.
    //         AP .5, AR 1.
    const gt = gtOf([ann(1, [0, 0, 10, 10]), ann(1, [100, 0, 50, 50]), ann(1, [200, 0, 200, 200])]);
    const results = [det(1, [0, 300, 200, 200], 0.95), det(1, [0, 0, 10, 10], 0.9), det(1, [200, 0, 200, 200], 0.8)];
    const ap = (67 / 101) * (2 / 3);
    expectStats(evaluateCocoBoxes(gt, results).stats, [ap, ap, ap, 1, 0, 0.5, 0, 2 / 3, 2 / 3, 1, 0, 1]);
  });

  it('area ranges use the gt `area` field, not w·h, with inclusive bounds', () => {
    // A 100×100 box whose area field says 1024 (= 32²): both small and medium (area < lo or > hi is outside), not large.
    const r = evaluateCocoBoxes(gtOf([ann(1, A, { area: 1024 })]), [det(1, A, 0.9)]);
    expectStats(r.stats, [1, 1, 1, 1, 1, -1, 1, 1, 1, 1, 1, -1]);
  });

  it('maxDets 1 vs 10: AR@1 1/3, AR@10 1', () => {
    // 3 gts, 3 exact detections: @1 only the best is kept (rc 1/3), @10 and @100 all three.
    const r = evaluateCocoBoxes(gtOf([ann(1, A), ann(1, B), ann(1, C)]), [det(1, A, 0.9), det(1, B, 0.8), det(1, C, 0.7)]);
    expect(r.stats[6]).toBeCloseTo(1 / 3, 15); // the mean of ten 1/3 values: 0.33333333333333337
    expect(r.stats.slice(7, 9)).toEqual([1, 1]);
  });

  it('only the top 100 detections of an image are evaluated', () => {
    // 1 gt. 99 FPs above the TP: the TP is the 100th → recall 1, pr = 1 / 100 (monotone from the right → every
    // threshold reads 0.01): AP ≈ 0.01. With 100 FPs above, the TP is 101st and dropped: AP 0, AR 0.
    const fps = (n: number) => Array.from({ length: n }, (_, i) => det(1, [0, 300 + i, 10, 10], 0.99 - i * 0.001));
    const r99 = evaluateCocoBoxes(gtOf([ann(1, A)]), [...fps(99), det(1, A, 0.5)]);
    expect(r99.stats[0]).toBeCloseTo(0.01, 12);
    expect(r99.stats[8]).toBe(1);
    const r100 = evaluateCocoBoxes(gtOf([ann(1, A)]), [...fps(100), det(1, A, 0.5)]);
    expect([r100.stats[0], r100.stats[8]]).toEqual([0, 0]);
  });

  it('a category with no ground truth is −1 and left out of the means', () => {
    // Category 1: perfect. Category 2: detections only (no gt → npig 0 → precision/recall −1). Category 3: nothing.
    // The means take category 1 alone: 1.
    const gt = gtOf([ann(1, A)], [1], [1, 2, 3]);
    const r = evaluateCocoBoxes(gt, [det(1, B, 0.99, 2), det(1, A, 0.9)]);
    expect(r.stats[0]).toBeCloseTo(1, 12);
    expect(r.stats[8]).toBe(1);
    expect(r.perCategory[2]).toMatchObject({ ap: -1, ap50: -1, ar100: -1 });
    expect(r.perCategory[3].ap).toBe(-1);
    expect(r.categoryIds).toEqual([1, 2, 3]);
  });

  it('nothing to evaluate at all gives −1 everywhere', () => {
    expect(evaluateCocoBoxes(gtOf([]), []).stats).toEqual(Array(12).fill(-1));
  });

  it('the `ignore` field: disregarded as pycocotools does, honoured with useIgnoreField', () => {
    // gts A (regular) and B (ignore: 1, not crowd); only A detected. pycocotools sets ignore = iscrowd, so B counts:
    // 2 gts, 1 TP → AP 51/101, AR 0.5. With useIgnoreField, B is ignored: AP 1, AR 1.
    const gt = gtOf([ann(1, A), ann(1, B, { ignore: 1 })]);
    const results = [det(1, A, 0.9)];
    expect(evaluateCocoBoxes(gt, results).stats[0]).toBeCloseTo(51 / 101, 12);
    expect(evaluateCocoBoxes(gt, results, { useIgnoreField: true }).stats[0]).toBeCloseTo(1, 12);
    expect(evaluateCocoBoxes(gt, results, { useIgnoreField: true }).stats[8]).toBe(1);
  });

  it('score ties keep input order within an image', () => {
    // 1 gt; two detections both 0.5. FP first: rc = [0, 1], pr = [0, .5] → [.5, .5]: AP 0.5.
    // TP first: rc = [1, 1], pr = [1, .5] → [1, .5]: every threshold reads index 0 → AP 1.
    const gt = gtOf([ann(1, A)]);
    expect(evaluateCocoBoxes(gt, [det(1, FAR, 0.5), det(1, A, 0.5)]).stats[0]).toBeCloseTo(0.5, 12);
    expect(evaluateCocoBoxes(gt, [det(1, A, 0.5), det(1, FAR, 0.5)]).stats[0]).toBeCloseTo(1, 12);
  });

  it('score ties across images go in image id order, not results order', () => {
    // Images listed [2, 1]; ids sorted → image 1 first. Results: TP on image 2 (0.5), FP on image 1 (0.5), TP on
    // image 1 (0.4). Accumulated: image 1's [FP .5, TP .4] then image 2's [TP .5], stably sorted by score:
    // FP, TP(2), TP(1): rc = [0, .5, 1], pr = [0, .5, 2/3] → AP 2/3 (results order would give (51 + 50 · 2/3) / 101).
    const gt = gtOf([ann(1, A), ann(2, A)], [2, 1]);
    const r = evaluateCocoBoxes(gt, [det(2, A, 0.5), det(1, FAR, 0.5), det(1, A, 0.4)]);
    expect(r.stats[0]).toBeCloseTo(2 / 3, 12);
  });

  it('recall thresholds are np.linspace values: rc 0.35 does not reach 0.35000000000000003', () => {
    // 20 gts, 7 found (scores descending, no FP): rc = 0.05 … 0.35, pr 1. Thresholds 0 … 0.34 (35) read 1; the
    // 36th, 0.35000000000000003, is above rc = 7/20 = 0.35 → 0. AP = 35/101 (36/101 with exact hundredths).
    const boxes = Array.from({ length: 20 }, (_, i): Bbox => [i * 20, 0, 10, 10]);
    const r = evaluateCocoBoxes(gtOf(boxes.map((b) => ann(1, b))), boxes.slice(0, 7).map((b, i) => det(1, b, 0.9 - i * 0.01)));
    expect(r.stats[1]).toBeCloseTo(35 / 101, 12);
  });

  it('a match to annotation id 0 counts as no match (pycocotools stores matches by id)', () => {
    // The detection takes the gt (so it is not matched again) but dtMatches holds 0 → a false positive: AP 0, AR 0.
    const r = evaluateCocoBoxes(gtOf([ann(1, A, { id: 0 })]), [det(1, A, 0.9)]);
    expect([r.stats[0], r.stats[8]]).toEqual([0, 0]);
  });

  it('returns precision [T, R, K, A, M] and recall [T, K, A, M] as pycocotools lays them out', () => {
    const r = evaluateCocoBoxes(gtOf([ann(1, A), ann(1, B)]), [det(1, A, 0.9)]);
    expect(r.precision).toHaveLength(10 * 101 * 1 * 4 * 3);
    expect(r.recall).toHaveLength(10 * 4 * 3);
    // t = 0, r = 50, k = 0, area all, maxDets 100 → ≈1; r = 51 → 0; area small → −1.
    expect(r.precision[50 * 12 + 2]).toBeCloseTo(1, 12);
    expect(r.precision[51 * 12 + 2]).toBe(0);
    expect(r.precision[50 * 12 + 3 + 2]).toBe(-1);
    expect(r.recall[2]).toBe(0.5);
  });

  it('formats the stats as pycocotools prints them', () => {
    const lines = formatCocoStats([0.5, 0.75, 0.25, -1, 0, 1, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6]).split('\n');
    expect(lines).toHaveLength(12);
    expect(lines[0]).toBe(' Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.500');
    expect(lines[3]).toBe(' Average Precision  (AP) @[ IoU=0.50:0.95 | area= small | maxDets=100 ] = -1.000');
  });
});

describe('COCO input errors name the entry and field', () => {
  const gt = gtOf([ann(1, A)]);
  it.each([
    [[det(1, A, 0.9), { image_id: 1, category_id: 1, bbox: [1, 2, 3], score: 1 }], 'results[1].bbox: expected 4 finite numbers [x, y, w, h], received [1,2,3]'],
    [[det(999, A, 0.9)], 'results[0].image_id 999: not an image of the ground truth'],
    [[det(1, A, 0.9, 7)], 'results[0].category_id 7: not a category of the ground truth'],
    [[{ image_id: 1, category_id: 1, bbox: A }], 'results[0].score: expected a finite number, received nothing'],
    [[det(1, [0, 0, -5, 10], 0.9)], 'results[0].bbox: expected a width and height ≥ 0'],
    [{}, 'results: expected an array'],
  ])('results %#', (results, message) => {
    expect(() => evaluateCocoBoxes(gt, results)).toThrow(message);
  });

  it.each([
    [{ ...gt, images: undefined }, 'groundTruth.images: expected an array, received nothing'],
    [gtOf([{ id: 1, image_id: 1, category_id: 1, bbox: A }]), 'groundTruth.annotations[0].area: expected a finite number, received nothing'],
    [gtOf([ann(5, A)]), 'groundTruth.annotations[0].image_id 5: not an image of the ground truth'],
    [gtOf([ann(1, A, { id: 3 }), ann(1, B, { id: 3 })]), 'groundTruth.annotations[1].id 3: the same id as groundTruth.annotations[0]'],
    [gtOf([ann(1, A, { iscrowd: 'yes' })]), 'groundTruth.annotations[0].iscrowd: expected 0, 1, true or false, received "yes"'],
  ])('ground truth %#', (groundTruth, message) => {
    expect(() => evaluateCocoBoxes(groundTruth, [])).toThrow(message);
  });
});
