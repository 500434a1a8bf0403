import { BOX_FORMATS, boxAreasXyxy, boxCount, clipBoxesXyxy, convertBoxes, scaleBoxesXyxy } from './formats';

// One box in every format: corners (10, 20)–(40, 80).
const ONE = { xyxy: [10, 20, 40, 80], yxyx: [20, 10, 80, 40], cxcywh: [25, 50, 30, 60], xywh: [10, 20, 30, 60] } as const;

describe('box formats', () => {
  it.each(BOX_FORMATS.flatMap((from) => BOX_FORMATS.map((to) => [from, to] as const)))('%s → %s', (from, to) => {
    expect(Array.from(convertBoxes(ONE[from], from, to))).toEqual(ONE[to]);
  });

  it('converts many boxes and round-trips', () => {
    const xyxy = [0, 0, 1, 1, 0.25, 0.5, 0.75, 1.5, -3, -2, 5, 7];
    for (const f of BOX_FORMATS) {
      const back = convertBoxes(convertBoxes(xyxy, 'xyxy', f), f, 'xyxy');
      back.forEach((v, i) => expect(v).toBeCloseTo(xyxy[i], 12));
    }
  });

  it('areas (inverted boxes count 0), clipping and scaling', () => {
    expect(Array.from(boxAreasXyxy([0, 0, 2, 3, 5, 5, 4, 9, 1, 1, 1, 4]))).toEqual([6, 0, 0]);
    expect(Array.from(clipBoxesXyxy([-5, 2, 120, 30], 100, 20))).toEqual([0, 2, 100, 20]);
    expect(Array.from(scaleBoxesXyxy([0.1, 0.5, 0.5, 1], 200, 100))).toEqual([20, 50, 100, 100]);
  });

  it('says what is wrong with a flat array that is not 4 numbers a box', () => {
    expect(() => boxCount([1, 2, 3, 4, 5], 'ground truth')).toThrow('ground truth: expected 4 numbers a box, received 5 numbers');
    expect(() => convertBoxes([1, 2, 3], 'xyxy', 'xywh')).toThrow(/multiple of 4/);
  });
});
