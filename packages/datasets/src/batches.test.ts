import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { classificationData, type ClassificationBatch } from './batches';
import { encodePng } from './image-io';
import type { ImageRecord } from './readers';

let dir: string;
let records: ImageRecord[];
const classes = ['dark', 'light'];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mobilenets-batches-'));
  records = [];
  // 10 images, each a distinct flat grey with a gradient row so crops differ: value identifies the file.
  for (let i = 0; i < 10; i++) {
    const px = new Uint8Array(20 * 16 * 3);
    for (let y = 0; y < 16; y++) for (let x = 0; x < 20; x++) px.fill(i * 20 + x, (y * 20 + x) * 3, (y * 20 + x) * 3 + 3);
    const file = path.join(dir, `${i}.png`);
    fs.writeFileSync(file, await encodePng(px, 20, 16));
    records.push({ path: file, label: i < 5 ? 0 : 1 });
  }
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function collect(iterable: AsyncIterable<ClassificationBatch>): Promise<ClassificationBatch[]> {
  const out: ClassificationBatch[] = [];
  for await (const b of iterable) out.push(b);
  return out;
}

const names = (batches: ClassificationBatch[]) => batches.flatMap((b) => b.paths.map((p) => path.basename(p)));

describe('classificationData', () => {
  it('matches the TrainingData shape and keeps the last partial batch', async () => {
    const data = classificationData(records, classes, { inputSize: 8 });
    expect(data.classes).toBe(2);
    expect(data.size).toBe(10);
    const batches = await collect(data.batches({ epoch: 0, batchSize: 4, seed: 0, skip: 0 }));
    expect(batches.map((b) => b.shape)).toEqual([[4, 8, 8, 3], [4, 8, 8, 3], [2, 8, 8, 3]]);
    expect(batches.map((b) => b.index)).toEqual([0, 1, 2]);
    expect(names(batches).sort()).toEqual(records.map((r) => path.basename(r.path)).sort());
    for (const b of batches) {
      expect(b.images.length).toBe(b.shape[0] * 8 * 8 * 3);
      b.paths.forEach((p, k) => expect(b.labels[k]).toBe(records.find((r) => r.path === p)?.label));
    }
  });

  it('orders an epoch by (seed, epoch); shuffle: false keeps the records order', async () => {
    const data = classificationData(records, classes, { inputSize: 8 });
    const order = async (seed: number, epoch: number, shuffle = true) => names(await collect(data.batches({ epoch, batchSize: 3, seed, skip: 0, shuffle })));
    const a = await order(1, 0);
    expect(await order(1, 0)).toEqual(a);
    expect(await order(1, 1)).not.toEqual(a);
    expect(await order(2, 0)).not.toEqual(a);
    expect(await order(1, 0, false)).toEqual(records.map((r) => path.basename(r.path)));
  });

  it('skip resumes exactly: the same later batches, augmented pixels included', async () => {
    const data = classificationData(records, classes, { inputSize: 12, augment: {} });
    const full = await collect(data.batches({ epoch: 3, batchSize: 3, seed: 9, skip: 0 }));
    const resumed = await collect(classificationData(records, classes, { inputSize: 12, augment: {} }).batches({ epoch: 3, batchSize: 3, seed: 9, skip: 2 }));
    expect(resumed).toEqual(full.slice(2));
    expect(resumed[0].index).toBe(2);
    expect(await collect(data.batches({ epoch: 3, batchSize: 3, seed: 9, skip: 4 }))).toEqual([]);
  });

  it('augments deterministically by (seed, epoch, example): same seed identical, other seed or epoch different', async () => {
    const data = classificationData(records, classes, { inputSize: 12, augment: {} });
    const run = async (seed: number, epoch: number) => (await collect(data.batches({ epoch, batchSize: 10, seed, skip: 0, shuffle: false })))[0].images;
    const a = await run(5, 0);
    expect(await run(5, 0)).toEqual(a);
    expect(await run(6, 0)).not.toEqual(a);
    expect(await run(5, 1)).not.toEqual(a);
    // The same example gets the same pixels whatever the batch size and order around it.
    const shuffled = await collect(data.batches({ epoch: 0, batchSize: 4, seed: 5, skip: 0 }));
    const per = 12 * 12 * 3;
    for (const b of shuffled) {
      b.paths.forEach((p, k) => {
        const i = records.findIndex((r) => r.path === p);
        expect(b.images.subarray(k * per, (k + 1) * per)).toEqual(a.subarray(i * per, (i + 1) * per));
      });
    }
  });

  it('leaves corrupt and missing images out through onSkip, once, without stopping the epoch', async () => {
    const corrupt = path.join(dir, 'corrupt.jpg');
    fs.writeFileSync(corrupt, Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 131) % 256)));
    const withBad = [...records, { path: corrupt, label: 0 }, { path: path.join(dir, 'gone.png'), label: 1 }];
    const skipped: [string, string][] = [];
    const data = classificationData(withBad, classes, { inputSize: 8, augment: {}, onSkip: (p, e) => skipped.push([path.basename(p), e.name]) });
    const epoch0 = await collect(data.batches({ epoch: 0, batchSize: 4, seed: 0, skip: 0 }));
    expect(epoch0.reduce((n, b) => n + b.shape[0], 0)).toBe(10);
    expect(skipped.sort()).toEqual([['corrupt.jpg', 'ImageDecodeError'], ['gone.png', 'ImageDecodeError']]);
    expect(names(epoch0)).not.toContain('corrupt.jpg');
    const epoch1 = await collect(data.batches({ epoch: 1, batchSize: 4, seed: 0, skip: 0 }));
    expect(epoch1.reduce((n, b) => n + b.shape[0], 0)).toBe(10);
    expect(skipped).toHaveLength(2);
  });

  it('decodes only prefetch batches ahead, and stops cleanly when the consumer breaks early', async () => {
    // Every other record is a missing file: onSkip counts how many examples have been attempted.
    const many = Array.from({ length: 200 }, (_, i) => (i % 2 ? { path: path.join(dir, `gone-${i}.png`), label: 1 } : records[i % 10]));
    let attempted = 0;
    const data = classificationData(many, classes, { inputSize: 8, prefetch: 2, onSkip: () => attempted++ });
    const iterator = data.batches({ epoch: 0, batchSize: 4, seed: 0, skip: 0, shuffle: false })[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(first.value?.shape[0]).toBe(2);
    await new Promise((r) => setTimeout(r, 200));
    expect(attempted).toBe(3 * 2); // the consumed batch and two ahead, 2 missing files each — not all 100
    await iterator.return?.(undefined);
    expect((await iterator.next()).done).toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    expect(attempted).toBe(6);
  });

  it('rejects bad records and options', async () => {
    expect(() => classificationData([{ path: 'a.png', label: 2 }], classes, { inputSize: 8 })).toThrow(/record 0 must be \{ path: string, label: integer in \[0, 2\) \}/);
    expect(() => classificationData(records, [], { inputSize: 8 })).toThrow(/classes must be a non-empty array/);
    expect(() => classificationData(records, classes, { inputSize: 0 })).toThrow(/inputSize must be an integer ≥ 1\. Received 0/);
    const data = classificationData(records, classes, { inputSize: 8 });
    await expect(data.batches({ epoch: 0, batchSize: 0, seed: 0, skip: 0 })[Symbol.asyncIterator]().next()).rejects.toThrow(/batchSize must be an integer ≥ 1/);
  });
});

describe('classificationData cacheBytes', () => {
  /** A copy of the test images in a folder of its own (the tests delete files). */
  function copyRecords(): { records: ImageRecord[]; folder: string } {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'mobilenets-batches-cache-'));
    return { folder, records: records.map((r) => ({ path: path.join(folder, path.basename(r.path)), label: r.label })).map((r, i) => (fs.copyFileSync(records[i].path, r.path), r)) };
  }
  const epoch = (data: ReturnType<typeof classificationData>, e: number) => collect(data.batches({ epoch: e, batchSize: 4, seed: 3, skip: 0 }));

  it('keeps decoded images: a later epoch needs no file, and its pixels are those of an uncached loader', async () => {
    const { records: copies, folder } = copyRecords();
    try {
      const plain = classificationData(copies, classes, { inputSize: 12, augment: {} });
      const expected = [await epoch(plain, 0), await epoch(plain, 1)];
      const skipped: string[] = [];
      const cached = classificationData(copies, classes, { inputSize: 12, augment: {}, cacheBytes: 1 << 20, onSkip: (p) => skipped.push(p) });
      const first = await epoch(cached, 0);
      for (const r of copies) fs.rmSync(r.path); // every file gone: epoch 1 can only come from memory
      const second = await epoch(cached, 1);
      expect(skipped).toEqual([]);
      for (const [got, want] of [[first, expected[0]], [second, expected[1]]]) {
        expect(got.map((b) => b.paths)).toEqual(want.map((b) => b.paths));
        got.forEach((b, k) => expect(b.images).toEqual(want[k].images));
      }
    } finally {
      fs.rmSync(folder, { recursive: true, force: true });
    }
  });

  it('keeps no more than cacheBytes: with room for 3 images (20 × 16 × 3 bytes each), 3 survive their files', async () => {
    const { records: copies, folder } = copyRecords();
    try {
      const skipped: string[] = [];
      const cached = classificationData(copies, classes, { inputSize: 12, augment: {}, cacheBytes: 3 * 20 * 16 * 3 + 100, onSkip: (p) => skipped.push(p) });
      await epoch(cached, 0);
      for (const r of copies) fs.rmSync(r.path);
      const second = await epoch(cached, 1);
      expect(second.reduce((n, b) => n + b.shape[0], 0)).toBe(3);
      expect(skipped).toHaveLength(7);
      expect(() => classificationData(copies, classes, { inputSize: 12, cacheBytes: -1 })).toThrow('classificationData: cacheBytes must be an integer ≥ 0. Received -1.');
    } finally {
      fs.rmSync(folder, { recursive: true, force: true });
    }
  });
});
