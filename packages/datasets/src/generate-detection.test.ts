import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { detectionClassNames, generateDetectionDataset, renderDetectionImage } from './generate-detection';
import { decodeImage } from './image-io';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mobilenets-generate-detection-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('renderDetectionImage', () => {
  it('is a pure function of (seed, index)', () => {
    const a = renderDetectionImage(5, { size: 64, seed: 1 });
    expect(renderDetectionImage(5, { size: 64, seed: 1 })).toEqual(a);
    expect(renderDetectionImage(6, { size: 64, seed: 1 }).pixels).not.toEqual(a.pixels);
    expect(renderDetectionImage(5, { size: 64, seed: 2 }).pixels).not.toEqual(a.pixels);
  });

  it('labels 0–maxObjects objects of the known classes, boxes inside the image, areas within their boxes', () => {
    const counts = new Map<number, number>();
    let tiny = 0;
    let total = 0;
    for (let i = 0; i < 200; i++) {
      const { objects, size } = renderDetectionImage(i, { size: 96, classes: 3, maxObjects: 5 });
      expect(objects.length).toBeLessThanOrEqual(5);
      for (const o of objects) {
        const [x1, y1, x2, y2] = o.boxXyxy;
        expect(x1).toBeGreaterThanOrEqual(0);
        expect(y1).toBeGreaterThanOrEqual(0);
        expect(x2).toBeLessThanOrEqual(size);
        expect(y2).toBeLessThanOrEqual(size);
        expect(x2).toBeGreaterThan(x1);
        expect(y2).toBeGreaterThan(y1);
        expect(o.areaPixels).toBeLessThanOrEqual((x2 - x1) * (y2 - y1));
        expect(o.areaPixels).toBeGreaterThanOrEqual(4);
        expect(o.className).toBe(detectionClassNames(3)[o.classIndex]);
        counts.set(o.classIndex, (counts.get(o.classIndex) ?? 0) + 1);
        if (Math.max(x2 - x1, y2 - y1) <= 0.1 * size) tiny += 1;
        total += 1;
      }
    }
    expect([...counts.keys()].sort()).toEqual([0, 1, 2]); // every class appears
    expect(total / 200).toBeGreaterThan(2); // 1–5 drawn, a few lost to occlusion and the border
    expect(tiny / total).toBeGreaterThan(0.05); // some tiny objects
  });

  it('an object alone fills a good part of its box (the box is not loose)', () => {
    // With one object nothing occludes it; every catalogue shape covers well over a quarter of its tight
    // box at any rotation, so a box computed loosely (e.g. from the drawing's reach) would fail this.
    for (let i = 0; i < 20; i++) {
      const { objects } = renderDetectionImage(i, { size: 64, minObjects: 1, maxObjects: 1 });
      if (objects.length === 0) continue; // fully outside (rare)
      const [x1, y1, x2, y2] = objects[0].boxXyxy;
      expect(objects[0].areaPixels).toBeGreaterThan(0.25 * (x2 - x1) * (y2 - y1)); // shapes fill a good part of their box
    }
  });

  it('rejects bad options by name', () => {
    expect(() => renderDetectionImage(0, { classes: 13 })).toThrow('classes must be an integer in [1, 12]. Received 13.');
    expect(() => renderDetectionImage(0, { size: 8 })).toThrow('size must be an integer in [32, 4096]');
    expect(() => renderDetectionImage(0, { minObjects: 3, maxObjects: 2 })).toThrow('maxObjects must be an integer in [max(1, minObjects), 50]');
    expect(() => renderDetectionImage(-1)).toThrow('index must be a non-negative integer');
  });
});

describe('generateDetectionDataset', () => {
  it('writes PNGs and COCO JSON whose boxes are the rendered ones', async () => {
    const dir = path.join(tmp, 'set');
    const gt = await generateDetectionDataset({ dir, images: 6, size: 48, classes: 2, seed: 3, firstIndex: 10 });
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'annotations.json'), 'utf8'));
    expect(json).toEqual(gt);
    expect(json.categories).toEqual([{ id: 1, name: 'circle' }, { id: 2, name: 'square' }]);
    expect(json.images.map((i: { id: number }) => i.id)).toEqual([11, 12, 13, 14, 15, 16]);
    for (const image of json.images) {
      const decoded = await decodeImage(fs.readFileSync(path.join(dir, image.file_name)), {});
      expect([decoded.width, decoded.height]).toEqual([48, 48]);
      const rendered = renderDetectionImage(image.id - 1, { size: 48, classes: 2, seed: 3 });
      const boxes = json.annotations.filter((a: { image_id: number }) => a.image_id === image.id).map((a: { bbox: number[] }) => a.bbox);
      expect(boxes).toEqual(rendered.objects.map((o) => [o.boxXyxy[0], o.boxXyxy[1], o.boxXyxy[2] - o.boxXyxy[0], o.boxXyxy[3] - o.boxXyxy[1]]));
    }
    expect(new Set(json.annotations.map((a: { id: number }) => a.id)).size).toBe(json.annotations.length);
    expect(fs.readdirSync(dir).sort()).toEqual(['annotations.json', 'images']); // no temporary file left
  });
});
