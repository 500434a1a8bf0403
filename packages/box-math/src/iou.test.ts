import { iouMatrixXyxy, iouOfPairXyxy, pairwiseIouXyxy } from './iou';

describe('iouMatrixXyxy', () => {
  it('hand-worked 2 × 3 matrix, row-major [nA, nB]', () => {
    const a = [
      0, 0, 2, 2, // area 4
      1, 1, 3, 4, // area 2·3 = 6
    ];
    const b = [
      1, 0, 3, 2, // area 4
      0, 0, 2, 2, // area 4 (same as a[0])
      5, 5, 6, 6, // area 1, far away
    ];
    const m = iouMatrixXyxy(a, b);
    expect(m).toBeInstanceOf(Float64Array);
    expect(m.length).toBe(6);
    // a0·b0: intersection x [1,2] y [0,2] = 1·2 = 2; union 4 + 4 − 2 = 6 → 1/3
    expect(m[0]).toBeCloseTo(1 / 3, 12);
    // a0·b1: identical → 1
    expect(m[1]).toBe(1);
    // a0·b2: disjoint → 0
    expect(m[2]).toBe(0);
    // a1·b0: x [1,3] y [1,2] = 2·1 = 2; union 6 + 4 − 2 = 8 → 1/4
    expect(m[3]).toBeCloseTo(0.25, 12);
    // a1·b1: x [1,2] y [1,2] = 1; union 6 + 4 − 1 = 9 → 1/9
    expect(m[4]).toBeCloseTo(1 / 9, 12);
    expect(m[5]).toBe(0);
  });

  it('boxes that only touch along an edge have IoU 0', () => {
    expect(Array.from(iouMatrixXyxy([0, 0, 1, 1], [1, 0, 2, 1, 0, 1, 1, 2]))).toEqual([0, 0]);
  });

  it('zero-area and inverted boxes give 0, never NaN, even against themselves', () => {
    const degenerate = [
      2, 2, 2, 2, // a point
      0, 0, 4, 0, // a line
      3, 3, 1, 1, // inverted
      0, 0, Number.NaN, 1, // NaN coordinate
    ];
    const m = iouMatrixXyxy(degenerate, [...degenerate, 0, 0, 4, 4]);
    expect(m.length).toBe(4 * 5);
    m.forEach((v) => expect(v).toBe(0));
  });

  it('IoU is symmetric and 1 on the diagonal for real boxes', () => {
    const boxes = [0, 0, 10, 10, 5, 5, 15, 12, -3, 2, 4, 9];
    const m = iouMatrixXyxy(boxes, boxes);
    for (let i = 0; i < 3; i++) {
      expect(m[i * 3 + i]).toBe(1);
      for (let j = 0; j < 3; j++) expect(m[i * 3 + j]).toBeCloseTo(m[j * 3 + i], 15);
    }
  });

  it('empty sides give empty matrices; a bad length is an error naming the side', () => {
    expect(iouMatrixXyxy([], [0, 0, 1, 1]).length).toBe(0);
    expect(iouMatrixXyxy([0, 0, 1, 1], new Float32Array(0)).length).toBe(0);
    expect(() => iouMatrixXyxy([0, 0, 1], [0, 0, 1, 1])).toThrow(/boxesA: expected 4 numbers a box/);
    expect(() => iouMatrixXyxy([0, 0, 1, 1], [0, 0, 1, 1, 2])).toThrow(/boxesB/);
  });
});

describe('pairwiseIouXyxy and iouOfPairXyxy', () => {
  it('pairs box k with box k', () => {
    // pair 0: [0,0,2,2] vs [1,1,3,3]: intersection 1, union 4 + 4 − 1 = 7 → 1/7
    // pair 1: [0,0,4,2] vs [0,0,2,2]: intersection 4, union 8 + 4 − 4 = 8 → 1/2
    const iou = pairwiseIouXyxy(new Float32Array([0, 0, 2, 2, 0, 0, 4, 2]), [1, 1, 3, 3, 0, 0, 2, 2]);
    expect(iou[0]).toBeCloseTo(1 / 7, 12);
    expect(iou[1]).toBeCloseTo(0.5, 12);
    expect(() => pairwiseIouXyxy([0, 0, 1, 1], [])).toThrow(/boxesA has 1 boxes but boxesB has 0/);
  });

  it('the single-pair helper uses the areas it is given', () => {
    // [0,0,2,2] vs [1,0,3,2]: intersection 2, areas 4 and 4 → 2 / 6
    expect(iouOfPairXyxy([0, 0, 2, 2], 0, 4, [9, 9, 9, 9, 1, 0, 3, 2], 1, 4)).toBeCloseTo(1 / 3, 12);
  });
});
