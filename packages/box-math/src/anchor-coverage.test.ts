import { anchorCoverage, formatAnchorCoverage } from './anchor-coverage';

// Three anchors: the top-left quarter, the bottom-right quarter, the whole image.
const ANCHORS = [0, 0, 0.5, 0.5, 0.5, 0.5, 1, 1, 0, 0, 1, 1];

describe('anchorCoverage', () => {
  const images = [
    // 100×100 pixels: the top-left quarter (2500 px², medium: IoU 1 with anchor 0, 0.25 with the whole image),
    // a 10-pixel box inside it (100 px², small: IoU 0.04 at best) and the whole image (large: IoU 1 with anchor 2).
    { boxesXyxy: [0, 0, 0.5, 0.5, 0.1, 0.1, 0.2, 0.2, 0, 0, 1, 1], width: 100, height: 100 },
    // 1000×1000: 0.6 of each side (large): IoU 0.25 / 0.36 ≈ 0.69 with anchor 0, 0.36 with the whole image.
    { boxesXyxy: [0, 0, 0.6, 0.6], width: 1000, height: 1000 },
    { boxesXyxy: [], width: 10, height: 10 },
  ];

  it('counts, per COCO size group, the boxes an anchor reaches at the threshold and the anchors that do', () => {
    const c = anchorCoverage(images, ANCHORS);
    expect(c.all).toEqual({ boxes: 4, covered: 3, anchorsAtThreshold: 3 });
    expect(c.small).toEqual({ boxes: 1, covered: 0, anchorsAtThreshold: 0 });
    expect(c.medium).toEqual({ boxes: 1, covered: 1, anchorsAtThreshold: 1 });
    expect(c.large).toEqual({ boxes: 2, covered: 2, anchorsAtThreshold: 2 });
  });

  it('counts every anchor at or above a lower threshold', () => {
    const c = anchorCoverage(images, ANCHORS, { iouThreshold: 0.25 });
    // medium: anchor 0 (1) and the whole image (0.25); large: all three for the whole image (0.25, 0.25, 1), anchors 0 and 2 for the other.
    expect(c.medium.anchorsAtThreshold).toBe(2);
    expect(c.large.anchorsAtThreshold).toBe(5);
    expect(c.small.covered).toBe(0);
  });

  it('formats one line', () => {
    expect(formatAnchorCoverage(anchorCoverage(images, ANCHORS))).toBe('75 % of 4 boxes have an anchor at IoU ≥ 0.5 (small 0 %, medium 100 %, large 100 %), 0.8 such anchors a box on average');
    expect(formatAnchorCoverage(anchorCoverage([], ANCHORS))).toBe('- of 0 boxes have an anchor at IoU ≥ 0.5 (small -, medium -, large -), 0.0 such anchors a box on average');
  });

  it('rejects a bad threshold or image size, naming it', () => {
    expect(() => anchorCoverage(images, ANCHORS, { iouThreshold: 0 })).toThrow(/iouThreshold must be in \(0, 1\]/);
    expect(() => anchorCoverage([{ boxesXyxy: [0, 0, 1, 1], width: 0, height: 5 }], ANCHORS)).toThrow(/image 0 must have a positive width and height/);
  });
});
