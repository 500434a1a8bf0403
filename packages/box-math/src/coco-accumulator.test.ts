import { COCO_SUMMARY_NAMES, CocoBoxAccumulator } from './coco-accumulator';
import { evaluateCocoBoxes } from './coco-eval';

describe('CocoBoxAccumulator', () => {
  it('scales normalised ground truth to each image\'s pixels and gives the same numbers as COCO JSON written by hand', () => {
    const coco = new CocoBoxAccumulator(2);
    // 200×100 px: the object [0.1, 0.2, 0.6, 0.8] is x 20–120, y 20–80 → bbox [20, 20, 100, 60].
    const a = coco.addImage({ widthPx: 200, heightPx: 100, boxesXyxy: [0.1, 0.2, 0.6, 0.8, 0.7, 0.1, 0.9, 0.3], labels: [0, 1] });
    const b = coco.addImage({ widthPx: 50, heightPx: 50, boxesXyxy: [0, 0, 1, 1], labels: [1], ignore: [1], areas: [99] });
    coco.addDetections(a, [{ boxXyxy: [20, 20, 120, 80], label: 0, score: 0.9 }, { boxXyxy: [0, 0, 10, 10], label: 1, score: 0.8 }]);
    coco.addDetections(b, [{ boxXyxy: [0, 0, 50, 50], label: 1, score: 0.7 }]);
    const got = coco.evaluate();
    const byHand = evaluateCocoBoxes(
      {
        images: [{ id: 1 }, { id: 2 }],
        annotations: [
          { id: 1, image_id: 1, category_id: 1, bbox: [20, 20, 100, 60], area: 6000, iscrowd: 0 },
          { id: 2, image_id: 1, category_id: 2, bbox: [140, 10, 40, 20], area: 800, iscrowd: 0 },
          { id: 3, image_id: 2, category_id: 2, bbox: [0, 0, 50, 50], area: 99, iscrowd: 1 },
        ],
        categories: [{ id: 1, name: 'a' }, { id: 2, name: 'b' }],
      },
      [{ image_id: 1, category_id: 1, bbox: [20, 20, 100, 60], score: 0.9 }, { image_id: 1, category_id: 2, bbox: [0, 0, 10, 10], score: 0.8 }, { image_id: 2, category_id: 2, bbox: [0, 0, 50, 50], score: 0.7 }],
    );
    expect([a, b, got.images, got.detections]).toEqual([1, 2, 2, 3]);
    COCO_SUMMARY_NAMES.forEach((name, k) => expect([name, got.metrics[name]]).toEqual([name, expect.closeTo(byHand.stats[k], 12)]));
    expect(got.perCategory[1]).toEqual({ ap: expect.closeTo(1, 12), ap50: expect.closeTo(1, 12) });
    expect(got.perCategory[2].ap50).toBe(0);
  });

  it('names bad input', () => {
    const coco = new CocoBoxAccumulator(2);
    expect(() => new CocoBoxAccumulator(0)).toThrow(/classes must be an integer ≥ 1/);
    expect(() => coco.addImage({ widthPx: 10, heightPx: 10, boxesXyxy: [0, 0, 1], labels: [0] })).toThrow(/1 labels need 4 box numbers, received 3/);
    expect(() => coco.addImage({ widthPx: 10, heightPx: 10, boxesXyxy: [0, 0, 1, 1], labels: [2] })).toThrow(/class index must be an integer in \[0, 2\)\. Received 2/);
    expect(() => coco.addDetections(5, [])).toThrow(/no image 5/);
  });
});
