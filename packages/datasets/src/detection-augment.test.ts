import { mulberry32, type Random } from '@mobilenets/random';
import { centreInside, cropBoxesXyxy, flipBoxesXyxy, resolveSsdCropOptions, resolveZoomOutOptions, sampleSsdCrop, sampleZoomOut, windowIoU, zoomOutBoxesXyxy, type BoxWindow } from './detection-augment';

const close = (actual: ArrayLike<number>, expected: number[]) => {
  expect(actual.length).toBe(expected.length);
  expected.forEach((v, i) => expect(actual[i]).toBeCloseTo(v, 6));
};

/** A generator that replays fixed draws (then fails loudly). */
function replay(values: number[]): Random {
  let k = 0;
  return () => {
    if (k >= values.length) throw new Error('replay: out of draws');
    return values[k++];
  };
}

describe('flipBoxesXyxy', () => {
  it('mirrors x: [0.1, 0.2, 0.4, 0.5] → [0.6, 0.2, 0.9, 0.5]', () => {
    close(flipBoxesXyxy([0.1, 0.2, 0.4, 0.5, 0, 0, 1, 1]), [0.6, 0.2, 0.9, 0.5, 0, 0, 1, 1]);
  });
  it('is its own inverse and leaves the input alone', () => {
    const boxes = Float32Array.from([0.05, 0.1, 0.3, 0.9, 0.5, 0.5, 0.75, 0.6]);
    const copy = Float32Array.from(boxes);
    close(flipBoxesXyxy(flipBoxesXyxy(boxes)), Array.from(boxes));
    expect(boxes).toEqual(copy);
    expect(flipBoxesXyxy([])).toEqual(new Float32Array(0));
  });
  it('rejects a length that is not a multiple of 4', () => {
    expect(() => flipBoxesXyxy([0, 0, 1])).toThrow(RangeError);
  });
});

describe('cropBoxesXyxy', () => {
  const window: BoxWindow = [0.2, 0.2, 0.6, 0.7];
  it('keeps boxes whose centre is inside, re-normalised; labels and ignore follow', () => {
    const boxes = [
      0.3, 0.3, 0.5, 0.5, // inside entirely → ((0.1, 0.1, 0.3, 0.3) / (0.4, 0.5))
      0.0, 0.0, 0.3, 0.3, // centre (0.15, 0.15): outside, dropped although it overlaps
      0.5, 0.6, 0.9, 0.9, // centre (0.7, 0.75): outside, dropped
      0.1, 0.4, 0.5, 0.6, // centre (0.3, 0.5): inside, clipped on the left
    ];
    const out = cropBoxesXyxy(boxes, [3, 1, 2, 0], [0, 0, 0, 1], window);
    close(out.boxesXyxy, [0.25, 0.2, 0.75, 0.6, 0, 0.4, 0.75, 0.8]);
    expect(Array.from(out.labels)).toEqual([3, 0]);
    expect(Array.from(out.ignore)).toEqual([0, 1]);
    expect(Array.from(out.kept)).toEqual([0, 3]);
  });
  it('clips a box larger than the window to the whole window', () => {
    const out = cropBoxesXyxy([0, 0, 1, 1], [5], [0], window);
    close(out.boxesXyxy, [0, 0, 1, 1]);
  });
  it('clips on every side', () => {
    // centre (0.4, 0.45) inside; sticks out left, top, right and bottom of [0.2, 0.2, 0.6, 0.7]
    const out = cropBoxesXyxy([0.1, 0.1, 0.7, 0.8], [0], [0], window);
    close(out.boxesXyxy, [0, 0, 1, 1]);
    // sticks out right and bottom only
    const out2 = cropBoxesXyxy([0.4, 0.45, 0.8, 0.9], [0], [0], [0.2, 0.2, 0.7, 0.8]);
    close(out2.boxesXyxy, [0.4, 0.25 / 0.6, 1, 1]);
  });
  it('with the whole image keeps everything unchanged', () => {
    const boxes = [0.1, 0.2, 0.4, 0.5, 0, 0, 1, 1, 0.9, 0.9, 1, 1];
    const out = cropBoxesXyxy(boxes, [0, 1, 2], [1, 0, 0], [0, 0, 1, 1]);
    close(out.boxesXyxy, boxes);
    expect(Array.from(out.labels)).toEqual([0, 1, 2]);
    expect(Array.from(out.ignore)).toEqual([1, 0, 0]);
  });
  it('returns empty arrays when nothing is kept, and checks its input', () => {
    const out = cropBoxesXyxy([0, 0, 0.1, 0.1], [0], [0], window);
    expect(out.boxesXyxy.length).toBe(0);
    expect(out.labels.length).toBe(0);
    expect(() => cropBoxesXyxy([0, 0, 1, 1], [0, 1], [0], window)).toThrow(RangeError);
    expect(() => cropBoxesXyxy([0, 0, 1, 1], [0], [0], [0.5, 0, 0.5, 1])).toThrow(RangeError);
  });
});

describe('windowIoU and centreInside', () => {
  it('compute the hand-worked values', () => {
    expect(windowIoU([0, 0, 0.5, 0.5], 0, [0, 0, 1, 1])).toBeCloseTo(0.25, 12);
    expect(windowIoU([0, 0, 0.5, 0.5], 0, [0.25, 0, 0.75, 0.5])).toBeCloseTo(1 / 3, 12);
    expect(windowIoU([0, 0, 0.5, 0.5], 0, [0.5, 0.5, 1, 1])).toBe(0);
    expect(centreInside([0, 0, 0.5, 0.5], 0, [0.25, 0.25, 1, 1])).toBe(true);
    expect(centreInside([0, 0, 0.4, 0.5], 0, [0.25, 0.25, 1, 1])).toBe(false);
  });
});

describe('sampleSsdCrop', () => {
  const boxes = [0.1, 0.1, 0.4, 0.5, 0.5, 0.3, 0.9, 0.95, 0.45, 0.45, 0.55, 0.55];

  it('returns the whole image when the "entire image" case (min IoU ≥ 1) is drawn', () => {
    expect(sampleSsdCrop(boxes, replay([0.99]))).toEqual({ window: [0, 0, 1, 1], minIoU: null });
    expect(sampleSsdCrop(boxes, mulberry32(3), { minIoUs: [1] })).toEqual({ window: [0, 0, 1, 1], minIoU: null });
  });

  it('follows its draws: case, area, ratio, position', () => {
    // case 0 of [0, …] (min IoU 0); area 0.1 + 0.9·(1/3) = 0.4; ratio log-uniform in [0.5, 2] at ½ → 1;
    // w = h = sqrt(0.4); x1 = 0.5·(1 − w), y1 = 0 — the centre of box 2 (0.5, 0.5) is inside.
    const crop = sampleSsdCrop(boxes, replay([0, 1 / 3, 0.5, 0.5, 0]));
    const side = Math.sqrt(0.4);
    expect(crop.minIoU).toBe(0);
    close(crop.window, [(1 - side) / 2, 0, (1 + side) / 2, side]);
  });

  it('rejects patches that contain no box centre and falls back to the whole image after `trials`', () => {
    // every trial: tiny patch in the top-right corner, where no centre lies
    const draws = [0];
    for (let t = 0; t < 5; t++) draws.push(0, 0.5, 0.9999, 0);
    const crop = sampleSsdCrop([0, 0, 0.2, 0.2], replay(draws), { trials: 5, area: [0.01, 1] });
    expect(crop).toEqual({ window: [0, 0, 1, 1], minIoU: null });
  });

  it('returns the whole image when there is no object to satisfy the constraint (none, or only ignored ones)', () => {
    expect(sampleSsdCrop([], replay([0]))).toEqual({ window: [0, 0, 1, 1], minIoU: null });
    expect(sampleSsdCrop([0, 0, 0.5, 0.5], replay([0.3]), {}, [1])).toEqual({ window: [0, 0, 1, 1], minIoU: null });
  });

  it('is deterministic for a seed and varies across seeds', () => {
    const a = Array.from({ length: 20 }, (_, s) => sampleSsdCrop(boxes, mulberry32(s)));
    const b = Array.from({ length: 20 }, (_, s) => sampleSsdCrop(boxes, mulberry32(s)));
    expect(b).toEqual(a);
    expect(new Set(a.map((c) => c.window.join(','))).size).toBeGreaterThan(10);
  });

  it('holds its invariants over many draws: a window in [0, 1] of the allowed area and ratio, meeting its IoU constraint with a kept object', () => {
    const random = mulberry32(12345);
    const o = resolveSsdCropOptions();
    const seen = new Map<string, number>();
    for (let k = 0; k < 2000; k++) {
      // 1–4 random boxes
      const n = 1 + Math.floor(random() * 4);
      const bs: number[] = [];
      for (let i = 0; i < n; i++) {
        const w = 0.02 + random() * 0.8;
        const h = 0.02 + random() * 0.8;
        const x = random() * (1 - w);
        const y = random() * (1 - h);
        bs.push(x, y, x + w, y + h);
      }
      const crop = sampleSsdCrop(bs, random);
      const key = crop.minIoU === null ? 'whole' : String(crop.minIoU);
      seen.set(key, (seen.get(key) ?? 0) + 1);
      const [x1, y1, x2, y2] = crop.window;
      expect(x1).toBeGreaterThanOrEqual(0);
      expect(y1).toBeGreaterThanOrEqual(0);
      expect(x2).toBeLessThanOrEqual(1);
      expect(y2).toBeLessThanOrEqual(1);
      const area = (x2 - x1) * (y2 - y1);
      const ratio = (x2 - x1) / (y2 - y1);
      if (crop.minIoU === null) {
        expect(crop.window).toEqual([0, 0, 1, 1]);
        continue;
      }
      expect(area).toBeGreaterThanOrEqual(o.area[0] - 1e-9);
      expect(area).toBeLessThanOrEqual(o.area[1] + 1e-9);
      expect(ratio).toBeGreaterThanOrEqual(o.aspectRatio[0] - 1e-9);
      expect(ratio).toBeLessThanOrEqual(o.aspectRatio[1] + 1e-9);
      const out = cropBoxesXyxy(bs, Array.from({ length: n }, (_, i) => i), new Array<number>(n).fill(0), crop.window);
      expect(out.kept.length).toBeGreaterThan(0);
      expect(Math.max(...Array.from(out.kept, (i) => windowIoU(bs, i, crop.window)))).toBeGreaterThanOrEqual(crop.minIoU);
      for (const v of out.boxesXyxy) {
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
      }
      for (let i = 0; i < out.kept.length; i++) {
        expect(out.boxesXyxy[4 * i + 2]).toBeGreaterThan(out.boxesXyxy[4 * i]);
        expect(out.boxesXyxy[4 * i + 3]).toBeGreaterThan(out.boxesXyxy[4 * i + 1]);
      }
    }
    // every case occurs; the whole image is 1 case in 7 plus the fallbacks of hard cases
    for (const key of ['whole', '0', '0.1', '0.3', '0.5', '0.7']) expect(seen.get(key) ?? 0).toBeGreaterThan(50);
    expect(seen.get('whole')).toBeGreaterThan(2000 / 7 - 50);
  });

  it('checks its options', () => {
    expect(() => sampleSsdCrop([], mulberry32(0), { minIoUs: [] })).toThrow(RangeError);
    expect(() => sampleSsdCrop([], mulberry32(0), { area: [0, 1] })).toThrow(RangeError);
    expect(() => sampleSsdCrop([], mulberry32(0), { area: [0.5, 1.2] })).toThrow(RangeError);
    expect(() => sampleSsdCrop([], mulberry32(0), { aspectRatio: [2, 1] })).toThrow(RangeError);
    expect(() => sampleSsdCrop([], mulberry32(0), { trials: 0 })).toThrow(RangeError);
    expect(() => sampleSsdCrop([0, 0, 1], mulberry32(0))).toThrow(RangeError);
  });
});

describe('zoom-out', () => {
  it('draws nothing more when the first draw says no, else a square of side 1 / s inside the canvas', () => {
    expect(sampleZoomOut(replay([0.5]), { probability: 0.5 })).toBeNull();
    // 0.25 < 0.5: zoomed; s = 1 + 0.5 · (2 − 1) = 1.5, side 2/3; x1 = 0 + 1 · (1/3), y1 = 0.
    close(sampleZoomOut(replay([0.25, 0.5, 1, 0]), { probability: 0.5, maxScale: 2 })!, [1 / 3, 0, 1, 2 / 3]);
    // maxScale 1: the whole canvas, wherever the draws fall.
    close(sampleZoomOut(replay([0, 0.9, 0.3, 0.7]), { probability: 1, maxScale: 1 })!, [0, 0, 1, 1]);
    expect(sampleZoomOut(replay([0.99, 0, 0, 0]), { probability: 1 })).not.toBeNull();
    expect(sampleZoomOut(replay([0]), { probability: 0 })).toBeNull();
  });

  it('placements stay inside the canvas with sides in [1 / maxScale, 1], about half the time by default', () => {
    const random = mulberry32(5);
    let zoomed = 0;
    for (let i = 0; i < 2000; i++) {
      const p = sampleZoomOut(random, { maxScale: 3 });
      if (p === null) continue;
      zoomed++;
      const side = p[2] - p[0];
      expect(p[3] - p[1]).toBeCloseTo(side, 9);
      expect(side).toBeGreaterThanOrEqual(1 / 3 - 1e-9);
      expect(side).toBeLessThanOrEqual(1);
      expect(p[0]).toBeGreaterThanOrEqual(0);
      expect(p[1]).toBeGreaterThanOrEqual(0);
      expect(p[2]).toBeLessThanOrEqual(1 + 1e-9);
      expect(p[3]).toBeLessThanOrEqual(1 + 1e-9);
    }
    expect(zoomed).toBeGreaterThan(900);
    expect(zoomed).toBeLessThan(1100);
  });

  it('moves boxes onto the placement: [0, 0, 1, 1] becomes the placement, [0.5, 0.5, 1, 1] its lower right quarter', () => {
    close(zoomOutBoxesXyxy([0, 0, 1, 1, 0.5, 0.5, 1, 1], [0.2, 0.4, 0.6, 0.8]), [0.2, 0.4, 0.6, 0.8, 0.4, 0.6, 0.6, 0.8]);
    expect(zoomOutBoxesXyxy([], [0, 0, 1, 1])).toHaveLength(0);
    expect(() => zoomOutBoxesXyxy([0, 0, 1, 1], [0.5, 0, 0.4, 1])).toThrow('placement must be');
    expect(() => zoomOutBoxesXyxy([0, 0, 1], [0, 0, 1, 1])).toThrow('4 numbers a box');
  });

  it('checks its options', () => {
    expect(resolveZoomOutOptions()).toEqual({ probability: 0.5, maxScale: 2 });
    expect(() => resolveZoomOutOptions({ maxScale: 0.5 })).toThrow('maxScale must be a finite number ≥ 1. Received 0.5.');
    expect(() => resolveZoomOutOptions({ probability: 2 })).toThrow('probability must be in [0, 1]. Received 2.');
  });
});
