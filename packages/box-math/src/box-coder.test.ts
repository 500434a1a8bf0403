import { TORCHVISION_BBOX_XFORM_CLIP, decodeBoxesTfOrder, encodeBoxesTfOrder, swapCodeOrderTfTorchvision } from './box-coder';
import { mulberry32 } from '@mobilenets/random';

const random = (seed: number) => mulberry32(seed); // the project's one seeded generator

/** n random normalised cxcywh boxes with sizes in [0.01, 1). */
function randomBoxes(n: number, next: () => number): Float64Array {
  const out = new Float64Array(4 * n);
  for (let i = 0; i < 4 * n; i += 4) {
    out[i] = next();
    out[i + 1] = next();
    out[i + 2] = 0.01 + 0.99 * next();
    out[i + 3] = 0.01 + 0.99 * next();
  }
  return out;
}

const expectClose = (actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number) => {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) expect(Math.abs(actual[i] - expected[i])).toBeLessThanOrEqual(tolerance);
};

describe('Faster R-CNN box coder, TF order [ty, tx, th, tw]', () => {
  // Anchor centred at (0.5, 0.5), 0.2 wide, 0.4 high; box centred at (0.55, 0.4), 0.4 wide, 0.2 high.
  const anchor = [0.5, 0.5, 0.2, 0.4];
  const box = [0.55, 0.4, 0.4, 0.2];

  it('encodes a hand-worked example: ty = 10·(0.4 − 0.5)/0.4, tx = 10·0.05/0.2, th = 5·log ½, tw = 5·log 2', () => {
    const expected = [-2.5, 2.5, -5 * Math.LN2, 5 * Math.LN2];
    expectClose(encodeBoxesTfOrder(box, anchor, { epsilon: 0 }), expected, 1e-12);
    // TF's EPSILON moves the codes by ~1e-7 here (10·0.1·1e-8/0.4² for ty), not more.
    expectClose(encodeBoxesTfOrder(box, anchor), expected, 1e-6);
    expect(encodeBoxesTfOrder(box, anchor)[0]).not.toBe(-2.5);
    // Unit scale factors give the raw offsets.
    expectClose(encodeBoxesTfOrder(box, anchor, { epsilon: 0, yScale: 1, xScale: 1, heightScale: 1, widthScale: 1 }), [-0.25, 0.25, -Math.LN2, Math.LN2], 1e-12);
  });

  it('decodes the hand-worked example back', () => {
    expectClose(decodeBoxesTfOrder([-2.5, 2.5, -5 * Math.LN2, 5 * Math.LN2], anchor), box, 1e-12);
  });

  it('round-trips random boxes within 1e-9 (epsilon 0), and within the epsilon bound with TF EPSILON', () => {
    const next = random(12);
    const boxes = randomBoxes(500, next);
    const anchors = randomBoxes(500, next);
    expectClose(decodeBoxesTfOrder(encodeBoxesTfOrder(boxes, anchors, { epsilon: 0 }), anchors, { epsilon: 0 }), boxes, 1e-9);
    // With EPSILON on encode only, decoded w = (w + ε)·w_a/(w_a + ε): off by ε·|w − w_a|/w_a ≤ 1e-8·99.
    expectClose(decodeBoxesTfOrder(encodeBoxesTfOrder(boxes, anchors), anchors), boxes, 1e-6);
    // …exactly that: decoded w = (w + ε)·w_a/(w_a + ε), decoded h likewise.
    const decoded = decodeBoxesTfOrder(encodeBoxesTfOrder(boxes, anchors), anchors);
    for (let i = 0; i < boxes.length; i += 4) {
      expect(Math.abs(decoded[i + 2] - ((boxes[i + 2] + 1e-8) * anchors[i + 2]) / (anchors[i + 2] + 1e-8))).toBeLessThanOrEqual(1e-12);
      expect(Math.abs(decoded[i + 3] - ((boxes[i + 3] + 1e-8) * anchors[i + 3]) / (anchors[i + 3] + 1e-8))).toBeLessThanOrEqual(1e-12);
    }
  });

  it('keeps a zero-size box finite when encoding (TF EPSILON)', () => {
    const codes = encodeBoxesTfOrder([0.5, 0.5, 0, 0], anchor);
    for (const v of codes) expect(Number.isFinite(v)).toBe(true);
    expect(codes[2]).toBeCloseTo(5 * Math.log(1e-8 / (0.4 + 1e-8)), 9);
    expect(encodeBoxesTfOrder([0.5, 0.5, 0, 0], anchor, { epsilon: 0 })[2]).toBe(-Infinity);
  });

  it('clamps th/tw before exp only when asked (torchvision bbox_xform_clip = log(1000/16))', () => {
    const codes = [0, 0, 50, 50]; // th = tw = 10 after dividing by 5
    const free = decodeBoxesTfOrder(codes, anchor);
    expect(free[2]).toBeCloseTo(Math.exp(10) * 0.2, 6);
    const clamped = decodeBoxesTfOrder(codes, anchor, { decodeClip: TORCHVISION_BBOX_XFORM_CLIP });
    expect(clamped[2]).toBeCloseTo((1000 / 16) * 0.2, 9);
    expect(clamped[3]).toBeCloseTo((1000 / 16) * 0.4, 9);
  });

  it('swaps to and from torchvision order [tx, ty, tw, th]', () => {
    const tf = [1, 2, 3, 4, 5, 6, 7, 8];
    expect(Array.from(swapCodeOrderTfTorchvision(tf))).toEqual([2, 1, 4, 3, 6, 5, 8, 7]);
    expect(Array.from(swapCodeOrderTfTorchvision(swapCodeOrderTfTorchvision(tf)))).toEqual(tf);
  });

  it('says what is wrong with mismatched inputs and configs', () => {
    expect(() => encodeBoxesTfOrder([...box, ...box], anchor)).toThrow('boxesCxcywh: expected one anchor a box, received 2 boxes and 1 anchors.');
    expect(() => decodeBoxesTfOrder([1, 2, 3], anchor)).toThrow(/codesTfOrder: expected 4 numbers a box/);
    expect(() => encodeBoxesTfOrder(box, anchor, { heightScale: 0 })).toThrow(/heightScale/);
  });
});
