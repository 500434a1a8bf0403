import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { detectionData, type DetectionBatch } from './detection-batches';
import { readCocoDetection, type DetectionRecord } from './detection-readers';
import { generateDetectionDataset } from './generate-detection';
import { encodePng } from './image-io';

let dir: string;
let records: DetectionRecord[];
let classes: string[];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mobilenets-detection-batches-'));
  await generateDetectionDataset({ dir, images: 10, size: 48, seed: 3 });
  const dataset = await readCocoDetection(path.join(dir, 'annotations.json'));
  records = dataset.records;
  classes = dataset.classes;
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function collect(iterable: AsyncIterable<DetectionBatch>): Promise<DetectionBatch[]> {
  const out: DetectionBatch[] = [];
  for await (const b of iterable) out.push(b);
  return out;
}

const names = (batches: DetectionBatch[]) => batches.flatMap((b) => b.paths.map((p) => path.basename(p)));

describe('detectionData', () => {
  it('produces DetectionBatches: shapes, ids, sizes, and (without augmentation) the annotation boxes normalised', async () => {
    const data = detectionData(records, classes, { inputSize: 16 });
    expect(data.classes).toBe(classes.length);
    expect(data.classNames).toEqual(classes);
    expect(data.size).toBe(10);
    const batches = await collect(data.batches({ epoch: 0, batchSize: 4, seed: 0, skip: 0, shuffle: false }));
    expect(batches.map((b) => b.shape)).toEqual([[4, 16, 16, 3], [4, 16, 16, 3], [2, 16, 16, 3]]);
    expect(batches.map((b) => b.index)).toEqual([0, 1, 2]);
    expect(names(batches)).toEqual(records.map((r) => path.basename(r.path)));
    let objects = 0;
    for (const b of batches) {
      expect(b.images.length).toBe(b.shape[0] * 16 * 16 * 3);
      expect(Math.min(...b.images)).toBeGreaterThanOrEqual(-1);
      expect(Math.max(...b.images)).toBeLessThanOrEqual(1);
      for (const f of [b.boxesXyxy, b.labels, b.ignore, b.paths, b.imageIds, b.originalSizes]) expect(f.length).toBe(b.shape[0]);
      b.paths.forEach((p, k) => {
        const r = records.find((x) => x.path === p) as DetectionRecord;
        expect(b.imageIds[k]).toBe(r.imageId);
        expect(b.originalSizes[k]).toEqual([48, 48]);
        expect(Array.from(b.labels[k])).toEqual(Array.from(r.labels));
        expect(Array.from(b.ignore[k])).toEqual(Array.from(r.ignore));
        expect(b.boxesXyxy[k].length).toBe(r.boxesXyxy.length);
        b.boxesXyxy[k].forEach((v, c) => expect(Math.abs(v - r.boxesXyxy[c] / (c % 2 === 0 ? r.width : r.height))).toBeLessThan(1e-6));
        // The annotation's own area (the generator's visible pixels, not the box's), at the size on disk.
        expect(Array.from(b.areas![k])).toEqual(Array.from(r.areas!));
        objects += r.labels.length;
      });
    }
    expect(objects).toBeGreaterThan(10);
    const boxArea = (r: DetectionRecord, k: number) => (r.boxesXyxy[4 * k + 2] - r.boxesXyxy[4 * k]) * (r.boxesXyxy[4 * k + 3] - r.boxesXyxy[4 * k + 1]);
    expect(records.some((r) => Array.from(r.areas!).some((a, k) => a < boxArea(r, k)))).toBe(true);
  });

  it('evaluation batches are the same in every epoch; augmented ones are fixed by (seed, epoch)', async () => {
    const plain = detectionData(records, classes, { inputSize: 16 });
    const a = await collect(plain.batches({ epoch: 0, batchSize: 3, seed: 1, skip: 0, shuffle: false }));
    const b = await collect(plain.batches({ epoch: 5, batchSize: 3, seed: 2, skip: 0, shuffle: false }));
    expect(b).toEqual(a);

    const data = detectionData(records, classes, { inputSize: 16, augment: true });
    const run = (seed: number, epoch: number) => collect(data.batches({ epoch, batchSize: 3, seed, skip: 0 }));
    const first = await run(7, 0);
    expect(await run(7, 0)).toEqual(first);
    const other = await run(7, 1);
    expect(names(other)).not.toEqual(names(first));
    // the same images in another epoch (unshuffled) get other crops and flips
    const keep = (seed: number, epoch: number) => collect(data.batches({ epoch, batchSize: 10, seed, skip: 0, shuffle: false }));
    const [e0] = await keep(7, 0);
    const [e1] = await keep(7, 1);
    expect(e1.images).not.toEqual(e0.images);
    expect(e1.boxesXyxy).not.toEqual(e0.boxesXyxy);
    const [s8] = await keep(8, 0);
    expect(s8.images).not.toEqual(e0.images);
  });

  it('skip resumes exactly: the same later batches, augmented pixels and boxes included', async () => {
    const data = detectionData(records, classes, { inputSize: 16, augment: true, prefetch: 0 });
    const all = await collect(data.batches({ epoch: 2, batchSize: 3, seed: 9, skip: 0 }));
    const resumed = await collect(data.batches({ epoch: 2, batchSize: 3, seed: 9, skip: 2 }));
    expect(resumed).toEqual(all.slice(2));
    expect(resumed[0].index).toBe(2);
    expect(await collect(data.batches({ epoch: 2, batchSize: 3, seed: 9, skip: 4 }))).toEqual([]);
  });

  it('augmented boxes stay normalised, with labels and flags one per box', async () => {
    const data = detectionData(records, classes, { inputSize: 24, augment: { color: { brightness: 20, contrast: [0.8, 1.2], saturation: [0.8, 1.2] } } });
    let dropped = 0;
    for (let epoch = 0; epoch < 6; epoch++) {
      for (const b of await collect(data.batches({ epoch, batchSize: 5, seed: 4, skip: 0 }))) {
        expect(b.areas).toBeUndefined(); // crops change what shows: no areas to evaluate by
        expect(Math.min(...b.images)).toBeGreaterThanOrEqual(-1);
        expect(Math.max(...b.images)).toBeLessThanOrEqual(1);
        b.boxesXyxy.forEach((boxes, k) => {
          expect(boxes.length).toBe(4 * b.labels[k].length);
          expect(b.ignore[k].length).toBe(b.labels[k].length);
          for (let i = 0; i < boxes.length; i += 4) {
            expect(boxes[i]).toBeGreaterThanOrEqual(0);
            expect(boxes[i + 1]).toBeGreaterThanOrEqual(0);
            expect(boxes[i + 2]).toBeLessThanOrEqual(1);
            expect(boxes[i + 3]).toBeLessThanOrEqual(1);
            expect(boxes[i + 2]).toBeGreaterThan(boxes[i]);
            expect(boxes[i + 3]).toBeGreaterThan(boxes[i + 1]);
          }
          const r = records.find((x) => x.path === b.paths[k]) as DetectionRecord;
          dropped += r.labels.length - b.labels[k].length;
          for (const l of b.labels[k]) expect(Array.from(r.labels)).toContain(l);
        });
      }
    }
    expect(dropped).toBeGreaterThan(0); // crops do drop objects whose centre falls outside
  });

  it('skips an unreadable image, reports it once, and keeps the rest', async () => {
    const bad = path.join(dir, 'broken.png');
    fs.writeFileSync(bad, 'not a png');
    const missing = path.join(dir, 'missing.png');
    const extra: DetectionRecord[] = [
      { ...records[0], path: bad, imageId: 1001 },
      { ...records[1], path: missing, imageId: 1002 },
    ];
    const skipped: string[] = [];
    const data = detectionData([...records, ...extra], classes, { inputSize: 8, onSkip: (p, e) => skipped.push(`${path.basename(p)}: ${e.name}`) });
    for (let epoch = 0; epoch < 2; epoch++) {
      const batches = await collect(data.batches({ epoch, batchSize: 4, seed: 0, skip: 0 }));
      expect(batches.reduce((n, b) => n + b.shape[0], 0)).toBe(10);
      expect(batches.flatMap((b) => b.imageIds)).not.toContain(1001);
      for (const b of batches) expect(b.boxesXyxy.length).toBe(b.shape[0]);
    }
    expect(skipped.sort()).toEqual(['broken.png: ImageDecodeError', 'missing.png: ImageDecodeError']);
  });

  it('checks records and options', () => {
    expect(() => detectionData(records, [], { inputSize: 8 })).toThrow(RangeError);
    expect(() => detectionData(records, classes, { inputSize: 0 })).toThrow(RangeError);
    expect(() => detectionData([{ ...records[0], labels: Int32Array.from([99]), boxesXyxy: Float64Array.from([0, 0, 1, 1]), ignore: Uint8Array.from([0]) }], classes, { inputSize: 8 })).toThrow(/label 99/);
    expect(() => detectionData([{ ...records[0], boxesXyxy: Float64Array.from([0, 0, 1]) }], classes, { inputSize: 8 })).toThrow(RangeError);
    expect(() => detectionData(records, classes, { inputSize: 8, augment: { crop: { minIoUs: [] } } })).toThrow(RangeError);
    expect(() => detectionData(records, classes, { inputSize: 8, augment: { color: { contrast: [2, 1] } } })).toThrow(RangeError);
  });
});

describe('detectionData augmentation keeps boxes on their pixels', () => {
  // One solid red rectangle on a flat blue background, not square, object off-centre.
  const W = 90;
  const H = 60;
  const obj = { x1: 50, y1: 12, x2: 80, y2: 40 };
  let file: string;

  beforeAll(async () => {
    const px = new Uint8Array(W * H * 3);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const inside = x >= obj.x1 && x < obj.x2 && y >= obj.y1 && y < obj.y2;
        px.set(inside ? [230, 20, 20] : [20, 20, 230], (y * W + x) * 3);
      }
    }
    file = path.join(dir, 'one-object.png');
    fs.writeFileSync(file, await encodePng(px, W, H));
  });

  const record = (): DetectionRecord => ({ path: file, imageId: 1, width: W, height: H, boxesXyxy: Float64Array.from([obj.x1, obj.y1, obj.x2, obj.y2]), labels: Int32Array.from([0]), ignore: Uint8Array.from([0]) });

  /** The extent of the red pixels (red channel above the midpoint) of an HWC image, in pixels. */
  function redExtent(image: Float32Array, size: number): [number, number, number, number] {
    let [rx1, ry1, rx2, ry2] = [Infinity, Infinity, -Infinity, -Infinity];
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        if (image[(y * size + x) * 3] > 0) [rx1, ry1, rx2, ry2] = [Math.min(rx1, x), Math.min(ry1, y), Math.max(rx2, x + 1), Math.max(ry2, y + 1)];
      }
    }
    return [rx1, ry1, rx2, ry2];
  }

  it('without augmentation, a plain resize: the box is the object scaled to the square input', async () => {
    const size = 30; // 90 × 60 → 30 × 30: x / 3, y / 2
    const [b] = await collect(detectionData([record()], ['thing'], { inputSize: size }).batches({ epoch: 0, batchSize: 1, seed: 0, skip: 0 }));
    const expected = [50 / 3, 6, 80 / 3, 20];
    b.boxesXyxy[0].forEach((v, c) => expect(v * size).toBeCloseTo(expected[c], 4));
    const [rx1, ry1, rx2, ry2] = redExtent(b.images, size);
    expect([ry1, ry2]).toEqual([6, 20]);
    expect(Math.abs(rx1 - 50 / 3)).toBeLessThanOrEqual(1);
    expect(Math.abs(rx2 - 80 / 3)).toBeLessThanOrEqual(1);
    expect(b.originalSizes).toEqual([[W, H]]);
  });

  it('flip only (crop: false) mirrors the evaluation image and its boxes exactly', async () => {
    const size = 30;
    const recs = Array.from({ length: 12 }, record);
    const [plain] = await collect(detectionData(recs, ['thing'], { inputSize: size }).batches({ epoch: 0, batchSize: 12, seed: 0, skip: 0 }));
    const [aug] = await collect(detectionData(recs, ['thing'], { inputSize: size, augment: { crop: false } }).batches({ epoch: 0, batchSize: 12, seed: 5, skip: 0 }));
    const per = size * size * 3;
    let flipped = 0;
    for (let k = 0; k < 12; k++) {
      const a = aug.images.subarray(k * per, (k + 1) * per);
      const p = plain.images.subarray(k * per, (k + 1) * per);
      if (aug.boxesXyxy[k][0] === plain.boxesXyxy[k][0]) {
        expect(a).toEqual(p);
        continue;
      }
      flipped++;
      expect(Array.from(aug.boxesXyxy[k])).toEqual(Array.from(plain.boxesXyxy[k], (v, c) => (c % 2 === 1 ? v : Math.fround(1 - plain.boxesXyxy[k][c === 0 ? 2 : 0]))));
      const mirrored = new Float32Array(per);
      for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) for (let c = 0; c < 3; c++) mirrored[(y * size + x) * 3 + c] = p[(y * size + size - 1 - x) * 3 + c];
      expect(a).toEqual(mirrored);
    }
    expect(flipped).toBeGreaterThan(2);
    expect(flipped).toBeLessThan(10);
  });

  it('zoom-out: the view shrunk onto a mid-grey canvas at its placement, the box on the red pixels, runs without it unchanged', async () => {
    const size = 40;
    const recs = Array.from({ length: 16 }, record);
    const zoomed = detectionData(recs, ['thing'], { inputSize: size, augment: { crop: false, flip: false, zoomOut: { maxScale: 3 } } });
    const [b] = await collect(zoomed.batches({ epoch: 0, batchSize: 16, seed: 2, skip: 0, shuffle: false }));
    const per = size * size * 3;
    let shrunk = 0;
    for (let k = 0; k < 16; k++) {
      const image = b.images.subarray(k * per, (k + 1) * per);
      const box = Array.from(b.boxesXyxy[k], (v) => v * size);
      const [rx1, ry1, rx2, ry2] = redExtent(image, size);
      [rx1, ry1, rx2, ry2].forEach((v, c) => expect(Math.abs(v - box[c])).toBeLessThanOrEqual(1.5));
      // Outside the pasted view (blue wherever the image is not red), the canvas is mid-grey: 0 in every channel.
      const grey = Array.from({ length: size * size }, (_, i) => i).filter((i) => image[3 * i] === 0 && image[3 * i + 1] === 0 && image[3 * i + 2] === 0).length;
      if (grey > 0) shrunk++;
      expect(grey === 0).toBe(box[2] - box[0] > (size * (obj.x2 - obj.x1)) / W - 1e-3);
    }
    expect(shrunk).toBeGreaterThan(3);
    expect(shrunk).toBeLessThan(13);
    // The crops and flips a run without zoom-out draws are the ones it drew before zoom-out existed (zoom-out draws last).
    const plainAug = detectionData(recs, ['thing'], { inputSize: size, augment: true });
    const withZoom = detectionData(recs, ['thing'], { inputSize: size, augment: { zoomOut: { probability: 0 } } });
    const [p] = await collect(plainAug.batches({ epoch: 1, batchSize: 16, seed: 3, skip: 0 }));
    const [z] = await collect(withZoom.batches({ epoch: 1, batchSize: 16, seed: 3, skip: 0 }));
    expect(z.boxesXyxy).toEqual(p.boxesXyxy);
    expect(z.images).toEqual(p.images);
  });

  it('the box encloses the red pixels after crop and flip, within a pixel of resize', async () => {
    const size = 40;
    const record: DetectionRecord = { path: file, imageId: 1, width: W, height: H, boxesXyxy: Float64Array.from([obj.x1, obj.y1, obj.x2, obj.y2]), labels: Int32Array.from([0]), ignore: Uint8Array.from([0]) };
    const data = detectionData(Array.from({ length: 8 }, () => record), ['thing'], { inputSize: size, augment: true });
    let flips = 0;
    let crops = 0;
    let checked = 0;
    for (let epoch = 0; epoch < 8; epoch++) {
      const [b] = await collect(data.batches({ epoch, batchSize: 8, seed: 11, skip: 0 }));
      for (let k = 0; k < b.shape[0]; k++) {
        const image = b.images.subarray(k * size * size * 3, (k + 1) * size * size * 3);
        // the red pixels' extent in the batch image (red channel above the midpoint)
        let [rx1, ry1, rx2, ry2] = [Infinity, Infinity, -Infinity, -Infinity];
        let left = 0;
        let right = 0;
        for (let y = 0; y < size; y++) {
          for (let x = 0; x < size; x++) {
            if (image[(y * size + x) * 3] > 0) {
              [rx1, ry1, rx2, ry2] = [Math.min(rx1, x), Math.min(ry1, y), Math.max(rx2, x + 1), Math.max(ry2, y + 1)];
              if (x < size / 2) left++;
              else right++;
            }
          }
        }
        const boxes = b.boxesXyxy[k];
        if (boxes.length === 0) continue; // the object's centre fell just outside a rounded crop
        if (left > right) flips++; // the object starts on the right half
        const [bx1, by1, bx2, by2] = Array.from(boxes, (v) => v * size);
        const whole = [obj.x1 / W, obj.y1 / H, obj.x2 / W, obj.y2 / H];
        const mirrored = [1 - whole[2], whole[1], 1 - whole[0], whole[3]];
        const same = (want: number[]) => want.every((v, c) => Math.abs(v - boxes[c]) < 1e-6);
        if (!same(whole) && !same(mirrored)) crops++;
        expect(Math.abs(rx1 - bx1)).toBeLessThanOrEqual(1.5);
        expect(Math.abs(ry1 - by1)).toBeLessThanOrEqual(1.5);
        expect(Math.abs(rx2 - bx2)).toBeLessThanOrEqual(1.5);
        expect(Math.abs(ry2 - by2)).toBeLessThanOrEqual(1.5);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(56);
    expect(flips).toBeGreaterThan(10);
    expect(crops).toBeGreaterThan(10);
  });
});
