import {
  SSD_MOBILENET_V1_300_FEATURE_MAP_SIZES,
  ssdAnchorCount,
  ssdAnchorsCxcywh,
  ssdAnchorsPerLocation,
  ssdAnchorsYxyx,
  ssdBoxSpecs,
  ssdLayerScales,
} from './ssd-anchors';

/** Anchor `i` of flat cxcywh anchors. */
const anchorAt = (a: Float64Array, i: number) => Array.from(a.subarray(4 * i, 4 * i + 4));

/** Expected cxcywh of an anchor from TF's tile_anchors formula: centre (x + 0.5)/gridW, (y + 0.5)/gridH; w = s·√r, h = s/√r. */
const tfAnchor = (x: number, y: number, gridW: number, gridH: number, scale: number, ratio: number) => [
  (x + 0.5) / gridW,
  (y + 0.5) / gridH,
  scale * Math.sqrt(ratio),
  scale / Math.sqrt(ratio),
];

const expectClose = (actual: number[], expected: number[]) => {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((v, j) => expect(v).toBeCloseTo(expected[j], 12));
};

describe('SSD anchors (TF create_ssd_anchors)', () => {
  const anchors = ssdAnchorsCxcywh();
  // Scales s_k = 0.2 + 0.75·k/5, then 1.0.
  const s = [0.2, 0.35, 0.5, 0.65, 0.8, 0.95, 1];

  it('has 1917 anchors at 300×300: 19·19·3 + (10·10 + 5·5 + 3·3 + 2·2 + 1)·6', () => {
    expect(19 * 19 * 3 + (10 * 10 + 5 * 5 + 3 * 3 + 2 * 2 + 1) * 6).toBe(1917);
    expect(anchors.length).toBe(4 * 1917);
    expect(ssdAnchorCount()).toBe(1917);
    expect(ssdAnchorsPerLocation()).toEqual([3, 6, 6, 6, 6, 6]);
  });

  it('scales are min + (max − min)·k/(n − 1), then 1.0', () => {
    ssdLayerScales().forEach((v, k) => expect(v).toBeCloseTo(s[k], 12));
    expect(ssdLayerScales({ numLayers: 2, scales: [0.1, 0.3] })).toEqual([0.1, 0.3, 1]);
  });

  it('lowest layer is reduced to (0.1, 1), (s0, 2), (s0, 1/2); other layers: ratios then the interpolated anchor', () => {
    const specs = ssdBoxSpecs();
    expect(specs[0]).toEqual([
      { scale: 0.1, aspectRatio: 1 },
      { scale: 0.2, aspectRatio: 2 },
      { scale: 0.2, aspectRatio: 0.5 },
    ]);
    expect(specs[1].map((x) => x.aspectRatio)).toEqual([1, 2, 0.5, 3, 1 / 3, 1]);
    expect(specs[1][5].scale).toBeCloseTo(Math.sqrt(0.35 * 0.5), 12);
    expect(specs[5][5].scale).toBeCloseTo(Math.sqrt(0.95 * 1.0), 12);
  });

  it('first and last anchors of each layer follow the TF formula', () => {
    const sizes = SSD_MOBILENET_V1_300_FEATURE_MAP_SIZES.map(([h]) => h);
    const perLocation = [3, 6, 6, 6, 6, 6];
    let start = 0;
    sizes.forEach((f, k) => {
      const count = f * f * perLocation[k];
      const first = anchorAt(anchors, start);
      const last = anchorAt(anchors, start + count - 1);
      if (k === 0) {
        expectClose(first, tfAnchor(0, 0, 19, 19, 0.1, 1)); //            (0.1, 1) at cell (0, 0)
        expectClose(last, tfAnchor(18, 18, 19, 19, 0.2, 0.5)); //        (s0, 1/2) at cell (18, 18)
      } else {
        expectClose(first, tfAnchor(0, 0, f, f, s[k], 1)); //             (s_k, 1)
        expectClose(last, tfAnchor(f - 1, f - 1, f, f, Math.sqrt(s[k] * s[k + 1]), 1)); // interpolated
      }
      start += count;
    });
    expect(start).toBe(1917);
  });

  it('lays out specs fastest, then x, then y (row-major cells)', () => {
    // Layer 0 cell (y=0, x=1) starts at anchor 3; cell (y=1, x=0) at anchor 19·3.
    expectClose(anchorAt(anchors, 3), tfAnchor(1, 0, 19, 19, 0.1, 1));
    expectClose(anchorAt(anchors, 4), tfAnchor(1, 0, 19, 19, 0.2, 2));
    expectClose(anchorAt(anchors, 19 * 3), tfAnchor(0, 1, 19, 19, 0.1, 1));
    // Layer 1, cell (y=2, x=7), spec 3 (ratio 3): index 1083 + (2·10 + 7)·6 + 3.
    expectClose(anchorAt(anchors, 1083 + (2 * 10 + 7) * 6 + 3), tfAnchor(7, 2, 10, 10, 0.35, 3));
  });

  it('is not clipped: the 1×1 layer anchor of ratio 3 sticks out of the unit square', () => {
    const yxyx = ssdAnchorsYxyx();
    const i = 1917 - 3; // layer 5, the only cell, spec 3 (ratio 3): width 0.95·√3 > 1
    expect(yxyx[4 * i + 1]).toBeLessThan(0);
    expect(yxyx[4 * i + 3]).toBeGreaterThan(1);
    expectClose(anchorAt(yxyx, i), [0.5 - 0.95 / Math.sqrt(3) / 2, 0.5 - (0.95 * Math.sqrt(3)) / 2, 0.5 + 0.95 / Math.sqrt(3) / 2, 0.5 + (0.95 * Math.sqrt(3)) / 2]);
  });

  it("older TF order puts the interpolated anchor right after ratio 1 ('after-ratio-1')", () => {
    const specs = ssdBoxSpecs({ interpolatedAnchorPlacement: 'after-ratio-1' });
    expect(specs[0]).toHaveLength(3);
    expect(specs[2].map((x) => x.aspectRatio)).toEqual([1, 1, 2, 0.5, 3, 1 / 3]);
    expect(specs[2][1].scale).toBeCloseTo(Math.sqrt(0.5 * 0.65), 12);
    expect(ssdAnchorCount(SSD_MOBILENET_V1_300_FEATURE_MAP_SIZES, { interpolatedAnchorPlacement: 'after-ratio-1' })).toBe(1917);
  });

  it('takes other feature maps and options: face-api 512×512 (5118), no interpolation, no reduced layer', () => {
    const faceApi: [number, number][] = [[32, 32], [16, 16], [8, 8], [4, 4], [2, 2], [1, 1]];
    expect(ssdAnchorCount(faceApi)).toBe(5118);
    expect(ssdAnchorsPerLocation({ interpolatedScaleAspectRatio: 0, reduceBoxesInLowestLayer: false })).toEqual([5, 5, 5, 5, 5, 5]);
    // Non-square maps: [h, w] = [2, 3] → centres x in thirds, y in halves.
    const a = ssdAnchorsCxcywh([[2, 3]], { numLayers: 1, scales: [0.5], reduceBoxesInLowestLayer: false, aspectRatios: [1] });
    expect(a.length).toBe(4 * 2 * 3 * 2);
    expectClose(anchorAt(a, 0), [1 / 6, 1 / 4, 0.5, 0.5]);
    expectClose(anchorAt(a, 1), [1 / 6, 1 / 4, Math.sqrt(0.5), Math.sqrt(0.5)]);
    expectClose(anchorAt(a, 2 * 5 + 1), [5 / 6, 3 / 4, Math.sqrt(0.5), Math.sqrt(0.5)]);
  });

  it('keeps anchors square on a non-square image and divides pixel strides/offsets by the image size', () => {
    const a = ssdAnchorsCxcywh([[1, 2]], {
      numLayers: 1,
      scales: [0.5],
      reduceBoxesInLowestLayer: false,
      aspectRatios: [1],
      interpolatedScaleAspectRatio: 0,
      imageHeight: 100,
      imageWidth: 200,
      heightStride: [100],
      widthStride: [100],
      heightOffset: [50],
      widthOffset: [40],
    });
    // Base size (min/h, min/w) = (1, 0.5): a 0.5-scale square anchor is 50 px both ways.
    expectClose(anchorAt(a, 0), [0.2, 0.5, 0.25, 0.5]);
    expectClose(anchorAt(a, 1), [0.7, 0.5, 0.25, 0.5]);
  });

  it('takes explicit box specs a layer (TF box_specs_list) in place of the ones the scales describe', () => {
    const boxSpecs = [
      [{ scale: 0.1, aspectRatio: 1 }, { scale: 0.3, aspectRatio: 4 }],
      [{ scale: 0.8, aspectRatio: 1 }],
    ];
    const config = { numLayers: 2, boxSpecs, reduceBoxesInLowestLayer: true, minScale: 0.5 };
    expect(ssdAnchorsPerLocation(config)).toEqual([2, 1]);
    const a = ssdAnchorsCxcywh([[2, 2], [1, 1]], config);
    expect(a.length).toBe(4 * (2 * 4 + 1));
    // Cell (0, 0) of the 2 × 2 map: centre (0.25, 0.25); the 4:1 anchor is 0.3·2 wide and 0.3/2 high.
    expectClose(anchorAt(a, 0), [0.25, 0.25, 0.1, 0.1]);
    expectClose(anchorAt(a, 1), [0.25, 0.25, 0.6, 0.15]);
    // Cell (0, 1): x moves by the stride.
    expectClose(anchorAt(a, 2), [0.75, 0.25, 0.1, 0.1]);
    expectClose(anchorAt(a, 8), [0.5, 0.5, 0.8, 0.8]);
    // One layer needs no scales when its specs are given.
    expect(ssdAnchorsPerLocation({ numLayers: 1, boxSpecs: [[{ scale: 0.5, aspectRatio: 1 }]] })).toEqual([1]);
    expect(() => ssdBoxSpecs({ numLayers: 2, boxSpecs: [[{ scale: 0.1, aspectRatio: 1 }]] })).toThrow(/boxSpecs: expected one list of specs a layer \(2\)/);
    expect(() => ssdBoxSpecs({ numLayers: 1, boxSpecs: [[]] })).toThrow(/boxSpecs\[0\]: expected at least one/);
    expect(() => ssdBoxSpecs({ numLayers: 1, boxSpecs: [[{ scale: 0, aspectRatio: 1 }]] })).toThrow(/boxSpecs\[0\]\[0\]: expected a positive scale/);
  });

  it('rejects configs that do not fit', () => {
    expect(() => ssdAnchorsCxcywh([[19, 19]])).toThrow(/featureMapSizes: expected one \[height, width\] a layer \(6\), received 1/);
    expect(() => ssdAnchorCount(SSD_MOBILENET_V1_300_FEATURE_MAP_SIZES, { scales: [0.2, 0.3] })).toThrow(/scales/);
    expect(() => ssdBoxSpecs({ aspectRatios: [1, 0] })).toThrow(/aspectRatios/);
    expect(() => ssdBoxSpecs({ numLayers: 1 })).toThrow(/numLayers/);
  });
});
