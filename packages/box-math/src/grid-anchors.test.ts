import { gridAnchorsCxcywh, gridAnchorsPerLocation, gridAnchorsXyxy, gridAnchorsYxyx } from './grid-anchors';

const anchorAt = (a: Float64Array, i: number) => Array.from(a.subarray(4 * i, 4 * i + 4));
const expectClose = (actual: number[], expected: number[]) => {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((v, j) => expect(v).toBeCloseTo(expected[j], 9));
};

describe('Faster R-CNN grid anchors (TF GridAnchorGenerator)', () => {
  it('has 12 anchors a cell with the COCO config (4 scales × 3 ratios)', () => {
    expect(gridAnchorsPerLocation()).toBe(12);
    expect(gridAnchorsCxcywh(2, 3).length).toBe(4 * 2 * 3 * 12);
  });

  it('2×3 map, worked by hand: centres at multiples of 16 from 0, ratios outer, scales inner', () => {
    const a = gridAnchorsYxyx(2, 3);
    const r = Math.SQRT1_2; // √0.5
    // Cell (y=0, x=0), anchor 0: ratio 0.5, scale 0.25 → h = 64/√0.5 = 90.51, w = 64·√0.5 = 45.25, centred at (0, 0).
    expectClose(anchorAt(a, 0), [-32 / r, -32 * r, 32 / r, 32 * r]);
    // Anchor 3: ratio 0.5, scale 2 → h = 512/√0.5, w = 512·√0.5.
    expectClose(anchorAt(a, 3), [-256 / r, -256 * r, 256 / r, 256 * r]);
    // Anchor 6: ratio 1, scale 1 → a 256×256 square.
    expectClose(anchorAt(a, 6), [-128, -128, 128, 128]);
    // Anchor 11: ratio 2, scale 2 → h = 512/√2, w = 512·√2.
    expectClose(anchorAt(a, 11), [-256 / Math.SQRT2, -256 * Math.SQRT2, 256 / Math.SQRT2, 256 * Math.SQRT2]);
    // Cell (y=0, x=2) starts at 2·12: centre (0, 32); anchor 6 of it is the 256 square.
    expectClose(anchorAt(a, 2 * 12 + 6), [-128, 32 - 128, 128, 32 + 128]);
    // Cell (y=1, x=0) starts at 3·12: centre (16, 0).
    expectClose(anchorAt(a, 3 * 12 + 6), [16 - 128, -128, 16 + 128, 128]);
    // Last anchor: cell (y=1, x=2), centre (16, 32), ratio 2, scale 2.
    expectClose(anchorAt(a, 6 * 12 - 1), [16 - 256 / Math.SQRT2, 32 - 256 * Math.SQRT2, 16 + 256 / Math.SQRT2, 32 + 256 * Math.SQRT2]);
  });

  it('gives the same anchors in cxcywh, yxyx and xyxy', () => {
    const cx = gridAnchorsCxcywh(2, 3);
    const xyxy = gridAnchorsXyxy(2, 3);
    expectClose(anchorAt(cx, 3 * 12 + 6), [0, 16, 256, 256]);
    expectClose(anchorAt(xyxy, 3 * 12 + 6), [-128, 16 - 128, 128, 16 + 128]);
  });

  it('takes other strides, offsets, base sizes, scales and ratios', () => {
    const a = gridAnchorsCxcywh(2, 2, { scales: [1], aspectRatios: [4], height: 10, width: 20, heightStride: 8, widthStride: 4, heightOffset: 3, widthOffset: 1 });
    expect(a.length).toBe(16);
    // ratio 4: w = 20·2 = 40, h = 10/2 = 5; cell (y=1, x=1) centre (x 1 + 4, y 3 + 8).
    expectClose(anchorAt(a, 3), [5, 11, 40, 5]);
  });

  it('rejects bad sizes and configs', () => {
    expect(() => gridAnchorsCxcywh(0, 3)).toThrow(/featureHeight\/featureWidth/);
    expect(() => gridAnchorsCxcywh(2, 3, { scales: [] })).toThrow(/scales/);
    expect(() => gridAnchorsCxcywh(2, 3, { heightStride: 0 })).toThrow(/heightStride/);
  });
});
