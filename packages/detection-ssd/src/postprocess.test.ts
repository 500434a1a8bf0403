import { postprocessSsd, ssdScores } from './postprocess';

// Three anchors (normalised cxcywh): two overlapping near the top-left, one bottom-right, partly outside.
const ANCHORS = [0.25, 0.25, 0.3, 0.3, 0.27, 0.25, 0.3, 0.3, 0.9, 0.9, 0.4, 0.4];
const logit = (p: number) => Math.log(p / (1 - p));

describe('ssdScores', () => {
  it('sigmoid per class, background column dropped; softmax over background and classes', () => {
    const logits = [5, logit(0.8), logit(0.1), 0, 0, 0];
    const sigmoid = ssdScores(logits, 2, 'sigmoid');
    expect(sigmoid[0]).toBeCloseTo(0.8, 12);
    expect(sigmoid[1]).toBeCloseTo(0.1, 12);
    const softmax = ssdScores(logits, 2, 'softmax');
    const e = [Math.exp(5), Math.exp(logit(0.8)), Math.exp(logit(0.1))];
    expect(softmax[0]).toBeCloseTo(e[1] / (e[0] + e[1] + e[2]), 12);
    expect(softmax[2]).toBeCloseTo(1 / 3, 12); // all-zero logits: uniform over 3 columns
    expect(() => ssdScores([1, 2, 3, 4], 2)).toThrow('expected 3 logits an anchor (2 classes and the background), received 4 numbers');
  });
});

describe('postprocessSsd', () => {
  it('decodes, scores, suppresses within a class, scales to pixels and clips', () => {
    const codes = new Array(12).fill(0); // zero codes: each box is its anchor
    // Anchors 0 and 1 (IoU 0.28 / 0.32 = 0.875 — overlap 0.28 × 0.3 over union 2 · 0.09 − 0.084) are both class 0,
    // anchor 1 weaker: suppressed. Anchor 2 is class 1.
    const logits = [0, logit(0.9), logit(0.01), 0, logit(0.7), logit(0.01), 0, logit(0.01), logit(0.6)];
    const detections = postprocessSsd(codes, logits, { anchorsCxcywh: ANCHORS, classes: 2, imageWidth: 200, imageHeight: 100 });
    expect(detections.map((d) => d.label)).toEqual([0, 1]);
    expect(detections[0].score).toBeCloseTo(0.9, 12);
    expect(detections[0].boxXyxy.map((v) => +v.toFixed(9))).toEqual([20, 10, 80, 40]); // [0.1, 0.1, 0.4, 0.4] × (200, 100)
    expect(detections[1].boxXyxy.map((v) => +v.toFixed(9))).toEqual([140, 70, 200, 100]); // [0.7, 0.7, 1.1, 1.1] clipped to the image
    // A lower IoU threshold than their overlap keeps both of class 0 apart only if they are below it:
    const loose = postprocessSsd(codes, logits, { anchorsCxcywh: ANCHORS, classes: 2, imageWidth: 200, imageHeight: 100, iouThreshold: 0.9 });
    expect(loose.map((d) => d.label)).toEqual([0, 0, 1]);
    const strict = postprocessSsd(codes, logits, { anchorsCxcywh: ANCHORS, classes: 2, imageWidth: 200, imageHeight: 100, minScore: 0.65 });
    expect(strict.map((d) => d.score.toFixed(2))).toEqual(['0.90']);
  });

  it('never reports an excluded class, however high its score; refuses an index that is not a class', () => {
    const codes = new Array(12).fill(0);
    const logits = [0, logit(0.9), logit(0.01), 0, logit(0.7), logit(0.01), 0, logit(0.01), logit(0.6)];
    const options = { anchorsCxcywh: ANCHORS, classes: 2, imageWidth: 200, imageHeight: 100, excludedClasses: [0] };
    expect(postprocessSsd(codes, logits, options).map((d) => [d.label, d.score.toFixed(2)])).toEqual([[1, '0.60']]);
    expect(postprocessSsd(codes, logits, { ...options, excludedClasses: [1] }).map((d) => d.label)).toEqual([0]);
    expect(() => postprocessSsd(codes, logits, { ...options, excludedClasses: [2] })).toThrow('excludedClasses must hold class indices in [0, 2). Received 2.');
  });

  it('a non-zero code moves and scales the box as the TF box coder says', () => {
    // ty = 10 · Δcy / ha and tw = 5 · ln(w / wa): codes [1, 0, 0, 5 · ln 1.5] move cy by 0.3 / 10 and make w 1.5 × 0.3.
    const codes = [1, 0, 0, 5 * Math.log(1.5), 0, 0, 0, 0, 0, 0, 0, 0];
    const logits = [0, logit(0.9), -20, 0, -20, -20, 0, -20, -20];
    const [d] = postprocessSsd(codes, logits, { anchorsCxcywh: ANCHORS, classes: 2, imageWidth: 1, imageHeight: 1 });
    const [x1, y1, x2, y2] = d.boxXyxy;
    expect((x1 + x2) / 2).toBeCloseTo(0.25, 12);
    expect((y1 + y2) / 2).toBeCloseTo(0.25 + 0.03, 12);
    expect(x2 - x1).toBeCloseTo(0.45, 12);
    expect(y2 - y1).toBeCloseTo(0.3, 12);
  });

  it('says when the outputs do not fit the anchors', () => {
    expect(() => postprocessSsd([0, 0, 0, 0], [0, 0, 0], { anchorsCxcywh: ANCHORS, classes: 2, imageWidth: 10, imageHeight: 10 })).toThrow('3 anchors need 12 box codes, received 4');
    expect(() => postprocessSsd(new Array(12).fill(0), [0, 0], { anchorsCxcywh: ANCHORS, classes: 2, imageWidth: 10, imageHeight: 10 })).toThrow('3 anchors and 2 classes need 9 logits, received 2');
  });
});
