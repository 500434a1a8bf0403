/**
 * Batches of decoded images for training and evaluation, as plain Float32Arrays (no tfjs): an epoch's
 * order is a seeded shuffle fixed by (seed, epoch), augmentation draws are fixed by
 * (seed, epoch, example), and `skip` jumps whole batches — so a run resumed at batch k sees exactly the
 * pixels the interrupted run would have. Images are decoded `prefetch` batches ahead with at most
 * `concurrency` decodes at a time; only those batches are ever in memory.
 */
import { applyPixelAugmentation, resolveAugmentOptions, sampleAugmentation, type AugmentOptions } from './augment';
import { decodeSource, imageSize, loadImage, regionOfSource, type DecodedSource, type DecodeOptions } from './image-io';
import { Limiter } from './limiter';
import { hashSeed, mulberry32, permutation } from '@mobilenets/random';
import type { ImageRecord } from './readers';
import type { BatchOptions, ClassificationBatch as ContractBatch } from '@mobilenets/contracts';

export type { BatchOptions };

/** A batch of decoded images (NHWC, RGB in [-1, 1]); `index` is its position in the epoch, counting the skipped ones (the next run's `skip` is index + 1). */
export type ClassificationBatch = ContractBatch & { index: number };

/** A classification dataset that produces batches: what @mobilenets/training's fit consumes. */
export interface ClassificationData {
  /** Number of classes. */
  classes: number;
  /** Class names, label = index. */
  classNames: string[];
  /** Examples per epoch (records, including any that will fail to decode). */
  size: number;
  /** The batches of one epoch, decoded ahead of the consumer. */
  batches(options: BatchOptions): AsyncIterable<ClassificationBatch>;
}

export interface ClassificationDataOptions {
  /** Side of the square network input, in pixels. */
  inputSize: number;
  /**
   * Training augmentation (see augment.ts); false (the default) decodes each image with `resize`
   * (shorter side to inputSize, centre crop) — evaluation preprocessing.
   */
  augment?: AugmentOptions | false;
  /** Batches decoded ahead of the one being consumed. Default 2. */
  prefetch?: number;
  /** Images decoded at the same time. Default 2. */
  concurrency?: number;
  /**
   * With augmentation: decoded images kept in memory between epochs, up to this many bytes (3 per pixel),
   * first come first kept. A kept image's crops are cut without decoding its file again — the same pixels,
   * so a resumed run (which starts with none kept) sees what the uninterrupted one did. Default 0: none.
   */
  cacheBytes?: number;
  /**
   * Called once per file that fails to decode (the example is left out of its batch; the file is not
   * tried again in later epochs). Default: a process warning.
   */
  onSkip?: (path: string, error: Error) => void;
  /** Decoding options: pixel limit, alpha background, and (without augmentation) resize mode and central fraction. */
  decode?: Pick<DecodeOptions, 'maxPixels' | 'background' | 'resize' | 'centralFraction'>;
}

/** Throws a RangeError naming `what` and `name` unless `value` is an integer ≥ `min`. */
export function checkInteger(what: string, name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) throw new RangeError(`${what}: ${name} must be an integer ≥ ${min}. Received ${value}.`);
}

/** What a data source does with an unreadable image when the caller gives no `onSkip`: a process warning. */
export function defaultOnSkip(path: string, error: Error): void {
  process.emitWarning(`skipped ${path}: ${error.message}`, 'ImageSkipWarning');
}

/** The item indices of batch `index` of an epoch in `order`. */
export function batchIndices(order: Int32Array, index: number, batchSize: number): number[] {
  return Array.from(order.subarray(index * batchSize, Math.min(order.length, (index + 1) * batchSize)));
}

/**
 * Loads every item of a batch at once; an item that fails is reported to `onSkip` the first time, is
 * remembered in `failed` (never retried) and comes back as null.
 */
export async function loadEach<T>(indices: number[], pathOf: (index: number) => string, failed: Set<string>, onSkip: (path: string, error: Error) => void, load: (index: number) => Promise<T>): Promise<(T | null)[]> {
  return Promise.all(
    indices.map(async (index) => {
      const path = pathOf(index);
      if (failed.has(path)) return null;
      try {
        return await load(index);
      } catch (error) {
        if (!failed.has(path)) {
          failed.add(path);
          onSkip(path, error instanceof Error ? error : new Error(String(error)));
        }
        return null;
      }
    }),
  );
}

/**
 * The batches of one epoch of `itemCount` items: the order is a seeded permutation of (seed, epoch)
 * (or the items' order without shuffle), batches before `skip` are not loaded, up to `prefetch` batches
 * load ahead of the consumer, and a batch whose images all failed to load is left out. `loadBatch`
 * builds batch `index` from the items `order[index · batchSize …]`.
 */
export async function* epochBatches<Batch extends { shape: readonly number[] }>(
  o: BatchOptions,
  itemCount: number,
  prefetch: number,
  loadBatch: (order: Int32Array, index: number, o: BatchOptions) => Promise<Batch>,
): AsyncGenerator<Batch> {
  const { epoch, batchSize, seed, skip, shuffle = true } = o;
  checkInteger('batches', 'epoch', epoch, 0);
  checkInteger('batches', 'batchSize', batchSize, 1);
  checkInteger('batches', 'skip', skip, 0);
  if (!Number.isSafeInteger(seed)) throw new RangeError(`batches: seed must be an integer. Received ${seed}.`);
  const order = shuffle ? permutation(itemCount, mulberry32(hashSeed(seed, epoch))) : Int32Array.from({ length: itemCount }, (_, i) => i);
  const count = Math.ceil(itemCount / batchSize);
  const pending: Promise<Batch>[] = [];
  let next = skip;
  try {
    for (;;) {
      while (pending.length <= prefetch && next < count) {
        const p = loadBatch(order, next++, o);
        p.catch(() => undefined); // awaited below; this only stops an early rejection from counting as unhandled
        pending.push(p);
      }
      const head = pending.shift();
      if (!head) return;
      const batch = await head;
      if (batch.shape[0] > 0) yield batch; // a batch whose images all failed is left out
    }
  } finally {
    pending.length = 0; // the consumer stopped early: in-flight decodes finish and are dropped
  }
}

/**
 * Batches over `records` (from readImageFolder or readCsvManifest). Throws RangeError for labels
 * outside `classes` or bad options; never throws for a bad image file (see `onSkip`).
 */
export function classificationData(records: readonly ImageRecord[], classes: readonly string[], options: ClassificationDataOptions): ClassificationData {
  const what = 'classificationData';
  if (!Array.isArray(records)) throw new TypeError(`${what}: records must be an array of { path, label }. Received ${typeof records}.`);
  if (!Array.isArray(classes) || classes.length === 0) throw new RangeError(`${what}: classes must be a non-empty array of class names. Received ${JSON.stringify(classes)}.`);
  const { inputSize, augment = false, prefetch = 2, concurrency = 2, cacheBytes = 0, onSkip = defaultOnSkip, decode = {} } = options;
  checkInteger(what, 'inputSize', inputSize, 1);
  checkInteger(what, 'cacheBytes', cacheBytes, 0);
  checkInteger(what, 'prefetch', prefetch, 0);
  checkInteger(what, 'concurrency', concurrency, 1);
  const augmentOptions = augment === false ? null : resolveAugmentOptions(augment);
  records.forEach((r, i) => {
    if (typeof r?.path !== 'string' || !Number.isInteger(r.label) || r.label < 0 || r.label >= classes.length) {
      throw new RangeError(`${what}: record ${i} must be { path: string, label: integer in [0, ${classes.length}) }. Received ${JSON.stringify(r)}.`);
    }
  });
  const items = records.map((r) => ({ path: r.path, label: r.label }));
  const limiter = new Limiter(concurrency);
  const failed = new Set<string>();
  const sizes = new Map<string, { width: number; height: number }>(); // oriented sizes, from the first epoch's headers
  const perImage = inputSize * inputSize * 3;
  const { resize, centralFraction, ...common } = decode;
  const sources = new Map<string, DecodedSource>();
  let sourceBytes = 0;

  /** The file decoded, from memory when kept; kept when the budget allows. */
  async function source(path: string): Promise<DecodedSource> {
    const known = sources.get(path);
    if (known) return known;
    const decoded = await decodeSource(path, common);
    if (sourceBytes + decoded.data.length <= cacheBytes) {
      sources.set(path, decoded);
      sourceBytes += decoded.data.length;
    }
    return decoded;
  }

  async function example(index: number, seed: number, epoch: number): Promise<Float32Array> {
    const { path } = items[index];
    if (augmentOptions) {
      // The same draws as augmentImage(path, inputSize, hashSeed(seed, epoch, index)), with the header read once per file.
      let dims = sizes.get(path);
      if (!dims) sizes.set(path, (dims = await imageSize(path, common)));
      const params = sampleAugmentation(dims.width, dims.height, mulberry32(hashSeed(seed, epoch, index)), augmentOptions);
      const image = await regionOfSource(await source(path), params.crop, inputSize);
      return applyPixelAugmentation(image.pixels, image.width, image.height, params);
    }
    return (await loadImage(path, { ...common, size: inputSize, resize, centralFraction })).pixels;
  }

  async function loadBatch(order: Int32Array, batch: number, o: BatchOptions): Promise<ClassificationBatch> {
    const indices = batchIndices(order, batch, o.batchSize);
    const decoded = await loadEach(indices, (index) => items[index].path, failed, onSkip, (index) => limiter.run(() => example(index, o.seed, o.epoch)));
    const kept = indices.filter((_, k) => decoded[k] !== null);
    const images = new Float32Array(kept.length * perImage);
    let n = 0;
    decoded.forEach((pixels) => {
      if (pixels) images.set(pixels, perImage * n++);
    });
    return {
      images,
      shape: [kept.length, inputSize, inputSize, 3],
      labels: Int32Array.from(kept, (i) => items[i].label),
      paths: kept.map((i) => items[i].path),
      index: batch,
    };
  }

  return { classes: classes.length, classNames: [...classes], size: items.length, batches: (o) => epochBatches(o, items.length, prefetch, loadBatch) };
}
